//! The one server core that `echo`, `serve-gpio`, chat and `relay` stand on: groups of
//! listeners behind the shared [`Acceptor`], a client limit with room-making, a table of
//! connections (plain or TLS) with the deadlines every connection has (TLS handshake, idle,
//! and the service's own) on lazy timers, a lingering close that lets the client read its
//! last response, the clean stop on SIGTERM, and the `-v` lines.
//!
//! What a connection *says* is a [`Service`]'s business ([`service`]): it gets each ready
//! connection's [`Link`] ([`link`]) and its own per-connection state, moves what bytes it
//! can without blocking, and says what comes [`Next`]. A service that answers what it
//! receives describes one connection as an [`Exchange`] ([`exchange`]) and lets
//! [`exchange()`] run the read–answer–write round through a bounded [`Outbox`]. A service
//! with sockets of its own (a relay's target) registers them under the connection's other
//! token slots ([`Link::token`]).

pub mod exchange;
pub mod link;
pub mod outbox;
pub mod service;
#[cfg(test)]
mod tests;

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::{Interest, Token};
use slab::Slab;

use crate::error::{Kind, fail};
use crate::net::acceptor::{Acceptor, FIRST_FREE_TOKEN, Throttle};
use crate::net::event_loop::{Context, EventLoop, Flow, Handler, Signal};
use crate::net::listener::{Listener, Proto, bind_all_labeled, tcp_listeners};
use crate::net::transport::{self, Edge, would_block};
use crate::sock::{Remote, Stream};

pub use crate::net::acceptor::MAX_LISTENERS;
pub use exchange::{Exchange, exchange};
pub use link::{Link, Received, SLOTS};
pub use outbox::Outbox;
pub use service::{Closed, MAX_SOURCES, Next, Phase, Service};

/// Tokens at and above this are connections', [`SLOTS`] each.
const CONN_BASE: usize = FIRST_FREE_TOKEN;
/// The token of the service's own deadline ([`Service::due`]).
const DUE_TOKEN: Token = Token(usize::MAX - 16);
/// The token of the end of the grace period after SIGTERM.
const GRACE_TOKEN: Token = Token(usize::MAX - 17);
/// The token of a zero-delay timer: news is still waiting after [`NEWS_ROUNDS`] rounds.
const NEWS_TOKEN: Token = Token(usize::MAX - 18);
/// Tokens of the service's own event sources ([`Service::register`]) start here, far above
/// any connection's.
const SOURCE_BASE: usize = usize::MAX / 2;
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
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections may go on after SIGTERM, unless the command says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// After our last byte, time the client gets to close its side before we close ours.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes we read and throw away while lingering before giving up on a polite close.
const LINGER_MAX_BYTES: usize = 256 * 1024;
/// Size of the buffer that lingering reads are thrown into.
const DISCARD_BUFFER: usize = 16 * 1024;

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
    /// The earliest deadline and why it closes the connection: the TLS handshake's (counted
    /// from `handshake_from`), the idle time's, the lingering close's, the service's own.
    fn deadline(
        &self,
        idle: Option<Duration>,
        handshake_from: Option<Instant>,
        own: Option<(Instant, &'static str)>,
    ) -> Option<(Instant, &'static str)> {
        let handshake = handshake_from
            .filter(|_| self.link.sock.is_handshaking())
            .map(|at| (at + HANDSHAKE_TIMEOUT, "TLS handshake timed out"));
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

/// The key and slot of a connection's token, if it is one.
fn conn_token(token: Token) -> Option<(usize, usize)> {
    let t = token.0.checked_sub(CONN_BASE)?;
    (token.0 < SOURCE_BASE).then_some((t / SLOTS, t % SLOTS))
}

/// A server on the event loop: listener groups, connections and their deadlines around a
/// [`Service`].
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
    /// A second SIGTERM came: cut what is left now.
    stop_now: bool,
    /// News taken from the service and not yet delivered (the rounds ran out).
    news_pending: bool,
    /// `--allow`/`--deny`: who may connect.
    access: Option<crate::net::access::Access>,
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
            acceptor: Acceptor::new(listeners, S::LOG_PREFIX),
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
            stop_now: false,
            news_pending: false,
            access: None,
        }
    }

    /// Serves only the clients `access` permits (`--allow`, `--deny`); the others are closed
    /// at once, before a byte is read or written.
    pub fn with_access(mut self, access: Option<crate::net::access::Access>) -> Self {
        self.access = access;
        self
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
    /// ([`Service::may_stop`]), and the server gone when all are closed (exit 0). What is
    /// left at the end of the grace period, or at a second SIGTERM, is reset and the exit is
    /// 1.
    pub fn run(mut self, mut ev: EventLoop) -> Result<()> {
        // Many clients need many descriptors; the soft limit is often only 1024.
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        self.acceptor.register(ev.registry())?;
        self.service
            .register(ev.registry(), Token(SOURCE_BASE))
            .context("watching the service's own sources")?;
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
        while !self.service.done() {
            let Some(client) = self.acceptor.next(cx, index) else {
                return;
            };
            let (peer, group) = (client.peer, client.group);
            if self.access.as_ref().is_some_and(|a| !a.permits(&peer)) {
                if self.verbose > 0 {
                    eprintln!(
                        "{}refused {peer}: not allowed (--allow/--deny)",
                        S::LOG_PREFIX
                    );
                }
                continue; // the stream is closed as it drops
            }
            let limit = self.groups.get(group).map_or(0, |g| g.max_conns);
            // What the service still holds for closed connections (programs ending) takes
            // places too.
            let held = self.service.held();
            if self.counts.get(group).is_some_and(|&n| n + held >= limit)
                && !self.make_room(cx, group)
            {
                self.turn_away(cx, client.stream, peer, group);
                continue;
            }
            if let Err(e) = self.add(cx, client.stream, peer, group, true)
                && let Some(held) = self.client_errors.allow(cx.now)
            {
                eprintln!(
                    "nicksock: {}client {peer}: {e:#}{}",
                    S::LOG_PREFIX,
                    Throttle::since(held)
                );
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
        self.close(cx, key, Some(why), false);
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
            self.serve(cx, key, None);
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
        let first_token = CONN_BASE + key * SLOTS;
        cx.registry
            .register(
                sock.socket(),
                Token(first_token),
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
                first_token,
                now: cx.now,
                last_activity: cx.now,
                edge: Edge::default(),
                woke: None,
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
        // Its first turn comes with the first event: a new socket is writable at once.
        self.arm_timer(cx, key);
        Ok(key)
    }

    /// Moves a connection's bytes and acts on what the service says; `woke` is the client
    /// socket's event that brought this turn (`Some(closed)`), if one did.
    fn serve(&mut self, cx: &mut Context<'_>, key: usize, woke: Option<bool>) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        entry.link.now = cx.now;
        entry.link.edge.wake(woke.unwrap_or(false));
        entry.link.woke = woke;
        let next = if entry.linger_until.is_some() {
            linger(entry, &mut self.discard)
        } else {
            match self.service.pump(cx, &mut entry.link, &mut entry.conn) {
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
                self.serve(cx, key, woke);
            }
            Ok(Next::Close) => self.close(cx, key, None, false),
            Ok(Next::Reset) => self.close(cx, key, None, true),
            Err(e) => {
                let why = crate::net::transport::failure(e, S::DOING);
                self.close(cx, key, Some(&format!("{why:#}")), S::RESET_ON_FAILURE);
            }
        }
    }

    /// The earliest deadline of connection `key`, if it has one.
    fn deadline_of(&self, entry: &Entry<S::Conn>) -> Option<(Instant, &'static str)> {
        let idle = self.groups.get(entry.link.group).and_then(|g| g.idle);
        let handshake_from = self.service.handshake_from(&entry.conn, entry.accepted);
        let own = self.service.deadline(&entry.conn);
        entry.deadline(idle, handshake_from, own)
    }

    /// Makes sure a timer is due no later than the connection's earliest deadline. Timers
    /// are lazy: one that fires early is re-armed, one that is late is never missed.
    fn arm_timer(&mut self, cx: &mut Context<'_>, key: usize) {
        let Some(entry) = self.conns.get(key) else {
            return;
        };
        let Some((at, _)) = self.deadline_of(entry) else {
            return;
        };
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        if entry.timer_at.is_none_or(|t| at < t) {
            let token = Token(entry.link.first_token);
            if let Some(old) = entry.timer_at.replace(at) {
                cx.timers.cancel(old, token);
            }
            cx.timers.add(at, token);
        }
    }

    /// Closes connection `key`: with a reset when `reset` (bytes were lost), else cleanly.
    fn close(&mut self, cx: &mut Context<'_>, key: usize, why: Option<&str>, reset: bool) {
        let Some(mut entry) = self.conns.try_remove(key) else {
            return;
        };
        if let Some(at) = entry.timer_at {
            cx.timers.cancel(at, Token(entry.link.first_token));
        }
        if !entry.counted {
            self.turned_away = self.turned_away.saturating_sub(1);
        } else if let Some(n) = self.counts.get_mut(entry.link.group) {
            *n = n.saturating_sub(1);
        }
        let _ = cx.registry.deregister(entry.link.sock.socket());
        let peer = entry.link.peer;
        if self.verbose > 0 && !S::SAYS_CLOSE {
            match why {
                Some(why) => eprintln!("closed {peer}: {why}"),
                None => eprintln!("closed {peer}"),
            }
        }
        if reset {
            transport::reset(entry.link.sock);
        }
        let end = Closed {
            peer: &peer,
            why,
            reset,
        };
        self.service.closed(entry.conn, &end);
    }

    /// Resets every connection left (the grace period ran out, or a second SIGTERM) and
    /// says how many were cut. One in its lingering close has sent everything and ended our
    /// side: it is closed without a reset, and not counted.
    fn cut_the_rest(&mut self, cx: &mut Context<'_>, why: &str) -> Result<Flow> {
        let keys: Vec<(usize, bool)> = self
            .conns
            .iter()
            .map(|(key, e)| (key, e.linger_until.is_some() || !e.counted))
            .collect();
        let mut cut = 0;
        for (key, done) in keys {
            if done {
                self.close(cx, key, None, false);
            } else {
                cut += 1;
                self.close(cx, key, Some(why), true);
            }
        }
        if cut == 0 {
            return Ok(Flow::Stop);
        }
        Err(fail(
            Kind::Runtime,
            format!(
                "{}stopped with {cut} clients cut off ({why})",
                S::LOG_PREFIX
            ),
        ))
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
            self.service.on_source(cx, index);
        } else if let Some((key, slot)) = conn_token(event.token()) {
            if slot == 0 {
                let closed = event.is_read_closed() || event.is_error();
                self.serve(cx, key, Some(closed));
            } else if let Some(entry) = self.conns.get_mut(key) {
                self.service.on_ready(&mut entry.conn, slot, event);
                self.serve(cx, key, None);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        if token == DUE_TOKEN {
            self.service_due = None;
            self.service.on_due(cx);
            return Ok(());
        }
        // A timer of a source's own (the server's other tokens above SOURCE_BASE, grace and
        // news, only wake the loop).
        if let Some(index) = token
            .0
            .checked_sub(SOURCE_BASE)
            .filter(|&i| i < MAX_SOURCES)
        {
            self.service.on_source(cx, index);
            return Ok(());
        }
        if let Some(listeners) = self.acceptor.retry(token) {
            for i in listeners {
                self.accept_all(cx, i);
            }
            return Ok(());
        }
        let Some((key, slot)) = conn_token(token) else {
            return Ok(());
        };
        if slot != 0 {
            // A timer of the service's own (a dial attempt, a retry): its turn.
            self.serve(cx, key, None);
            return Ok(());
        }
        let Some(entry) = self.conns.get_mut(key) else {
            return Ok(());
        };
        if entry.timer_at.is_none_or(|at| at > cx.now) {
            return Ok(()); // a stale timer
        }
        entry.timer_at = None;
        let lingering = entry.linger_until.is_some();
        let entry = &self.conns[key];
        match self.deadline_of(entry) {
            Some((at, why)) if at <= cx.now => {
                let (why, reset) = if lingering {
                    (None, false)
                } else {
                    (Some(why), S::RESET_ON_FAILURE)
                };
                self.close(cx, key, why, reset);
            }
            _ => self.arm_timer(cx, key),
        }
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        self.deliver_news(cx);
        self.arm_service_timer(cx);
        if self.stop_now {
            return self.cut_the_rest(cx, "a second SIGTERM");
        }
        let idle = self.conns.is_empty() && !self.service.busy();
        if self.service.done() {
            // Clients still in the backlog are refused as the listeners close.
            self.acceptor.close(cx.registry);
            if idle {
                return Ok(Flow::Stop);
            }
        }
        if let Some(at) = self.stopping {
            if idle {
                return Ok(Flow::Stop);
            }
            if cx.now >= at {
                let why = format!("the {} s grace period ran out", self.grace.as_secs_f64());
                return self.cut_the_rest(cx, &why);
            }
        }
        Ok(Flow::Continue)
    }

    fn on_signal(&mut self, cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        match signal {
            Signal::Interrupt => {
                for (_, e) in &mut self.conns {
                    self.service.pass_signal(&mut e.conn, signal);
                }
                Err(fail(Kind::Interrupted, "interrupted"))
            }
            Signal::Terminate if self.stopping.is_some() => {
                self.stop_now = true;
                Ok(Flow::Continue)
            }
            Signal::Child => {
                self.service.reap();
                let ended: Vec<usize> = self
                    .conns
                    .iter_mut()
                    .filter_map(|(key, e)| self.service.child_ended(&mut e.conn).then_some(key))
                    .collect();
                for key in ended {
                    self.serve(cx, key, None);
                }
                Ok(Flow::Continue)
            }
            Signal::Terminate => {
                self.acceptor.close(cx.registry);
                for (_, e) in &mut self.conns {
                    self.service.pass_signal(&mut e.conn, signal);
                }
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
                    self.serve(cx, key, None);
                }
                Ok(Flow::Continue)
            }
        }
    }
}

impl<S: Service> Server<S> {
    /// Pumps every connection waiting for news while the service has some. When news is
    /// still coming after [`NEWS_ROUNDS`] rounds, the loop looks at its events and comes
    /// straight back for it (a zero-delay timer): no news is ever left waiting for an event
    /// that may not come.
    fn deliver_news(&mut self, cx: &mut Context<'_>) {
        for _ in 0..NEWS_ROUNDS {
            if !(std::mem::take(&mut self.news_pending) || self.service.take_news()) {
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
                self.serve(cx, key, None);
            }
            self.news_keys = keys;
        }
        if self.service.take_news() {
            self.news_pending = true;
            cx.timers.add(cx.now, NEWS_TOKEN);
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
