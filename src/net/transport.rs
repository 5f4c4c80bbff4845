//! The Transport: a socket with or without TLS behind one contract, so no command branches
//! on TLS. Every call is non-blocking: `WouldBlock` means "wait for the next event", never an
//! error.

use std::io::{self, Read, Write};
use std::sync::Arc;

use super::trace;
use crate::error::{Kind, fail_io};
use crate::tls::{Lower, TlsError, TlsStream};

pub use crate::sock::{Remote, Stream, shut_write, unacknowledged};

/// A connection a server accepted: no Nagle delay, and TLS when the server has a config.
pub fn accepted(
    stream: impl Into<Stream>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> io::Result<Transport> {
    let stream = stream.into();
    stream.set_nodelay();
    Ok(match tls {
        Some(config) => Transport::Tls(Box::new(TlsStream::server(stream, Arc::clone(config))?)),
        None => Transport::Plain(stream),
    })
}

/// A connection we made, with no Nagle delay; TLS when a client config and the server's
/// name (to send and to verify) are given. The client-side twin of [`accepted`].
pub fn connected(
    stream: impl Into<Stream>,
    tls: Option<(
        &Arc<rustls::ClientConfig>,
        &rustls::pki_types::ServerName<'static>,
    )>,
) -> io::Result<Transport> {
    let stream = stream.into();
    stream.set_nodelay();
    Ok(match tls {
        Some((config, name)) => Transport::Tls(Box::new(TlsStream::client(
            stream,
            Arc::clone(config),
            name.clone(),
        )?)),
        None => Transport::Plain(stream),
    })
}

/// TLS to `name` over a connection already made: inside the tunnel of a proxy, which may
/// itself be TLS (an `https://` proxy), or over a plain socket like [`connected`].
pub fn tls_over(
    under: Transport,
    config: &Arc<rustls::ClientConfig>,
    name: &rustls::pki_types::ServerName<'static>,
) -> io::Result<Transport> {
    let lower = match under {
        Transport::Plain(s) => Lower::Sock(s),
        Transport::Tls(t) => Lower::Tls(t),
    };
    Ok(Transport::Tls(Box::new(TlsStream::client(
        lower,
        Arc::clone(config),
        name.clone(),
    )?)))
}

/// Resets the connection: closing the socket then sends RST, not FIN, so the peer knows its
/// bytes were not all delivered (a relay passes on the reset of the other side this way).
pub fn reset(mut sock: Transport) {
    let _ = socket2::SockRef::from(&*sock.socket()).set_linger(Some(std::time::Duration::ZERO));
}

/// What the readiness events of an edge-triggered socket say about reading it. A plain read
/// that comes back short leaves the socket empty, and bytes that come later bring a new
/// event: until then the read that would only say "would block" is skipped (one system call
/// less per message). An event that says the peer's side is closed is the last one: from
/// then on every read is made, to the end of the stream.
#[derive(Debug, Default, Clone, Copy)]
pub struct Edge {
    drained: bool,
    hangup: bool,
}

impl Edge {
    /// A readiness event came (`closed`: it says the peer's side is closed).
    pub fn wake(&mut self, closed: bool) {
        self.drained = false;
        self.hangup |= closed;
    }

    /// Whether reading now would only say "would block".
    pub fn is_drained(&self) -> bool {
        self.drained
    }

    /// A read of `sock` into a buffer of `asked` bytes returned `got` (more than 0). TLS may
    /// hold decrypted bytes back from a short read, so only plain sockets count.
    pub fn read(&mut self, sock: &Transport, got: usize, asked: usize) {
        self.drained = got < asked && !self.hangup && matches!(sock, Transport::Plain(_));
    }
}

/// A connected socket, plain or TLS.
pub enum Transport {
    /// Plain TCP or Unix socket.
    Plain(Stream),
    /// TLS over TCP or a Unix socket.
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
                Ok(n) if trace::enabled() => {
                    trace::chunk(self.socket(), trace::Dir::Recv, &buf[..n]);
                    return Ok(n);
                }
                other => return other,
            }
        }
    }

    /// Sends what it can of `data`.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_masked(data, data)
    }

    /// Sends what it can of `data` like [`write`](Self::write), with `shown` (as long as
    /// `data`, its secrets masked) recorded by `--trace` in its place.
    pub fn write_masked(&mut self, data: &[u8], shown: &[u8]) -> io::Result<usize> {
        loop {
            let r = match self {
                Transport::Plain(s) => s.write(data),
                Transport::Tls(t) => t.write(data),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) if trace::enabled() => {
                    trace::chunk(
                        self.socket(),
                        trace::Dir::Send,
                        &shown[..n.min(shown.len())],
                    );
                    return Ok(n);
                }
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
            Transport::Plain(s) => shut_write(s),
            Transport::Tls(t) => t.shutdown_write(),
        }
    }

    /// Reports the socket readable only once `bytes` are queued (see
    /// [`Stream::set_read_low_water`]); under TLS, the socket at the bottom, its ciphertext.
    pub fn set_read_low_water(&mut self, bytes: usize) -> io::Result<()> {
        self.socket().set_read_low_water(bytes)
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

    /// Bytes sent that the peer has not acknowledged yet (see [`unacknowledged`]).
    pub fn unacknowledged(&mut self) -> io::Result<usize> {
        unacknowledged(self.socket())
    }

    /// The pending error of the socket (a reset that arrived while we were not reading).
    pub fn take_error(&mut self) -> io::Result<Option<io::Error>> {
        self.socket().take_error()
    }

    /// Whether the socket is a Unix domain socket (no resets; its send queue is counted in
    /// buffer space, not bytes: see [`unacknowledged`]).
    pub fn is_unix(&self) -> bool {
        let stream = match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.stream(),
        };
        matches!(stream, Stream::Unix(_))
    }

    /// The socket, to register with the loop.
    pub fn socket(&mut self) -> &mut Stream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.socket(),
        }
    }
}

/// A socket error in the user's words: TLS failures explained (see `tls::explain`), resets
/// and closes in plain words, anything else as the system says it.
pub fn describe(e: &io::Error) -> String {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) {
        return tls.to_string();
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        io::ErrorKind::BrokenPipe => "the peer closed the connection".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}

/// A failed socket operation (`doing`: "sending", "receiving the response from …") as an
/// error with the exit code of its cause: 6 for TLS, 4 refused, 1 otherwise.
pub fn failure(e: io::Error, doing: &str) -> anyhow::Error {
    let kind = if e.get_ref().is_some_and(|i| i.is::<TlsError>()) {
        Kind::Tls
    } else if e.kind() == io::ErrorKind::ConnectionRefused {
        Kind::Refused
    } else {
        Kind::Runtime
    };
    fail_io(kind, format!("{doing}: {}", describe(&e)), e.kind())
}

/// Whether an I/O error only means "not now".
pub fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}
