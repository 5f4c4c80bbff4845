//! A TLS session over a non-blocking socket, driven the way rustls wants it on an
//! edge-triggered loop: read_tls → process_new_packets → drain plaintext, and write_tls until
//! the socket refuses. Never `write_all` into rustls (its buffer takes only so much) and never
//! `rustls::Stream` (it deadlocks on non-blocking sockets).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

/// TLS on one socket.
pub struct TlsStream {
    sock: TcpStream,
    conn: Connection,
    /// Our side was shut during the handshake: close_notify goes once the handshake is
    /// done (sent earlier, it ends the handshake and the peer never reads our data).
    close_deferred: bool,
    /// We sent close_notify; the TCP write side is shut once it is flushed.
    closing: bool,
    /// The TCP write side is shut.
    write_shut: bool,
    /// The peer's TCP stream ended without a close_notify.
    truncated: bool,
}

/// A TLS failure, carried inside an `io::Error` so one error path serves both kinds.
#[derive(Debug)]
pub struct TlsError(pub rustls::Error);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS handshake failed: {}", self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsStream {
    /// Starts a client handshake with `name` as SNI and the name to verify.
    pub fn client(
        sock: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Self> {
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Self::new(sock, conn.into()))
    }

    /// Starts a server handshake.
    pub fn server(sock: TcpStream, config: Arc<ServerConfig>) -> io::Result<Self> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Self::new(sock, conn.into()))
    }

    fn new(sock: TcpStream, conn: Connection) -> Self {
        TlsStream {
            sock,
            conn,
            close_deferred: false,
            closing: false,
            write_shut: false,
            truncated: false,
        }
    }

    /// The socket, to register with the loop.
    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.sock
    }

    /// The socket, to ask for addresses.
    pub fn socket_ref(&self) -> &TcpStream {
        &self.sock
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
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.truncated = true;
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(err) = self.conn.process_new_packets() {
                // The last gasp: let the peer see the alert that explains the failure.
                let _ = self.conn.write_tls(&mut self.sock);
                return Err(io::Error::new(io::ErrorKind::InvalidData, TlsError(err)));
            }
            // A handshake step may have produced records to send.
            match self.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes as much plaintext as rustls will buffer; `WouldBlock` when it takes none.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.closing || self.close_deferred {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "writing after close_notify",
            ));
        }
        let n = self.conn.writer().write(data)?;
        match self.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Sends buffered records; `WouldBlock` while some remain. Shuts the TCP write side once
    /// everything after our close_notify is out.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.close_deferred && !self.conn.is_handshaking() {
            self.close_deferred = false;
            self.conn.send_close_notify();
            self.closing = true;
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.closing && !self.write_shut {
            self.write_shut = true;
            self.sock.shutdown(Shutdown::Write)?;
        }
        Ok(())
    }

    /// Sends close_notify, then shuts the TCP write side (once it is flushed). During the
    /// handshake both wait for its end (the read that completes it flushes them).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        if self.conn.is_handshaking() && !self.closing {
            self.close_deferred = true;
        } else if !self.closing {
            self.conn.send_close_notify();
            self.closing = true;
        }
        match self.flush() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Whether records wait to be sent.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write() || self.close_deferred || (self.closing && !self.write_shut)
    }
}
