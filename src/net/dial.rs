//! The one dialer of `connect`, `http-get` and `relay`: resolve → connect (Happy Eyeballs,
//! `--retry-for`, a Unix server's full backlog: [`Dialer`]) → the proxy's handshake, when
//! there is a proxy → the connection, on which the caller starts TLS to the target
//! ([`transport::tls_over`]).
//!
//! Every step is a state machine on the event loop: `-w` covers the proxy's answer too,
//! SIGINT ends any step, and `relay` runs one [`Connection`] per client side by side. The
//! proxy's own protocol (HTTP CONNECT, SOCKS 4/4a/5/5h) is the sans-I/O `crate::proxy`;
//! this module moves its bytes. It never reads a byte past the proxy's reply, so the first
//! bytes of a target that speaks first (an SSH server) stay in the socket for the session.

use std::borrow::Cow;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::event::Event;
use mio::{Interest, Token};

use super::addr::parse_ip;
use super::connector::{Addr, ConnectOptions, DialTokens, Dialer, Resolver, connect_error};
use super::event_loop::{Context, EventLoop, Flow, Handler, Signal};
use super::trace;
use super::transport::{self, Transport, describe, failure};
use crate::error::{Kind, fail};
use crate::http::client::DEFAULT_USER_AGENT;
use crate::proxy::{self, Handshake, ProxyUrl, Status};
use crate::tls::TlsError;

/// Tokens of the attempts of the one connection of `connect` and `http-get`.
const ATTEMPT_BASE: usize = 1000;
/// Its timer.
const DIAL_TIMER: Token = Token(999);
/// The connection itself once made (the proxy's handshake).
const CONN_TOKEN: Token = Token(998);
/// The most bytes of the proxy's reply read at once (its reply's parts are short).
const READ_CHUNK: usize = 512;
/// How long a proxy may take to answer its handshake when `-w` does not say: a silent
/// proxy never holds a connection (or a relay's client) for ever.
pub const PROXY_ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Where to connect.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A host name or address, and a port.
    Tcp { host: String, port: u16 },
    /// A Unix socket's path (no proxy goes there).
    Unix(PathBuf),
}

/// A proxy to go through, ready to use: its URL and, for an `https://` proxy, the TLS
/// configuration that verifies it.
pub struct ProxyPlan {
    pub url: ProxyUrl,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ProxyPlan {
    /// Whether the proxy is asked to resolve the target's name.
    fn resolves(&self) -> bool {
        self.url.scheme.proxy_resolves()
    }

    /// The secrets sent to the proxy (its password, its Basic credentials), masked in
    /// `--trace`.
    pub fn secrets(&self) -> Vec<Vec<u8>> {
        self.url.credentials.as_ref().map_or_else(Vec::new, |c| {
            crate::http::basic_secrets(c.user.as_bytes(), c.password.as_bytes())
        })
    }
}

/// How a connection goes through a proxy.
#[derive(Clone, Copy)]
pub struct Via<'a> {
    pub plan: &'a ProxyPlan,
    /// Ask the proxy for a tunnel (CONNECT, SOCKS); `false`: only connect to the proxy
    /// (`http-get` sends an `http://` URL's request to an HTTP proxy as it is).
    pub tunnel: bool,
}

/// The target as the proxy's handshake names it.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Its address when we resolved it (SOCKS4 and SOCKS5 without `h`).
    pub address: Option<IpAddr>,
}

/// Where one connection stands.
enum Stage {
    Connecting(Dialer),
    /// Connected to the proxy; its handshake under way. The dialer stays for a new round
    /// when the proxy could not reach the target and `--retry-for` lasts.
    Proxy {
        dialer: Dialer,
        transport: Transport,
        handshake: Box<Handshake>,
        addr: Addr,
        /// `-w` (or [`PROXY_ANSWER_WAIT`]): when the proxy must have answered.
        ends: Instant,
    },
    Done,
}

/// One connection being made, through a proxy or not, as a state machine its owner drives
/// from the loop (see [`Dialer`]).
pub struct Connection {
    stage: Stage,
    /// The proxy, the target it is asked for, and whether a tunnel is asked for.
    proxy: Option<(Arc<ProxyPlan>, Target, bool)>,
    /// What the messages call the target.
    shown: Shown,
    tokens: DialTokens,
    /// The token the connection is watched under once made (the handshake's reads).
    conn_token: Token,
}

/// What errors name.
#[derive(Clone)]
enum Shown {
    Tcp(String, u16),
    Unix(PathBuf),
    /// Through a proxy: its URL (redacted) and the target.
    Proxy(String, String),
}

impl Connection {
    /// Starts dialing `addrs` (the target's, or the proxy's when `via` is given) now.
    pub fn new(
        addrs: Vec<Addr>,
        endpoint: &Endpoint,
        via: Option<(Arc<ProxyPlan>, Target, bool)>,
        opts: &ConnectOptions,
        tokens: DialTokens,
        conn_token: Token,
    ) -> Self {
        let shown = match (&via, endpoint) {
            (Some((plan, target, _)), _) => {
                Shown::Proxy(plan.url.redacted(), authority(&target.host, target.port))
            }
            (None, Endpoint::Tcp { host, port }) => Shown::Tcp(host.clone(), *port),
            (None, Endpoint::Unix(path)) => Shown::Unix(path.clone()),
        };
        Connection {
            stage: Stage::Connecting(Dialer::new(addrs, opts, tokens)),
            proxy: via,
            shown,
            tokens,
            conn_token,
        }
    }

    /// A readiness event: whether `token` is one of this connection's.
    pub fn on_ready(&mut self, token: Token) -> bool {
        match &mut self.stage {
            Stage::Connecting(d) => d.on_ready(token),
            Stage::Proxy { .. } => token == self.conn_token,
            Stage::Done => false,
        }
    }

    /// Whether the last try found a Unix server's backlog full and another waits.
    pub fn backlogged(&self) -> bool {
        matches!(&self.stage, Stage::Connecting(d) if d.backlogged())
    }

    /// Moves on: `Ok(Some(..))` connected (and through the proxy), the socket registered
    /// under the connection's token for reading and writing; `Ok(None)` not yet; `Err` the
    /// failure, in the user's words, with its exit code.
    pub fn poll(
        &mut self,
        cx: &mut Context<'_>,
        opts: &ConnectOptions,
    ) -> Result<Option<(Transport, Addr)>> {
        loop {
            match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Connecting(mut dialer) => {
                    let (mut sock, addr) = match dialer.poll(cx, opts) {
                        Ok(Some(won)) => won,
                        Ok(None) => {
                            self.stage = Stage::Connecting(dialer);
                            return Ok(None);
                        }
                        Err(e) => return Err(self.connect_error(&e, opts)),
                    };
                    cx.registry
                        .reregister(
                            &mut sock,
                            self.conn_token,
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .map_err(|e| failure(e, "watching the connection"))?;
                    let Some((plan, target, tunnel)) = &self.proxy else {
                        let transport = transport::connected(sock, None)
                            .map_err(|e| failure(e, "setting up the connection"))?;
                        return Ok(Some((transport, addr)));
                    };
                    // TLS to an `https://` proxy first: the handshake runs inside it.
                    let transport = match &plan.tls {
                        Some(config) => {
                            let name = proxy_name(&plan.url).map_err(|e| fail(Kind::Usage, e))?;
                            transport::connected(sock, Some((config, &name)))
                        }
                        None => transport::connected(sock, None),
                    }
                    .map_err(|e| failure(e, "starting TLS with the proxy"))?;
                    if !tunnel {
                        // Only connected to (an `http://` URL's request goes to an HTTP
                        // proxy as it is).
                        return Ok(Some((transport, addr)));
                    }
                    let handshake = Handshake::new(
                        &plan.url,
                        &target.host,
                        target.port,
                        target.address,
                        DEFAULT_USER_AGENT,
                    )
                    .map_err(proxy_error)?;
                    if trace::enabled() {
                        trace::note(&format!("proxy handshake with {}", plan.url.redacted()));
                    }
                    let ends = dialer
                        .round_ends()
                        .unwrap_or(cx.now + opts.timeout.unwrap_or(PROXY_ANSWER_WAIT));
                    cx.timers.add(ends, self.tokens.timer);
                    self.stage = Stage::Proxy {
                        dialer,
                        transport,
                        handshake: Box::new(handshake),
                        addr,
                        ends,
                    };
                }
                Stage::Proxy {
                    mut dialer,
                    mut transport,
                    mut handshake,
                    addr,
                    ends,
                } => {
                    let plan = match &self.proxy {
                        Some((plan, ..)) => Arc::clone(plan),
                        None => {
                            return Err(fail(Kind::Runtime, "a proxy handshake without a proxy"));
                        }
                    };
                    let step = drive(&mut transport, &mut handshake, &plan);
                    if opts.verbose > 0 {
                        for note in handshake.take_notes() {
                            eprintln!("proxy: {note}");
                        }
                    }
                    match step {
                        Ok(true) => {
                            if trace::enabled() {
                                trace::note("proxy tunnel open: the target's bytes follow");
                            }
                            return Ok(Some((transport, addr)));
                        }
                        Ok(false) if cx.now >= ends => {
                            transport::reset(transport);
                            let limit = match opts.timeout {
                                Some(t) => format!("within -w {} s", t.as_secs_f64()),
                                None => format!(
                                    "in {} s (-w sets the limit)",
                                    PROXY_ANSWER_WAIT.as_secs()
                                ),
                            };
                            return Err(fail(
                                Kind::Timeout,
                                format!("the proxy {} did not answer {limit}", plan.url.redacted()),
                            ));
                        }
                        Ok(false) => {
                            self.stage = Stage::Proxy {
                                dialer,
                                transport,
                                handshake,
                                addr,
                                ends,
                            };
                            return Ok(None);
                        }
                        Err(Failed::Proxy(e)) if e.kind() == Kind::Refused => {
                            // The target is not there (yet): `--retry-for` tries again.
                            let _ = cx.registry.deregister(transport.socket());
                            let io =
                                io::Error::new(io::ErrorKind::ConnectionRefused, e.to_string());
                            if dialer.failed_after(cx, opts, io).is_err() {
                                return Err(proxy_error(e));
                            }
                            self.stage = Stage::Connecting(dialer);
                        }
                        Err(Failed::Proxy(e)) => return Err(proxy_error(e)),
                        Err(Failed::Io(e)) => {
                            let url = plan.url.redacted();
                            return Err(if e.get_ref().is_some_and(|i| i.is::<TlsError>()) {
                                failure(e, &format!("TLS with the proxy {url}"))
                            } else {
                                failure(e, &format!("talking to the proxy {url}"))
                            });
                        }
                    }
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    /// Closes what is in flight.
    pub fn cancel(&mut self, registry: &mio::Registry) {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Connecting(mut d) => d.cancel(registry),
            Stage::Proxy {
                mut dialer,
                mut transport,
                ..
            } => {
                dialer.cancel(registry);
                let _ = registry.deregister(transport.socket());
            }
            Stage::Done => {}
        }
    }

    fn connect_error(&self, e: &io::Error, opts: &ConnectOptions) -> anyhow::Error {
        match &self.shown {
            Shown::Tcp(host, port) => connect_error(host, *port, e, opts),
            Shown::Unix(path) => super::unix::connect_error(path, e, opts),
            Shown::Proxy(url, target) => {
                let kind = match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Kind::Timeout,
                    _ => crate::error::io_kind(e),
                };
                fail(
                    kind,
                    format!(
                        "connecting to the proxy {url} (for {target}): {}",
                        describe(e)
                    ),
                )
            }
        }
    }
}

/// How a handshake step failed.
enum Failed {
    Proxy(proxy::Error),
    Io(io::Error),
}

/// Sends what the handshake has to send and reads the proxy's reply, never a byte past it:
/// `Ok(true)` once the tunnel is open.
fn drive(t: &mut Transport, hs: &mut Handshake, plan: &ProxyPlan) -> Result<bool, Failed> {
    let secrets = if trace::enabled() {
        plan.secrets()
    } else {
        Vec::new()
    };
    let mut buf = [0u8; READ_CHUNK];
    loop {
        while !hs.output().is_empty() {
            let out = hs.output();
            let shown = mask(out, &secrets);
            match t.write_masked(out, &shown) {
                Ok(n) => hs.sent(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(Failed::Io(e)),
            }
        }
        match t.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(Failed::Io(e)),
            _ => {}
        }
        let limit = hs.read_limit().min(READ_CHUNK);
        if limit == 0 {
            return Ok(false);
        }
        match t.read(&mut buf[..limit]) {
            Ok(0) => return Err(Failed::Proxy(hs.closed())),
            Ok(n) => match hs.input(&buf[..n]) {
                Ok(Status::Done) => return Ok(true),
                Ok(Status::Continue) => {}
                Err(e) => return Err(Failed::Proxy(e)),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(Failed::Io(e)),
        }
    }
}

/// `data` with every secret in it masked by as many `*` (a trace shows the same length).
/// A partial write may have split a secret: the end of one at the start of `data`, or the
/// start of one at its end, is masked too.
pub fn mask<'a>(data: &'a [u8], secrets: &[Vec<u8>]) -> Cow<'a, [u8]> {
    let mut out = Cow::Borrowed(data);
    for secret in secrets {
        let mut at = 0;
        while let Some(i) = out[at..]
            .windows(secret.len())
            .position(|w| w == secret.as_slice())
        {
            let start = at + i;
            out.to_mut()[start..start + secret.len()].fill(b'*');
            at = start + secret.len();
        }
        let longest = secret.len().saturating_sub(1).min(data.len());
        if let Some(n) = (1..=longest)
            .rev()
            .find(|&n| data.starts_with(&secret[secret.len() - n..]))
        {
            out.to_mut()[..n].fill(b'*');
        }
        if let Some(n) = (1..=longest).rev().find(|&n| data.ends_with(&secret[..n])) {
            let len = data.len();
            out.to_mut()[len - n..].fill(b'*');
        }
    }
    out
}

/// The target's address to send a proxy that does not resolve names: the first the
/// resolver gave, or for SOCKS4 (IPv4 only) the first IPv4 one.
pub fn target_address(scheme: proxy::Scheme, found: &[SocketAddr]) -> Option<IpAddr> {
    let usable = |a: &&SocketAddr| scheme != proxy::Scheme::Socks4 || a.is_ipv4();
    found
        .iter()
        .find(usable)
        .or(found.first())
        .map(SocketAddr::ip)
}

/// A proxy's failure as the user reads it, with its exit code.
fn proxy_error(e: proxy::Error) -> anyhow::Error {
    fail(e.kind(), e.to_string())
}

/// `host:port`, an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    match parse_ip(host) {
        Some(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

/// The name an `https://` proxy's certificate must carry.
fn proxy_name(url: &ProxyUrl) -> Result<rustls::pki_types::ServerName<'static>, String> {
    crate::tls::server_name(&url.host).map_err(|e| format!("{e:#}"))
}

/// The connection of `connect` and `http-get`, made on `ev`, with its deadlines and
/// SIGINT: the name resolved (the target's, when the client resolves it for the proxy, then
/// the proxy's or the target's), the connection made, the proxy's handshake done. The
/// socket is registered nowhere.
pub fn connect(
    ev: &mut EventLoop,
    endpoint: &Endpoint,
    pinned: Option<Vec<SocketAddr>>,
    opts: &ConnectOptions,
    via: Option<Via<'_>>,
    plan: Option<Arc<ProxyPlan>>,
) -> Result<(Transport, Addr)> {
    let tokens = DialTokens {
        attempts: ATTEMPT_BASE,
        max_attempts: MAX_ATTEMPTS,
        timer: DIAL_TIMER,
    };
    let tunnel = via.map(|v| v.tunnel);
    let waker = ev.waker()?;
    let dial = Dial::start(
        waker, endpoint, pinned, opts, tunnel, plan, tokens, CONN_TOKEN,
    )?;
    let mut client = Client { dial, won: None };
    let result = ev.run(&mut client);
    client.dial.cancel(ev.registry());
    result?;
    client
        .won
        .ok_or_else(|| fail(Kind::Interrupted, "stopped while connecting"))
}

/// Addresses tried per round at most, each under its own token.
const MAX_ATTEMPTS: usize = 64;

/// How many tokens a [`Dial`] takes: its attempts, its timer and its connection's.
pub const DIAL_TOKENS: usize = MAX_ATTEMPTS + 2;

/// One connection being made as [`connect`] makes it (the names resolved, the connection,
/// the proxy's handshake), as a state machine whose owner drives it from a loop that runs
/// other things too (`http-get -Z`): tokens from `base` to `base + DIAL_TOKENS`.
pub struct Dial {
    endpoint: Endpoint,
    opts: ConnectOptions,
    /// Through a proxy (`plan`): whether a tunnel is asked for.
    tunnel: Option<bool>,
    plan: Option<Arc<ProxyPlan>>,
    pinned: Option<Vec<SocketAddr>>,
    /// The target's name, when we resolve it for a SOCKS4 or SOCKS5 proxy.
    target_resolver: Option<(Resolver, bool)>,
    target_address: Option<IpAddr>,
    /// The name to connect to: the proxy's or the target's.
    resolver: Option<(Resolver, String, bool)>,
    conn: Option<Connection>,
    tokens: DialTokens,
    conn_token: Token,
}

impl Dial {
    /// Starts: the lookups begin (their threads wake the loop with `waker`), a Unix socket's connect
    /// at the first [`poll`](Self::poll).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        waker: Arc<mio::Waker>,
        endpoint: &Endpoint,
        pinned: Option<Vec<SocketAddr>>,
        opts: &ConnectOptions,
        tunnel: Option<bool>,
        plan: Option<Arc<ProxyPlan>>,
        tokens: DialTokens,
        conn_token: Token,
    ) -> Result<Dial> {
        let mut dial = Dial {
            endpoint: endpoint.clone(),
            opts: opts.clone(),
            tunnel: tunnel.filter(|_| plan.is_some()),
            plan,
            pinned,
            target_resolver: None,
            target_address: None,
            resolver: None,
            conn: None,
            tokens,
            conn_token,
        };
        let family = dial.opts.family;
        match (&dial.endpoint, dial.tunnel, dial.plan.clone()) {
            (Endpoint::Unix(path), _, _) => {
                let addrs = vec![Addr::Unix(path.clone())];
                dial.conn = Some(dial.connection(addrs));
            }
            (Endpoint::Tcp { host, port }, Some(tunnel), Some(plan)) => {
                if tunnel && !plan.resolves() {
                    let resolver = match dial.pinned.take() {
                        Some(addrs) => Resolver::Ready(Ok(addrs)),
                        None => Resolver::start_with(Some(waker.clone()), host, *port, family)?,
                    };
                    let looked_up = matches!(resolver, Resolver::Waiting { .. });
                    dial.target_resolver = Some((resolver, looked_up));
                }
                let url = &plan.url;
                let resolver = Resolver::start_with(Some(waker), &url.host, url.port, family)?;
                let looked_up = matches!(resolver, Resolver::Waiting { .. });
                dial.resolver = Some((resolver, url.host.clone(), looked_up));
            }
            (Endpoint::Tcp { host, port }, _, _) => {
                let resolver = match dial.pinned.take() {
                    Some(addrs) => Resolver::Ready(Ok(addrs)),
                    None => Resolver::start_with(Some(waker), host, *port, family)?,
                };
                let looked_up = matches!(resolver, Resolver::Waiting { .. });
                dial.resolver = Some((resolver, host.clone(), looked_up));
            }
        }
        Ok(dial)
    }

    fn connection(&self, addrs: Vec<Addr>) -> Connection {
        let via = match (self.tunnel, &self.endpoint, &self.plan) {
            (Some(tunnel), Endpoint::Tcp { host, port }, Some(plan)) => Some((
                Arc::clone(plan),
                Target {
                    host: host.clone(),
                    port: *port,
                    address: self.target_address,
                },
                tunnel,
            )),
            _ => None,
        };
        Connection::new(
            addrs,
            &self.endpoint,
            via,
            &self.opts,
            self.tokens,
            self.conn_token,
        )
    }

    /// A readiness event for one of its tokens.
    pub fn on_event(&mut self, token: Token) {
        if let Some(c) = &mut self.conn {
            c.on_ready(token);
        }
    }

    /// Moves it on: the connection once made (taken off the loop), else None.
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Result<Option<(Transport, Addr)>> {
        if let Some((resolver, looked_up)) = &mut self.target_resolver {
            let Some(found) = resolver.poll() else {
                return Ok(None);
            };
            let found = found?;
            let first = self
                .plan
                .as_ref()
                .and_then(|plan| target_address(plan.url.scheme, &found));
            if self.opts.verbose > 0
                && *looked_up
                && let (Endpoint::Tcp { host, .. }, Some(ip)) = (&self.endpoint, first)
            {
                eprintln!("resolved {host} to {ip} (for the proxy)");
            }
            self.target_address = first;
            self.target_resolver = None;
        }
        if let Some((resolver, name, looked_up)) = &mut self.resolver {
            let Some(found) = resolver.poll() else {
                return Ok(None);
            };
            let found = found?;
            if self.opts.verbose > 0 && *looked_up {
                let list: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                eprintln!("resolved {name} to {}", list.join(", "));
            }
            self.resolver = None;
            self.conn = Some(self.connection(found.into_iter().map(Addr::Ip).collect()));
        }
        let Some(conn) = &mut self.conn else {
            return Ok(None);
        };
        let Some((mut transport, addr)) = conn.poll(cx, &self.opts)? else {
            return Ok(None);
        };
        let _ = cx.registry.deregister(transport.socket());
        Ok(Some((transport, addr)))
    }

    /// Gives up: the attempts' sockets closed and off the loop.
    pub fn cancel(&mut self, registry: &mio::Registry) {
        if let Some(c) = &mut self.conn {
            c.cancel(registry);
        }
    }
}

/// The loop handler of [`connect`].
struct Client {
    dial: Dial,
    won: Option<(Transport, Addr)>,
}

impl Handler for Client {
    fn on_event(&mut self, _cx: &mut Context<'_>, event: &Event) -> Result<()> {
        self.dial.on_event(event.token());
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        match self.dial.poll(cx)? {
            Some(won) => {
                self.won = Some(won);
                Ok(Flow::Stop)
            }
            None => Ok(Flow::Continue),
        }
    }

    fn on_signal(&mut self, _cx: &mut Context<'_>, _signal: Signal) -> Result<Flow> {
        // A client that was not connected yet has nothing to finish: both signals end it.
        Err(fail(Kind::Interrupted, "interrupted while connecting"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Socket, Type};
    use std::time::Duration;

    #[test]
    fn secrets_are_masked_to_the_same_length() {
        let secrets = vec![b"s3cret".to_vec()];
        let shown = mask(b"user s3cret and s3cret", &secrets);
        assert_eq!(&*shown, b"user ****** and ******");
        assert!(matches!(mask(b"nothing", &secrets), Cow::Borrowed(_)));
        // A write that split the secret: each piece is masked.
        assert_eq!(&*mask(b"user s3c", &secrets), b"user ***");
        assert_eq!(&*mask(b"ret and", &secrets), b"*** and");
    }

    #[test]
    fn socks4_is_sent_the_first_ipv4_address() {
        let found = [a("[::1]:22"), a("127.0.0.1:22")];
        let v4 = target_address(proxy::Scheme::Socks4, &found);
        assert_eq!(v4, Some("127.0.0.1".parse().unwrap()));
        let first = target_address(proxy::Scheme::Socks5, &found);
        assert_eq!(first, Some("::1".parse().unwrap()));
    }

    #[test]
    fn authorities_bracket_ipv6() {
        assert_eq!(authority("::1", 22), "[::1]:22");
        assert_eq!(authority("example.org", 443), "example.org:443");
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A listener whose backlog is full: SYNs to it go unanswered, like a host that is down
    /// (all on loopback).
    fn black_hole(addr: &str) -> (std::net::TcpListener, Vec<Socket>, SocketAddr) {
        let sock = Socket::new(Domain::for_address(a(addr)), Type::STREAM, None).unwrap();
        sock.bind(&a(addr).into()).unwrap();
        sock.listen(0).unwrap();
        let l: std::net::TcpListener = sock.into();
        let at = l.local_addr().unwrap();
        // Fill the queue; then the kernel drops further SYNs.
        let fillers = (0..3)
            .map(|_| {
                let s = Socket::new(Domain::for_address(at), Type::STREAM, None).unwrap();
                s.set_nonblocking(true).unwrap();
                let _ = s.connect(&at.into());
                s
            })
            .collect();
        (l, fillers, at)
    }

    #[test]
    fn happy_eyeballs_wins_with_the_address_that_answers() {
        let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
            // The one switch of the integration tests (tests/integration/util.rs), here.
            assert!(
                std::env::var_os("NICKSOCK_REQUIRE_PEERS").is_none_or(|v| v != "1"),
                "no IPv6 loopback (NICKSOCK_REQUIRE_PEERS=1: no skipping)"
            );
            eprintln!("SKIP: no IPv6 loopback");
            return;
        };
        drop(probe);
        let (_hole, _fillers, silent) = black_hole("[::1]:0");
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let answering = live.local_addr().unwrap();
        let mut ev = EventLoop::new().unwrap();
        let started = Instant::now();
        let endpoint = Endpoint::Tcp {
            host: "both".into(),
            port: 0,
        };
        let pinned = Some(vec![silent, answering]);
        let (_sock, addr) = connect(
            &mut ev,
            &endpoint,
            pinned,
            &ConnectOptions::default(),
            None,
            None,
        )
        .unwrap();
        let took = started.elapsed();
        assert_eq!(addr, Addr::Ip(answering));
        // The second attempt starts 250 ms after the first, which never answers.
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn a_round_that_hangs_ends_at_the_connect_timeout() {
        let (_hole, _fillers, silent) = black_hole("127.0.0.1:0");
        let mut ev = EventLoop::new().unwrap();
        let opts = ConnectOptions {
            timeout: Some(Duration::from_millis(300)),
            ..ConnectOptions::default()
        };
        let started = Instant::now();
        let endpoint = Endpoint::Tcp {
            host: "silent".into(),
            port: silent.port(),
        };
        let Err(err) = connect(&mut ev, &endpoint, Some(vec![silent]), &opts, None, None) else {
            panic!("a silent address connected");
        };
        assert_eq!(crate::error::exit_code(&err), 5, "{err:#}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
