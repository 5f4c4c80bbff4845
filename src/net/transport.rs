//! The Transport: a socket with or without TLS behind one contract, so no command branches
//! on TLS. Every call is non-blocking: `WouldBlock` means "wait for the next event", never an
//! error.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use mio::net::TcpStream;

use crate::tls::TlsStream;

/// A connected socket, plain or TLS.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
}

impl Transport {
    /// Reads received bytes: `Ok(0)` at the peer's end of stream.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let r = match self {
                Transport::Plain(s) => s.read(buf),
                Transport::Tls(t) => t.read(buf),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Sends what it can of `data`.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            let r = match self {
                Transport::Plain(s) => s.write(data),
                Transport::Tls(t) => t.write(data),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Pushes out buffered bytes (TLS records); `WouldBlock` while some remain.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(t) => t.flush(),
        }
    }

    /// Ends our sending side: TLS close_notify, then TCP shutdown of the write side.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => match s.shutdown(Shutdown::Write) {
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                other => other,
            },
            Transport::Tls(t) => t.shutdown_write(),
        }
    }

    /// Whether bytes wait in our buffers to be sent.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.wants_write(),
        }
    }

    /// Whether a TLS handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.is_handshaking(),
        }
    }

    /// Whether the peer's stream ended without a TLS close_notify.
    pub fn truncated(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.truncated(),
        }
    }

    /// The socket, to register with the loop.
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.socket(),
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Transport::Plain(s) => s.peer_addr(),
            Transport::Tls(t) => t.socket_ref().peer_addr(),
        }
    }
}

/// Whether an I/O error only means "not now".
pub fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}
