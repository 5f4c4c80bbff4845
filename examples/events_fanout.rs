//! Fan-out of serve-gpio's event stream (scripts/bench/serve_gpio.sh): SUBSCRIBERS that all
//! read, on one poll thread.
//!
//!     events_fanout ADDR SUBSCRIBERS CHANGES   time from each POST to its event at every one
//!                                              of the subscribers (checked: each subscriber
//!                                              got every event)
//!     events_fanout ADDR SUBSCRIBERS hold SECS [EVENTS]
//!                                              keep them attached and reading for SECS (while
//!                                              another benchmark runs), or until each has
//!                                              read EVENTS events; checks at the end that
//!                                              none was dropped
//!
//! The server must serve exactly one pin (the initial state is then one event).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

mod common;
use common::{summary, toggle};

const PATIENCE: Duration = Duration::from_secs(20);
const SUBSCRIBE: &[u8] = b"GET /api/events HTTP/1.1\r\nHost: bench\r\n\r\n";

/// One subscriber: its socket, the tail of a line not yet complete, and the `data:` lines
/// it has read.
struct Sub {
    sock: mio::net::TcpStream,
    partial: Vec<u8>,
    events: usize,
    /// When it read the event it waits for now.
    got_at: Option<Instant>,
    closed: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!(
            "usage: events_fanout ADDR SUBSCRIBERS CHANGES | ADDR SUBSCRIBERS hold SECS [EVENTS]"
        );
        std::process::exit(2)
    };
    let (addr, n) = match args.as_slice() {
        [addr, n, ..] => (
            addr.parse::<SocketAddr>().unwrap_or_else(|_| usage()),
            n.parse::<usize>().unwrap_or_else(|_| usage()),
        ),
        _ => usage(),
    };
    let _ = rlimit::increase_nofile_limit(n as u64 + 256);
    let mut poll = Poll::new().expect("poll");
    let mut subs: Vec<Sub> = (0..n).map(|i| subscribe(&poll, addr, i)).collect();
    // Everyone has the initial state before anything is timed.
    wait_all(&mut poll, &mut subs, 1);
    eprintln!("{n} subscribers attached");
    match &args[2..] {
        [changes] => fanout(
            &mut poll,
            &mut subs,
            addr,
            changes.parse().unwrap_or_else(|_| usage()),
        ),
        [word, secs, events @ ..] if word == "hold" && events.len() <= 1 => {
            hold(
                &mut poll,
                &mut subs,
                secs.parse().unwrap_or_else(|_| usage()),
                events
                    .first()
                    .map(|n| n.parse().unwrap_or_else(|_| usage())),
            );
        }
        _ => usage(),
    }
}

fn subscribe(poll: &Poll, addr: SocketAddr, i: usize) -> Sub {
    let mut std = TcpStream::connect(addr).expect("connect");
    std.write_all(SUBSCRIBE).expect("subscribe");
    std.set_nonblocking(true).expect("non-blocking");
    let mut sock = mio::net::TcpStream::from_std(std);
    poll.registry()
        .register(&mut sock, Token(i), Interest::READABLE)
        .expect("register");
    Sub {
        sock,
        partial: Vec::new(),
        events: 0,
        got_at: None,
        closed: false,
    }
}

/// Reads what `sub` has; notes when it reaches `want` events.
fn read(sub: &mut Sub, want: usize, buf: &mut [u8]) {
    loop {
        match sub.sock.read(buf) {
            Ok(0) => {
                sub.closed = true;
                return;
            }
            Ok(k) => {
                sub.partial.extend_from_slice(&buf[..k]);
                let mut start = 0;
                while let Some(end) = sub.partial[start..].iter().position(|&b| b == b'\n') {
                    if sub.partial[start..].starts_with(b"data: ") {
                        sub.events += 1;
                        if sub.events == want {
                            sub.got_at = Some(Instant::now());
                        }
                    }
                    start += end + 1;
                }
                sub.partial.drain(..start);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("a subscriber failed: {e}"),
        }
    }
}

/// Polls until every subscriber has `want` events; panics after [`PATIENCE`].
fn wait_all(poll: &mut Poll, subs: &mut [Sub], want: usize) {
    let deadline = Instant::now() + PATIENCE;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = subs.iter().filter(|s| s.events >= want).count();
    while done < subs.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{} of {} subscribers got event {want}",
            done,
            subs.len()
        );
        poll.poll(&mut events, Some(left)).expect("poll");
        for ev in &events {
            let sub = &mut subs[ev.token().0];
            let before = sub.events >= want;
            read(sub, want, &mut buf);
            assert!(!sub.closed, "the server dropped a subscriber that reads");
            if !before && sub.events >= want {
                done += 1;
            }
        }
    }
}

fn fanout(poll: &mut Poll, subs: &mut [Sub], addr: SocketAddr, changes: usize) {
    let mut changer = TcpStream::connect(addr).expect("connect");
    changer.set_nodelay(true).expect("nodelay");
    changer.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut to_all = Vec::with_capacity(changes);
    let mut each = Vec::with_capacity(changes * subs.len());
    let mut answer = Vec::new();
    for k in 0..changes {
        for s in subs.iter_mut() {
            s.got_at = None;
        }
        let sent = Instant::now();
        toggle(&mut changer, &mut answer);
        wait_all(poll, subs, k + 2);
        let mut last = Duration::ZERO;
        for s in subs.iter() {
            let at = s
                .got_at
                .expect("arrival noted")
                .saturating_duration_since(sent);
            last = last.max(at);
            each.push(at);
        }
        to_all.push(last);
    }
    let total = subs.iter().map(|s| s.events - 1).sum::<usize>();
    assert_eq!(total, changes * subs.len(), "events lost");
    println!(
        "{} subscribers, {changes} changes, all {total} events read: \
         POST to the change at every subscriber {}; at one subscriber {}",
        subs.len(),
        summary(&mut to_all),
        summary(&mut each)
    );
}

fn hold(poll: &mut Poll, subs: &mut [Sub], secs: f64, want: Option<usize>) {
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let all_read = |subs: &[Sub]| want.is_some_and(|n| subs.iter().all(|s| s.events >= n));
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if all_read(subs) {
            break;
        }
        poll.poll(&mut events, Some(left)).expect("poll");
        for ev in &events {
            let sub = &mut subs[ev.token().0];
            read(sub, usize::MAX, &mut buf);
            assert!(!sub.closed, "the server dropped a subscriber that reads");
        }
    }
    println!(
        "{} subscribers held for {:.1} s, all still attached; {} events read",
        subs.len(),
        start.elapsed().as_secs_f64(),
        subs.iter().map(|s| s.events).sum::<usize>()
    );
}
