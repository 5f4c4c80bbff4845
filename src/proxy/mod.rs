//! Proxy clients without I/O: proxy URLs as users write them (`url.rs`), the handshakes that
//! open a tunnel through an HTTP (CONNECT), SOCKS4, SOCKS4a or SOCKS5 proxy (`handshake.rs`),
//! the no-proxy list (`no_proxy.rs`), and curl's rules for picking a proxy from the flags and
//! the environment (`env.rs`). Nothing here touches a socket: the caller sends the bytes a
//! [`Handshake`] gives it and pushes back what it read, never more than the handshake allows,
//! so no byte of the target is ever taken by the proxy code.
//!
//! Our own code rather than a crate: the maintained SOCKS crates are tied to tokio or to
//! blocking I/O, and the event loop needs a codec it drives itself.

pub mod env;
pub mod handshake;
pub mod no_proxy;
pub mod serve;
pub mod url;

use std::fmt;

use crate::error::Kind;

pub use self::env::{Choice, choose};
pub use self::handshake::{Handshake, MAX_HTTP_REPLY_HEAD, Status, basic_auth};
pub use self::no_proxy::NoProxy;
pub use self::url::{Credentials, NcProtocol, ProxyUrl, Scheme};

/// A proxy failure; [`Error::kind`] gives the exit code's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Credentials wanted or rejected, or the proxy's policy refused (HTTP 407 and 403,
    /// SOCKS5 "no acceptable method", a failed SOCKS5 authentication, SOCKS5 reply 2 "not
    /// allowed by ruleset", SOCKS4's identd failures 92 and 93): exit 11.
    Denied(String),
    /// The proxy could not reach the target (SOCKS5 replies 1, 3, 4, 5, 6 and 8, SOCKS4 reply
    /// 91, HTTP 502, 503, 504 and every other status that is not a success): exit 4.
    Unreachable(String),
    /// The proxy's reply makes no sense (a wrong version byte, a bad status line, a head over
    /// 16 KiB, an unknown address type, a connection closed in the middle): exit 1.
    Malformed(String),
    /// Something this kind of proxy cannot be asked (an IPv6 target through SOCKS4, a name
    /// longer than 255 bytes or credentials over 255 bytes through SOCKS5): exit 2.
    Unsupported(String),
}

impl Error {
    /// The kind of failure, which picks the exit code.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Denied(_) => Kind::Denied,
            Error::Unreachable(_) => Kind::Refused,
            Error::Malformed(_) => Kind::Runtime,
            Error::Unsupported(_) => Kind::Usage,
        }
    }

    /// The message alone.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m)
            | Error::Unreachable(m)
            | Error::Malformed(m)
            | Error::Unsupported(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_exit_code() {
        assert_eq!(Error::Denied("d".into()).kind().code(), 11);
        assert_eq!(Error::Unreachable("u".into()).kind().code(), 4);
        assert_eq!(Error::Malformed("m".into()).kind().code(), 1);
        assert_eq!(Error::Unsupported("s".into()).kind().code(), 2);
        assert_eq!(Error::Denied("no way".into()).to_string(), "no way");
    }
}
