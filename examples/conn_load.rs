//! Load generator for short connections (scripts/bench/relay.sh): CONCURRENCY connections at
//! a time on one mio loop, each connecting, sending a 64-byte message, reading it back in
//! full and closing, then replaced by a new one, for SECONDS. Prints completed connections
//! per second and failures (refused, reset, or a wrong answer).
//!
//! Through a proxy (scripts/bench/proxy_server.sh), each connection first opens a tunnel
//! to TARGET (an echo server): `socks5` (no authentication, CONNECT to an IPv4 address,
//! one step after the other) or `connect` (HTTP CONNECT). With `hold`, it opens N tunnels,
//! prints "holding N" once all are open, and keeps them idle until stdin closes.
//!
//! usage: conn_load ADDR CONCURRENCY SECONDS [socks5|connect TARGET]
//!        conn_load ADDR N hold socks5|connect TARGET

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Bytes each way per connection.
const MESSAGE: usize = 64;

struct Conn {
    sock: TcpStream,
    sent: usize,
    got: usize,
    /// The tunnel's handshake: the stage, what of its request went out, what of its reply
    /// came.
    stage: usize,
    hs_sent: usize,
    hs_got: Vec<u8>,
}

/// What a tunnel's handshake waits for after each request.
#[derive(Clone, Copy)]
enum Expect {
    /// This many bytes, the second of which must be `ok`.
    Bytes(usize, u8),
    /// An HTTP head whose status is 200.
    Head,
}

/// The requests and replies that open a tunnel to `target` (none without a proxy).
fn handshake(proto: Option<&str>, target: SocketAddr) -> Vec<(Vec<u8>, Expect)> {
    match proto {
        None => Vec::new(),
        Some("socks5") => {
            let SocketAddr::V4(t) = target else {
                panic!("socks5 here takes an IPv4 target");
            };
            let mut req = vec![5, 1, 0, 1];
            req.extend_from_slice(&t.ip().octets());
            req.extend_from_slice(&t.port().to_be_bytes());
            vec![
                (vec![5, 1, 0], Expect::Bytes(2, 0)),
                (req, Expect::Bytes(10, 0)),
            ]
        }
        Some("connect") => vec![(
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").into_bytes(),
            Expect::Head,
        )],
        Some(other) => panic!("unknown proxy protocol {other}"),
    }
}

/// Moves a tunnel's handshake on: `Ok(true)` once it is done.
fn shake(c: &mut Conn, hs: &[(Vec<u8>, Expect)]) -> io::Result<bool> {
    while let Some((req, expect)) = hs.get(c.stage) {
        while c.hs_sent < req.len() {
            match c.sock.write(&req[c.hs_sent..]) {
                Ok(n) => c.hs_sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let mut byte = [0u8; 1];
        loop {
            let done = match expect {
                Expect::Bytes(n, _) => c.hs_got.len() == *n,
                Expect::Head => c.hs_got.ends_with(b"\r\n\r\n"),
            };
            if done {
                break;
            }
            // One byte at a time: never a byte of the tunnel's own.
            match c.sock.read(&mut byte) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => c.hs_got.push(byte[0]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let ok = match expect {
            Expect::Bytes(_, ok) => c.hs_got[1] == *ok,
            Expect::Head => {
                c.hs_got.starts_with(b"HTTP/1.1 200") || c.hs_got.starts_with(b"HTTP/1.0 200")
            }
        };
        if !ok {
            return Err(io::Error::other("the proxy refused the tunnel"));
        }
        c.stage += 1;
        c.hs_sent = 0;
        c.hs_got.clear();
    }
    Ok(true)
}

fn open(poll: &Poll, addr: SocketAddr, slot: usize) -> io::Result<Conn> {
    let mut sock = TcpStream::connect(addr)?;
    poll.registry().register(
        &mut sock,
        Token(slot),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(Conn {
        sock,
        sent: 0,
        got: 0,
        stage: 0,
        hs_sent: 0,
        hs_got: Vec::new(),
    })
}

/// Moves one connection on: `Ok(true)` when its message came back whole.
fn step(
    c: &mut Conn,
    hs: &[(Vec<u8>, Expect)],
    msg: &[u8; MESSAGE],
    buf: &mut [u8; MESSAGE],
) -> io::Result<bool> {
    if !shake(c, hs)? {
        return Ok(false);
    }
    while c.sent < MESSAGE {
        match c.sock.write(&msg[c.sent..]) {
            Ok(n) => c.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    while c.got < MESSAGE {
        match c.sock.read(&mut buf[c.got..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => c.got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    if buf != msg {
        return Err(io::Error::other("the answer differs"));
    }
    Ok(true)
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if ![4, 6].contains(&args.len()) {
        eprintln!("usage: conn_load ADDR CONCURRENCY SECONDS [socks5|connect TARGET]");
        eprintln!("       conn_load ADDR N hold socks5|connect TARGET");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().map_err(io::Error::other)?;
    let n: usize = args[2].parse().map_err(io::Error::other)?;
    let hs = match args.get(5) {
        Some(target) => handshake(
            Some(args[4].as_str()),
            target.parse().map_err(io::Error::other)?,
        ),
        None => Vec::new(),
    };
    if args[3] == "hold" {
        return hold(addr, n, &hs);
    }
    let secs: f64 = args[3].parse().map_err(io::Error::other)?;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let msg = [b'x'; MESSAGE];
    let mut buf = [0u8; MESSAGE];
    let (mut done, mut failed) = (0u64, 0u64);
    let mut conns: Vec<Option<Conn>> = (0..n).map(|i| open(&poll, addr, i).ok()).collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for ev in &events {
            let slot = ev.token().0;
            let outcome = match &mut conns[slot] {
                Some(c) => step(c, &hs, &msg, &mut buf),
                None => Err(io::ErrorKind::NotConnected.into()),
            };
            match outcome {
                Ok(false) => continue,
                Ok(true) => done += 1,
                Err(_) => failed += 1,
            }
            if let Some(mut c) = conns[slot].take() {
                let _ = poll.registry().deregister(&mut c.sock);
            }
            conns[slot] = open(&poll, addr, slot).ok();
        }
        // Slots whose connect failed at once get another try.
        for (slot, c) in conns.iter_mut().enumerate() {
            if c.is_none() {
                failed += 1;
                *c = open(&poll, addr, slot).ok();
            }
        }
    }
    let rate = done as f64 / start.elapsed().as_secs_f64();
    println!("connections/s {rate:.0} done {done} failed {failed}");
    Ok(())
}

/// Opens `n` tunnels (a batch at a time), prints "holding N" once every one is open, and
/// keeps them idle until stdin closes.
fn hold(addr: SocketAddr, n: usize, hs: &[(Vec<u8>, Expect)]) -> io::Result<()> {
    const BATCH: usize = 200;
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    let mut open_ones = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while open_ones < n {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "only {open_ones} of {n} tunnels opened"
            )));
        }
        if conns.len() < n && conns.len() < open_ones + BATCH {
            let slot = conns.len();
            conns.push(open(&poll, addr, slot)?);
            continue;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        let mut now_open = 0;
        for c in &mut conns {
            match shake(c, hs) {
                Ok(true) => now_open += 1,
                Ok(false) => {}
                Err(e) => {
                    return Err(io::Error::other(format!(
                        "{e} after {open_ones} tunnels were open"
                    )));
                }
            }
        }
        open_ones = now_open;
    }
    println!("holding {n}");
    io::stdout().flush()?;
    let mut sink = Vec::new();
    io::stdin().read_to_end(&mut sink)?;
    Ok(())
}
