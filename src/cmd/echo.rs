//! `echo [ADDR] PORT`: every byte back to its sender, for many clients at once on the one
//! event loop. A client that does not read stops being read (its buffer is bounded), so it
//! stalls no one and memory stays bounded; an idle client holds no buffer at all.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::event::Event;
use mio::net::UdpSocket;
use mio::{Interest, Token};

use crate::cli::EchoArgs;
use crate::net::event_loop::{Context, EventLoop, Flow, Handler, secs};
use crate::net::listener::{Proto, bind_all};
use crate::net::server::{
    self, Exchange, Group, Link, MAX_LISTENERS, Next, Outbox, Server, Service,
};
use crate::net::transport::would_block;

/// Bytes a client may have waiting to be echoed before we stop reading it.
const MAX_PENDING: usize = 64 * 1024;
/// Receive errors (reported ICMP errors) taken per event before waiting for the next one.
const MAX_ERRORS_PER_EVENT: usize = 64;

/// Everything `echo` needs, checked before any socket is made.
pub struct Config {
    addrs: Vec<SocketAddr>,
    /// `-U PATH`: a Unix socket instead of `addrs`.
    unix: Option<PathBuf>,
    default_pair: bool,
    udp: bool,
    idle: Option<Duration>,
    max_conns: usize,
    grace: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    access: Option<crate::net::access::Access>,
    verbose: u8,
}

impl Config {
    /// Validates the command line and loads the certificate.
    pub fn from_args(args: EchoArgs, verbose: u8) -> Result<Self> {
        let tls = crate::cmd::server_tls(&args.tls, args.udp)?;
        let (mut addrs, default_pair) = crate::cmd::server_endpoint(
            "echo",
            &args.endpoint,
            args.unix.as_deref(),
            &args.family,
        )?;
        addrs.truncate(MAX_LISTENERS);
        Ok(Config {
            addrs,
            unix: args.unix,
            default_pair,
            udp: args.udp,
            idle: args.idle_timeout.map(secs),
            max_conns: usize::try_from(args.max_conns).unwrap_or(usize::MAX),
            grace: args.grace.period(),
            tls,
            access: crate::cmd::access("echo", &args.access)?,
            verbose,
        })
    }
}

/// Runs `echo` until SIGINT or SIGTERM.
pub fn run(config: Config) -> Result<()> {
    if config.udp {
        return run_udp(&config);
    }
    let ev = EventLoop::new()?;
    let group = Group {
        listeners: server::listen_at(
            config.unix.as_deref(),
            &config.addrs,
            config.default_pair,
            "",
        )?,
        tls: config.tls,
        idle: config.idle,
        max_conns: config.max_conns,
    };
    let echo = Echo {
        scratch: vec![0; MAX_PENDING],
    };
    Server::new(echo, vec![group], config.verbose)
        .with_access(config.access.clone())
        .with_grace(config.grace)
        .run(ev)
}

fn run_udp(config: &Config) -> Result<()> {
    let mut ev = EventLoop::new()?;
    let sockets = bind_all(&config.addrs, Proto::Udp, config.default_pair)?;
    let mut server = UdpEcho {
        sockets: sockets
            .into_iter()
            .map(|s| UdpSocket::from_std(s.into()))
            .collect(),
        buf: vec![0; 65_536],
        access: config.access.clone(),
    };
    for (i, s) in server.sockets.iter_mut().enumerate() {
        ev.registry().register(s, Token(i), Interest::READABLE)?;
    }
    ev.run(&mut server)
}

/// The TCP echo service; `scratch` is the one read buffer all clients share.
struct Echo {
    scratch: Vec<u8>,
}

/// One client: the received bytes not yet echoed back.
#[derive(Default)]
struct EchoConn {
    out: Outbox,
    peer_eof: bool,
}

impl Service for Echo {
    type Conn = EchoConn;
    const DOING: &'static str = "echoing";

    fn open(&mut self, _group: usize, _now: Instant) -> EchoConn {
        EchoConn::default()
    }

    /// Echoes what can be echoed without blocking.
    fn pump(
        &mut self,
        _cx: &mut Context<'_>,
        link: &mut Link,
        conn: &mut EchoConn,
    ) -> io::Result<Next> {
        server::exchange(link, conn, &mut (), &mut self.scratch)
    }

    /// Stopping, a client is finished once it has everything it sent back.
    fn may_stop(&self, conn: &EchoConn) -> bool {
        conn.out.is_empty()
    }
}

impl Exchange for EchoConn {
    type App = ();

    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn room(&self) -> usize {
        if self.peer_eof {
            0
        } else {
            MAX_PENDING.saturating_sub(self.out.pending())
        }
    }

    /// Straight back, queued only when the socket does not take it all.
    fn received(&mut self, link: &mut Link, data: &[u8]) -> io::Result<()> {
        self.out.send(link, data)
    }

    fn ended(&mut self) {
        self.peer_eof = true;
    }

    fn is_finished(&self) -> bool {
        self.peer_eof
    }
}

/// The UDP echo: every datagram straight back to its sender.
struct UdpEcho {
    sockets: Vec<UdpSocket>,
    buf: Vec<u8>,
    /// `--allow`/`--deny`: datagrams from others are dropped unanswered.
    access: Option<crate::net::access::Access>,
}

impl Handler for UdpEcho {
    fn on_event(&mut self, _cx: &mut Context<'_>, event: &Event) -> Result<()> {
        let Some(sock) = self.sockets.get(event.token().0) else {
            return Ok(());
        };
        let mut errors = 0;
        while errors < MAX_ERRORS_PER_EVENT {
            match sock.recv_from(&mut self.buf) {
                // A datagram that cannot go back at once is dropped, as UDP may.
                Ok((_, from))
                    if self
                        .access
                        .as_ref()
                        .is_some_and(|a| !a.permits_ip(from.ip())) => {}
                Ok((n, from)) => {
                    let _ = sock.send_to(&self.buf[..n], from);
                }
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // An ICMP error about an earlier reply concerns only that sender.
                Err(_) => errors += 1,
            }
        }
        Ok(())
    }

    fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}
