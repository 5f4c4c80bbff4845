//! The machinery of a many-client TCP server on the event loop, shared by `echo` and
//! `serve-gpio`: groups of listeners, an accept loop with a client limit and a retry when
//! out of file descriptors, a slab of connections (plain or TLS), the deadlines every
//! connection has (TLS handshake, idle, and the service's own) on lazy timers, a graceful
//! close that lets the client read its last response, and the `-v` lines.
//!
//! What a connection *says* is a [`Service`]'s business: it gets each ready connection's
//! [`Link`] and its own per-connection state, moves what bytes it can without blocking, and
//! says what comes [`Next`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use slab::Slab;

use crate::net::event_loop::{Context, EventLoop, Flow, Handler};
use crate::net::listener::{Proto, accept, bind_all_labeled, tcp_listeners};
use crate::net::transport::{self, Transport, would_block};

/// Most listening sockets across all groups.
pub const MAX_LISTENERS: usize = 64;
/// Token of the timer that retries accepting.
const ACCEPT_RETRY_TOKEN: Token = Token(MAX_LISTENERS);
/// Tokens at and above this are connections.
const CONN_BASE: usize = MAX_LISTENERS + 1;
/// Pause before accepting again when out of file descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Time a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
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
    peer: SocketAddr,
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
}

/// Listeners whose connections share a TLS setting and an idle timeout.
pub struct Group {
    /// The bound listeners.
    pub listeners: Vec<TcpListener>,
    /// Serve TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Close a connection that moved no byte for this long.
    pub idle: Option<Duration>,
}

/// Binds TCP listeners on `addrs` and prints one ready line per address, `listening on
/// ADDR` followed by ` (label)` when a label is given.
pub fn listen(addrs: &[SocketAddr], default_pair: bool, label: &str) -> Result<Vec<TcpListener>> {
    let sockets = bind_all_labeled(addrs, Proto::Tcp, default_pair, label)?;
    Ok(tcp_listeners(sockets))
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
    groups: Vec<Group>,
    /// Every listener with the index of its group; the index here is its token.
    listeners: Vec<(TcpListener, usize)>,
    conns: Slab<Entry<S::Conn>>,
    max_conns: usize,
    verbose: u8,
    retry_pending: bool,
    discard: Vec<u8>,
}

impl<S: Service> Server<S> {
    /// A server for `service` on these groups, serving at most `max_conns` clients at once
    /// (a client over the limit is accepted and closed at once rather than left waiting).
    pub fn new(service: S, mut groups: Vec<Group>, max_conns: usize, verbose: u8) -> Self {
        let mut listeners = Vec::new();
        for (g, group) in groups.iter_mut().enumerate() {
            for l in group.listeners.drain(..) {
                listeners.push((l, g));
            }
        }
        listeners.truncate(MAX_LISTENERS);
        Server {
            service,
            groups,
            listeners,
            conns: Slab::new(),
            max_conns,
            verbose,
            retry_pending: false,
            discard: vec![0; DISCARD_BUFFER],
        }
    }

    /// Runs the server on `ev` until SIGINT (exit 130) or SIGTERM (a clean stop). Make the
    /// loop before binding: it catches the signals, and a script may send one as soon as it
    /// reads a ready line.
    pub fn run(mut self, mut ev: EventLoop) -> Result<()> {
        // Many clients need many descriptors; the soft limit is often only 1024.
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        for (i, (l, _)) in self.listeners.iter_mut().enumerate() {
            ev.registry()
                .register(l, Token(i), Interest::READABLE)
                .context("watching a listening socket")?;
        }
        ev.run(&mut self)
    }

    fn accept_all(&mut self, cx: &mut Context<'_>, index: usize) {
        loop {
            let Some((listener, group)) = self.listeners.get(index) else {
                return;
            };
            let group = *group;
            let (stream, peer) = match accept(listener) {
                Ok(Some(got)) => got,
                Ok(None) => return,
                Err(e) => {
                    // Out of descriptors, say: the pending clients wait in the backlog.
                    eprintln!("nicksock: accepting a connection: {e}");
                    if !self.retry_pending {
                        self.retry_pending = true;
                        cx.timers.add(cx.now + ACCEPT_RETRY, ACCEPT_RETRY_TOKEN);
                    }
                    return;
                }
            };
            if self.conns.len() >= self.max_conns {
                if self.verbose > 0 {
                    eprintln!(
                        "refused {peer}: already serving {} clients",
                        self.conns.len()
                    );
                }
                continue;
            }
            if let Err(e) = self.add(cx, stream, peer, group) {
                eprintln!("nicksock: client {peer}: {e:#}");
            }
        }
    }

    fn add(
        &mut self,
        cx: &mut Context<'_>,
        stream: TcpStream,
        peer: SocketAddr,
        group: usize,
    ) -> Result<()> {
        let Some(settings) = self.groups.get(group) else {
            return Ok(());
        };
        let sock = transport::accepted(stream, settings.tls.as_ref())?;
        let conn = self.service.open(group, cx.now);
        let entry = self.conns.vacant_entry();
        let token = Token(CONN_BASE + entry.key());
        let entry = entry.insert(Entry {
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
        });
        cx.registry
            .register(
                entry.link.sock.socket(),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .context("watching a client")?;
        if self.verbose > 0 {
            eprintln!("connection from {peer}");
        }
        self.arm_timer(cx, token.0 - CONN_BASE);
        Ok(())
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
            self.service.pump(&mut entry.link, &mut entry.conn)
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
            entry.timer_at = Some(at);
            cx.timers.add(at, Token(CONN_BASE + key));
        }
    }

    fn close(&mut self, cx: &mut Context<'_>, key: usize, why: Option<String>) {
        if let Some(mut entry) = self.conns.try_remove(key) {
            let _ = cx.registry.deregister(entry.link.sock.socket());
            if self.verbose > 0 {
                let peer = entry.link.peer;
                match why {
                    Some(why) => eprintln!("closed {peer}: {why}"),
                    None => eprintln!("closed {peer}"),
                }
            }
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
        let token = event.token().0;
        if token < self.listeners.len() {
            self.accept_all(cx, token);
        } else if let Some(key) = token.checked_sub(CONN_BASE) {
            let hangup = event.is_read_closed() || event.is_error();
            self.serve(cx, key, hangup);
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        if token == ACCEPT_RETRY_TOKEN {
            self.retry_pending = false;
            for i in 0..self.listeners.len() {
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

    fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}
