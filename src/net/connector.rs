//! Connecting a client socket: every resolved address in turn (IPv6 then IPv4 for
//! `localhost`), an optional source address and port, a connect timeout, and `--retry-for`
//! to wait for a service that is still starting.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::addr::{Family, resolve};
use crate::error::{Kind, fail, io_kind};

/// First pause between `--retry-for` attempts; it doubles up to [`RETRY_MAX_PAUSE`].
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between `--retry-for` attempts.
const RETRY_MAX_PAUSE: Duration = Duration::from_millis(500);

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Address families to try.
    pub family: Family,
    /// Give up on each address after this long.
    pub timeout: Option<Duration>,
    /// Keep trying for this long.
    pub retry_for: Option<Duration>,
    /// Local address to connect from.
    pub source: Option<IpAddr>,
    /// Local port to connect from.
    pub source_port: Option<u16>,
    /// Say what happens on stderr.
    pub verbose: u8,
}

/// Resolves `host` and connects a TCP socket to the first address that accepts. The socket
/// is returned non-blocking.
pub fn connect_tcp(host: &str, port: u16, opts: &ConnectOptions) -> Result<(Socket, SocketAddr)> {
    let addrs = resolve(host, port, opts.family)?;
    if opts.verbose > 0 {
        let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        eprintln!("resolved {host} to {}", list.join(", "));
    }
    let deadline = opts.retry_for.map(|d| Instant::now() + d);
    let mut pause = RETRY_FIRST_PAUSE;
    loop {
        let err = match try_each(&addrs, opts) {
            Ok(found) => return Ok(found),
            Err(err) => err,
        };
        match deadline {
            Some(at) if Instant::now() + pause < at => {
                if opts.verbose > 1 {
                    eprintln!("retrying in {} ms", pause.as_millis());
                }
                thread::sleep(pause);
                pause = (pause * 2).min(RETRY_MAX_PAUSE);
            }
            _ => return Err(connect_error(host, port, &err, opts)),
        }
    }
}

fn try_each(addrs: &[SocketAddr], opts: &ConnectOptions) -> io::Result<(Socket, SocketAddr)> {
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no usable address");
    for &addr in addrs {
        if let Some(src) = opts.source
            && src.is_ipv4() != addr.is_ipv4()
        {
            continue;
        }
        match connect_one(addr, opts) {
            Ok(s) => {
                if opts.verbose > 0 {
                    eprintln!("connected to {addr}");
                }
                return Ok((s, addr));
            }
            Err(e) => {
                if opts.verbose > 0 {
                    eprintln!("connecting to {addr} failed: {}", describe(&e));
                }
                last = e;
            }
        }
    }
    Err(last)
}

fn connect_one(addr: SocketAddr, opts: &ConnectOptions) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    bind_source(&socket, addr, opts)?;
    match opts.timeout {
        Some(t) if t.is_zero() => return Err(io::ErrorKind::TimedOut.into()),
        Some(t) => socket.connect_timeout(&addr.into(), t)?,
        None => socket.connect(&addr.into())?,
    }
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
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

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}

fn connect_error(host: &str, port: u16, e: &io::Error, opts: &ConnectOptions) -> anyhow::Error {
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
    let addrs = resolve(host, port, opts.family)?;
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
    Err(connect_error(host, port, &last, opts))
}
