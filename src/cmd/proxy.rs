//! `proxy [ADDR] PORT`: a SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy on one port, on the server
//! core. Each client is a tunnel in four steps: its handshake (`proxy::serve`, the first
//! byte says the protocol), the destination's name resolved off the loop, the destination
//! dialed by the one `Dialer` (Happy Eyeballs, `-w`), then the relay's two `Direction`s
//! until both sides have ended (DESIGN.md §2's half-close), zero-copy where both are plain.
//!
//! Safe by default: without `--auth` or `--allow` it listens on loopback only, and it says
//! so on its ready line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::event::Event;
use mio::{Interest, Waker};

use crate::cli::{ProxyServerArgs, usage_error};
use crate::error::{Kind, fail};
use crate::net::EventLoop;
use crate::net::access::Access;
use crate::net::addr::Family;
use crate::net::bridge::{Direction, Failure as Broken};
use crate::net::connector::{Addr, ConnectOptions, DialTokens, Dialer, Resolver};
use crate::net::event_loop::{Context, secs};
use crate::net::server::{self, Closed, Group, Link, Next, Phase, SLOTS, Server, Service};
use crate::net::transport::{self, Transport, describe, would_block};
use crate::proxy::serve::{self, Dest, Failure, Handshake, Protocol, Request, Users};
use crate::sock::Stream;

/// Token slots of a tunnel: the destination, the dial attempts, a timer.
const TARGET_SLOT: usize = 1;
const FIRST_ATTEMPT_SLOT: usize = 2;
const TIMER_SLOT: usize = SLOTS - 1;
/// Time a client gets from its connect to the end of its request.
const HANDSHAKE_TIME: Duration = Duration::from_secs(10);
/// Time a name lookup may take.
const RESOLVE_TIME: Duration = Duration::from_secs(30);
/// Bytes read per call during a handshake.
const HANDSHAKE_READ: usize = 4096;
/// Passes of moving bytes a tunnel makes before the loop looks at the others.
const PASSES_PER_TURN: usize = 16;
/// Said on the ready line when nobody else may connect.
const LOOPBACK_LABEL: &str = "loopback only: --allow or --auth to serve others";

/// Everything `proxy` needs, checked before any socket is made.
pub struct Config {
    addrs: Vec<SocketAddr>,
    default_pair: bool,
    label: &'static str,
    users: Users,
    /// `--to-port`: the destination ports allowed (sorted), or all.
    to_ports: Option<Vec<u16>>,
    family: Family,
    dial: ConnectOptions,
    idle: Option<Duration>,
    max_conns: usize,
    grace: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    access: Option<Access>,
    verbose: u8,
}

impl Config {
    /// Validates the command line, reads `--auth-file` and loads the certificate.
    pub fn from_args(args: ProxyServerArgs, verbose: u8) -> Result<Self> {
        let tls = super::server_tls(&args.tls, false)?;
        let access = super::access("proxy", &args.access)?;
        let mut pairs = Vec::new();
        for entry in &args.auth {
            pairs.push(user_password(entry).ok_or_else(|| {
                usage_error(
                    "proxy",
                    "--auth wants USER:PASSWORD (the password is not shown)",
                )
            })?);
        }
        if let Some(path) = &args.auth_file {
            pairs.extend(read_auth_file(path)?);
        }
        let users = Users::new(pairs);
        let family = Family::from(&args.family);
        let (addr, port) = crate::cli::split_endpoint("proxy", &args.endpoint)?;
        let guarded = users.required() || access.is_some();
        let (addrs, default_pair, label) = match (addr, guarded) {
            (None, false) => {
                let loopback: [IpAddr; 2] =
                    [Ipv6Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into()];
                let addrs = loopback
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .filter(|a| family.allows(a))
                    .collect();
                (addrs, true, LOOPBACK_LABEL)
            }
            (addr, _) => {
                let addrs = crate::net::addr::bind_addrs(addr.as_deref(), port, family)?;
                if !guarded && addrs.iter().any(|a| !a.ip().is_loopback()) {
                    return Err(usage_error(
                        "proxy",
                        "an open proxy is abused within hours: add --auth USER:PASSWORD or --allow \
                         RANGE (--allow 0.0.0.0/0,::/0 if everyone truly may)",
                    )
                    .into());
                }
                (addrs, addr.is_none(), "")
            }
        };
        let to_ports = if args.to_port.is_empty() {
            None
        } else {
            let mut ports = crate::net::scan::parse_ports(&args.to_port)
                .map_err(|e| usage_error("proxy", format!("--to-port: {e}")))?;
            ports.sort_unstable();
            Some(ports)
        };
        Ok(Config {
            addrs,
            default_pair,
            label,
            users,
            to_ports,
            family,
            dial: ConnectOptions {
                family,
                timeout: Some(secs(args.connect_timeout)),
                verbose: verbose.saturating_sub(1),
                ..ConnectOptions::default()
            },
            idle: args.idle_timeout.map(secs),
            max_conns: usize::try_from(args.max_conns).unwrap_or(usize::MAX),
            grace: args.grace.period(),
            tls,
            access,
            verbose,
        })
    }
}

/// `user:password` (the password may contain colons; the user may not be empty).
fn user_password(entry: &str) -> Option<(String, String)> {
    let (user, password) = entry.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_string(), password.to_string()))
}

/// `--auth-file`: `user:password` lines, `#` comments; refused unless only its owner may
/// read it (it holds passwords).
fn read_auth_file(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| fail(Kind::File, format!("--auth-file {shown}: {}", describe(&e))))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(usage_error(
            "proxy",
            format!(
                "--auth-file {shown} may be read by others (mode {mode:04o}): it holds passwords; \
                 chmod 600 {shown}"
            ),
        )
        .into());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(Kind::File, format!("--auth-file {shown}: {}", describe(&e))))?;
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        pairs.push(user_password(line).ok_or_else(|| {
            usage_error(
                "proxy",
                format!(
                    "--auth-file {shown}: line {}: expected user:password",
                    i + 1
                ),
            )
        })?);
    }
    if pairs.is_empty() {
        return Err(usage_error("proxy", format!("--auth-file {shown}: no user in it")).into());
    }
    Ok(pairs)
}

/// Runs the proxy until SIGINT (exit 130) or SIGTERM (tunnels finish, then exit 0).
pub fn run(config: Config) -> Result<()> {
    let mut ev = EventLoop::new()?;
    let waker = ev.waker()?;
    let listeners = server::listen(&config.addrs, config.default_pair, config.label)?;
    let group = Group {
        listeners,
        tls: config.tls.clone(),
        idle: config.idle,
        max_conns: config.max_conns,
    };
    let (verbose, grace, access) = (config.verbose, config.grace, config.access.clone());
    let proxy = Proxy {
        config,
        waker,
        resolved: false,
        scratch: vec![0; crate::net::bridge::BUFFER],
    };
    Server::new(proxy, vec![group], verbose)
        .with_access(access)
        .with_grace(grace)
        .run(ev)
}

/// The service: a tunnel per client.
struct Proxy {
    config: Config,
    /// Name lookups wake the loop with it.
    waker: Arc<Waker>,
    /// A lookup finished: the tunnels waiting for one get a turn.
    resolved: bool,
    scratch: Vec<u8>,
}

/// Where a tunnel stands.
enum Stage {
    /// Reading the client's request.
    Handshake(Handshake),
    /// The destination's name is being looked up.
    Resolving(Resolver, Instant),
    Dialing(Box<Dialer>),
    Up {
        target: Transport,
        up: Direction,
        down: Direction,
    },
    /// A reply is going out, then the connection ends.
    Closing,
}

/// One client's tunnel.
struct Tunnel {
    stage: Stage,
    /// Bytes for the client that go before anything else (replies).
    out: Vec<u8>,
    /// The request, once it came, and what the client sent after it.
    request: Option<Request>,
    early: Vec<u8>,
    target_addr: Option<Addr>,
    accepted: Instant,
    /// How it ended: why, and whether that was a failure.
    ended: Option<(String, bool)>,
}

impl Tunnel {
    /// Refuses the request with `failure`'s reply; the connection ends once it is out.
    fn refuse(&mut self, failure: Failure, detail: String) {
        if let Some(req) = &self.request {
            self.out
                .extend_from_slice(&serve::failed(req.protocol, failure, &detail));
        }
        self.ended = Some((format!("{}: {detail}", failure.as_str()), true));
        self.stage = Stage::Closing;
    }

    /// Starts dialing `addrs`.
    fn dial(&mut self, link: &Link, opts: &ConnectOptions, addrs: Vec<SocketAddr>) {
        let first = link.token(0).0;
        let tokens = DialTokens {
            attempts: first + FIRST_ATTEMPT_SLOT,
            max_attempts: TIMER_SLOT - FIRST_ATTEMPT_SLOT,
            timer: link.token(TIMER_SLOT),
        };
        let addrs = addrs.into_iter().map(Addr::Ip).collect();
        self.stage = Stage::Dialing(Box::new(Dialer::new(addrs, opts, tokens)));
    }
}

/// Sends what the client is owed; true once all of it is out.
fn send_out(link: &mut Link, out: &mut Vec<u8>) -> std::io::Result<bool> {
    while !out.is_empty() {
        match link.write(out) {
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if would_block(&e) => break,
            Err(e) => return Err(e),
        }
    }
    link.flush()?;
    Ok(out.is_empty() && !link.transport().wants_write())
}

/// The failure a connect error is, for the reply.
fn failure_of(e: &std::io::Error) -> Failure {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Failure::TimedOut,
        std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
            Failure::Unreachable
        }
        _ => Failure::General,
    }
}

impl Proxy {
    /// The handshake: reads what the client sent and acts on it. `Ok(false)`: the client
    /// left before asking.
    fn handshake(&mut self, link: &mut Link, t: &mut Tunnel) -> std::io::Result<bool> {
        let mut buf = [0u8; HANDSHAKE_READ];
        loop {
            let Stage::Handshake(hs) = &mut t.stage else {
                return Ok(true);
            };
            let n = match link.read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(true),
                Err(e) => return Err(e),
            };
            let (reply, next) = hs.input(&buf[..n], &self.config.users);
            t.out.extend_from_slice(&reply);
            match next {
                serve::Next::More => {}
                serve::Next::Close(why) => {
                    if self.config.verbose > 1 {
                        eprintln!("{}: {why}", link.peer());
                    }
                    t.ended = Some((why, true));
                    t.stage = Stage::Closing;
                }
                serve::Next::Connect(req, early) => {
                    if self.config.verbose > 1 {
                        eprintln!("{}: {} to {}", link.peer(), req.protocol.as_str(), req.dest);
                    }
                    t.early = early;
                    let port = req.dest.port();
                    let dest = req.dest.clone();
                    t.request = Some(req);
                    if self
                        .config
                        .to_ports
                        .as_ref()
                        .is_some_and(|ports| ports.binary_search(&port).is_err())
                    {
                        t.refuse(Failure::NotAllowed, format!("port {port} (--to-port)"));
                    } else {
                        match dest {
                            Dest::Addr(addr) if self.config.family.allows(&addr) => {
                                t.dial(link, &self.config.dial, vec![addr]);
                            }
                            Dest::Addr(addr) => {
                                t.refuse(
                                    Failure::Unreachable,
                                    format!("{addr}: not of -4/-6's family"),
                                );
                            }
                            Dest::Name(name, port) => {
                                match Resolver::start_with(
                                    Some(Arc::clone(&self.waker)),
                                    &name,
                                    port,
                                    self.config.family,
                                ) {
                                    Ok(r) => t.stage = Stage::Resolving(r, link.now()),
                                    Err(e) => t.refuse(Failure::NameNotFound, format!("{e:#}")),
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Moves a tunnel on; `Some(next)` when the server should act.
    fn step(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        t: &mut Tunnel,
    ) -> std::io::Result<Next> {
        let woke = link.take_wake();
        if !send_out(link, &mut t.out)? {
            return Ok(Next::Keep);
        }
        if matches!(t.stage, Stage::Handshake(_)) {
            if !self.handshake(link, t)? {
                return Ok(Next::Close);
            }
            // A SOCKS5 method choice or authentication answer: out now.
            if !send_out(link, &mut t.out)? {
                return Ok(Next::Keep);
            }
        }
        if let Stage::Resolving(resolver, _) = &mut t.stage {
            match resolver.poll() {
                None => {}
                Some(Ok(addrs)) if addrs.is_empty() => {
                    t.refuse(Failure::NameNotFound, "no address of -4/-6's family".into());
                }
                Some(Ok(addrs)) => t.dial(link, &self.config.dial, addrs),
                Some(Err(e)) => t.refuse(Failure::NameNotFound, format!("{e:#}")),
            }
        }
        if let Stage::Dialing(dialer) = &mut t.stage {
            match dialer.poll(cx, &self.config.dial) {
                Ok(None) => {}
                Ok(Some((mut stream, addr))) => {
                    cx.registry.reregister(
                        &mut stream,
                        link.token(TARGET_SLOT),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    stream.set_nodelay();
                    let bound = local_of(&stream)
                        .unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0));
                    let req = t.request.as_mut();
                    let (protocol, head) = match req {
                        Some(r) => (r.protocol, r.forward_head.take().unwrap_or_default()),
                        None => (Protocol::Socks5, Vec::new()),
                    };
                    t.out.extend_from_slice(&serve::connected(protocol, bound));
                    let first = [head, std::mem::take(&mut t.early)].concat();
                    t.stage = Stage::Up {
                        target: Transport::Plain(stream),
                        up: Direction::holding(first),
                        down: Direction::default(),
                    };
                    t.target_addr = Some(addr);
                    link.touch();
                    if !send_out(link, &mut t.out)? {
                        return Ok(Next::Keep);
                    }
                }
                Err(e) => {
                    let dest = t
                        .request
                        .as_ref()
                        .map(|r| r.dest.to_string())
                        .unwrap_or_default();
                    t.refuse(failure_of(&e), format!("{dest}: {}", describe(&e)));
                }
            }
        }
        if let Stage::Up { target, up, down } = &mut t.stage {
            if let Some(closed) = woke {
                up.wake(closed);
            }
            let again = link.token(TIMER_SLOT);
            let client = link.transport();
            let mut moved_any = false;
            for pass in 1..=PASSES_PER_TURN {
                let handshaking = client.is_handshaking();
                let a = up.pump(client, target, &mut self.scratch);
                let b = down.pump(target, client, &mut self.scratch);
                let moved = match (a, b) {
                    (Ok(a), Ok(b)) => a || b || handshaking != client.is_handshaking(),
                    (Err(f), _) => return Ok(broken(t, f, "client", "destination")),
                    (_, Err(f)) => return Ok(broken(t, f, "destination", "client")),
                };
                if !moved {
                    break;
                }
                moved_any = true;
                if pass == PASSES_PER_TURN {
                    cx.timers.add(cx.now, again);
                }
            }
            let done =
                up.is_done() && down.is_done() && !client.wants_write() && !target.wants_write();
            if moved_any {
                link.touch();
            }
            if done {
                t.ended = Some(("both sides ended".into(), false));
                return Ok(Next::Close);
            }
        }
        if matches!(t.stage, Stage::Closing) {
            return Ok(if send_out(link, &mut t.out)? {
                Next::Finish
            } else {
                Next::Keep
            });
        }
        Ok(Next::Keep)
    }
}

/// A failed direction `from → to` ends the tunnel with a reset of both.
fn broken(t: &mut Tunnel, f: Broken, from: &str, to: &str) -> Next {
    let why = match f {
        Broken::Source(e) => format!("{from}: {}", describe(&e)),
        Broken::Destination(e) => format!("{to}: {}", describe(&e)),
    };
    t.ended = Some((why, true));
    Next::Reset
}

fn local_of(stream: &Stream) -> Option<SocketAddr> {
    match stream {
        Stream::Tcp(s) => s.local_addr().ok(),
        Stream::Unix(_) => None,
    }
}

impl Service for Proxy {
    type Conn = Tunnel;
    const DOING: &'static str = "proxying";
    const LOG_PREFIX: &'static str = "proxy: ";
    const RESET_ON_FAILURE: bool = true;
    const SAYS_CLOSE: bool = true;

    fn open(&mut self, _group: usize, now: Instant) -> Tunnel {
        Tunnel {
            stage: Stage::Handshake(Handshake::new()),
            out: Vec::new(),
            request: None,
            early: Vec::new(),
            target_addr: None,
            accepted: now,
            ended: None,
        }
    }

    fn pump(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        t: &mut Tunnel,
    ) -> std::io::Result<Next> {
        self.step(cx, link, t)
    }

    fn on_ready(&mut self, t: &mut Tunnel, slot: usize, event: &Event) {
        match (&mut t.stage, slot) {
            (Stage::Dialing(d), _) => {
                d.on_ready(event.token());
            }
            (Stage::Up { down, .. }, TARGET_SLOT) => {
                down.wake(event.is_read_closed() || event.is_error())
            }
            _ => {}
        }
    }

    fn deadline(&self, t: &Tunnel) -> Option<(Instant, &'static str)> {
        match &t.stage {
            Stage::Handshake(_) => Some((t.accepted + HANDSHAKE_TIME, "handshake timed out")),
            Stage::Resolving(_, since) => Some((*since + RESOLVE_TIME, "name lookup timed out")),
            _ => None,
        }
    }

    fn phase(&self, t: &Tunnel) -> Phase {
        match &t.stage {
            Stage::Handshake(hs) if !hs.started() => Phase::Idle,
            Stage::Handshake(_) => Phase::Receiving(t.accepted),
            _ => Phase::Busy,
        }
    }

    fn on_source(&mut self, _cx: &mut Context<'_>, _index: usize) {
        // The loop's waker: a name lookup finished.
        self.resolved = true;
    }

    fn take_news(&mut self) -> bool {
        std::mem::take(&mut self.resolved)
    }

    fn wants_news(&self, t: &Tunnel) -> bool {
        matches!(t.stage, Stage::Resolving(..))
    }

    fn closed(&mut self, t: Tunnel, end: &Closed<'_>) {
        let (why, failed) = t
            .ended
            .clone()
            .unwrap_or_else(|| (end.why.unwrap_or("closed").to_string(), end.reset));
        let Some(req) = &t.request else {
            if failed && self.config.verbose > 0 {
                eprintln!("{}: {why}", end.peer);
            }
            return;
        };
        let user = req
            .user
            .as_deref()
            .map(|u| format!(" user {u}"))
            .unwrap_or_default();
        let dest = match &t.target_addr {
            Some(addr) if !matches!(req.dest, Dest::Addr(_)) => format!("{} ({addr})", req.dest),
            _ => req.dest.to_string(),
        };
        let (up, down) = match &t.stage {
            Stage::Up { up, down, .. } => (up.bytes(), down.bytes()),
            _ => (0, 0),
        };
        let line = format!(
            "{}{user} {} → {dest}: {up} bytes up, {down} down, {:.3} s, {why}",
            end.peer,
            req.protocol.as_str(),
            t.accepted.elapsed().as_secs_f64(),
        );
        if failed && matches!(t.stage, Stage::Up { .. }) {
            eprintln!("nicksock: proxy: {line}");
        } else if self.config.verbose > 0 {
            eprintln!("{line}");
        }
        if failed && let Stage::Up { target, .. } = t.stage {
            transport::reset(target);
        }
    }
}
