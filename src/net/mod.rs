//! The event loop and the sockets on it: one `mio::Poll` under every subcommand, the
//! [`Transport`] that hides TLS from the commands, name resolution, the stdin pump and the
//! byte relay of `listen` and `connect`, and the bridge between two sockets of `relay`.

pub mod acceptor;
pub mod access;
pub mod addr;
pub mod bridge;
pub mod connector;
pub mod dial;
pub mod event_loop;
pub mod exec;
pub mod group;
pub mod listener;
pub mod lookup;
pub mod scan;
pub mod server;
pub mod session;
pub mod splice;
pub mod stdin;
pub mod stdout;
pub mod trace;
pub mod transport;
pub mod udp;
pub mod unix;

pub use event_loop::{Context, EventLoop, Flow, Handler};
pub use transport::Transport;
