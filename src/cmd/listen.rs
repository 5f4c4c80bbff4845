//! `listen [ADDR] PORT`: like `nc -l` — accept a peer, stdin to it, it to stdout; `-k` to
//! serve one client after another.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use mio::Interest;
use mio::Token;
use mio::event::Event;

use crate::cli::ListenArgs;
use crate::error::{self, Kind};
use crate::net::EventLoop;
use crate::net::event_loop::{Context, Flow, Handler};
use crate::net::listener::{Listener, Proto, bind_all};
use crate::net::session::{Session, SessionRules};
use crate::net::stdin::StdinSource;
use crate::net::stdout::Stdout;
use crate::net::udp::{Datagrams, Peer};
use crate::sock::{Remote, Stream};

/// Tokens of the listening sockets (the session's own tokens are small).
const LISTENER_BASE: usize = 100;

/// Everything `listen` needs, checked before any socket is made.
pub struct Config {
    addrs: Vec<SocketAddr>,
    /// `-U PATH`: a Unix socket instead of `addrs`.
    unix: Option<PathBuf>,
    default_pair: bool,
    rules: SessionRules,
    udp: bool,
    keep_open: bool,
    max_conns: Option<u32>,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// `--chat` or `--broker`: a room for many clients instead of one session.
    room: Option<super::chat::Mode>,
    idle: Option<std::time::Duration>,
    /// `--exec`/`--sh-exec`: a program for each client.
    program: Option<crate::net::exec::Program>,
    max_children: u32,
    /// `-u --join`: multicast groups to hear, and `--iface`.
    join: Vec<std::net::IpAddr>,
    iface: Option<crate::net::group::Iface>,
    /// `--allow`/`--deny`.
    access: Option<crate::net::access::Access>,
    verbose: u8,
}

impl Config {
    /// Validates the command line and loads the certificate.
    pub fn from_args(args: ListenArgs, verbose: u8) -> Result<Self> {
        let tls = super::server_tls(&args.tls, args.session.udp)?;
        let (addrs, default_pair) =
            super::server_endpoint("listen", &args.endpoint, args.unix.as_deref(), &args.family)?;
        Ok(Config {
            addrs,
            unix: args.unix,
            default_pair,
            rules: crate::net::session::SessionRules {
                // With -k, stdin is one stream the clients share in turn (DESIGN.md §2).
                shared_stdin: args.keep_open,
                grace: Some(args.grace.period()),
                ..args.session.rules(verbose)
            },
            udp: args.session.udp,
            keep_open: args.keep_open,
            max_conns: args.max_conns,
            tls,
            room: match (args.chat, args.broker) {
                (true, _) => Some(super::chat::Mode::Chat),
                (false, true) => Some(super::chat::Mode::Broker),
                (false, false) => None,
            },
            idle: args.session.idle_timeout.map(crate::net::event_loop::secs),
            access: super::access("listen", &args.access)?,
            program: args.exec.program("listen")?,
            max_children: args.max_children,
            join: {
                crate::net::group::check_groups(&args.join)
                    .map_err(|e| crate::cli::usage_error("listen", e))?;
                args.join
            },
            iface: args
                .iface
                .as_deref()
                .map(crate::net::group::Iface::named)
                .transpose()?,
            verbose,
        })
    }
}

/// Runs `listen`.
pub fn run(config: Config) -> Result<()> {
    if let Some(mode) = config.room {
        let ev = EventLoop::new()?;
        let listeners = listeners(&config)?;
        let grace = config.rules.grace.unwrap_or_default();
        let settings = super::chat::Settings {
            tls: config.tls,
            idle: config.idle,
            grace,
            access: config.access.clone(),
            verbose: config.verbose,
        };
        return super::chat::run(mode, ev, listeners, settings);
    }
    // Signals are caught before the ready line: a script may send SIGINT right after it.
    let mut ev = EventLoop::new()?;
    if let Some(program) = config.program.clone() {
        let listeners = listeners(&config)?;
        let settings = super::exec::Settings {
            program,
            clients: if config.keep_open {
                config.max_conns
            } else {
                Some(1)
            },
            max_children: usize::try_from(config.max_children).unwrap_or(usize::MAX),
            tls: config.tls,
            idle: config.idle,
            grace: config.rules.grace.unwrap_or_default(),
            access: config.access.clone(),
            verbose: config.verbose,
        };
        return super::exec::run(ev, listeners, settings);
    }
    if !config.udp {
        let listeners = listeners(&config)?;
        return serve_streams(ev, listeners, &config);
    }
    let sockets = match config.join.first() {
        Some(&group) => {
            let port = config.addrs.first().map_or(0, SocketAddr::port);
            let bind = match config.addrs.first() {
                Some(&addr) if !config.default_pair => {
                    if addr.is_ipv4() != group.is_ipv4() {
                        return Err(crate::cli::usage_error(
                            "listen",
                            format!(
                                "--join {group}: {} is of the other address family",
                                addr.ip()
                            ),
                        )
                        .into());
                    }
                    addr
                }
                _ => crate::net::group::wildcard_for(group, port),
            };
            vec![crate::net::group::member(
                bind,
                &config.join,
                config.iface.as_ref(),
            )?]
        }
        None => bind_all(&config.addrs, Proto::Udp, config.default_pair)?,
    };
    let mut stdin = StdinSource::open(&mut ev, config.rules.recv_only, false, false)?;
    let mut out = Stdout::open()?;
    let socket = sockets
        .into_iter()
        .next()
        .ok_or_else(|| error::fail(Kind::Bind, "no socket bound"))?;
    let sock = mio::net::UdpSocket::from_std(socket.into());
    let peer = if config.keep_open {
        Peer::LastSender(None)
    } else {
        Peer::FirstSender
    };
    let mut session = Datagrams::new(
        ev.registry(),
        sock,
        peer,
        &config.rules,
        &mut stdin,
        &mut out,
    )?
    .with_access(config.access.clone());
    ev.run(&mut session)
}

/// The stream listeners: TCP on the addresses, or the Unix socket.
fn listeners(config: &Config) -> Result<Vec<Listener>> {
    let unix = config.unix.as_deref();
    crate::net::server::listen_at(unix, &config.addrs, config.default_pair, "")
}

/// Serves one stream client after another (`-k`), or just one. SIGTERM while waiting
/// stops at once (exit 0); during a session, that session may finish within the grace
/// period and is the last.
fn serve_streams(mut ev: EventLoop, mut listeners: Vec<Listener>, config: &Config) -> Result<()> {
    let mut stdin =
        StdinSource::open(&mut ev, config.rules.recv_only, false, config.tls.is_none())?;
    let mut out = Stdout::open()?;
    for (i, l) in listeners.iter_mut().enumerate() {
        ev.registry()
            .register(l, Token(LISTENER_BASE + i), Interest::READABLE)?;
    }
    let mut buf = Vec::new();
    let (mut served, mut failed) = (0u32, 0u32);
    // A -k server goes on after a client's failure, but its exit says that one failed.
    let outcome = |served: u32, failed: u32| -> Result<()> {
        if failed == 0 {
            return Ok(());
        }
        Err(error::fail(
            Kind::Runtime,
            format!(
                "{failed} of {served} clients may not have received all of stdin they took (each \
                 said why above)"
            ),
        ))
    };
    loop {
        let mut accept = AcceptOne {
            listeners: &listeners,
            access: config.access.as_ref(),
            verbose: config.rules.verbose,
            got: None,
        };
        ev.run(&mut accept)?;
        let Some((stream, peer)) = accept.got else {
            return outcome(served, failed);
        };
        if config.rules.verbose > 0 {
            eprintln!("connection from {peer}");
        }
        let (result, end) = serve(&mut ev, stream, config, &mut stdin, &mut out, &mut buf);
        let terminated = end.terminated;
        served += 1;
        match result {
            Ok(()) => {}
            Err(err) if !config.keep_open || terminated || is_fatal(&err) => return Err(err),
            Err(err) => {
                eprintln!("nicksock: client {peer}: {err:#}");
                // Bytes of stdin it took may not have arrived: the exit will say so. (A
                // client that failed before taking any, a port scan say, lost nothing.)
                if end.took_stdin {
                    failed += 1;
                }
            }
        }
        // SIGTERM during a session: that session was the last.
        if terminated || !config.keep_open || config.max_conns.is_some_and(|max| served >= max) {
            return outcome(served, failed);
        }
    }
}

/// Errors that end a `-k` server instead of only the session.
fn is_fatal(err: &anyhow::Error) -> bool {
    let code = error::exit_code(err);
    error::is_broken_stdout(err) || code == Kind::Interrupted.code()
}

fn serve(
    ev: &mut EventLoop,
    stream: Stream,
    config: &Config,
    stdin: &mut StdinSource,
    out: &mut Stdout,
    buf: &mut Vec<u8>,
) -> (Result<()>, SessionEnd) {
    let mut end = SessionEnd::default();
    let transport = match crate::net::transport::accepted(stream, config.tls.as_ref()) {
        Ok(t) => t,
        Err(e) => return (Err(e.into()), end),
    };
    let mut session = match Session::new(ev.registry(), transport, &config.rules, stdin, out, buf) {
        Ok(s) => s,
        Err(e) => return (Err(e), end),
    };
    let result = ev.run(&mut session);
    end.terminated = session.terminated();
    end.took_stdin = session.sent() > 0;
    session.finish(ev.registry());
    (result, end)
}

/// How a session ended, besides its result.
#[derive(Debug, Default)]
struct SessionEnd {
    /// SIGTERM came during it.
    terminated: bool,
    /// It took bytes of stdin.
    took_stdin: bool,
}

/// Waits for one client on any listener.
struct AcceptOne<'a> {
    listeners: &'a [Listener],
    /// `--allow`/`--deny`: others are closed as they come.
    access: Option<&'a crate::net::access::Access>,
    verbose: u8,
    got: Option<(Stream, Remote)>,
}

impl Handler for AcceptOne<'_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
        for l in self.listeners {
            match l.accept() {
                Ok(Some((_, peer))) if self.access.is_some_and(|a| !a.permits(&peer)) => {
                    if self.verbose > 0 {
                        eprintln!("refused {peer}: not allowed (--allow/--deny)");
                    }
                }
                Ok(Some(got)) => {
                    self.got = Some(got);
                    return Ok(Flow::Stop);
                }
                Ok(None) => {}
                Err(e) => eprintln!("nicksock: accepting a connection: {e}"),
            }
        }
        Ok(Flow::Continue)
    }
}
