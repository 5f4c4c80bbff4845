//! Load generator for short connections (scripts/bench/relay.sh): CONCURRENCY connections at
//! a time on one mio loop, each connecting, sending a 64-byte message, reading it back in
//! full and closing, then replaced by a new one, for SECONDS. Prints completed connections
//! per second and failures (refused, reset, or a wrong answer).
//!
//! usage: conn_load ADDR CONCURRENCY SECONDS

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
    })
}

/// Moves one connection on: `Ok(true)` when its message came back whole.
fn step(c: &mut Conn, msg: &[u8; MESSAGE], buf: &mut [u8; MESSAGE]) -> io::Result<bool> {
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
    if args.len() != 4 {
        eprintln!("usage: conn_load ADDR CONCURRENCY SECONDS");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().map_err(io::Error::other)?;
    let n: usize = args[2].parse().map_err(io::Error::other)?;
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
                Some(c) => step(c, &msg, &mut buf),
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
