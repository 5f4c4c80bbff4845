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

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::{Interest, Token};

use crate::cli::{RelayArgs, usage_error};
use crate::net::addr::{Family, bind_addrs};
use crate::net::bridge::{Direction, Failure};
use crate::net::connector::{ConnectOptions, DialTokens, Dialer, connect_error, resolve_on_loop};
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
/// First pause before trying a full backlog again; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
/// Longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_millis(500);
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
        Ok(Config {
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
    let targets = match &config.unix_out {
        Some(_) => Vec::new(),
        None => resolve_on_loop(
            &mut ev,
            &config.target_host,
            config.target_port,
            config.family,
        )?,
    };
    if config.verbose > 0 && config.unix_out.is_none() {
        let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
        eprintln!("target {} is {}", config.target_host, list.join(", "));
    }
    let unix_in = config.unix_in.as_deref();
    let listeners = server::listen_at(unix_in, &config.addrs, config.default_pair, "")?;
    let group = Group {
        listeners,
        tls: config.tls_in.clone(),
        idle: config.idle,
        max_conns: config.max_conns,
    };
    let (verbose, grace) = (config.verbose, config.grace);
    let relay = Relay {
        config,
        targets,
        scratch: vec![0; crate::net::bridge::BUFFER],
    };
    Server::new(relay, vec![group], verbose)
        .with_grace(grace)
        .run(ev)
}

/// The relay: a service on the server core whose connections are pairs.
struct Relay {
    config: Config,
    targets: Vec<SocketAddr>,
    /// The one read buffer every pair's copying shares.
    scratch: Vec<u8>,
}

/// Where a pair's target connection stands.
enum Target {
    /// Not started yet: the pair's first turn starts it.
    Waiting,
    Dialing(Dialer),
    Up(Transport),
    /// Connecting failed at once (a Unix socket): the pair ends with this.
    Failed(anyhow::Error),
    /// The Unix target's backlog is full: try again at `next`, until `until`.
    Backlogged {
        next: Instant,
        pause: Duration,
        until: Instant,
    },
}

/// One client's own connection to the target (the client is the server's link).
struct Pair {
    target: Target,
    target_addr: Option<SocketAddr>,
    /// Client → target.
    up: Direction,
    /// Target → client.
    down: Direction,
    accepted: Instant,
    /// When the target connection was made.
    up_at: Option<Instant>,
    /// When the backlog retry timer is set for.
    retry_at: Option<Instant>,
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
        targets: &[SocketAddr],
        scratch: &mut [u8],
    ) -> Option<Ended> {
        let now = cx.now;
        if let Some(closed) = link.take_wake() {
            self.up.wake(closed);
        }
        if matches!(self.target, Target::Waiting) {
            self.start(cx, link, config, targets, now);
        }
        if let (Target::Backlogged { next, pause, until }, Some(path)) =
            (&self.target, &config.unix_out)
            && now >= *next
        {
            let (pause, until) = (*pause, *until);
            self.dial_unix(
                cx,
                link.token(TARGET_SLOT),
                config,
                path,
                now,
                pause * 2,
                until,
            );
        }
        if let Target::Failed(err) = &self.target {
            return Some(Ended::failed(err));
        }
        if let Target::Dialing(d) = &mut self.target {
            match d.poll(cx, &config.dial) {
                Ok(None) => {}
                Ok(Some((sock, addr))) => {
                    let tls = config.tls_out.as_ref().map(|(c, n)| (c, n));
                    let mut t = match transport::connected(sock, tls) {
                        Ok(t) => t,
                        Err(e) => {
                            return Some(Ended::failed(
                                &anyhow::Error::new(e).context("starting TLS"),
                            ));
                        }
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
                Err(e) => {
                    let err =
                        connect_error(&config.target_host, config.target_port, &e, &config.dial);
                    return Some(Ended::failed(&err));
                }
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
        if let Target::Backlogged { next, .. } = self.target
            && self.retry_at != Some(next)
        {
            cx.timers.add(next, link.token(TIMER_SLOT));
            self.retry_at = Some(next);
        }
        None
    }

    /// Starts the connection to the target: dialing on the loop, or (a Unix socket) made,
    /// refused or waiting for room in the backlog at once.
    fn start(
        &mut self,
        cx: &mut Context<'_>,
        link: &Link,
        config: &Config,
        targets: &[SocketAddr],
        now: Instant,
    ) {
        let Some(path) = &config.unix_out else {
            let first = link.token(0).0;
            let tokens = DialTokens {
                attempts: first + FIRST_ATTEMPT_SLOT,
                max_attempts: TIMER_SLOT - FIRST_ATTEMPT_SLOT,
                timer: link.token(TIMER_SLOT),
            };
            self.target = Target::Dialing(Dialer::new(targets.to_vec(), &config.dial, tokens));
            return;
        };
        let until = now + config.dial.timeout.unwrap_or(BACKLOG_WAIT);
        self.dial_unix(
            cx,
            link.token(TARGET_SLOT),
            config,
            path,
            now,
            FIRST_PAUSE,
            until,
        );
        if config.verbose > 0 && matches!(self.target, Target::Backlogged { .. }) {
            let wait = until.saturating_duration_since(now).as_secs_f64();
            eprintln!(
                "{}: the target's backlog is full: trying again for up to {wait} s",
                link.peer()
            );
        }
    }

    /// Tries the Unix target at `path` (see [`unix_target`]), watched with `token`.
    #[allow(clippy::too_many_arguments)]
    fn dial_unix(
        &mut self,
        cx: &mut Context<'_>,
        token: Token,
        config: &Config,
        path: &std::path::Path,
        now: Instant,
        pause: Duration,
        until: Instant,
    ) {
        self.target = unix_target(config, cx, path, token, now, pause, until);
        if matches!(self.target, Target::Up(_)) {
            self.up_at = Some(now);
        }
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
            retry_at: None,
            ended: None,
        }
    }

    fn pump(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        pair: &mut Pair,
    ) -> std::io::Result<Next> {
        let Some(ended) = pair.step(cx, link, &self.config, &self.targets, &mut self.scratch)
        else {
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
            (TARGET_SLOT, _) => pair.down.wake(event.is_read_closed()),
            (_, Target::Dialing(d)) => {
                d.on_ready(event.token());
            }
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
        let target = pair
            .target_addr
            .map_or_else(|| self.config.target_host.clone(), |a| a.to_string());
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

/// Connects to the target on the Unix socket `path`, TLS started, watched with `token`:
/// up, failed, or waiting for room in the server's full backlog (`pause` before the next
/// try, giving up at `until`).
fn unix_target(
    config: &Config,
    cx: &mut Context<'_>,
    path: &std::path::Path,
    token: Token,
    now: Instant,
    pause: Duration,
    until: Instant,
) -> Target {
    match unix::connect_now(path) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && now < until => {
            let pause = pause.min(MAX_PAUSE);
            Target::Backlogged {
                next: (now + pause).min(until),
                pause,
                until,
            }
        }
        Err(e) => Target::Failed(unix::connect_error(path, &e, &config.dial)),
        Ok(sock) => match start_target(config, cx, sock, token) {
            Ok(t) => Target::Up(t),
            Err(err) => Target::Failed(err),
        },
    }
}

/// Starts TLS (when asked) on a target's socket and watches it.
fn start_target(
    config: &Config,
    cx: &mut Context<'_>,
    sock: crate::sock::Stream,
    token: Token,
) -> Result<Transport> {
    let tls = config.tls_out.as_ref().map(|(c, n)| (c, n));
    let mut t = transport::connected(sock, tls).context("starting TLS")?;
    cx.registry
        .register(t.socket(), token, Interest::READABLE | Interest::WRITABLE)
        .context("watching the target")?;
    Ok(t)
}
