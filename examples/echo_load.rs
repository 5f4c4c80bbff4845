//! Load generator for the echo benchmark (scripts/bench/sockets.sh): N connections on one mio
//! loop, each sending a 64-byte message and waiting for it to come back, over and over, for
//! a fixed time. Prints round trips per second and failed connections. With `--hold`, it
//! opens N connections, prints "holding N", and keeps them idle until stdin closes.
//!
//! usage: echo_load ADDR CONNECTIONS SECONDS
//!        echo_load ADDR CONNECTIONS --hold

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Bytes per message, as in the issue.
const MESSAGE: usize = 64;
/// Connections opened per batch before waiting for them to connect.
const CONNECT_BATCH: usize = 200;

struct Conn {
    sock: TcpStream,
    sent: usize,
    got: usize,
    connected: bool,
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: echo_load ADDR CONNECTIONS SECONDS|--hold");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().map_err(io::Error::other)?;
    let n: usize = args[2].parse().map_err(io::Error::other)?;
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    let mut failed = 0usize;
    // Connect in batches so the server's backlog is not the thing measured.
    while conns.len() + failed < n {
        let batch = CONNECT_BATCH.min(n - conns.len() - failed);
        for _ in 0..batch {
            match TcpStream::connect(addr) {
                Ok(mut sock) => {
                    let token = Token(conns.len());
                    poll.registry().register(
                        &mut sock,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    conns.push(Conn {
                        sock,
                        sent: 0,
                        got: 0,
                        connected: false,
                    });
                }
                Err(_) => failed += 1,
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while conns.iter().any(|c| !c.connected) && Instant::now() < deadline {
            poll.poll(&mut events, Some(Duration::from_millis(100)))?;
            for ev in events.iter() {
                let c = &mut conns[ev.token().0];
                if !c.connected && ev.is_writable() && c.sock.peer_addr().is_ok() {
                    c.connected = true;
                    let _ = c.sock.set_nodelay(true);
                }
            }
        }
    }
    let connected = conns.iter().filter(|c| c.connected).count();
    failed += conns.len() - connected;
    if args[3] == "--hold" {
        println!("holding {connected} failed {failed}");
        io::stdout().flush()?;
        let mut sink = Vec::new();
        let _ = io::stdin().read_to_end(&mut sink);
        return Ok(());
    }
    let secs: f64 = args[3].parse().map_err(io::Error::other)?;
    let msg = [b'x'; MESSAGE];
    let mut buf = [0u8; 4096];
    let mut trips = 0u64;
    for c in conns.iter_mut().filter(|c| c.connected) {
        c.sent = c.sock.write(&msg).unwrap_or(0);
    }
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if !c.connected {
                continue;
            }
            loop {
                match c.sock.read(&mut buf) {
                    Ok(0) => {
                        c.connected = false;
                        failed += 1;
                        break;
                    }
                    Ok(k) => c.got += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        c.connected = false;
                        failed += 1;
                        break;
                    }
                }
            }
            while c.connected && c.got >= MESSAGE {
                c.got -= MESSAGE;
                trips += 1;
                c.sent = 0;
            }
            if c.connected && c.sent < MESSAGE && c.got == 0 {
                match c.sock.write(&msg[c.sent..]) {
                    Ok(k) => c.sent += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        c.connected = false;
                        failed += 1;
                    }
                }
            }
        }
    }
    let rate = trips as f64 / start.elapsed().as_secs_f64();
    println!("round_trips_per_sec {rate:.0} connections {connected} failed {failed}");
    Ok(())
}
