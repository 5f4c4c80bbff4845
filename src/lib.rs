//! nicksock: a command-line socket toolkit. The binary is a thin shell over this library so
//! that tests and fuzzers can reach the parsers and the event loop.

// A few calls have no safe wrapper fit for use in rustix or socket2 (`sock::unacknowledged`'s
// ioctl, `sock::local_peer`'s SO_PEERCRED, which may give pid 0, and the services database
// of `sock::service_port`/`service_name`); every other line is safe Rust.
#![deny(unsafe_code)]

pub mod atomic;
pub mod certgen;
pub mod cli;
pub mod cmd;
pub mod dates;
pub mod error;
pub mod gpio;
pub mod help;
pub mod http;
pub mod mqtt;
pub mod names;
pub mod net;
pub mod proxy;
pub mod sock;
pub mod tls;
