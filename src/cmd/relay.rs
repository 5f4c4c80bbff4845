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
use mio::event::Event;
use mio::{Interest, Token};
use slab::Slab;

use crate::cli::{RelayArgs, usage_error};
use crate::error::{Kind, fail};
use crate::net::acceptor::{Acceptor, FIRST_FREE_TOKEN, MAX_LISTENERS};
use crate::net::addr::{Family, bind_addrs};
use crate::net::bridge::{Direction, Failure};
use crate::net::connector::{ConnectOptions, DialTokens, Dialer, connect_error, resolve_on_loop};
use crate::net::event_loop::{Context, EventLoop, Flow, Handler, Signal, secs};
use crate::net::server;
use crate::net::transport::{self, Transport, describe};
use crate::net::unix;
use crate::tls;

/// Token of the SIGTERM grace period's end.
const GRACE_TOKEN: Token = Token(FIRST_FREE_TOKEN);
/// Pairs' tokens start here, [`SLOTS`] per pair.
const PAIR_BASE: usize = 128;
/// Tokens per pair: the client, the target, the dial attempts, the pair's timer.
const SLOTS: usize = 8;
const CLIENT_SLOT: usize = 0;
const TARGET_SLOT: usize = 1;
const FIRST_ATTEMPT_SLOT: usize = 2;
const TIMER_SLOT: usize = SLOTS - 1;
/// How long a client waits for room in a Unix target's full backlog without `-w`.
const BACKLOG_WAIT: Duration = Duration::from_secs(10);
/// First pause before trying a full backlog again; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
/// Longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_millis(500);
/// Time a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
            let config = tls::config::client_config(&opts)?;
            if args.insecure {
                eprintln!("{}", tls::config::INSECURE_WARNING);
            }
            let name = args.to_servername.as_deref().unwrap_or(&tls_name);
            Some((config, tls::config::server_name(name)?))
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
    let mut acceptor = Acceptor::new(vec![listeners], "relay: ");
    // Every pair holds two sockets and, plain to plain, two pipes.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    acceptor.register(ev.registry())?;
    let mut relay = Relay {
        config: &config,
        targets,
        acceptor,
        pairs: Slab::new(),
        scratch: vec![0; crate::net::bridge::BUFFER],
        draining_until: None,
    };
    let result = ev.run(&mut relay);
    let left = relay.pairs.len();
    for pair in relay.pairs.drain() {
        pair.reset();
    }
    result?;
    if left > 0 {
        // Their bytes in flight were lost: not a clean stop.
        return Err(fail(
            Kind::Runtime,
            format!("relay: stopped with {left} sessions unfinished (they were reset)"),
        ));
    }
    Ok(())
}

/// The relay on the loop: listeners and pairs.
struct Relay<'a> {
    config: &'a Config,
    targets: Vec<SocketAddr>,
    acceptor: Acceptor,
    pairs: Slab<Pair>,
    /// The one read buffer every pair's copying shares.
    scratch: Vec<u8>,
    /// SIGTERM came: no more clients; sessions may finish until then.
    draining_until: Option<Instant>,
}

/// Where a pair's target connection stands.
enum Target {
    Dialing(Dialer),
    Up(Transport),
    /// Connecting failed at once (a Unix socket): the pair ends with this.
    Failed(String),
    /// The Unix target's backlog is full: try again at `next`, until `until`.
    Backlogged {
        next: Instant,
        pause: Duration,
        until: Instant,
    },
}

/// One client and its own connection to the target.
struct Pair {
    client: Transport,
    client_addr: crate::sock::Remote,
    target: Target,
    target_addr: Option<SocketAddr>,
    /// Client → target.
    up: Direction,
    /// Target → client.
    down: Direction,
    accepted: Instant,
    /// When the target connection was made.
    up_at: Option<Instant>,
    last_activity: Instant,
    /// When the pair's timer is next due.
    timer_at: Option<Instant>,
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
}

impl Pair {
    fn tokens(key: usize) -> DialTokens {
        DialTokens {
            attempts: PAIR_BASE + key * SLOTS + FIRST_ATTEMPT_SLOT,
            max_attempts: TIMER_SLOT - FIRST_ATTEMPT_SLOT,
            timer: Token(PAIR_BASE + key * SLOTS + TIMER_SLOT),
        }
    }

    /// Closes both sides with a reset: the bytes in flight are lost, and both peers learn it.
    fn reset(self) {
        transport::reset(self.client);
        if let Target::Up(t) = self.target {
            transport::reset(t);
        }
    }

    /// Moves the pair on: `Some` when it is over.
    fn step(
        &mut self,
        cx: &mut Context<'_>,
        key: usize,
        config: &Config,
        scratch: &mut [u8],
    ) -> Option<Ended> {
        let now = Instant::now();
        if let (Target::Backlogged { next, pause, until }, Some(path)) =
            (&self.target, &config.unix_out)
            && now >= *next
        {
            let (pause, until) = (*pause, *until);
            self.target = unix_target(config, cx, path, key, now, pause * 2, until);
            if matches!(self.target, Target::Up(_)) {
                self.up_at = Some(now);
            }
        }
        if let Target::Failed(why) = &self.target {
            return Some(Ended::failure(why.clone()));
        }
        if let Target::Dialing(d) = &mut self.target {
            match d.poll(cx, &config.dial) {
                Ok(None) => {}
                Ok(Some((sock, addr))) => {
                    let tls = config.tls_out.as_ref().map(|(c, n)| (c, n));
                    let mut t = match transport::connected(sock, tls) {
                        Ok(t) => t,
                        Err(e) => return Some(Ended::failure(format!("starting TLS: {e}"))),
                    };
                    let token = Token(PAIR_BASE + key * SLOTS + TARGET_SLOT);
                    if let Err(e) = cx.registry.reregister(
                        t.socket(),
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        return Some(Ended::failure(format!("watching the target: {e}")));
                    }
                    self.target = Target::Up(t);
                    self.target_addr = Some(addr);
                    self.up_at = Some(now);
                    self.last_activity = now;
                }
                Err(e) => {
                    let err =
                        connect_error(&config.target_host, config.target_port, &e, &config.dial);
                    return Some(Ended::failure(format!("{err:#}")));
                }
            }
        }
        if let Target::Up(target) = &mut self.target {
            loop {
                // A handshake finishing is progress too: bytes held back for it can go now.
                let handshakes = (self.client.is_handshaking(), target.is_handshaking());
                let up = self.up.pump(&mut self.client, target, scratch);
                let down = self.down.pump(target, &mut self.client, scratch);
                let turned = handshakes != (self.client.is_handshaking(), target.is_handshaking());
                let moved = match (up, down) {
                    (Ok(a), Ok(b)) => a || b || turned,
                    (Err(f), _) => return Some(failure(f, "client", "target")),
                    (_, Err(f)) => return Some(failure(f, "target", "client")),
                };
                if !moved {
                    break;
                }
                self.last_activity = now;
            }
            if self.up.is_done()
                && self.down.is_done()
                && !self.client.wants_write()
                && !target.wants_write()
            {
                return Some(Ended {
                    why: "both sides ended".into(),
                    failed: false,
                });
            }
        }
        // Both handshakes run once the target is up (the client is not read before): their
        // time counts from then.
        let handshake = match &self.target {
            Target::Up(t) if self.client.is_handshaking() || t.is_handshaking() => Some((
                self.up_at.unwrap_or(self.accepted) + HANDSHAKE_TIMEOUT,
                "TLS handshake timed out",
            )),
            _ => None,
        };
        let idle = config
            .idle
            .map(|d| (self.last_activity + d, "idle timeout"));
        let due = [handshake, idle]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at);
        if let Some((at, why)) = due
            && now >= at
        {
            return Some(Ended::failure(why));
        }
        let retry = match &self.target {
            Target::Backlogged { next, .. } => Some(*next),
            _ => None,
        };
        if let Some(at) = [due.map(|(at, _)| at), retry].into_iter().flatten().min()
            && self.timer_at.is_none_or(|t| t > at || t <= now)
        {
            let token = Token(PAIR_BASE + key * SLOTS + TIMER_SLOT);
            if let Some(old) = self.timer_at.replace(at) {
                cx.timers.cancel(old, token);
            }
            cx.timers.add(at, token);
        }
        None
    }
}

/// The words for a failed direction `from → to`.
fn failure(f: Failure, from: &str, to: &str) -> Ended {
    match f {
        Failure::Source(e) => Ended::failure(format!("{from}: {}", describe(&e))),
        Failure::Destination(e) => Ended::failure(format!("{to}: {}", describe(&e))),
    }
}

impl Relay<'_> {
    fn accept_all(&mut self, cx: &mut Context<'_>, index: usize) {
        while let Some(client) = self.acceptor.next(cx, index) {
            let peer = client.peer;
            if self.pairs.len() >= self.config.max_conns {
                if self.config.verbose > 0 {
                    eprintln!(
                        "refused {peer}: already relaying {} clients",
                        self.pairs.len()
                    );
                }
                continue;
            }
            if let Err(e) = self.add(cx, client.stream, peer) {
                eprintln!("nicksock: relay: client {peer}: {e:#}");
            }
        }
    }

    fn add(
        &mut self,
        cx: &mut Context<'_>,
        stream: crate::sock::Stream,
        peer: crate::sock::Remote,
    ) -> Result<()> {
        let mut client = transport::accepted(stream, self.config.tls_in.as_ref())?;
        let entry = self.pairs.vacant_entry();
        let key = entry.key();
        cx.registry.register(
            client.socket(),
            Token(PAIR_BASE + key * SLOTS + CLIENT_SLOT),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let now = Instant::now();
        let (target, up_at) = match &self.config.unix_out {
            // A Unix connect is made or refused at once (or finds the backlog full): no
            // dialing on the loop.
            Some(path) => {
                let until = now + self.config.dial.timeout.unwrap_or(BACKLOG_WAIT);
                let target = unix_target(self.config, cx, path, key, now, FIRST_PAUSE, until);
                if self.config.verbose > 0 && matches!(target, Target::Backlogged { .. }) {
                    let wait = until.saturating_duration_since(now).as_secs_f64();
                    eprintln!(
                        "{peer}: the target's backlog is full: trying again for up to {wait} s"
                    );
                }
                let up = matches!(target, Target::Up(_)).then_some(now);
                (target, up)
            }
            None => {
                let tokens = Pair::tokens(key);
                let dialer = Dialer::new(self.targets.clone(), &self.config.dial, tokens);
                (Target::Dialing(dialer), None)
            }
        };
        entry.insert(Pair {
            client,
            client_addr: peer,
            target,
            target_addr: None,
            up: Direction::default(),
            down: Direction::default(),
            accepted: now,
            up_at,
            last_activity: now,
            timer_at: None,
        });
        self.serve(cx, key);
        Ok(())
    }

    /// Moves pair `key` on and closes it when it is over.
    fn serve(&mut self, cx: &mut Context<'_>, key: usize) {
        let Some(pair) = self.pairs.get_mut(key) else {
            return;
        };
        let Some(ended) = pair.step(cx, key, self.config, &mut self.scratch) else {
            return;
        };
        let pair = self.pairs.remove(key);
        // Its deadline is of no use now; a flood of short sessions would pile them up.
        if let Some(at) = pair.timer_at {
            cx.timers
                .cancel(at, Token(PAIR_BASE + key * SLOTS + TIMER_SLOT));
        }
        let target = pair
            .target_addr
            .map_or_else(|| self.config.target_host.clone(), |a| a.to_string());
        let line = format!(
            "{} → {target}: {} bytes up, {} down, {:.3} s, {}",
            pair.client_addr,
            pair.up.bytes(),
            pair.down.bytes(),
            pair.accepted.elapsed().as_secs_f64(),
            ended.why
        );
        if ended.failed {
            eprintln!("nicksock: relay: {line}");
            pair.reset();
        } else {
            if self.config.verbose > 0 {
                eprintln!("{line}");
            }
            // A normal close: dropping the sockets closes them, which also takes them out
            // of the poll set.
            drop(pair);
        }
    }
}

/// Connects pair `key`'s target on the Unix socket `path`, TLS started, on the loop: up,
/// failed, or waiting for room in the server's full backlog (`pause` before the next try,
/// giving up at `until`).
fn unix_target(
    config: &Config,
    cx: &mut Context<'_>,
    path: &std::path::Path,
    key: usize,
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
        Err(e) => Target::Failed(format!("{:#}", unix::connect_error(path, &e, &config.dial))),
        Ok(sock) => match start_target(config, cx, sock, key) {
            Ok(t) => Target::Up(t),
            Err(why) => Target::Failed(why),
        },
    }
}

/// Starts TLS (when asked) on a target's socket and watches it.
fn start_target(
    config: &Config,
    cx: &mut Context<'_>,
    sock: crate::sock::Stream,
    key: usize,
) -> Result<Transport, String> {
    let tls = config.tls_out.as_ref().map(|(c, n)| (c, n));
    let mut t = transport::connected(sock, tls).map_err(|e| format!("starting TLS: {e}"))?;
    cx.registry
        .register(
            t.socket(),
            Token(PAIR_BASE + key * SLOTS + TARGET_SLOT),
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|e| format!("watching the target: {e}"))?;
    Ok(t)
}

impl Handler for Relay<'_> {
    fn on_event(&mut self, cx: &mut Context<'_>, event: &Event) -> Result<()> {
        let t = event.token().0;
        if let Some(index) = self.acceptor.listener(event.token()) {
            self.accept_all(cx, index);
        } else if t >= PAIR_BASE {
            let (key, slot) = ((t - PAIR_BASE) / SLOTS, (t - PAIR_BASE) % SLOTS);
            if let Some(pair) = self.pairs.get_mut(key) {
                match (slot, &mut pair.target) {
                    (CLIENT_SLOT, _) => pair.up.wake(event.is_read_closed()),
                    (TARGET_SLOT, _) => pair.down.wake(event.is_read_closed()),
                    (_, Target::Dialing(d)) => {
                        d.on_ready(event.token());
                    }
                    _ => {}
                }
            }
            self.serve(cx, key);
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        if let Some(listeners) = self.acceptor.retry(token) {
            for i in listeners {
                self.accept_all(cx, i);
            }
            return Ok(());
        }
        match token {
            GRACE_TOKEN => {}
            Token(t) if t >= PAIR_BASE => {
                let key = (t - PAIR_BASE) / SLOTS;
                // The slot is shared with the dialer: only the pair's own due timer clears.
                if let Some(pair) = self.pairs.get_mut(key)
                    && pair.timer_at.is_some_and(|at| Instant::now() >= at)
                {
                    pair.timer_at = None;
                }
                self.serve(cx, key);
            }
            _ => {}
        }
        Ok(())
    }

    fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
        match self.draining_until {
            Some(at) if self.pairs.is_empty() || Instant::now() >= at => Ok(Flow::Stop),
            _ => Ok(Flow::Continue),
        }
    }

    fn on_signal(&mut self, cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        match signal {
            Signal::Interrupt => Err(fail(Kind::Interrupted, "interrupted")),
            // A second SIGTERM does not wait for the grace period.
            Signal::Terminate if self.draining_until.is_some() => Ok(Flow::Stop),
            Signal::Terminate => {
                // No more clients; the sessions in flight get the grace period.
                self.acceptor.close(cx.registry);
                if self.config.verbose > 0 {
                    eprintln!(
                        "stopping: no new clients; {} sessions may finish within {} s",
                        self.pairs.len(),
                        self.config.grace.as_secs_f64()
                    );
                }
                let at = Instant::now() + self.config.grace;
                self.draining_until = Some(at);
                cx.timers.add(at, GRACE_TOKEN);
                Ok(Flow::Continue)
            }
        }
    }
}
