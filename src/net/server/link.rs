//! A connection's socket as a [`Service`](super::Service) sees it: reads and writes that
//! count as activity for the idle deadline, and the tokens of the connection's own event
//! sources.

use std::io;
use std::time::Instant;

use mio::Token;

use crate::net::transport::{Edge, Transport, would_block};
use crate::sock::Remote;

/// Tokens per connection: slot 0 is its client socket (and the server's deadline timer for
/// it); the others are the service's own (a relay's target socket and dial attempts).
pub const SLOTS: usize = 8;

/// What one [`Link::receive`] found.
pub enum Received<'b> {
    /// Bytes from the client.
    Data(&'b [u8]),
    /// The client ended its side.
    Eof,
    /// Nothing to read now.
    Nothing,
}

/// A connection's client socket. Reads and writes through it count as activity for the
/// idle deadline.
pub struct Link {
    pub(super) sock: Transport,
    pub(super) peer: Remote,
    pub(super) group: usize,
    /// The first token of the connection's [`SLOTS`].
    pub(super) first_token: usize,
    pub(super) now: Instant,
    pub(super) last_activity: Instant,
    /// What the client socket's readiness events said.
    pub(super) edge: Edge,
    /// The client socket's event that brought this turn, if one did (`Some(closed)`), for a
    /// service that reads the socket itself ([`Link::take_wake`]).
    pub(super) woke: Option<bool>,
}

impl Link {
    /// Reads received bytes: `Ok(0)` at the end of the client's stream, `WouldBlock` when
    /// none are there.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.edge.is_drained() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.sock.read(buf)?;
        self.last_activity = self.now;
        if n > 0 {
            self.edge.read(&self.sock, n, buf.len());
        }
        Ok(n)
    }

    /// Reads once into `buf` and says what came: bytes, the client's end, or nothing now.
    pub fn receive<'b>(&mut self, buf: &'b mut [u8]) -> io::Result<Received<'b>> {
        match self.read(buf) {
            Ok(0) => Ok(Received::Eof),
            Ok(n) => Ok(Received::Data(&buf[..n])),
            Err(e) if would_block(&e) => Ok(Received::Nothing),
            Err(e) => Err(e),
        }
    }

    /// Sends what the socket takes of `data` (`WouldBlock` when it takes nothing).
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.sock.write(data)?;
        if n > 0 {
            self.last_activity = self.now;
        }
        Ok(n)
    }

    /// Pushes out what the transport holds (TLS records); `WouldBlock` errors are dropped.
    pub fn flush(&mut self) -> io::Result<()> {
        match self.sock.flush() {
            Err(e) if !would_block(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Counts as activity for the idle deadline without moving a byte through the link: a
    /// subscriber told a heartbeat, a relay that moved bytes on its own.
    pub fn touch(&mut self) {
        self.last_activity = self.now;
    }

    /// Caps the kernel's send buffer of this connection at about `bytes`: a subscriber that
    /// stops reading must not hold megabytes of the kernel's memory (loopback and fast
    /// links grow it to 4 MiB), and must fall behind soon enough to be dropped.
    pub fn cap_send_buffer(&mut self, bytes: usize) -> io::Result<()> {
        socket2::SockRef::from(&*self.sock.socket()).set_send_buffer_size(bytes)
    }

    /// When the current batch of events came in.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Who the client is.
    pub fn peer(&self) -> &Remote {
        &self.peer
    }

    /// The token of the connection's slot `slot` (1 to [`SLOTS`] − 1 are the service's):
    /// for a socket or a timer of its own, which then brings
    /// [`Service::on_ready`](super::Service::on_ready) or a turn of its own.
    pub fn token(&self, slot: usize) -> Token {
        debug_assert!(slot < SLOTS);
        Token(self.first_token + slot)
    }

    /// The socket itself, for a service that moves bytes past the link's reads and writes
    /// (a relay splicing to its target); it calls [`Link::touch`] when bytes moved, and
    /// [`Link::take_wake`] tells it the socket's events.
    pub fn transport(&mut self) -> &mut Transport {
        &mut self.sock
    }

    /// Whether the client socket's readiness event brought this turn, and if so whether it
    /// said the client's side is closed.
    pub fn take_wake(&mut self) -> Option<bool> {
        self.woke.take()
    }
}
