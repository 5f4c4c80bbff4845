//! Integration tests: the real binary, real sockets on loopback, real peers (OpenBSD nc,
//! socat) where installed.

mod sockets;
mod util;
