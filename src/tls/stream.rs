//! A TLS session over a non-blocking socket, driven the way rustls wants it on an
//! edge-triggered loop: read_tls → process_new_packets → drain plaintext, and write_tls until
//! the socket refuses. Never `write_all` into rustls (its buffer takes only so much) and never
//! `rustls::Stream` (it deadlocks on non-blocking sockets).
//!
//! The layer under a session is a socket, or another TLS session ([`Lower::Tls`]): TLS to
//! the target inside the TLS of an `https://` proxy's tunnel.

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::sock::Stream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

/// What a TLS session runs over.
pub enum Lower {
    /// A socket.
    Sock(Stream),
    /// The plaintext of another TLS session (a tunnel through an `https://` proxy).
    Tls(Box<TlsStream>),
}

impl Lower {
    /// The socket at the bottom.
    fn stream(&self) -> &Stream {
        match self {
            Lower::Sock(s) => s,
            Lower::Tls(t) => t.stream(),
        }
    }

    fn stream_mut(&mut self) -> &mut Stream {
        match self {
            Lower::Sock(s) => s,
            Lower::Tls(t) => t.socket(),
        }
    }

    /// Ends the sending side under our close_notify.
    fn shut_write(&mut self) -> io::Result<()> {
        match self {
            Lower::Sock(s) => crate::sock::shut_write(s),
            Lower::Tls(t) => t.shutdown_write(),
        }
    }

    /// Pushes out what the layer below holds; `WouldBlock` while some remains.
    fn flush_below(&mut self) -> io::Result<()> {
        match self {
            Lower::Sock(_) => Ok(()),
            Lower::Tls(t) => t.flush(),
        }
    }

    fn wants_write(&self) -> bool {
        match self {
            Lower::Sock(_) => false,
            Lower::Tls(t) => t.wants_write(),
        }
    }
}

impl Read for Lower {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Lower::Sock(s) => s.read(buf),
            Lower::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Lower {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Lower::Sock(s) => s.write(data),
            Lower::Tls(t) => t.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_below()
    }
}

impl From<Stream> for Lower {
    fn from(s: Stream) -> Self {
        Lower::Sock(s)
    }
}

/// Ciphertext read from the layer below per system call, ahead of rustls (whose
/// `read_tls` takes at most 4 KiB a call: a 16 KiB record would cost four reads).
const READ_AHEAD: usize = 64 * 1024;

/// Ciphertext read ahead of rustls: one read of [`READ_AHEAD`] bytes from the socket feeds
/// rustls's many small reads from memory. It holds memory only during a bulk transfer: a
/// read that finds the socket empty after a short one frees it, so an idle connection
/// keeps none (and a new one costs an allocation, never zeroing: the kernel writes into
/// the spare capacity).
#[derive(Default)]
struct ReadAhead {
    /// The ciphertext read; `start` is where rustls's next read begins.
    buf: Vec<u8>,
    start: usize,
    /// The last read from the socket filled the whole buffer.
    bulk: bool,
}

impl ReadAhead {
    /// Whether every byte read ahead has gone to rustls.
    fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }
}

/// The layer below as rustls reads it: through the [`ReadAhead`].
struct Ahead<'a> {
    sock: &'a mut Lower,
    ahead: &'a mut ReadAhead,
}

impl Read for Ahead<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let a = &mut *self.ahead;
        if a.is_empty() {
            a.buf.clear();
            a.start = 0;
            if a.buf.capacity() == 0 {
                a.buf = Vec::with_capacity(READ_AHEAD);
            }
            let got = match &mut *self.sock {
                // Into the spare capacity: no zeroing of a buffer the kernel fills anyway.
                Lower::Sock(s) => rustix::io::read(s, rustix::buffer::spare_capacity(&mut a.buf))
                    .map_err(io::Error::from),
                Lower::Tls(t) => {
                    a.buf.resize(READ_AHEAD, 0);
                    let got = t.read(&mut a.buf);
                    a.buf.truncate(*got.as_ref().unwrap_or(&0));
                    got
                }
            };
            match got {
                Ok(n) => {
                    a.bulk = n == READ_AHEAD;
                    if n == 0 {
                        return Ok(0);
                    }
                }
                Err(e) => {
                    // Nothing waits: an idle connection keeps no buffer (a bulk one keeps
                    // its own for the next read).
                    if e.kind() == io::ErrorKind::WouldBlock && !a.bulk {
                        *a = ReadAhead::default();
                    }
                    return Err(e);
                }
            }
        }
        let n = out.len().min(a.buf.len() - a.start);
        out[..n].copy_from_slice(&a.buf[a.start..a.start + n]);
        a.start += n;
        Ok(n)
    }
}

/// TLS on one socket, or inside another TLS session.
pub struct TlsStream {
    sock: Lower,
    ahead: ReadAhead,
    conn: Connection,
    /// Where our sending side stands.
    ours: Sending,
    /// The peer's TCP stream ended without a close_notify.
    truncated: bool,
}

/// Our sending side, in the order its states come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// Open.
    Open,
    /// Asked to end: close_notify goes out once the handshake is done.
    CloseRequested,
    /// close_notify is queued; the TCP write side is shut once it is flushed.
    Closing,
    /// The TCP write side is shut.
    Shut,
}

/// A TLS failure, carried inside an `io::Error` so one error path serves both kinds.
#[derive(Debug)]
pub struct TlsError(pub rustls::Error);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS: {}", super::explain(&self.0))
    }
}

impl std::error::Error for TlsError {}

impl TlsStream {
    /// Starts a client handshake with `name` as SNI and the name to verify.
    pub fn client(
        sock: impl Into<Lower>,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Self> {
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Self::new(sock.into(), conn.into()))
    }

    /// Starts a server handshake.
    pub fn server(sock: Stream, config: Arc<ServerConfig>) -> io::Result<Self> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Self::new(Lower::Sock(sock), conn.into()))
    }

    fn new(sock: Lower, conn: Connection) -> Self {
        TlsStream {
            sock,
            ahead: ReadAhead::default(),
            conn,
            ours: Sending::Open,
            truncated: false,
        }
    }

    /// The socket under the session (at the bottom, when it is inside another).
    pub fn stream(&self) -> &Stream {
        self.sock.stream()
    }

    /// The socket, to register with the loop.
    pub fn socket(&mut self) -> &mut Stream {
        self.sock.stream_mut()
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the peer ended the TCP stream without a close_notify.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Reads plaintext: `Ok(0)` at the end (close_notify, or a TCP end without it, see
    /// [`truncated`](Self::truncated)), `WouldBlock` when none is there yet.
    ///
    /// rustls hands over one record (at most 16 KiB) a read. What more is already in memory
    /// (decrypted, or ciphertext read ahead) fills `buf` further without a system call, so
    /// the caller's next write carries up to the whole buffer: a relay made 4 sends per 64
    /// KiB read ahead, one per record (issue 29). An end or error found while gathering is
    /// reported by the next read, after the bytes before it.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = self.read_record(buf)?;
        while n > 0 && n < buf.len() {
            match self.conn.reader().read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(more) => {
                    n += more;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            // Only ciphertext already read ahead: the socket is read by the next call.
            if self.ahead.is_empty() || self.conn.is_handshaking() {
                break;
            }
            let mut below = Ahead {
                sock: &mut self.sock,
                ahead: &mut self.ahead,
            };
            if !matches!(self.conn.read_tls(&mut below), Ok(got) if got > 0)
                || self.conn.process_new_packets().is_err()
            {
                break;
            }
            // Records the peer's may have asked for (a key update's answer) go out as in
            // read_record; a failure to send shows at the next write.
            let _ = self.flush_some();
        }
        Ok(n)
    }

    /// [`read`](Self::read)'s first step: plaintext as rustls hands it over, reading the
    /// socket when it has none.
    fn read_record(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A peer that leaves before the handshake is done (a port scan, a health
                // check, a server that refused us without an alert) ended no TLS session:
                // a failure, or the session would wait for a handshake that never ends.
                Err(e)
                    if e.kind() == io::ErrorKind::UnexpectedEof && self.conn.is_handshaking() =>
                {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        TlsError(rustls::Error::General(
                            "the peer closed the connection during the handshake".into(),
                        )),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.truncated = true;
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            let mut below = Ahead {
                sock: &mut self.sock,
                ahead: &mut self.ahead,
            };
            match self.conn.read_tls(&mut below) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(err) = self.conn.process_new_packets() {
                // The last gasp: let the peer see the alert that explains the failure.
                let _ = self.conn.write_tls(&mut self.sock);
                let _ = self.sock.flush_below();
                return Err(io::Error::new(io::ErrorKind::InvalidData, TlsError(err)));
            }
            // A handshake step may have produced records to send.
            self.flush_some()?;
        }
    }

    /// Takes as much plaintext as rustls will buffer; `WouldBlock` when it takes none.
    ///
    /// Records already queued go out first, so a full rustls buffer is only reported when
    /// the socket itself refused bytes: that guarantees a writable event will follow.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.ours != Sending::Open {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "writing after close_notify",
            ));
        }
        self.flush_some()?;
        let n = self.conn.writer().write(data)?;
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.flush_some()?;
        Ok(n)
    }

    /// Flushes what the socket takes now; a full socket is not an error here.
    fn flush_some(&mut self) -> io::Result<()> {
        match self.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }

    /// Sends buffered records; `WouldBlock` while some remain (here or in the layer below).
    /// Shuts the TCP write side once everything after our close_notify is out.
    pub fn flush(&mut self) -> io::Result<()> {
        // close_notify waits for the handshake: sent earlier, it would cut the handshake and
        // the data rustls holds until the handshake is done.
        if self.ours == Sending::CloseRequested && !self.conn.is_handshaking() {
            self.conn.send_close_notify();
            self.ours = Sending::Closing;
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.ours == Sending::Closing {
            self.ours = Sending::Shut;
            // Our close_notify may have met the reset of a peer that had what it wanted.
            self.sock.shut_write()?;
        }
        self.sock.flush_below()
    }

    /// Sends close_notify, then shuts the TCP write side (once it is flushed), after the
    /// handshake.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        if self.ours == Sending::Open {
            self.ours = Sending::CloseRequested;
        }
        match self.flush() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Whether records wait to be sent.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
            || matches!(self.ours, Sending::CloseRequested | Sending::Closing)
            || self.sock.wants_write()
    }
}
