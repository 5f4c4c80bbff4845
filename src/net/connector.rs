//! Connecting a client socket, on the event loop: the name is resolved on a helper thread
//! (getaddrinfo keeps /etc/hosts, nsswitch and mDNS working) whose answer wakes the loop,
//! every connect is non-blocking and completes on writability, and `-w` and `--retry-for`
//! are loop deadlines, so SIGINT ends the program at any point.
//!
//! With several addresses (`localhost` is ::1 and 127.0.0.1), attempts follow Happy Eyeballs
//! (RFC 8305): the families interleaved, the next address started 250 ms after the previous
//! one unless it failed sooner, the first to connect wins and the rest are closed.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Token};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::addr::{Family, check_host_name, keep_family, parse_ip};
use super::event_loop::{Context, EventLoop, Flow, Handler};
use super::transport::describe;
use crate::error::{Kind, Tag as _, fail, io_kind};
use crate::sock::Stream;

/// First pause between `--retry-for` rounds; it doubles up to [`RETRY_MAX_PAUSE`].
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between `--retry-for` rounds.
const RETRY_MAX_PAUSE: Duration = Duration::from_millis(500);
/// Happy Eyeballs' "connection attempt delay" (RFC 8305 §5: 250 ms recommended).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// How long a connect waits for room in a Unix server's full backlog when no `-w` says:
/// about what the kernel gives a TCP connect.
pub const FULL_BACKLOG_WAIT: Duration = Duration::from_secs(120);

/// An address to connect to: a TCP peer, or a Unix socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Ip(SocketAddr),
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Ip(a) => a.fmt(f),
            Addr::Unix(p) => p.display().fmt(f),
        }
    }
}

impl Addr {
    /// The TCP peer's address, if it is one.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            Addr::Ip(a) => Some(*a),
            Addr::Unix(_) => None,
        }
    }
}

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Address families to try.
    pub family: Family,
    /// Give up on a round of attempts (every address) after this long.
    pub timeout: Option<Duration>,
    /// Keep trying for this long.
    pub retry_for: Option<Duration>,
    /// Local address to connect from.
    pub source: Option<IpAddr>,
    /// Local port to connect from.
    pub source_port: Option<u16>,
    /// How long to wait for room in a Unix server's full backlog when `timeout` does not
    /// say ([`FULL_BACKLOG_WAIT`] when not given).
    pub backlog_wait: Option<Duration>,
    /// Say what happens on stderr.
    pub verbose: u8,
}

/// Resolves `host` on the loop (SIGINT ends the wait), to the addresses of `family`.
pub fn resolve_on_loop(
    ev: &mut EventLoop,
    host: &str,
    port: u16,
    family: Family,
) -> Result<Vec<SocketAddr>> {
    struct Wait(Resolver, Option<Result<Vec<SocketAddr>>>);
    impl Handler for Wait {
        fn on_event(&mut self, _cx: &mut Context<'_>, _event: &Event) -> Result<()> {
            Ok(())
        }
        fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
            self.1 = self.0.poll();
            Ok(if self.1.is_some() {
                Flow::Stop
            } else {
                Flow::Continue
            })
        }
    }
    let mut wait = Wait(Resolver::start(ev, host, port, family)?, None);
    ev.run(&mut wait)?;
    wait.1
        .unwrap_or_else(|| Err(fail(Kind::Interrupted, "stopped while resolving")))
}

/// The names' answer: a literal at once, anything else from a helper thread.
pub(crate) enum Resolver {
    Ready(Result<Vec<SocketAddr>>),
    Waiting {
        rx: Receiver<io::Result<Vec<SocketAddr>>>,
        host: String,
        family: Family,
    },
}

impl Resolver {
    pub(crate) fn start(ev: &mut EventLoop, host: &str, port: u16, family: Family) -> Result<Self> {
        if parse_ip(host).is_some() {
            return Self::start_with(None, host, port, family);
        }
        Self::start_with(Some(ev.waker()?), host, port, family)
    }

    /// [`Resolver::start`] for a loop that is already running (a server resolving for one
    /// client): the helper thread wakes it with `waker` (taken from the loop before it
    /// ran); `None` only for a literal address, which needs no thread.
    pub(crate) fn start_with(
        waker: Option<Arc<mio::Waker>>,
        host: &str,
        port: u16,
        family: Family,
    ) -> Result<Self> {
        if let Some(ip) = parse_ip(host) {
            return Ok(Resolver::Ready(keep_family(
                host,
                vec![SocketAddr::new(ip, port)],
                family,
            )));
        }
        check_host_name(host)?;
        let waker = waker.ok_or_else(|| fail(Kind::Runtime, "no waker to resolve a name"))?;
        let (tx, rx) = mpsc::channel();
        let name = host.to_string();
        thread::Builder::new()
            .name("resolver".into())
            .spawn(move || {
                let found = super::lookup::lookup(&name, port);
                let _ = tx.send(found);
                let _ = waker.wake();
            })
            .context("starting the name resolver")?;
        Ok(Resolver::Waiting {
            rx,
            host: host.to_string(),
            family,
        })
    }

    /// The addresses, once known.
    pub(crate) fn poll(&mut self) -> Option<Result<Vec<SocketAddr>>> {
        match self {
            Resolver::Ready(found) => Some(std::mem::replace(found, Ok(Vec::new()))),
            Resolver::Waiting { rx, host, family } => {
                let found = match rx.try_recv() {
                    Ok(found) => found,
                    Err(TryRecvError::Empty) => return None,
                    Err(TryRecvError::Disconnected) => Err(io::Error::other(
                        "the resolver thread ended without an answer",
                    )),
                };
                Some(match found {
                    Ok(addrs) => keep_family(host, addrs, *family),
                    Err(e) => Err(e).tag(Kind::Resolve, format!("cannot resolve '{host}'")),
                })
            }
        }
    }
}

/// A connection attempt in flight.
struct Attempt {
    token: Token,
    sock: Stream,
    addr: Addr,
    /// Readiness was reported: look at the outcome.
    ready: bool,
}

/// The tokens a [`Dialer`] may use: attempt `i` of a round gets `attempts + i` (at most
/// `max_attempts` addresses are tried), and `timer` wakes it for its deadlines.
#[derive(Debug, Clone, Copy)]
pub struct DialTokens {
    pub attempts: usize,
    pub max_attempts: usize,
    pub timer: Token,
}

/// One connection being made, as a state machine the owner drives from its loop handler: a
/// round tries every address (Happy Eyeballs), `--retry-for` repeats rounds with a pause
/// that doubles, and a Unix server's full backlog is tried again the same way until `-w`.
/// Many can run on one loop (`relay` dials a target per client). This is the one place
/// that waits and tries again: `connect`, `http-get` and `relay`, TCP and Unix, all dial
/// through it.
pub struct Dialer {
    /// The addresses in the order to try them.
    addrs: Vec<Addr>,
    /// The next address of this round to try.
    next: usize,
    attempts: Vec<Attempt>,
    /// When the next address starts if the ones in flight have not answered.
    next_attempt_at: Option<Instant>,
    /// `-w`: when this round gives up.
    round_ends: Option<Instant>,
    /// `--retry-for`: when the next round starts.
    retry_at: Option<Instant>,
    /// `--retry-for`: when no new round starts any more.
    give_up_at: Option<Instant>,
    /// A Unix server's full backlog is waited out until then.
    backlog_until: Instant,
    pause: Duration,
    last_err: Option<io::Error>,
    tokens: DialTokens,
    /// The deadline a timer is already set for.
    armed: Option<Instant>,
}

impl Dialer {
    /// Starts dialing `addrs` (already resolved) now.
    pub fn new(addrs: Vec<Addr>, opts: &ConnectOptions, tokens: DialTokens) -> Self {
        let now = Instant::now();
        let mut addrs = interleave(addrs, opts.source);
        addrs.truncate(tokens.max_attempts);
        let backlog_wait = opts
            .timeout
            .or(opts.backlog_wait)
            .unwrap_or(FULL_BACKLOG_WAIT);
        let mut d = Dialer {
            addrs,
            next: 0,
            attempts: Vec::new(),
            next_attempt_at: None,
            round_ends: None,
            retry_at: None,
            give_up_at: opts.retry_for.map(|d| now + d),
            backlog_until: now + backlog_wait,
            pause: RETRY_FIRST_PAUSE,
            last_err: None,
            tokens,
            armed: None,
        };
        d.start_round(opts, now);
        d
    }

    /// A readiness event: whether `token` is one of this dialer's.
    pub fn on_ready(&mut self, token: Token) -> bool {
        match self.attempts.iter_mut().find(|a| a.token == token) {
            Some(a) => {
                a.ready = true;
                true
            }
            None => false,
        }
    }

    /// Whether the last round found a Unix server's backlog full and a new one waits.
    pub fn backlogged(&self) -> bool {
        self.retry_at.is_some()
            && self
                .last_err
                .as_ref()
                .is_some_and(|e| e.kind() == io::ErrorKind::WouldBlock)
    }

    /// When the current round gives up (`-w`), if it does.
    pub fn round_ends(&self) -> Option<Instant> {
        self.round_ends
    }

    /// Moves the attempts on: `Ok(Some(..))` connected (the socket still registered under
    /// its attempt's token, for the owner to reregister or deregister; the other attempts
    /// closed), `Ok(None)` not yet (a timer is set for the next deadline), `Err` the
    /// last failure once no attempt or round is left.
    pub fn poll(
        &mut self,
        cx: &mut Context<'_>,
        opts: &ConnectOptions,
    ) -> io::Result<Option<(Stream, Addr)>> {
        let now = Instant::now();
        if let Some(won) = self.check_attempts(cx, opts) {
            return Ok(Some(won));
        }
        if self.retry_at.is_some_and(|at| now >= at) {
            self.start_round(opts, now);
        }
        if self.round_ends.is_some_and(|at| now >= at) {
            self.last_err = Some(io::ErrorKind::TimedOut.into());
            self.round_failed(cx, opts, now)?;
        }
        // The next address: at once when nothing is in flight, else after the delay.
        while self.next < self.addrs.len()
            && self.next_attempt_at.is_some()
            && (self.attempts.is_empty() || self.next_attempt_at.is_some_and(|at| now >= at))
        {
            self.start_next(cx, opts, now);
            if let Some(won) = self.check_attempts(cx, opts) {
                return Ok(Some(won));
            }
        }
        if self.attempts.is_empty() && self.next >= self.addrs.len() && self.retry_at.is_none() {
            self.round_failed(cx, opts, now)?;
        }
        self.arm(cx, now);
        Ok(None)
    }

    /// A connection was made but what came after failed (the proxy could not reach the
    /// target): tried again like a refused connect while `--retry-for` lasts, else `err`.
    pub fn failed_after(
        &mut self,
        cx: &mut Context<'_>,
        opts: &ConnectOptions,
        err: io::Error,
    ) -> io::Result<()> {
        let now = Instant::now();
        self.last_err = Some(err);
        self.next = self.addrs.len();
        self.round_failed(cx, opts, now)?;
        self.arm(cx, now);
        Ok(())
    }

    /// One timer for the earliest deadline; stale ones only cause a re-check.
    fn arm(&mut self, cx: &mut Context<'_>, now: Instant) {
        let pending_next = (self.next < self.addrs.len()).then_some(self.next_attempt_at);
        if let Some(at) = [pending_next.flatten(), self.round_ends, self.retry_at]
            .into_iter()
            .flatten()
            .min()
            && self.armed.is_none_or(|armed| armed != at || armed <= now)
        {
            cx.timers.add(at, self.tokens.timer);
            self.armed = Some(at);
        }
    }

    /// Closes every attempt in flight.
    pub fn cancel(&mut self, registry: &mio::Registry) {
        for mut a in self.attempts.drain(..) {
            let _ = registry.deregister(&mut a.sock);
        }
    }

    fn start_round(&mut self, opts: &ConnectOptions, now: Instant) {
        self.next = 0;
        self.retry_at = None;
        self.round_ends = opts.timeout.map(|t| now + t);
        self.next_attempt_at = Some(now);
    }

    /// Starts a connection to the next address of the round.
    fn start_next(&mut self, cx: &mut Context<'_>, opts: &ConnectOptions, now: Instant) {
        let addr = self.addrs[self.next].clone();
        let token = Token(self.tokens.attempts + self.next);
        self.next += 1;
        self.next_attempt_at = Some(now + ATTEMPT_DELAY);
        if opts.verbose > 1 {
            eprintln!("trying {addr}");
        }
        let started = match &addr {
            Addr::Ip(ip) => start_connect(*ip, opts)
                .map(|(sock, done)| (Stream::Tcp(TcpStream::from_std(sock.into())), done)),
            // A Unix connect does not stay in progress: made, refused, or `WouldBlock`
            // when the server's backlog is full.
            Addr::Unix(path) => super::unix::try_connect(path).map(|s| (Stream::Unix(s), true)),
        }
        .and_then(|(mut sock, done)| {
            cx.registry
                .register(&mut sock, token, Interest::WRITABLE)
                .map(|()| (sock, done))
        });
        match started {
            // A connect that finished at once is looked at at once; one under way waits
            // for its event.
            Ok((sock, done)) => self.attempts.push(Attempt {
                token,
                sock,
                addr,
                ready: done,
            }),
            Err(e) => self.failed(opts, &addr, e),
        }
    }

    fn failed(&mut self, opts: &ConnectOptions, addr: &Addr, e: io::Error) {
        if opts.verbose > 0 {
            let why = match (addr, e.kind()) {
                (Addr::Unix(_), io::ErrorKind::WouldBlock) => "its backlog is full".into(),
                _ => describe(&e),
            };
            eprintln!("connecting to {addr} failed: {why}");
        }
        self.last_err = Some(e);
    }

    /// Looks at the attempts that reported readiness: the winner, if one connected.
    fn check_attempts(
        &mut self,
        cx: &mut Context<'_>,
        opts: &ConnectOptions,
    ) -> Option<(Stream, Addr)> {
        let mut i = 0;
        while i < self.attempts.len() {
            let a = &mut self.attempts[i];
            if !std::mem::take(&mut a.ready) {
                i += 1;
                continue;
            }
            // Connected first: an error that came after (a reset) stays pending for the
            // first read, which delivers what arrived before it.
            let outcome = match &a.sock {
                Stream::Unix(_) => Ok(true),
                Stream::Tcp(sock) => match sock.peer_addr() {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => match sock.take_error() {
                        Ok(None) => Ok(false),
                        Ok(Some(e)) | Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
            };
            match outcome {
                Ok(false) => i += 1,
                Ok(true) => {
                    let a = self.attempts.swap_remove(i);
                    if opts.verbose > 0 {
                        eprintln!("connected to {}", a.addr);
                    }
                    self.cancel(cx.registry);
                    return Some((a.sock, a.addr));
                }
                Err(e) => {
                    let mut a = self.attempts.swap_remove(i);
                    let _ = cx.registry.deregister(&mut a.sock);
                    self.failed(opts, &a.addr, e);
                }
            }
        }
        None
    }

    /// The round failed: another after a pause while `--retry-for` lasts (the last one at
    /// the deadline itself) or, for a full backlog, until `-w`; else the last error.
    fn round_failed(
        &mut self,
        cx: &mut Context<'_>,
        opts: &ConnectOptions,
        now: Instant,
    ) -> io::Result<()> {
        self.cancel(cx.registry);
        self.next_attempt_at = None;
        self.round_ends = None;
        let kind = self.last_err.as_ref().map(io::Error::kind);
        let unix = matches!(self.addrs.first(), Some(Addr::Unix(_)));
        let until = match kind {
            Some(io::ErrorKind::WouldBlock) => Some(self.backlog_until),
            // A socket file that is not there yet, or no server on it: worth waiting for.
            // Anything else (permission denied, not a socket) will not change.
            Some(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) if unix => {
                self.give_up_at
            }
            _ if unix => None,
            _ => self.give_up_at,
        };
        match until {
            Some(end) if now < end => {
                let at = (now + self.pause).min(end);
                if opts.verbose > 0 {
                    eprintln!("retrying in {} ms", at.duration_since(now).as_millis());
                }
                self.retry_at = Some(at);
                self.pause = (self.pause * 2).min(RETRY_MAX_PAUSE);
                Ok(())
            }
            _ => Err(self.last_err.take().unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::AddrNotAvailable, "no usable address")
            })),
        }
    }
}

/// RFC 8305 §4: the addresses with the families alternating, starting with the resolver's
/// first; only those of the source address's family when `-s` is given. (A Unix socket's
/// path is one address alone.)
fn interleave(addrs: Vec<Addr>, source: Option<IpAddr>) -> Vec<Addr> {
    if addrs.iter().any(|a| matches!(a, Addr::Unix(_))) {
        return addrs;
    }
    let addrs: Vec<SocketAddr> = addrs
        .into_iter()
        .filter_map(|a| a.ip())
        .filter(|a| source.is_none_or(|s| s.is_ipv4() == a.is_ipv4()))
        .collect();
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let first_v6 = first.is_ipv6();
    let (mut lead, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv6() == first_v6);
    lead.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    loop {
        match (lead.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b).map(Addr::Ip)),
        }
    }
}

/// A non-blocking socket with its connect under way, and whether it is done already.
fn start_connect(addr: SocketAddr, opts: &ConnectOptions) -> io::Result<(Socket, bool)> {
    let kind = Type::STREAM.nonblocking();
    let socket = Socket::new(Domain::for_address(addr), kind, Some(Protocol::TCP))?;
    bind_source(&socket, addr, opts)?;
    match socket.connect(&addr.into()) {
        Ok(()) => Ok((socket, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((socket, false)),
        Err(e) => Err(e),
    }
}

/// Binds to `-s`/`-p` when given, so the connection leaves from that address and port.
fn bind_source(socket: &Socket, dest: SocketAddr, opts: &ConnectOptions) -> io::Result<()> {
    if opts.source.is_none() && opts.source_port.is_none() {
        return Ok(());
    }
    let any: IpAddr = if dest.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u16; 8])
    };
    let ip = opts.source.unwrap_or(any);
    socket.set_reuse_address(true)?;
    socket.bind(&SockAddr::from(SocketAddr::new(
        ip,
        opts.source_port.unwrap_or(0),
    )))
}

/// A failure to connect in the user's words, with its exit code.
pub fn connect_error(host: &str, port: u16, e: &io::Error, opts: &ConnectOptions) -> anyhow::Error {
    // WouldBlock: the non-blocking connect was still pending when the time ran out.
    let kind = match e.kind() {
        io::ErrorKind::WouldBlock => Kind::Timeout,
        _ => io_kind(e),
    };
    let during = match opts.retry_for {
        Some(d) => format!(" (kept trying for {} s)", d.as_secs_f64()),
        None => String::new(),
    };
    fail(
        kind,
        format!("connecting to {host} port {port}{during}: {}", describe(e)),
    )
}

/// Connects a UDP socket to the first resolved address of `host`.
pub fn connect_udp(host: &str, port: u16, opts: &ConnectOptions) -> Result<(Socket, SocketAddr)> {
    // A UDP "connect" only sets the peer's address: nothing waits but the name lookup.
    let addrs = super::addr::resolve(host, port, opts.family)?;
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no usable address");
    for addr in addrs {
        let attempt = (|| {
            let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            bind_source(&socket, addr, opts)?;
            socket.connect(&addr.into())?;
            socket.set_nonblocking(true)?;
            Ok::<_, io::Error>(socket)
        })();
        match attempt {
            Ok(s) => {
                if opts.verbose > 0 {
                    eprintln!("sending to {addr} (UDP)");
                }
                return Ok((s, addr));
            }
            Err(e) => last = e,
        }
    }
    if last.kind() == io::ErrorKind::PermissionDenied {
        // The kernel's answer to a broadcast address without SO_BROADCAST.
        let err = connect_error(host, port, &last, opts);
        return Err(fail(
            Kind::Runtime,
            format!("{err:#} (a broadcast address? add -b)"),
        ));
    }
    Err(connect_error(host, port, &last, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn happy_eyeballs_alternates_families_from_the_first() {
        let found = vec![
            a("[::1]:1"),
            a("[::2]:1"),
            a("127.0.0.1:1"),
            a("127.0.0.2:1"),
            a("127.0.0.3:1"),
        ];
        let found: Vec<Addr> = found.into_iter().map(Addr::Ip).collect();
        assert_eq!(
            interleave(found.clone(), None),
            [
                a("[::1]:1"),
                a("127.0.0.1:1"),
                a("[::2]:1"),
                a("127.0.0.2:1"),
                a("127.0.0.3:1")
            ]
            .map(Addr::Ip)
        );
        let v4_source = Some("127.0.0.1".parse().unwrap());
        assert_eq!(interleave(found, v4_source).len(), 3);
    }
}
