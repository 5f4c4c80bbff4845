//! What a server says on its connections: the [`Service`] trait the [`Server`](super::Server)
//! drives, and what it answers ([`Next`], [`Phase`]).

use std::io;
use std::time::Instant;

use mio::event::Event;
use mio::{Registry, Token};

use super::link::Link;
use crate::net::event_loop::Context;
use crate::sock::Remote;

/// Most event sources a service may register.
pub const MAX_SOURCES: usize = 1024;

/// What a service wants done with a connection after moving its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Keep it; the loop calls again when the socket is ready.
    Keep,
    /// Done, everything handed to [`Link::write`] was taken: send what the transport still
    /// holds, end our sending side, then close once the client closes its side (or after a
    /// short while). The client reads the last response instead of a reset, even when it was
    /// still sending.
    Finish,
    /// Close now.
    Close,
    /// Close now with a reset: bytes were lost, and the client must not take the close for
    /// a clean end (a relay whose other side failed).
    Reset,
}

/// Where a connection stands, from the least to the most useful to keep when the server is
/// full: the one to close to make room for a new client is the longest idle, else the one
/// whose request has been arriving the longest (a slow or stalled sender); a busy one
/// never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between requests, nothing owed either way: closing it loses nothing.
    Idle,
    /// Receiving a request that started then.
    Receiving(Instant),
    /// Answering, or a stream that must not be cut.
    Busy,
}

impl Phase {
    /// The phase of a request/answer connection: busy while it owes an answer (or is
    /// closing), receiving since `started` while a request is coming in, else idle.
    pub fn of(owes_answer: bool, started: Option<Instant>) -> Phase {
        match (owes_answer, started) {
            (true, _) => Phase::Busy,
            (false, Some(at)) => Phase::Receiving(at),
            (false, None) => Phase::Idle,
        }
    }
}

/// How a connection ended, for [`Service::closed`].
#[derive(Debug)]
pub struct Closed<'a> {
    /// Who the client was.
    pub peer: &'a Remote,
    /// Why the server closed it (a deadline, an error, the end of the grace period); `None`
    /// when the service asked for it.
    pub why: Option<&'a str>,
    /// It was reset, not closed cleanly.
    pub reset: bool,
}

/// What a server says on its connections.
pub trait Service {
    /// The service's state for one connection.
    type Conn;

    /// What the service does, for error lines ("echoing: connection reset by peer").
    const DOING: &'static str;

    /// What starts the server's own log lines about accepting ("relay: ").
    const LOG_PREFIX: &'static str = "";

    /// A close for a deadline or an error is a reset (the service's peers must not take it
    /// for a clean end): a relay's.
    const RESET_ON_FAILURE: bool = false;

    /// The service says each close itself ([`Service::closed`]): the server's `-v` line
    /// `closed PEER: why` is not printed.
    const SAYS_CLOSE: bool = false;

    /// A client connected on listener group `group`.
    fn open(&mut self, group: usize, now: Instant) -> Self::Conn;

    /// The connection is ready: move what can be moved without blocking. Edge-triggered:
    /// read until `WouldBlock` (or until a bounded buffer is full) and write until the
    /// socket refuses, or nothing will wake this connection again. `cx` registers the
    /// service's own sockets and timers under [`Link::token`].
    fn pump(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        conn: &mut Self::Conn,
    ) -> io::Result<Next>;

    /// One of the connection's own sources (slot 1 or more of [`Link::token`]) is ready;
    /// [`Service::pump`] comes next.
    fn on_ready(&mut self, conn: &mut Self::Conn, slot: usize, event: &Event) {
        let _ = (conn, slot, event);
    }

    /// A deadline of the service's own (a request that must be complete by then), and what
    /// to say when it closes the connection.
    fn deadline(&self, conn: &Self::Conn) -> Option<(Instant, &'static str)> {
        let _ = conn;
        None
    }

    /// When the client's TLS handshake started counting against its time limit: by default
    /// at the accept; `None` while the service holds it back (a relay that reads its client
    /// only once the target is up).
    fn handshake_from(&self, conn: &Self::Conn, accepted: Instant) -> Option<Instant> {
        let _ = conn;
        Some(accepted)
    }

    /// Where the connection stands, for choosing one to close when a full listener group
    /// needs room for a new client. By default none may be closed.
    fn phase(&self, conn: &Self::Conn) -> Phase {
        let _ = conn;
        Phase::Busy
    }

    /// Whether a server that is stopping (SIGTERM) may finish the connection now: nothing
    /// is owed either way. By default when it is [`Phase::Idle`].
    fn may_stop(&self, conn: &Self::Conn) -> bool {
        self.phase(conn) == Phase::Idle
    }

    /// What a client is told when its group is full and no connection can make room for
    /// it (sent once, plain TCP only, then closed): an HTTP 503, say. None: just closed.
    fn busy_answer(&self, group: usize) -> Option<&'static [u8]> {
        let _ = group;
        None
    }

    /// Whether something happened since the last call that connections are waiting to be
    /// told (an event for subscribers): the server then pumps every connection that
    /// [`Service::wants_news`], before it waits for the next events.
    fn take_news(&mut self) -> bool {
        false
    }

    /// Whether this connection is waiting for news (a subscriber).
    fn wants_news(&self, conn: &Self::Conn) -> bool {
        let _ = conn;
        false
    }

    /// When the service itself next has something to do (a heartbeat, a timer), if ever.
    fn due(&self) -> Option<Instant> {
        None
    }

    /// Its [`Service::due`] time has come: do what is due at `cx.now` (`cx` registers
    /// the service's own sources).
    fn on_due(&mut self, cx: &mut Context<'_>) {
        let _ = cx;
    }

    /// Registers the service's own event sources (an input line's edge events), source
    /// `i` with `first + i`, at most [`MAX_SOURCES`].
    fn register(&mut self, registry: &Registry, first: Token) -> io::Result<()> {
        let _ = (registry, first);
        Ok(())
    }

    /// SIGINT or SIGTERM came: pass it on to what the connection runs (the program of
    /// `--exec`), if anything. After SIGTERM the connection ends as it would, within the
    /// grace period.
    fn pass_signal(&mut self, conn: &mut Self::Conn, signal: crate::net::event_loop::Signal) {
        let _ = (conn, signal);
    }

    /// SIGCHLD came (the service asked the loop for it): reap what ended. True when this
    /// connection's program ended: the connection gets a turn.
    fn child_ended(&mut self, conn: &mut Self::Conn) -> bool {
        let _ = conn;
        false
    }

    /// SIGCHLD came: reap the programs the service still keeps for closed connections.
    fn reap(&mut self) {}

    /// The service still has work of its own besides connections (programs of closed
    /// connections not yet ended): a stopping server waits for it.
    fn busy(&self) -> bool {
        self.held() > 0
    }

    /// How many places of the client limit the service still holds for closed connections
    /// (their programs, told to stop, not yet ended): new clients find that much less room.
    fn held(&self) -> usize {
        0
    }

    /// The service takes no more clients (`listen --exec` without `-k`, or `--max-conns`
    /// reached): the server stops accepting, and ends (exit 0) once its connections are
    /// closed.
    fn done(&self) -> bool {
        false
    }

    /// The connection is closed (by either side, or by a deadline).
    fn closed(&mut self, conn: Self::Conn, end: &Closed<'_>) {
        let _ = (conn, end);
    }

    /// Source `index` of [`Service::register`] is ready, or a timer the service set under
    /// its token is due; the loop's waker comes here too (as the index of
    /// [`WAKER_TOKEN`](crate::net::event_loop::WAKER_TOKEN)).
    fn on_source(&mut self, cx: &mut Context<'_>, index: usize) {
        let _ = (cx, index);
    }
}
