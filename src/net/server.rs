//! The machinery of a many-client TCP server on the event loop, shared by `echo` and
//! `serve-gpio`: groups of listeners behind the shared [`Acceptor`], a client limit, a
//! slab of connections (plain or TLS), the deadlines every connection has (TLS handshake,
//! idle, and the service's own) on lazy timers, a graceful close that lets the client read
//! its last response, and the `-v` lines.
//!
//! What a connection *says* is a [`Service`]'s business: it gets each ready connection's
//! [`Link`] and its own per-connection state, moves what bytes it can without blocking, and
//! says what comes [`Next`]. A service that answers what it receives (echo, HTTP, the line
//! protocol) describes one connection as an [`Exchange`] and lets [`exchange`] run the
//! read–answer–write round.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::error::{Kind, fail};
use crate::net::acceptor::{Acceptor, FIRST_FREE_TOKEN, Throttle};
use crate::net::event_loop::{Context, EventLoop, Flow, Handler, Signal};
use crate::net::listener::{Listener, Proto, bind_all_labeled, tcp_listeners};
use crate::net::outbox::Outbox;
use crate::net::transport::{self, Transport, would_block};
use crate::sock::{Remote, Stream};

pub use crate::net::acceptor::MAX_LISTENERS;

/// Tokens at and above this are connections.
const CONN_BASE: usize = FIRST_FREE_TOKEN;
/// The token of the service's own deadline ([`Service::due`]).
const DUE_TOKEN: Token = Token(usize::MAX - 16);
/// The token of the end of the grace period after SIGTERM.
const GRACE_TOKEN: Token = Token(usize::MAX - 17);
/// Tokens of the service's own event sources ([`Service::register`]) start here, far above
/// any connection's.
const SOURCE_BASE: usize = usize::MAX / 2;
/// Most event sources a service may register.
pub const MAX_SOURCES: usize = 1024;
/// Rounds of news delivered before the loop waits again; news made while delivering news
/// (a watcher's own command) is delivered in the next round.
const NEWS_ROUNDS: usize = 8;
/// How long a connection must have been idle, or its request arriving, before it may be
/// closed to make room for a new client.
const SHED_MIN_AGE: Duration = Duration::from_millis(500);
/// Clients turned away at once that may linger until they have read the busy answer;
/// beyond this they are closed without one.
const MAX_TURNED_AWAY: usize = 1024;
/// Connections closed, one at a time, to find descriptors for waiting clients per event.
const FD_ROOM_TRIES: usize = 64;
/// Time between two log lines about clients that could not be set up.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Time a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections may go on after SIGTERM, unless the command says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// After our last byte, time the client gets to close its side before we close ours.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes we read and throw away while lingering before giving up on a polite close.
const LINGER_MAX_BYTES: usize = 256 * 1024;
/// Size of the buffer that lingering reads are thrown into.
const DISCARD_BUFFER: usize = 16 * 1024;

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
}

/// What one [`Link::receive`] found.
pub enum Received<'b> {
    /// Bytes from the client.
    Data(&'b [u8]),
    /// The client ended its side.
    Eof,
    /// Nothing to read now.
    Nothing,
}

/// A connection's socket as a service sees it. Reads and writes through it count as
/// activity for the idle deadline.
pub struct Link {
    sock: Transport,
    peer: Remote,
    group: usize,
    now: Instant,
    last_activity: Instant,
    /// A plain read this round came back short: the socket had no more, and bytes that
    /// come later bring a new edge-triggered event, so the read that would only say
    /// `WouldBlock` is skipped (one system call less per request).
    drained: bool,
    /// The event said the client's side is closed: read on to the end of stream, since no
    /// further event will come for it.
    hangup: bool,
}

impl Link {
    /// Reads received bytes: `Ok(0)` at the end of the client's stream, `WouldBlock` when
    /// none are there.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.drained {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.sock.read(buf)?;
        self.last_activity = self.now;
        // TLS may hold decrypted bytes back from a short read, so only plain TCP counts.
        self.drained =
            n > 0 && n < buf.len() && !self.hangup && matches!(self.sock, Transport::Plain(_));
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

    /// Counts as activity for the idle deadline without moving a byte: a subscriber that
    /// was told a heartbeat, with nothing to say on its protocol, is still wanted.
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
}

/// What a server says on its connections.
pub trait Service {
    /// The service's state for one connection.
    type Conn;

    /// What the service does, for error lines ("echoing: connection reset by peer").
    const DOING: &'static str;

    /// A client connected on listener group `group`.
    fn open(&mut self, group: usize, now: Instant) -> Self::Conn;

    /// The connection is ready: move what can be moved without blocking. Edge-triggered:
    /// read until `WouldBlock` (or until a bounded buffer is full) and write until the
    /// socket refuses, or nothing will wake this connection again.
    fn pump(&mut self, link: &mut Link, conn: &mut Self::Conn) -> io::Result<Next>;

    /// A deadline of the service's own (a request that must be complete by then), and what
    /// to say when it closes the connection.
    fn deadline(&self, conn: &Self::Conn) -> Option<(Instant, &'static str)> {
        let _ = conn;
        None
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

    /// Its [`Service::due`] time has come: do what is due at `now`.
    fn on_due(&mut self, now: Instant) {
        let _ = now;
    }

    /// Registers the service's own event sources (an input line's edge events), source
    /// `i` with `first + i`, at most [`MAX_SOURCES`].
    fn register(&mut self, registry: &Registry, first: Token) -> io::Result<()> {
        let _ = (registry, first);
        Ok(())
    }

    /// The connection is closed (by either side, or by a deadline).
    fn closed(&mut self, conn: Self::Conn) {
        let _ = conn;
    }

    /// Source `index` of [`Service::register`] is ready.
    fn on_source(&mut self, index: usize, now: Instant) {
        let _ = (index, now);
    }
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

/// One connection of a service that answers what it receives, in the shape [`exchange`]
/// drives: bytes come in while there is room, answers go out through a bounded [`Outbox`],
/// and the connection finishes once the last answer is sent.
pub trait Exchange {
    /// What answers are made with (the app behind the connection).
    type App: ?Sized;

    /// Where answers wait to be sent.
    fn outbox(&mut self) -> &mut Outbox;

    /// How many received bytes it takes now; 0 stops reading (answers pile up unread, its
    /// input buffer is full, or it is closing).
    fn room(&self) -> usize;

    /// Bytes from the client. `link` is there to answer straight away without a copy.
    fn received(&mut self, link: &mut Link, data: &[u8]) -> io::Result<()>;

    /// The client ended its side.
    fn ended(&mut self);

    /// Answers what complete input it holds while the outbox has room; says whether it
    /// answered anything.
    fn answer(&mut self, app: &mut Self::App) -> bool {
        let _ = app;
        false
    }

    /// Nothing more will be answered: once the outbox is empty the connection finishes.
    fn is_finished(&self) -> bool;
}

/// Runs one round of an [`Exchange`]: send, answer, read, until nothing moves (the
/// edge-triggered contract of [`Service::pump`]); `scratch` is the read buffer connections
/// share.
pub fn exchange<E: Exchange>(
    link: &mut Link,
    conn: &mut E,
    app: &mut E::App,
    scratch: &mut [u8],
) -> io::Result<Next> {
    loop {
        let mut moved = conn.outbox().write_to(link)?;
        moved |= conn.answer(app);
        let room = conn.room().min(scratch.len());
        if room > 0 {
            match link.receive(&mut scratch[..room])? {
                Received::Eof => {
                    conn.ended();
                    moved = true;
                }
                Received::Data(data) => {
                    conn.received(link, data)?;
                    moved = true;
                }
                Received::Nothing => {}
            }
        }
        link.flush()?;
        if !moved {
            break;
        }
    }
    if conn.outbox().is_empty() && conn.is_finished() {
        return Ok(Next::Finish);
    }
    Ok(Next::Keep)
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

/// Listeners whose connections share a TLS setting, an idle timeout and a limit.
pub struct Group {
    /// The bound listeners.
    pub listeners: Vec<Listener>,
    /// Serve TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Close a connection that moved no byte for this long.
    pub idle: Option<Duration>,
    /// Most clients of this group at once; a client over it takes the place of the least
    /// useful one (see [`Phase`]) or is turned away.
    pub max_conns: usize,
}

/// Binds TCP listeners on `addrs` and prints one ready line per address, `listening on
/// ADDR` followed by ` (label)` when a label is given.
pub fn listen(addrs: &[SocketAddr], default_pair: bool, label: &str) -> Result<Vec<Listener>> {
    let sockets = bind_all_labeled(addrs, Proto::Tcp, default_pair, label)?;
    Ok(tcp_listeners(sockets))
}

/// [`listen`], or the Unix socket `unix` instead of the addresses when one is given
/// (`-U PATH`).
pub fn listen_at(
    unix: Option<&std::path::Path>,
    addrs: &[SocketAddr],
    default_pair: bool,
    label: &str,
) -> Result<Vec<Listener>> {
    match unix {
        Some(path) => Ok(vec![Listener::Unix(super::unix::bind(path, label)?)]),
        None => listen(addrs, default_pair, label),
    }
}

/// One connection: its link, the service's state and the server's deadlines.
struct Entry<C> {
    link: Link,
    conn: C,
    accepted: Instant,
    /// When the lingering close gives up; set once the service said [`Next::Finish`].
    linger_until: Option<Instant>,
    lingered: usize,
    /// When this connection's next timer is due.
    timer_at: Option<Instant>,
    /// It holds one of its group's places (a client turned away does not).
    counted: bool,
}

impl<C> Entry<C> {
    /// The earliest deadline and why it closes the connection.
    fn deadline(
        &self,
        idle: Option<Duration>,
        own: Option<(Instant, &'static str)>,
    ) -> Option<(Instant, &'static str)> {
        let handshake = self
            .link
            .sock
            .is_handshaking()
            .then(|| (self.accepted + HANDSHAKE_TIMEOUT, "TLS handshake timed out"));
        let idle = idle.map(|d| (self.link.last_activity + d, "idle timeout"));
        let linger = self.linger_until.map(|at| (at, "closed after lingering"));
        let own = if self.linger_until.is_some() {
            None
        } else {
            own
        };
        [handshake, idle, linger, own]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }
}

/// A TCP server on the event loop: listener groups, connections and their deadlines around
/// a [`Service`].
pub struct Server<S: Service> {
    service: S,
    /// Each group's TLS setting and idle timeout; its listeners are in the acceptor.
    groups: Vec<Group>,
    acceptor: Acceptor,
    conns: Slab<Entry<S::Conn>>,
    /// Connections per group.
    counts: Vec<usize>,
    verbose: u8,
    discard: Vec<u8>,
    /// Failures to set up an accepted client, logged at most once per period.
    client_errors: Throttle,
    /// Clients turned away that are still lingering until they read their answer.
    turned_away: usize,
    /// When the timer of the service's own deadline is set for.
    service_due: Option<Instant>,
    /// Connections to pump with news (kept to spare an allocation per event).
    news_keys: Vec<usize>,
    /// How long connections may go on after SIGTERM.
    grace: Duration,
    /// SIGTERM came: no new clients, and the end of the grace period.
    stopping: Option<Instant>,
}

impl<S: Service> Server<S> {
    /// A server for `service` on these groups, each serving at most its `max_conns` clients
    /// at once (a client over the limit is accepted, then given room or turned away, never
    /// left waiting in the backlog).
    pub fn new(service: S, mut groups: Vec<Group>, verbose: u8) -> Self {
        let listeners = groups
            .iter_mut()
            .map(|g| std::mem::take(&mut g.listeners))
            .collect();
        Server {
            service,
            acceptor: Acceptor::new(listeners, ""),
            conns: Slab::new(),
            counts: vec![0; groups.len()],
            groups,
            verbose,
            discard: vec![0; DISCARD_BUFFER],
            client_errors: Throttle::new(LOG_EVERY),
            turned_away: 0,
            service_due: None,
            news_keys: Vec::new(),
            grace: DEFAULT_GRACE,
            stopping: None,
        }
    }

    /// How long connections may go on after SIGTERM (see [`Server::run`]).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Runs the server on `ev` until SIGINT (exit 130) or SIGTERM. Make the loop before
    /// binding: it catches the signals, and a script may send one as soon as it reads a
    /// ready line. SIGTERM is a clean stop: no new clients, each connection finished (its
    /// last bytes sent, our side shut) as soon as nothing is owed on it
    /// ([`Service::may_stop`]), and the server gone when all are closed or the grace period
    /// ends (exit 0 either way); a second SIGTERM stops it at once.
    pub fn run(mut self, mut ev: EventLoop) -> Result<()> {
        // Many clients need many descriptors; the soft limit is often only 1024.
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        self.acceptor.register(ev.registry())?;
        self.service
            .register(ev.registry(), Token(SOURCE_BASE))
            .context("watching GPIO lines")?;
        ev.run(&mut self)
    }

    fn accept_all(&mut self, cx: &mut Context<'_>, index: usize) {
        for _ in 0..FD_ROOM_TRIES {
            self.accept_waiting(cx, index);
            // Out of descriptors with clients waiting: an idle connection makes room for
            // one (else the retry timer tries again later).
            if !(self.acceptor.take_fd_shortage() && self.make_room_anywhere(cx)) {
                return;
            }
        }
    }

    /// Closes the least useful connection of any group; false when all are busy.
    fn make_room_anywhere(&mut self, cx: &mut Context<'_>) -> bool {
        (0..self.groups.len()).any(|g| self.make_room(cx, g))
    }

    fn accept_waiting(&mut self, cx: &mut Context<'_>, index: usize) {
        while let Some(client) = self.acceptor.next(cx, index) {
            let (peer, group) = (client.peer, client.group);
            let limit = self.groups.get(group).map_or(0, |g| g.max_conns);
            if self.counts.get(group).is_some_and(|&n| n >= limit) && !self.make_room(cx, group) {
                self.turn_away(cx, client.stream, peer, group);
                continue;
            }
            if let Err(e) = self.add(cx, client.stream, peer, group, true)
                && let Some(held) = self.client_errors.allow(cx.now)
            {
                eprintln!("nicksock: client {peer}: {e:#}{}", Throttle::since(held));
            }
        }
    }

    /// Closes the least useful connection of a full `group` (the longest idle, else the
    /// longest-arriving request); false when every one is busy.
    fn make_room(&mut self, cx: &mut Context<'_>, group: usize) -> bool {
        let mut idle: Option<(Instant, usize)> = None;
        let mut slow: Option<(Instant, usize)> = None;
        for (key, e) in &self.conns {
            if e.link.group != group || e.linger_until.is_some() {
                continue;
            }
            let (best, since) = match self.service.phase(&e.conn) {
                Phase::Idle => (&mut idle, e.link.last_activity),
                Phase::Receiving(started) => (&mut slow, started),
                Phase::Busy => continue,
            };
            // A client that just came (or just spoke) keeps its place: in a sudden crowd
            // the newcomer is told to come back instead.
            if cx.now.saturating_duration_since(since) < SHED_MIN_AGE {
                continue;
            }
            if best.is_none_or(|(at, _)| since < at) {
                *best = Some((since, key));
            }
        }
        let (why, key) = match (idle, slow) {
            (Some((_, key)), _) => ("idle, closed to make room", key),
            (None, Some((_, key))) => ("request too slow, closed to make room", key),
            (None, None) => return false,
        };
        self.close(cx, key, Some(why.to_string()));
        true
    }

    /// A client the full server cannot take: the service's busy answer when it has one
    /// (best effort, never blocking), then closed.
    fn turn_away(&mut self, cx: &mut Context<'_>, mut stream: Stream, peer: Remote, group: usize) {
        if self.verbose > 0 {
            eprintln!(
                "refused {peer}: already serving {} clients",
                self.counts.get(group).copied().unwrap_or(0)
            );
        }
        let answer = self
            .groups
            .get(group)
            .filter(|g| g.tls.is_none())
            .and(self.service.busy_answer(group));
        let Some(answer) = answer.filter(|_| self.turned_away < MAX_TURNED_AWAY) else {
            return; // closed
        };
        // The answer goes out at once; then the lingering close reads what the client sent
        // until it closes, so our close is no reset that would destroy the answer.
        let _ = stream.write(answer);
        // Should that fail, the client is dropped: closed without more.
        if let Ok(key) = self.add(cx, stream, peer, group, false) {
            self.turned_away += 1;
            if let Some(entry) = self.conns.get_mut(key) {
                entry.linger_until = Some(cx.now + LINGER_TIMEOUT);
            }
            self.serve(cx, key, false);
        }
    }

    /// Takes in an accepted client; `counted`: it holds one of its group's places (not a
    /// client turned away, only lingering until it has read its answer).
    fn add(
        &mut self,
        cx: &mut Context<'_>,
        stream: Stream,
        peer: Remote,
        group: usize,
        counted: bool,
    ) -> Result<usize> {
        let Some(settings) = self.groups.get(group) else {
            return Err(anyhow::anyhow!("no listener group {group}"));
        };
        let tls = if counted { settings.tls.as_ref() } else { None };
        let mut sock = transport::accepted(stream, tls)?;
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        cx.registry
            .register(
                sock.socket(),
                Token(CONN_BASE + key),
                Interest::READABLE | Interest::WRITABLE,
            )
            .context("watching a client")?;
        let conn = self.service.open(group, cx.now);
        if counted && let Some(n) = self.counts.get_mut(group) {
            *n += 1;
        }
        entry.insert(Entry {
            link: Link {
                sock,
                peer,
                group,
                now: cx.now,
                last_activity: cx.now,
                drained: false,
                hangup: false,
            },
            conn,
            accepted: cx.now,
            linger_until: None,
            lingered: 0,
            timer_at: None,
            counted,
        });
        if self.verbose > 0 && counted {
            eprintln!("connection from {peer}");
        }
        self.arm_timer(cx, key);
        Ok(key)
    }

    /// Moves a connection's bytes and acts on what the service says; `hangup` is the
    /// event's word that the client closed its side or the socket failed.
    fn serve(&mut self, cx: &mut Context<'_>, key: usize, hangup: bool) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        entry.link.now = cx.now;
        entry.link.drained = false;
        entry.link.hangup = hangup;
        let next = if entry.linger_until.is_some() {
            linger(entry, &mut self.discard)
        } else {
            match self.service.pump(&mut entry.link, &mut entry.conn) {
                // Stopping: a connection at rest is finished, politely.
                Ok(Next::Keep) if self.stopping.is_some() && self.service.may_stop(&entry.conn) => {
                    Ok(Next::Finish)
                }
                other => other,
            }
        };
        match next {
            Ok(Next::Keep) => self.arm_timer(cx, key),
            Ok(Next::Finish) => {
                entry.linger_until = Some(cx.now + LINGER_TIMEOUT);
                self.serve(cx, key, hangup);
            }
            Ok(Next::Close) => self.close(cx, key, None),
            Err(e) => {
                let why = crate::net::transport::failure(e, S::DOING);
                self.close(cx, key, Some(format!("{why:#}")));
            }
        }
    }

    /// Makes sure a timer is due no later than the connection's earliest deadline. Timers
    /// are lazy: one that fires early is re-armed, one that is late is never missed.
    fn arm_timer(&mut self, cx: &mut Context<'_>, key: usize) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let idle = self.groups.get(entry.link.group).and_then(|g| g.idle);
        let own = self.service.deadline(&entry.conn);
        if let Some((at, _)) = entry.deadline(idle, own)
            && entry.timer_at.is_none_or(|t| at < t)
        {
            let token = Token(CONN_BASE + key);
            if let Some(old) = entry.timer_at.replace(at) {
                cx.timers.cancel(old, token);
            }
            cx.timers.add(at, token);
        }
    }

    fn close(&mut self, cx: &mut Context<'_>, key: usize, why: Option<String>) {
        if let Some(mut entry) = self.conns.try_remove(key) {
            if let Some(at) = entry.timer_at {
                cx.timers.cancel(at, Token(CONN_BASE + key));
            }
            if !entry.counted {
                self.turned_away = self.turned_away.saturating_sub(1);
            } else if let Some(n) = self.counts.get_mut(entry.link.group) {
                *n = n.saturating_sub(1);
            }
            let _ = cx.registry.deregister(entry.link.sock.socket());
            if self.verbose > 0 {
                let peer = entry.link.peer;
                match why {
                    Some(why) => eprintln!("closed {peer}: {why}"),
                    None => eprintln!("closed {peer}"),
                }
            }
            self.service.closed(entry.conn);
        }
    }
}

/// The graceful end of a connection: our last bytes out, our side shut, and the client's
/// remaining bytes read and dropped until it closes, so that closing never resets a
/// connection whose response the client has not read yet.
fn linger<C>(entry: &mut Entry<C>, discard: &mut [u8]) -> io::Result<Next> {
    let sock = &mut entry.link.sock;
    match sock.flush() {
        Err(e) if would_block(&e) => return Ok(Next::Keep),
        Err(_) => return Ok(Next::Close),
        Ok(()) => {}
    }
    if sock.wants_write() {
        return Ok(Next::Keep);
    }
    if sock.shutdown_write().is_err() {
        return Ok(Next::Close);
    }
    loop {
        match sock.read(discard) {
            Ok(0) => return Ok(Next::Close),
            Ok(n) => {
                entry.lingered += n;
                if entry.lingered > LINGER_MAX_BYTES {
                    return Ok(Next::Close);
                }
            }
            Err(e) if would_block(&e) => return Ok(Next::Keep),
            // A reset now loses nothing: our side is already shut.
            Err(_) => return Ok(Next::Close),
        }
    }
}

impl<S: Service> Handler for Server<S> {
    fn on_event(&mut self, cx: &mut Context<'_>, event: &Event) -> Result<()> {
        if let Some(index) = self.acceptor.listener(event.token()) {
            self.accept_all(cx, index);
        } else if let Some(index) = event.token().0.checked_sub(SOURCE_BASE) {
            self.service.on_source(index, cx.now);
        } else if let Some(key) = event.token().0.checked_sub(CONN_BASE) {
            let hangup = event.is_read_closed() || event.is_error();
            self.serve(cx, key, hangup);
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        if token == DUE_TOKEN {
            self.service_due = None;
            self.service.on_due(cx.now);
            return Ok(());
        }
        if let Some(listeners) = self.acceptor.retry(token) {
            for i in listeners {
                self.accept_all(cx, i);
            }
            return Ok(());
        }
        let Some(key) = token.0.checked_sub(CONN_BASE) else {
            return Ok(());
        };
        let Some(entry) = self.conns.get_mut(key) else {
            return Ok(());
        };
        if entry.timer_at.is_none_or(|at| at > cx.now) {
            return Ok(()); // a stale timer
        }
        entry.timer_at = None;
        let idle = self.groups.get(entry.link.group).and_then(|g| g.idle);
        let own = self.service.deadline(&entry.conn);
        match entry.deadline(idle, own) {
            Some((at, why)) if at <= cx.now => {
                let why = entry.linger_until.is_none().then(|| why.to_string());
                self.close(cx, key, why);
            }
            _ => self.arm_timer(cx, key),
        }
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        self.deliver_news(cx);
        self.arm_service_timer(cx);
        if let Some(at) = self.stopping {
            if self.conns.is_empty() {
                return Ok(Flow::Stop);
            }
            if cx.now >= at {
                eprintln!(
                    "nicksock: stopped: {} clients cut off at the end of the {} s grace period",
                    self.conns.len(),
                    self.grace.as_secs_f64()
                );
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    fn on_signal(&mut self, cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        match signal {
            Signal::Interrupt => Err(fail(Kind::Interrupted, "interrupted")),
            // A second SIGTERM does not wait for the grace period.
            Signal::Terminate if self.stopping.is_some() => Ok(Flow::Stop),
            Signal::Terminate => {
                self.acceptor.close(cx.registry);
                let at = cx.now + self.grace;
                self.stopping = Some(at);
                cx.timers.add(at, GRACE_TOKEN);
                if self.verbose > 0 {
                    eprintln!(
                        "stopping (SIGTERM): no new clients; {} may finish within {} s",
                        self.conns.len(),
                        self.grace.as_secs_f64()
                    );
                }
                // Each connection at rest is finished now; the others when they come to
                // rest.
                let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
                for key in keys {
                    self.serve(cx, key, false);
                }
                Ok(Flow::Continue)
            }
        }
    }
}

impl<S: Service> Server<S> {
    /// Pumps every connection waiting for news while the service has some.
    fn deliver_news(&mut self, cx: &mut Context<'_>) {
        for _ in 0..NEWS_ROUNDS {
            if !self.service.take_news() {
                return;
            }
            let mut keys = std::mem::take(&mut self.news_keys);
            keys.clear();
            keys.extend(
                self.conns
                    .iter()
                    .filter(|(_, e)| e.linger_until.is_none() && self.service.wants_news(&e.conn))
                    .map(|(key, _)| key),
            );
            for &key in &keys {
                self.serve(cx, key, false);
            }
            self.news_keys = keys;
        }
    }

    /// Keeps one timer set for the service's own deadline.
    fn arm_service_timer(&mut self, cx: &mut Context<'_>) {
        let due = self.service.due();
        if due == self.service_due {
            return;
        }
        if let Some(old) = self.service_due {
            cx.timers.cancel(old, DUE_TOKEN);
        }
        if let Some(at) = due {
            cx.timers.add(at, DUE_TOKEN);
        }
        self.service_due = due;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream as StdStream};
    use std::thread;

    /// How long any one of these tests may run.
    const TEST_LIMIT: Duration = Duration::from_secs(20);
    /// A token none of the server's uses: the test's time limit.
    const LIMIT_TOKEN: Token = Token(usize::MAX - 100);

    /// One echo connection, or one that says `bye` to its first bytes and finishes.
    #[derive(Default)]
    struct TestConn {
        out: Outbox,
        eof: bool,
        said_bye: bool,
        bye: bool,
        opened: Option<Instant>,
    }

    impl Exchange for TestConn {
        type App = ();
        fn outbox(&mut self) -> &mut Outbox {
            &mut self.out
        }
        fn room(&self) -> usize {
            if self.eof || self.said_bye {
                0
            } else {
                65_536usize.saturating_sub(self.out.pending())
            }
        }
        fn received(&mut self, link: &mut Link, data: &[u8]) -> io::Result<()> {
            if self.bye {
                self.out.push(b"bye\n");
                self.said_bye = true;
                Ok(())
            } else {
                self.out.send(link, data)
            }
        }
        fn ended(&mut self) {
            self.eof = true;
        }
        fn is_finished(&self) -> bool {
            self.eof || self.said_bye
        }
    }

    #[derive(Default)]
    struct TestService {
        scratch: Vec<u8>,
        opened: usize,
        bye: bool,
        /// A deadline of the service's own, from the connection's start.
        own: Option<Duration>,
        /// Connections with nothing to send are idle (closed to make room).
        sheddable: bool,
    }

    impl Service for TestService {
        type Conn = TestConn;
        const DOING: &'static str = "testing";
        fn open(&mut self, _group: usize, now: Instant) -> TestConn {
            self.opened += 1;
            TestConn {
                bye: self.bye,
                opened: Some(now),
                ..TestConn::default()
            }
        }
        fn pump(&mut self, link: &mut Link, conn: &mut TestConn) -> io::Result<Next> {
            if self.scratch.is_empty() {
                self.scratch = vec![0; 65_536];
            }
            exchange(link, conn, &mut (), &mut self.scratch)
        }
        fn deadline(&self, conn: &TestConn) -> Option<(Instant, &'static str)> {
            Some((conn.opened? + self.own?, "too slow"))
        }
        fn phase(&self, conn: &TestConn) -> Phase {
            if self.sheddable && conn.out.is_empty() {
                Phase::Idle
            } else {
                Phase::Busy
            }
        }
        fn busy_answer(&self, _group: usize) -> Option<&'static [u8]> {
            Some(b"busy\n")
        }
    }

    /// Runs a server until every connection it opened (at least `clients`) is closed.
    struct Until {
        server: Server<TestService>,
        clients: usize,
        limit: Instant,
        /// Deadlines still pending when it stopped (the test's own limit among them).
        timers_left: usize,
    }

    impl Handler for Until {
        fn on_event(&mut self, cx: &mut Context<'_>, event: &Event) -> Result<()> {
            self.server.on_event(cx, event)
        }
        fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
            self.server.on_timer(cx, token)
        }
        fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
            assert!(Instant::now() < self.limit, "the server did not finish");
            let s = &self.server;
            let done = s.service.opened >= self.clients && s.conns.is_empty();
            self.timers_left = cx.timers.len();
            Ok(if done { Flow::Stop } else { Flow::Continue })
        }
    }

    /// Serves `service` on a loopback port while `client` runs against it; returns what
    /// the client returned once every connection is closed.
    fn serve<T: Send + 'static>(
        service: TestService,
        idle: Option<Duration>,
        max_conns: usize,
        clients: usize,
        client: impl FnOnce(SocketAddr) -> T + Send + 'static,
    ) -> T {
        let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let group = Group {
            listeners: vec![Listener::Tcp(listener)],
            tls: None,
            idle,
            max_conns,
        };
        let mut ev = EventLoop::new().unwrap();
        let mut server = Server::new(service, vec![group], 0);
        server.acceptor.register(ev.registry()).unwrap();
        let limit = Instant::now() + TEST_LIMIT;
        ev.add_timer(limit, LIMIT_TOKEN);
        let client = thread::spawn(move || client(addr));
        let mut until = Until {
            server,
            clients,
            limit,
            timers_left: 0,
        };
        ev.run(&mut until).unwrap();
        TIMERS_LEFT.with(|t| t.set(until.timers_left));
        client.join().unwrap()
    }

    thread_local! {
        /// Deadlines pending when the last [`serve`] of this thread stopped.
        static TIMERS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn closed_connections_leave_no_deadlines_behind() {
        // Found by scripts/soak.sh: each connection's idle deadline (600 s on the line
        // port) stayed queued after it closed, so a flood of short connections grew the
        // server by megabytes a minute.
        let clients = 300;
        let idle = Some(Duration::from_secs(600));
        serve(TestService::default(), idle, 10, clients, move |addr| {
            for _ in 0..clients {
                let mut c = StdStream::connect(addr).unwrap();
                c.write_all(b"x").unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                let mut back = Vec::new();
                c.read_to_end(&mut back).unwrap();
            }
        });
        let left = TIMERS_LEFT.with(std::cell::Cell::get);
        assert!(
            left <= 1,
            "{left} deadlines left for {clients} closed connections"
        );
    }

    #[test]
    fn every_byte_comes_back_and_the_close_is_graceful() {
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let got = serve(TestService::default(), None, 10, 1, move |addr| {
            let mut c = StdStream::connect(addr).unwrap();
            let mut w = c.try_clone().unwrap();
            let writer = thread::spawn(move || {
                w.write_all(&sent).unwrap();
                w.shutdown(Shutdown::Write).unwrap();
            });
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            writer.join().unwrap();
            got
        });
        assert_eq!(got.len(), data.len());
        assert!(got == data);
    }

    #[test]
    fn a_client_over_the_limit_is_turned_away_at_once_and_the_others_go_on() {
        let (first, second) = serve(TestService::default(), None, 1, 1, |addr| {
            let mut a = StdStream::connect(addr).unwrap();
            a.write_all(b"a").unwrap();
            let mut one = [0u8; 1];
            a.read_exact(&mut one).unwrap();
            let mut b = StdStream::connect(addr).unwrap();
            let mut rest = Vec::new();
            let second = b.read_to_end(&mut rest).map(|_| rest);
            a.write_all(b"bc").unwrap();
            a.shutdown(Shutdown::Write).unwrap();
            let mut first = one.to_vec();
            a.read_to_end(&mut first).unwrap();
            (first, second)
        });
        assert_eq!(first, b"abc");
        assert!(
            second.is_ok_and(|b| b == b"busy\n"),
            "the second client got no busy answer"
        );
    }

    #[test]
    fn a_full_server_closes_its_longest_idle_client_to_make_room() {
        let service = TestService {
            sheddable: true,
            ..TestService::default()
        };
        let (old, new) = serve(service, None, 2, 3, |addr| {
            let round_trip = |c: &mut StdStream| {
                c.write_all(b"x").unwrap();
                let mut one = [0u8; 1];
                c.read_exact(&mut one).unwrap();
            };
            let mut oldest = StdStream::connect(addr).unwrap();
            round_trip(&mut oldest);
            let mut second = StdStream::connect(addr).unwrap();
            round_trip(&mut second);
            // Both were active just now: a newcomer is told to come back.
            let mut early = StdStream::connect(addr).unwrap();
            let mut told = Vec::new();
            early.read_to_end(&mut told).unwrap();
            // The time a connection must have been idle to give up its place.
            thread::sleep(SHED_MIN_AGE);
            let mut third = StdStream::connect(addr).unwrap();
            round_trip(&mut third);
            // The oldest idle one made room: it was closed, the newcomer is served.
            let mut rest = Vec::new();
            let old = oldest.read_to_end(&mut rest).map(|_| rest);
            for c in [&second, &third] {
                c.shutdown(Shutdown::Write).unwrap();
            }
            let mut new = Vec::new();
            third.read_to_end(&mut new).unwrap();
            (old, (told, new))
        });
        let (told, new) = new;
        assert_eq!(
            told, b"busy\n",
            "a young connection was closed for the newcomer"
        );
        assert!(
            old.is_ok_and(|b| b.is_empty()),
            "the oldest was not closed cleanly"
        );
        assert!(new.is_empty());
    }

    #[test]
    fn a_client_that_finds_everyone_busy_gets_the_busy_answer() {
        let (busy, first) = serve(TestService::default(), None, 1, 1, |addr| {
            let mut a = StdStream::connect(addr).unwrap();
            a.write_all(b"a").unwrap();
            let mut one = [0u8; 1];
            a.read_exact(&mut one).unwrap();
            let mut b = StdStream::connect(addr).unwrap();
            let mut busy = Vec::new();
            b.read_to_end(&mut busy).unwrap();
            a.shutdown(Shutdown::Write).unwrap();
            let mut first = Vec::new();
            a.read_to_end(&mut first).unwrap();
            (busy, first)
        });
        assert_eq!(busy, b"busy\n");
        assert!(first.is_empty());
    }

    #[test]
    fn an_idle_client_is_closed_after_the_idle_time() {
        let idle = Duration::from_millis(150);
        let (waited, got) = serve(TestService::default(), Some(idle), 10, 1, |addr| {
            // Timed from before the connect: the server's clock for this client starts
            // when it accepts, which may come before connect() returns here.
            let start = Instant::now();
            let mut c = StdStream::connect(addr).unwrap();
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            (start.elapsed(), got)
        });
        assert!(got.is_empty());
        assert!(waited >= idle, "closed after {waited:?}");
        assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    }

    #[test]
    fn the_services_own_deadline_closes_a_connection_that_keeps_moving() {
        let service = TestService {
            own: Some(Duration::from_millis(200)),
            ..TestService::default()
        };
        let (waited, echoed) = serve(service, Some(Duration::from_secs(30)), 10, 1, |addr| {
            // Timed from before the connect: the server's clock for this client starts
            // when it accepts, which may come before connect() returns here.
            let start = Instant::now();
            let mut c = StdStream::connect(addr).unwrap();
            let mut echoed = 0;
            let mut byte = [0u8; 1];
            // Busy all along: only the service's deadline can end it.
            while c.write_all(b"x").is_ok() {
                match c.read(&mut byte) {
                    Ok(1) => echoed += 1,
                    _ => break,
                }
                thread::sleep(Duration::from_millis(5));
            }
            (start.elapsed(), echoed)
        });
        assert!(echoed > 0);
        assert!(
            waited >= Duration::from_millis(200),
            "closed after {waited:?}"
        );
        assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    }

    #[test]
    fn a_last_answer_is_read_even_when_the_client_was_still_sending() {
        let service = TestService {
            bye: true,
            ..TestService::default()
        };
        let got = serve(service, None, 10, 1, |addr| {
            let mut c = StdStream::connect(addr).unwrap();
            // More than the server reads before it answers: without the lingering close,
            // the unread bytes would turn its close into a reset that destroys the answer.
            let _ = c.write_all(&[b'x'; 200_000]);
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            c.read_to_end(&mut got).map(|_| got)
        });
        assert_eq!(got.unwrap(), b"bye\n");
    }
}
