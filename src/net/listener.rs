//! Server sockets: bound to every address asked for (both `::` and `0.0.0.0` by default, on
//! one port even when the port is 0), a deep backlog so bursts of clients are not dropped,
//! and the one "listening on" line per address that scripts wait for.

use std::io;
use std::net::SocketAddr;

use anyhow::Result;
use mio::event::Source;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::sock::{Remote, Stream, local_peer};

use crate::error::{Kind, fail};

/// Pending connections the kernel may hold per listener (the kernel caps it at somaxconn).
const BACKLOG: i32 = 4096;
/// Tries at finding one free port for both families when the port is 0.
const PORT_ZERO_TRIES: usize = 16;

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Stream sockets.
    Tcp,
    /// Datagram sockets.
    Udp,
}

/// Prints the ready line scripts wait for: `WORD ADDR` (`listening on 127.0.0.1:9000`),
/// followed by ` (label)` when `label` is not empty.
pub fn print_ready(word: &str, addr: impl std::fmt::Display, label: &str) {
    if label.is_empty() {
        eprintln!("{word} {addr}");
    } else {
        eprintln!("{word} {addr} ({label})");
    }
}

/// Binds a socket to every address in `addrs`. With `default_pair` (no ADDR given) an
/// address family the host lacks is skipped instead of failing. Prints the ready line for
/// each bound address.
pub fn bind_all(addrs: &[SocketAddr], proto: Proto, default_pair: bool) -> Result<Vec<Socket>> {
    bind_all_labeled(addrs, proto, default_pair, "")
}

/// [`bind_all`] for a server with more than one kind of port: a non-empty `label` follows
/// the address on each ready line (`listening on 127.0.0.1:9000 (line protocol)`), so the
/// address stays the word after `on`.
pub fn bind_all_labeled(
    addrs: &[SocketAddr],
    proto: Proto,
    default_pair: bool,
    label: &str,
) -> Result<Vec<Socket>> {
    let first_port_zero = addrs.first().is_some_and(|a| a.port() == 0);
    let tries = if first_port_zero && addrs.len() > 1 {
        PORT_ZERO_TRIES
    } else {
        1
    };
    let mut last_err = None;
    for _ in 0..tries {
        match bind_together(addrs, proto, default_pair) {
            Ok(sockets) => {
                for s in &sockets {
                    let local = local_addr(s)?;
                    let word = match proto {
                        Proto::Tcp => "listening on",
                        Proto::Udp => "bound on",
                    };
                    print_ready(word, local, label);
                }
                return Ok(sockets);
            }
            Err((err, retry)) => {
                last_err = Some(err);
                if !retry {
                    break;
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| fail(Kind::Bind, "no address to listen on")))
}

/// Binds all addresses on one port; on failure says whether another port-0 try may help.
fn bind_together(
    addrs: &[SocketAddr],
    proto: Proto,
    default_pair: bool,
) -> std::result::Result<Vec<Socket>, (anyhow::Error, bool)> {
    // A UDP server answers from the socket a datagram came to, so the default pair is one
    // dual-stack socket there (IPv4 senders appear as ::ffff:a.b.c.d).
    if proto == Proto::Udp && default_pair && addrs.len() == 2 {
        match bind_one(addrs[0], proto, true) {
            Ok(s) => return Ok(vec![s]),
            Err(e) if family_missing(&e) => return bind_together(&addrs[1..], proto, false),
            Err(e) => {
                let why = describe(&e);
                return Err((
                    fail(Kind::Bind, format!("cannot bind {}: {why}", addrs[0])),
                    false,
                ));
            }
        }
    }
    let mut sockets: Vec<Socket> = Vec::new();
    let mut port = None;
    for addr in addrs {
        let mut addr = *addr;
        if let Some(p) = port {
            addr.set_port(p);
        }
        match bind_one(addr, proto, false) {
            Ok(s) => {
                if port.is_none() {
                    port = Some(local_addr(&s).map_err(|e| (e, false))?.port());
                }
                sockets.push(s);
            }
            Err(e) if default_pair && family_missing(&e) => continue,
            Err(e) => {
                let retry = e.kind() == io::ErrorKind::AddrInUse && !sockets.is_empty();
                let why = describe(&e);
                return Err((
                    fail(Kind::Bind, format!("cannot listen on {addr}: {why}")),
                    retry,
                ));
            }
        }
    }
    if sockets.is_empty() {
        return Err((
            fail(Kind::Bind, "no address family available to listen on"),
            false,
        ));
    }
    Ok(sockets)
}

fn bind_one(addr: SocketAddr, proto: Proto, dual_stack: bool) -> io::Result<Socket> {
    let (ty, protocol) = match proto {
        Proto::Tcp => (Type::STREAM, Protocol::TCP),
        Proto::Udp => (Type::DGRAM, Protocol::UDP),
    };
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    // SO_REUSEADDR lets a restarted TCP server bind past TIME_WAIT; on UDP it would let two
    // servers share a port, so UDP goes without. Never SO_REUSEPORT.
    if proto == Proto::Tcp {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())?;
    if proto == Proto::Tcp {
        socket.listen(BACKLOG)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The host has no such address family (IPv6 disabled, say).
fn family_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(97 | 99)) // EAFNOSUPPORT, EADDRNOTAVAIL
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".into()
        }
        io::ErrorKind::AddrNotAvailable => "no such local address".into(),
        _ => e.to_string(),
    }
}

/// The address a socket is bound to.
pub fn local_addr(s: &Socket) -> Result<SocketAddr> {
    s.local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or_else(|| fail(Kind::Bind, "cannot read the bound address"))
}

/// A listening socket: TCP, or a Unix domain socket whose file goes when it is dropped.
#[derive(Debug)]
pub enum Listener {
    /// TCP on one address.
    Tcp(mio::net::TcpListener),
    /// A Unix domain socket (see [`super::unix`]).
    Unix(super::unix::UnixListener),
}

impl Listener {
    /// Accepts one pending connection: `None` when there is none. Errors that concern only
    /// the one client (it reset before we accepted it) are skipped.
    pub fn accept(&self) -> io::Result<Option<(Stream, Remote)>> {
        loop {
            let got = match self {
                Listener::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), Remote::Ip(a))),
                Listener::Unix(l) => l.sock.accept().map(|(s, _)| {
                    let peer = local_peer(&s);
                    (Stream::Unix(s), peer)
                }),
            };
            match got {
                Ok(got) => return Ok(Some(got)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The TCP address it listens on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(_) => None,
        }
    }
}

impl Source for Listener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(registry, token, interests),
            Listener::Unix(l) => l.sock.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(registry, token, interests),
            Listener::Unix(l) => l.sock.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(registry),
            Listener::Unix(l) => l.sock.deregister(registry),
        }
    }
}

/// The listeners as mio sockets.
pub fn tcp_listeners(sockets: Vec<Socket>) -> Vec<Listener> {
    sockets
        .into_iter()
        .map(|s| Listener::Tcp(mio::net::TcpListener::from_std(s.into())))
        .collect()
}
