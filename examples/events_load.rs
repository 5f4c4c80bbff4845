//! Load for serve-gpio's event stream (scripts/bench/events.sh): STALLED subscribers that
//! never read (a 4 KiB receive window each), one subscriber that reads, and CHANGES toggles
//! of pin 13 over one keep-alive connection, one at a time. Prints how long each POST took
//! to be answered and how long each change took to reach the reading subscriber, after
//! checking that the reader got every one of the CHANGES events.
//!
//!     cargo run --release --example events_load -- ADDR STALLED CHANGES

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::{summary, toggle};

const PATIENCE: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, stalled, changes] = args.as_slice() else {
        eprintln!("usage: events_load ADDR STALLED CHANGES");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR");
    let stalled: usize = stalled.parse().expect("STALLED");
    let changes: usize = changes.parse().expect("CHANGES");
    let _ = rlimit::increase_nofile_limit(stalled as u64 + 256);

    let _stalled: Vec<socket2::Socket> = (0..stalled).map(|_| stalled_subscriber(addr)).collect();
    let (seen_tx, seen_rx) = mpsc::channel();
    let reader = TcpStream::connect(addr).expect("connect");
    reader.set_read_timeout(Some(PATIENCE)).expect("timeout");
    (&reader)
        .write_all(b"GET /api/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        .expect("subscribe");
    thread::spawn(move || {
        let mut first = true;
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("data: ") {
                if first {
                    first = false; // the initial state
                    let _ = seen_tx.send(None);
                } else if seen_tx.send(Some(Instant::now())).is_err() {
                    break;
                }
            }
        }
    });
    seen_rx.recv_timeout(PATIENCE).expect("the initial state");

    let mut changer = TcpStream::connect(addr).expect("connect");
    changer.set_read_timeout(Some(PATIENCE)).expect("timeout");
    changer.set_nodelay(true).expect("nodelay");
    let mut answered = Vec::with_capacity(changes);
    let mut arrived = Vec::with_capacity(changes);
    let mut buf = Vec::new();
    for _ in 0..changes {
        let sent = Instant::now();
        toggle(&mut changer, &mut buf);
        answered.push(sent.elapsed());
        let seen = seen_rx
            .recv_timeout(PATIENCE)
            .expect("the reader saw the change")
            .expect("an event");
        arrived.push(seen.saturating_duration_since(sent));
    }
    println!(
        "{stalled} stalled subscribers, {changes} changes, all {changes} events read: \
         POST answered {}; event at the reader {}",
        summary(&mut answered),
        summary(&mut arrived)
    );
}

/// A subscriber with a 4 KiB window that never reads.
fn stalled_subscriber(addr: SocketAddr) -> socket2::Socket {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    sock.connect(&addr.into()).expect("connect");
    (&sock)
        .write_all(b"GET /api/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        .expect("subscribe");
    sock
}
