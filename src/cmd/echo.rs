//! `echo [ADDR] PORT`: every byte back to its sender, for many clients at once on the one
//! event loop. A client that does not read stops being read (its buffer is bounded), so it
//! stalls no one and memory stays bounded; an idle client holds no buffer at all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::net::{TcpListener, UdpSocket};
use mio::{Interest, Token};
use slab::Slab;

use crate::cli::{EchoArgs, split_endpoint};
use crate::error::{self, Kind};
use crate::net::addr::{Family, bind_addrs};
use crate::net::event_loop::{Context, EventLoop, Flow, Handler, secs};
use crate::net::listener::{Proto, accept, bind_all, tcp_listeners};
use crate::net::transport::{Transport, would_block};
use crate::tls;

/// Bytes a client may have waiting to be echoed before we stop reading it.
const MAX_PENDING: usize = 64 * 1024;
/// A pending buffer that grew past this is freed once drained, so idle clients cost little.
const KEEP_CAPACITY: usize = 4 * 1024;
/// Time a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before accepting again when out of file descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Most listening sockets (one per address ADDR resolves to).
const MAX_LISTENERS: usize = 64;
/// Tokens at and above this are clients.
const CONN_BASE: usize = MAX_LISTENERS + 1;
/// Receive errors (reported ICMP errors) taken per event before waiting for the next one.
const MAX_ERRORS_PER_EVENT: usize = 64;
/// Token of the timer that retries accepting.
const ACCEPT_RETRY_TOKEN: Token = Token(MAX_LISTENERS);

/// Everything `echo` needs, checked before any socket is made.
pub struct Config {
    addrs: Vec<SocketAddr>,
    default_pair: bool,
    udp: bool,
    idle: Option<Duration>,
    max_conns: usize,
    tls: Option<Arc<rustls::ServerConfig>>,
    verbose: u8,
}

impl Config {
    /// Validates the command line and loads the certificate.
    pub fn from_args(args: EchoArgs, verbose: u8) -> Result<Self> {
        let (addr, port) = split_endpoint(&args.endpoint).unwrap_or_else(|e| e.exit());
        let tls = crate::cmd::listen::server_tls(&args.tls)?;
        if tls.is_some() && args.udp {
            return Err(error::fail(
                Kind::Runtime,
                "--tls works over TCP only, not with -u",
            ));
        }
        let mut addrs = bind_addrs(addr.as_deref(), port, Family::from(&args.family))?;
        addrs.truncate(MAX_LISTENERS);
        Ok(Config {
            addrs,
            default_pair: addr.is_none(),
            udp: args.udp,
            idle: args.idle_timeout.map(secs),
            max_conns: usize::try_from(args.max_conns).unwrap_or(usize::MAX),
            tls,
            verbose,
        })
    }
}

/// Runs `echo` until SIGINT or SIGTERM.
pub fn run(config: Config) -> Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let proto = if config.udp { Proto::Udp } else { Proto::Tcp };
    // Signals are caught before the ready line: a script may send SIGINT right after it.
    let mut ev = EventLoop::new()?;
    let sockets = bind_all(&config.addrs, proto, config.default_pair)?;
    if config.udp {
        let mut server = UdpEcho {
            sockets: sockets
                .into_iter()
                .map(|s| UdpSocket::from_std(s.into()))
                .collect(),
            buf: vec![0; 65_536],
        };
        for (i, s) in server.sockets.iter_mut().enumerate() {
            ev.registry().register(s, Token(i), Interest::READABLE)?;
        }
        return ev.run(&mut server);
    }
    let mut listeners = tcp_listeners(sockets);
    for (i, l) in listeners.iter_mut().enumerate() {
        ev.registry().register(l, Token(i), Interest::READABLE)?;
    }
    let mut server = TcpEcho {
        listeners,
        conns: Slab::new(),
        scratch: vec![0; MAX_PENDING],
        config: &config,
    };
    ev.run(&mut server)
}

/// One client.
struct Conn {
    sock: Transport,
    peer: SocketAddr,
    /// Received bytes not yet echoed, from `sent` on.
    pending: Vec<u8>,
    sent: usize,
    peer_eof: bool,
    accepted: Instant,
    last_activity: Instant,
    /// When this client's next deadline timer is due.
    timer_at: Option<Instant>,
}

/// What to do with a client after moving its bytes.
enum Next {
    Keep,
    Close,
}

impl Conn {
    /// Echoes what can be echoed without blocking.
    fn pump(&mut self, scratch: &mut [u8], now: Instant) -> std::io::Result<Next> {
        loop {
            let mut moved = self.write_pending()?;
            if !self.peer_eof && self.pending.len() < MAX_PENDING {
                let room = MAX_PENDING - self.pending.len();
                match self.sock.read(&mut scratch[..room]) {
                    Ok(0) => {
                        self.peer_eof = true;
                        moved = true;
                    }
                    Ok(n) => {
                        self.echo(&scratch[..n])?;
                        moved = true;
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            match self.sock.flush() {
                Err(e) if !would_block(&e) => return Err(e),
                _ => {}
            }
            if !moved {
                break;
            }
            self.last_activity = now;
        }
        if self.peer_eof && self.pending.is_empty() && !self.sock.wants_write() {
            let _ = self.sock.shutdown_write();
            return Ok(Next::Close);
        }
        Ok(Next::Keep)
    }

    /// Sends received bytes back, keeping what the socket does not take.
    fn echo(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.pending.is_empty() {
            match self.sock.write(data) {
                Ok(n) => self.pending.extend_from_slice(&data[n..]),
                Err(e) if would_block(&e) => self.pending.extend_from_slice(data),
                Err(e) => return Err(e),
            }
        } else {
            self.pending.extend_from_slice(data);
        }
        Ok(())
    }

    fn write_pending(&mut self) -> std::io::Result<bool> {
        let mut moved = false;
        while self.sent < self.pending.len() {
            match self.sock.write(&self.pending[self.sent..]) {
                Ok(n) => {
                    self.sent += n;
                    moved = true;
                }
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.pending.len() && self.sent > 0 {
            if self.pending.capacity() > KEEP_CAPACITY {
                self.pending = Vec::new();
            } else {
                self.pending.clear();
            }
            self.sent = 0;
        }
        Ok(moved)
    }

    /// The next moment this client must be looked at, if any.
    fn deadline(&self, idle: Option<Duration>) -> Option<Instant> {
        let handshake = self
            .sock
            .is_handshaking()
            .then(|| self.accepted + HANDSHAKE_TIMEOUT);
        let idle = idle.map(|d| self.last_activity + d);
        match (handshake, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

struct TcpEcho<'a> {
    listeners: Vec<TcpListener>,
    conns: Slab<Conn>,
    scratch: Vec<u8>,
    config: &'a Config,
}

impl TcpEcho<'_> {
    fn accept_all(&mut self, cx: &mut Context<'_>, listener: usize) {
        loop {
            let (stream, peer) = match accept(&self.listeners[listener]) {
                Ok(Some(got)) => got,
                Ok(None) => return,
                Err(e) => {
                    // Out of descriptors, say: the pending clients wait in the backlog.
                    eprintln!("nicksock: accepting a connection: {e}");
                    cx.timers.add(cx.now + ACCEPT_RETRY, ACCEPT_RETRY_TOKEN);
                    return;
                }
            };
            if self.conns.len() >= self.config.max_conns {
                if self.config.verbose > 0 {
                    eprintln!(
                        "refused {peer}: already serving {} clients",
                        self.conns.len()
                    );
                }
                continue;
            }
            if let Err(e) = self.add(cx, stream, peer) {
                eprintln!("nicksock: client {peer}: {e:#}");
            }
        }
    }

    fn add(
        &mut self,
        cx: &mut Context<'_>,
        stream: mio::net::TcpStream,
        peer: SocketAddr,
    ) -> Result<()> {
        let _ = stream.set_nodelay(true);
        let sock = match &self.config.tls {
            Some(server) => Transport::Tls(Box::new(tls::TlsStream::server(
                stream,
                Arc::clone(server),
            )?)),
            None => Transport::Plain(stream),
        };
        let entry = self.conns.vacant_entry();
        let token = Token(CONN_BASE + entry.key());
        let conn = entry.insert(Conn {
            sock,
            peer,
            pending: Vec::new(),
            sent: 0,
            peer_eof: false,
            accepted: cx.now,
            last_activity: cx.now,
            timer_at: None,
        });
        cx.registry
            .register(
                conn.sock.socket(),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .context("watching a client")?;
        if let Some(at) = conn.deadline(self.config.idle) {
            conn.timer_at = Some(at);
            cx.timers.add(at, token);
        }
        if self.config.verbose > 0 {
            eprintln!("connection from {peer}");
        }
        Ok(())
    }

    fn close(&mut self, cx: &mut Context<'_>, key: usize, why: Option<String>) {
        if let Some(mut conn) = self.conns.try_remove(key) {
            let _ = cx.registry.deregister(conn.sock.socket());
            if self.config.verbose > 0 {
                match why {
                    Some(why) => eprintln!("closed {}: {why}", conn.peer),
                    None => eprintln!("closed {}", conn.peer),
                }
            }
        }
    }
}

impl Handler for TcpEcho<'_> {
    fn on_event(&mut self, cx: &mut Context<'_>, event: &Event) -> Result<()> {
        let token = event.token().0;
        if token < self.listeners.len() {
            self.accept_all(cx, token);
            return Ok(());
        }
        let Some(key) = token.checked_sub(CONN_BASE) else {
            return Ok(());
        };
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        match conn.pump(&mut self.scratch, cx.now) {
            Ok(Next::Keep) => {}
            Ok(Next::Close) => self.close(cx, key, None),
            Err(e) => {
                let why = crate::net::relay::peer_error(e, "echoing");
                self.close(cx, key, Some(format!("{why:#}")));
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        if token == ACCEPT_RETRY_TOKEN {
            for i in 0..self.listeners.len() {
                self.accept_all(cx, i);
            }
            return Ok(());
        }
        let Some(key) = token.0.checked_sub(CONN_BASE) else {
            return Ok(());
        };
        let idle = self.config.idle;
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        if conn.timer_at.is_none_or(|at| at > cx.now) {
            return Ok(()); // a stale timer
        }
        conn.timer_at = None;
        match conn.deadline(idle) {
            Some(at) if at <= cx.now => {
                let why = if conn.sock.is_handshaking() {
                    "TLS handshake timed out"
                } else {
                    "idle timeout"
                };
                self.close(cx, key, Some(why.into()));
            }
            Some(at) => {
                conn.timer_at = Some(at);
                cx.timers.add(at, token);
            }
            None => {}
        }
        Ok(())
    }

    fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// The UDP echo: every datagram straight back to its sender.
struct UdpEcho {
    sockets: Vec<UdpSocket>,
    buf: Vec<u8>,
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
