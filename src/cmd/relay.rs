//! `relay [ADDR] PORT TARGET_HOST TARGET_PORT`: accept clients and join each to a connection
//! of its own to the target, TLS on either side, many pairs on the one event loop (what
//! people reach for socat `fork` and stunnel to do).
//!
//! A pair lives in three steps: the client is accepted (its TLS handshake, if any, runs as
//! bytes flow); the target is dialed on the loop (Happy Eyeballs, `-w`); then two
//! [`Direction`]s move bytes until both have ended. A failure on one side resets the other,
//! so no one mistakes a cut for a clean end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::Interest;
use mio::event::Event;

use crate::cli::{RelayArgs, usage_error};
use crate::net::addr::{Family, bind_addrs};
use crate::net::bridge::{Direction, Failure};
use crate::net::connector::{Addr, ConnectOptions, DialTokens, resolve_on_loop};
use crate::net::dial::{Connection, Endpoint, ProxyPlan};
use crate::net::event_loop::{Context, EventLoop, secs};
use crate::net::server::{
    self, Closed, Group, HANDSHAKE_TIMEOUT, Link, MAX_LISTENERS, Next, SLOTS, Server, Service,
};
use crate::net::transport::{self, Transport, describe};
use crate::net::unix;
use crate::tls;

/// The server core's token slots of a pair: the client (slot 0, the core's), the target,
/// the dial attempts, the pair's timer.
const TARGET_SLOT: usize = 1;
const FIRST_ATTEMPT_SLOT: usize = 2;
const TIMER_SLOT: usize = SLOTS - 1;
/// How long a client waits for room in a Unix target's full backlog without `-w`.
const BACKLOG_WAIT: Duration = Duration::from_secs(10);
/// Passes of moving bytes (each up to a buffer or a pipe's worth a direction) a pair makes
/// before the loop looks at the others.
const PASSES_PER_TURN: usize = 16;

/// Everything `relay` needs, checked before any socket is made.
pub struct Config {
    addrs: Vec<SocketAddr>,
    default_pair: bool,
    /// `--unix PATH`: listen there instead of `addrs`.
    unix_in: Option<PathBuf>,
    /// `--to-unix PATH`: the target is this socket (then `target_host` is its path, for
    /// messages).
    unix_out: Option<PathBuf>,
    target_host: String,
    target_port: u16,
    family: Family,
    dial: ConnectOptions,
    idle: Option<Duration>,
    max_conns: usize,
    grace: Duration,
    tls_in: Option<Arc<rustls::ServerConfig>>,
    tls_out: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    /// `--to-proxy`: every target connection goes through it.
    proxy: Option<Arc<ProxyPlan>>,
    access: Option<crate::net::access::Access>,
    verbose: u8,
}

impl Config {
    /// Validates the command line and loads certificates.
    pub fn from_args(args: RelayArgs, verbose: u8) -> Result<Self> {
        let (listen_addr, port, target_host, target_port) =
            split(&args.endpoints, args.unix.is_some(), args.to_unix.is_some())?;
        for path in args.unix.iter().chain(&args.to_unix) {
            unix::check_path("relay", path)?;
        }
        // Over a Unix socket the target has no name: messages show its path, and its
        // certificate is checked for `localhost` unless --to-servername says otherwise.
        let (target_host, tls_name) = match &args.to_unix {
            Some(path) => (path.display().to_string(), "localhost".to_string()),
            None => (target_host.clone(), target_host),
        };
        let tls_in = super::server_tls(&args.tls, false)?;
        let tls_out = if args.to_tls {
            let opts = tls::config::ClientOptions {
                cacert: args.to_cacert.clone(),
                insecure: args.insecure,
                cert: None,
                key: None,
                alpn: Vec::new(),
            };
            let name = args.to_servername.as_deref().unwrap_or(&tls_name);
            Some(super::client_tls(&opts, name)?)
        } else {
            None
        };
        let family = Family::from(&args.family);
        let mut addrs = match args.unix {
            Some(_) => Vec::new(),
            None => bind_addrs(listen_addr.as_deref(), port, family)?,
        };
        addrs.truncate(MAX_LISTENERS);
        let proxy = match &args.to_proxy {
            Some(url) => {
                let url = super::parse_proxy_url("--to-proxy", url)?;
                Some(Arc::new(super::proxy_plan(url, &args.proxy_opts)?))
            }
            None => None,
        };
        Ok(Config {
            access: super::access("relay", &args.access)?,
            proxy,
            addrs,
            default_pair: listen_addr.is_none(),
            unix_in: args.unix,
            unix_out: args.to_unix,
            target_host,
            target_port,
            family,
            dial: ConnectOptions {
                family,
                timeout: args.connect_timeout.map(secs),
                // Each client's attempts are its own; `-vv` shows them.
                verbose: verbose.saturating_sub(1),
                backlog_wait: Some(BACKLOG_WAIT),
                ..ConnectOptions::default()
            },
            idle: args.idle_timeout.map(secs),
            max_conns: usize::try_from(args.max_conns).unwrap_or(usize::MAX),
            grace: args.grace.period(),
            tls_in,
            tls_out,
            verbose,
        })
    }
}

/// `[ADDR] PORT TARGET_HOST TARGET_PORT`, with both ports checked (a bad one is a usage
/// error, exit 2, with the usage line).
///
/// With `--unix` the first half is not given, with `--to-unix` the second: their words are
/// then empty (`port` 0, `host` "").
fn split(
    words: &[String],
    unix_in: bool,
    unix_out: bool,
) -> Result<(Option<String>, u16, String, u16), clap::Error> {
    let zero = String::from("0");
    let none = String::new();
    let (addr, port, host, target_port) = match (unix_in, unix_out, words) {
        (false, false, [port, host, tport]) => (None, port, host, tport),
        (false, false, [addr, port, host, tport]) => (Some(addr.clone()), port, host, tport),
        (true, false, [host, tport]) => (None, &zero, host, tport),
        (false, true, [port]) => (None, port, &none, &zero),
        (false, true, [addr, port]) => (Some(addr.clone()), port, &none, &zero),
        (true, true, []) => (None, &zero, &none, &zero),
        _ => {
            let expected = match (unix_in, unix_out) {
                (false, false) => "[ADDR] PORT TARGET_HOST TARGET_PORT",
                (true, false) => "TARGET_HOST TARGET_PORT (with --unix)",
                (false, true) => "[ADDR] PORT (with --to-unix)",
                (true, true) => "nothing more (with --unix and --to-unix)",
            };
            return Err(usage_error(
                "relay",
                format!("expected {expected}, got {} words", words.len()),
            ));
        }
    };
    let parse = |p: &str, lowest: u16| match p.parse::<u16>() {
        Ok(n) if n >= lowest || (n == 0 && unix_out) => Ok(n),
        _ => Err(usage_error(
            "relay",
            format!("invalid port '{p}': expected a number from {lowest} to 65535"),
        )),
    };
    Ok((addr, parse(port, 0)?, host.clone(), parse(target_port, 1)?))
}

/// Runs `relay` until SIGINT (exit 130) or SIGTERM (sessions finish, then exit 0).
pub fn run(config: Config) -> Result<()> {
    let mut ev = EventLoop::new()?;
    let (targets, target_address) = resolve_targets(&mut ev, &config)?;
    let unix_in = config.unix_in.as_deref();
    let listeners = server::listen_at(unix_in, &config.addrs, config.default_pair, "")?;
    let group = Group {
        listeners,
        tls: config.tls_in.clone(),
        idle: config.idle,
        max_conns: config.max_conns,
    };
    let (verbose, grace) = (config.verbose, config.grace);
    let access = config.access.clone();
    let relay = Relay {
        config,
        targets,
        target_address,
        scratch: vec![0; crate::net::bridge::BUFFER],
    };
    Server::new(relay, vec![group], verbose)
        .with_access(access)
        .with_grace(grace)
        .run(ev)
}

/// What every pair dials: the target's addresses (or the proxy's, with `--to-proxy`; or the
/// Unix socket), and the target's address when the client resolves it for the proxy
/// (SOCKS4, SOCKS5). Resolved once, at start.
fn resolve_targets(
    ev: &mut EventLoop,
    config: &Config,
) -> Result<(Vec<Addr>, Option<std::net::IpAddr>)> {
    if let Some(path) = &config.unix_out {
        return Ok((vec![Addr::Unix(path.clone())], None));
    }
    let (host, port) = (&config.target_host, config.target_port);
    let Some(plan) = &config.proxy else {
        let found = resolve_on_loop(ev, host, port, config.family)?;
        if config.verbose > 0 {
            let list: Vec<String> = found.iter().map(ToString::to_string).collect();
            eprintln!("target {host} is {}", list.join(", "));
        }
        return Ok((found.into_iter().map(Addr::Ip).collect(), None));
    };
    let address = if plan.url.scheme.proxy_resolves() {
        None
    } else {
        let found = resolve_on_loop(ev, host, port, config.family)?;
        crate::net::dial::target_address(plan.url.scheme, &found)
    };
    let found = resolve_on_loop(ev, &plan.url.host, plan.url.port, config.family)?;
    if config.verbose > 0 {
        let list: Vec<String> = found.iter().map(ToString::to_string).collect();
        let target = address.map_or_else(|| host.clone(), |a| format!("{host} ({a})"));
        eprintln!(
            "target {target} via proxy {} at {}",
            plan.url.redacted(),
            list.join(", ")
        );
    }
    Ok((found.into_iter().map(Addr::Ip).collect(), address))
}

/// The relay: a service on the server core whose connections are pairs.
struct Relay {
    config: Config,
    /// What each pair dials (see [`resolve_targets`]).
    targets: Vec<Addr>,
    target_address: Option<std::net::IpAddr>,
    /// The one read buffer every pair's copying shares.
    scratch: Vec<u8>,
}

/// Where a pair's target connection stands.
enum Target {
    /// Not started yet: the pair's first turn starts it.
    Waiting,
    /// Being connected (and through the proxy), on the loop.
    Dialing(Box<Connection>),
    Up(Transport),
}

/// One client's own connection to the target (the client is the server's link).
struct Pair {
    target: Target,
    target_addr: Option<Addr>,
    /// Client → target.
    up: Direction,
    /// Target → client.
    down: Direction,
    accepted: Instant,
    /// When the target connection was made.
    up_at: Option<Instant>,
    /// `-v` said that the Unix target's backlog is full.
    said_backlogged: bool,
    /// How it ended, once it has.
    ended: Option<Ended>,
}

/// How a pair ended, for the log line.
struct Ended {
    why: String,
    /// A failure (logged without `-v` too), not a clean end.
    failed: bool,
}

impl Ended {
    fn failure(why: impl Into<String>) -> Self {
        Ended {
            why: why.into(),
            failed: true,
        }
    }

    /// A failure of the pair's own (dialing, starting TLS): the error's words, all causes.
    fn failed(err: &anyhow::Error) -> Self {
        Self::failure(format!("{err:#}"))
    }
}

impl Pair {
    /// Moves the pair on: `Some` when it is over.
    fn step(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        config: &Config,
        targets: (&[Addr], Option<std::net::IpAddr>),
        scratch: &mut [u8],
    ) -> Option<Ended> {
        let now = cx.now;
        if let Some(closed) = link.take_wake() {
            self.up.wake(closed);
        }
        if matches!(self.target, Target::Waiting) {
            self.start(link, config, targets);
        }
        if let Target::Dialing(conn) = &mut self.target {
            match conn.poll(cx, &config.dial) {
                Ok(None) => {
                    if conn.backlogged() && !self.said_backlogged && config.verbose > 0 {
                        let wait = config.dial.timeout.unwrap_or(BACKLOG_WAIT).as_secs_f64();
                        eprintln!(
                            "{}: the target's backlog is full: trying again for up to {wait} s",
                            link.peer()
                        );
                        self.said_backlogged = true;
                    }
                }
                Ok(Some((under, addr))) => {
                    let tls = config.tls_out.as_ref();
                    let mut t = match tls {
                        Some((c, n)) => match transport::tls_over(under, c, n) {
                            Ok(t) => t,
                            Err(e) => {
                                return Some(Ended::failed(
                                    &anyhow::Error::new(e).context("starting TLS"),
                                ));
                            }
                        },
                        None => under,
                    };
                    if let Err(e) = cx.registry.reregister(
                        t.socket(),
                        link.token(TARGET_SLOT),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        let err = anyhow::Error::new(e).context("watching the target");
                        return Some(Ended::failed(&err));
                    }
                    self.target = Target::Up(t);
                    self.target_addr = Some(addr);
                    self.up_at = Some(now);
                    link.touch();
                }
                Err(err) => return Some(Ended::failed(&err)),
            }
        }
        if let Target::Up(target) = &mut self.target {
            let again = link.token(TIMER_SLOT);
            let client = link.transport();
            let mut moved_any = false;
            let mut passes = 0;
            loop {
                // A handshake finishing is progress too: bytes held back for it can go now.
                let handshakes = (client.is_handshaking(), target.is_handshaking());
                let up = self.up.pump(client, target, scratch);
                let down = self.down.pump(target, client, scratch);
                let turned = handshakes != (client.is_handshaking(), target.is_handshaking());
                let moved = match (up, down) {
                    (Ok(a), Ok(b)) => a || b || turned,
                    (Err(f), _) => return Some(failure(f, "client", "target")),
                    (_, Err(f)) => return Some(failure(f, "target", "client")),
                };
                if !moved {
                    break;
                }
                moved_any = true;
                passes += 1;
                if passes == PASSES_PER_TURN {
                    // Still moving: the other pairs, signals and deadlines get their turn,
                    // and this pair is back at once.
                    cx.timers.add(now, again);
                    break;
                }
            }
            let done = self.up.is_done()
                && self.down.is_done()
                && !client.wants_write()
                && !target.wants_write();
            if moved_any {
                link.touch();
            }
            if done {
                return Some(Ended {
                    why: "both sides ended".into(),
                    failed: false,
                });
            }
        }
        None
    }

    /// Starts the connection to the target (through the proxy, if any) on the loop.
    fn start(
        &mut self,
        link: &Link,
        config: &Config,
        targets: (&[Addr], Option<std::net::IpAddr>),
    ) {
        let (addrs, address) = targets;
        let first = link.token(0).0;
        let tokens = DialTokens {
            attempts: first + FIRST_ATTEMPT_SLOT,
            max_attempts: TIMER_SLOT - FIRST_ATTEMPT_SLOT,
            timer: link.token(TIMER_SLOT),
        };
        let endpoint = match &config.unix_out {
            Some(path) => Endpoint::Unix(path.clone()),
            None => Endpoint::Tcp {
                host: config.target_host.clone(),
                port: config.target_port,
            },
        };
        let via = config.proxy.as_ref().map(|plan| {
            let target = crate::net::dial::Target {
                host: config.target_host.clone(),
                port: config.target_port,
                address,
            };
            (Arc::clone(plan), target, true)
        });
        self.target = Target::Dialing(Box::new(Connection::new(
            addrs.to_vec(),
            &endpoint,
            via,
            &config.dial,
            tokens,
            link.token(TARGET_SLOT),
        )));
    }
}

/// The words for a failed direction `from → to`.
fn failure(f: Failure, from: &str, to: &str) -> Ended {
    match f {
        Failure::Source(e) => Ended::failure(format!("{from}: {}", describe(&e))),
        Failure::Destination(e) => Ended::failure(format!("{to}: {}", describe(&e))),
    }
}

impl Service for Relay {
    type Conn = Pair;
    const DOING: &'static str = "relaying";
    const LOG_PREFIX: &'static str = "relay: ";
    // A pair cut by a deadline or an error is reset on both sides: neither peer may take
    // it for a clean end.
    const RESET_ON_FAILURE: bool = true;
    const SAYS_CLOSE: bool = true;

    fn open(&mut self, _group: usize, now: Instant) -> Pair {
        Pair {
            target: Target::Waiting,
            target_addr: None,
            up: Direction::default(),
            down: Direction::default(),
            accepted: now,
            up_at: None,
            said_backlogged: false,
            ended: None,
        }
    }

    fn pump(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        pair: &mut Pair,
    ) -> std::io::Result<Next> {
        let targets = (self.targets.as_slice(), self.target_address);
        let Some(ended) = pair.step(cx, link, &self.config, targets, &mut self.scratch) else {
            return Ok(Next::Keep);
        };
        let next = if ended.failed {
            Next::Reset
        } else {
            Next::Close
        };
        pair.ended = Some(ended);
        Ok(next)
    }

    fn on_ready(&mut self, pair: &mut Pair, slot: usize, event: &Event) {
        match (slot, &mut pair.target) {
            (_, Target::Dialing(d)) => {
                d.on_ready(event.token());
            }
            (TARGET_SLOT, _) => pair.down.wake(event.is_read_closed()),
            _ => {}
        }
    }

    /// The target's TLS handshake has its time limit from when the target is up.
    fn deadline(&self, pair: &Pair) -> Option<(Instant, &'static str)> {
        match &pair.target {
            Target::Up(t) if t.is_handshaking() => Some((
                pair.up_at.unwrap_or(pair.accepted) + HANDSHAKE_TIMEOUT,
                "TLS handshake timed out",
            )),
            _ => None,
        }
    }

    /// The client is not read before the target is up: its handshake's time counts from
    /// then.
    fn handshake_from(&self, pair: &Pair, _accepted: Instant) -> Option<Instant> {
        pair.up_at
    }

    fn closed(&mut self, mut pair: Pair, end: &Closed<'_>) {
        let ended = pair.ended.take().unwrap_or_else(|| Ended {
            why: end.why.unwrap_or("closed").to_string(),
            failed: end.reset,
        });
        let target = match (&pair.target_addr, &self.config.proxy) {
            (Some(addr), Some(plan)) => format!(
                "{}:{} via {} ({addr})",
                self.config.target_host,
                self.config.target_port,
                plan.url.redacted()
            ),
            (Some(addr), None) => addr.to_string(),
            (None, _) => self.config.target_host.clone(),
        };
        let line = format!(
            "{} → {target}: {} bytes up, {} down, {:.3} s, {}",
            end.peer,
            pair.up.bytes(),
            pair.down.bytes(),
            pair.accepted.elapsed().as_secs_f64(),
            ended.why
        );
        if ended.failed {
            eprintln!("nicksock: relay: {line}");
            if let Target::Up(t) = pair.target {
                transport::reset(t);
            }
        } else if self.config.verbose > 0 {
            eprintln!("{line}");
        }
    }
}
