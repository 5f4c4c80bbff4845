//! Clients for the fault and soak suite (scripts/soak.sh), many at once on one mio loop:
//!
//! - `hold ADDR N PROTO [KEEP_SECS]`: N connections open together, each makes one exchange
//!   (`echo`: 5 bytes back; `http`: a GET answered 200; `line`: `status` answered), and all
//!   stay open until every one is answered or has failed, then KEEP_SECS more. Prints
//!   `held N answered A failed F` as soon as the answers are in.
//! - `slow ADDR N EVERY_MS SECS`: N slowloris clients sending one header byte every
//!   EVERY_MS. Prints how many the server cut and when.
//! - `stall ADDR N SECS`: N TLS clients that send half a ClientHello and nothing more.
//! - `garbage ADDR SECS SEED`: connection after connection of random bytes, each ended at a
//!   random point with a close or a reset. Prints the connections made.
//! - `probe ADDR N`: N sequential `GET /api/pins` on new connections (a 503 tried again
//!   after a second, as its Retry-After says); prints the median and the slowest time to
//!   the status line, retries and failures.
//!
//! Every mode is bounded in time; an exit code of 0 means it ran, not that the server
//! passed: soak.sh judges the printed figures.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Longest a `hold` waits for its answers.
const HOLD_LIMIT: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let addr = |i: usize| -> SocketAddr { args[i].parse().expect("ADDR as IP:PORT") };
    let num = |i: usize| -> u64 { args[i].parse().expect("a number") };
    let result = match args.first().map(String::as_str) {
        Some("hold") => hold(
            addr(1),
            num(2) as usize,
            &args[3],
            args.get(4).map_or(0, |k| k.parse().expect("KEEP_SECS")),
        ),
        Some("slow") => slow(addr(1), num(2) as usize, num(3), num(4)),
        Some("stall") => stall(addr(1), num(2) as usize, num(3)),
        Some("garbage") => garbage(addr(1), num(2), num(3)),
        Some("probe") => probe(addr(1), num(2) as usize),
        _ => {
            eprintln!("usage: soak_load hold|slow|stall|garbage|probe ADDR …");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("soak_load: {e}");
        std::process::exit(1);
    }
}

/// One client on the loop: what it still has to send, and what it got.
struct Client {
    sock: TcpStream,
    out: Vec<u8>,
    sent: usize,
    got: Vec<u8>,
    /// Answered, or failed: no longer waited for.
    over: bool,
}

fn open(poll: &Poll, addr: SocketAddr, key: usize, out: Vec<u8>) -> io::Result<Client> {
    let mut sock = TcpStream::connect(addr)?;
    poll.registry().register(
        &mut sock,
        Token(key),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(Client {
        sock,
        out,
        sent: 0,
        got: Vec::new(),
        over: false,
    })
}

/// Sends what is left and reads what came; `Ok(false)` at the server's end of stream.
fn pump(c: &mut Client) -> io::Result<bool> {
    while c.sent < c.out.len() {
        match c.sock.write(&c.out[c.sent..]) {
            Ok(n) => c.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => break,
            Err(e) => return Err(e),
        }
    }
    let mut buf = [0u8; 4096];
    loop {
        match c.sock.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => c.got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(true),
            Err(e) => return Err(e),
        }
    }
}

/// Whether the bytes a client got are the whole answer to its request.
type Answered = fn(&[u8]) -> bool;

fn hold(addr: SocketAddr, n: usize, proto: &str, keep_secs: u64) -> io::Result<()> {
    let (request, answered): (&[u8], Answered) = match proto {
        "echo" => (b"ping\n", |got| got == b"ping\n"),
        "http" => (b"GET /api/pins HTTP/1.1\r\nHost: soak\r\n\r\n", |got| {
            got.starts_with(b"HTTP/1.1 200") && got.windows(4).any(|w| w == b"\r\n\r\n")
        }),
        "line" => (b"status\n", |got| got.ends_with(b"\n")),
        other => return Err(io::Error::other(format!("unknown protocol {other}"))),
    };
    let mut poll = Poll::new()?;
    let mut clients = Vec::with_capacity(n);
    let mut failed = 0;
    for key in 0..n {
        match open(&poll, addr, key, request.to_vec()) {
            Ok(c) => clients.push(Some(c)),
            Err(_) => {
                failed += 1;
                clients.push(None);
            }
        }
    }
    let mut answered_count = 0;
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    while answered_count + failed < n && start.elapsed() < HOLD_LIMIT {
        poll.poll(&mut events, Some(Duration::from_secs(1)))?;
        for ev in &events {
            let Some(Some(c)) = clients.get_mut(ev.token().0) else {
                continue;
            };
            if c.over {
                continue;
            }
            let open = pump(c);
            if answered(&c.got) {
                answered_count += 1;
                c.over = true;
            } else if !matches!(open, Ok(true)) {
                failed += 1;
                c.over = true;
            }
        }
    }
    println!("held {n} answered {answered_count} failed {failed}");
    io::stdout().flush()?;
    // The connections stay open while the suite checks that others are still served.
    std::thread::sleep(Duration::from_secs(keep_secs));
    drop(clients);
    Ok(())
}

fn slow(addr: SocketAddr, n: usize, every_ms: u64, secs: u64) -> io::Result<()> {
    let header = b"GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: ".to_vec();
    let mut poll = Poll::new()?;
    let mut clients: Vec<Client> = (0..n)
        .filter_map(|key| open(&poll, addr, key, Vec::new()).ok())
        .collect();
    let opened = clients.len();
    let mut cut_at: Vec<Option<Duration>> = vec![None; clients.len()];
    let start = Instant::now();
    let mut next_byte = start;
    let mut sent_bytes = 0usize;
    let mut events = Events::with_capacity(1024);
    while start.elapsed() < Duration::from_secs(secs) {
        if Instant::now() >= next_byte {
            let byte = header.get(sent_bytes).copied().unwrap_or(b'a');
            sent_bytes += 1;
            for c in clients.iter_mut().filter(|c| !c.over) {
                c.out.push(byte);
            }
            next_byte += Duration::from_millis(every_ms);
        }
        poll.poll(&mut events, Some(Duration::from_millis(every_ms.min(100))))?;
        for (i, c) in clients.iter_mut().enumerate() {
            if c.over {
                continue;
            }
            if !matches!(pump(c), Ok(true)) {
                c.over = true;
                cut_at[i] = Some(start.elapsed());
            }
        }
    }
    let mut cuts: Vec<Duration> = cut_at.iter().flatten().copied().collect();
    cuts.sort();
    let median = cuts.get(cuts.len() / 2).map_or(0.0, Duration::as_secs_f64);
    let first = cuts.first().map_or(0.0, Duration::as_secs_f64);
    println!(
        "slow {n} opened {opened} cut {} first_cut_s {first:.1} median_cut_s {median:.1}",
        cuts.len()
    );
    Ok(())
}

fn stall(addr: SocketAddr, n: usize, secs: u64) -> io::Result<()> {
    // A TLS record header announcing a 512-byte handshake message, and nothing after it.
    let half_hello = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
    let mut poll = Poll::new()?;
    let mut clients: Vec<Client> = (0..n)
        .filter_map(|key| open(&poll, addr, key, half_hello.clone()).ok())
        .collect();
    let opened = clients.len();
    let start = Instant::now();
    let mut cut = 0;
    let mut last_cut = Duration::ZERO;
    let mut events = Events::with_capacity(1024);
    while start.elapsed() < Duration::from_secs(secs) && cut < opened {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in &events {
            let Some(c) = clients.get_mut(ev.token().0) else {
                continue;
            };
            if !c.over && !matches!(pump(c), Ok(true)) {
                c.over = true;
                cut += 1;
                last_cut = start.elapsed();
            }
        }
    }
    println!(
        "stall {n} opened {opened} cut {cut} last_cut_s {:.1}",
        last_cut.as_secs_f64()
    );
    Ok(())
}

/// A small fast random generator (xorshift): the same seed gives the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn garbage(addr: SocketAddr, secs: u64, seed: u64) -> io::Result<()> {
    let mut rng = Rng(seed.max(1));
    let start = Instant::now();
    let mut made = 0u64;
    let mut buf = vec![0u8; 8192];
    while start.elapsed() < Duration::from_secs(secs) {
        let Ok(mut s) = std::net::TcpStream::connect(addr) else {
            continue;
        };
        made += 1;
        let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
        let len = (rng.next() % 4096) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Sometimes a request's start, so the garbage reaches past the first parser.
        if rng.next().is_multiple_of(3) {
            let _ = s.write_all(b"POST /api/pins/13 HTTP/1.1\r\nContent-Length: 99\r\n");
        }
        let _ = s.write_all(&data);
        if rng.next().is_multiple_of(2) {
            let _ = s.read(&mut buf);
        }
        if rng.next().is_multiple_of(2) {
            // A reset instead of a close.
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        }
    }
    println!("garbage connections {made}");
    Ok(())
}

fn probe(addr: SocketAddr, n: usize) -> io::Result<()> {
    let mut times = Vec::with_capacity(n);
    let mut failed = 0;
    let mut retried = 0;
    for _ in 0..n {
        // As a well-behaved client does: a 503 is tried again after its Retry-After (here
        // always 1 s), up to three times; the time counted is the final attempt's.
        let mut outcome = None;
        for attempt in 0..PROBE_ATTEMPTS {
            let start = Instant::now();
            match get_status(addr) {
                Ok(200) => {
                    outcome = Some(start.elapsed());
                    break;
                }
                Ok(503) if attempt + 1 < PROBE_ATTEMPTS => {
                    retried += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
                _ => break,
            }
        }
        match outcome {
            Some(t) => times.push(t),
            None => failed += 1,
        }
    }
    times.sort();
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "probe {n} ok {} failed {failed} retried_after_503 {retried} median_ms {:.1} max_ms {:.1}",
        times.len(),
        ms(times.get(times.len() / 2)),
        ms(times.last())
    );
    Ok(())
}

/// Tries per probe request when the server answers 503.
const PROBE_ATTEMPTS: usize = 3;

/// The status code of one `GET /api/pins` on a new connection.
fn get_status(addr: SocketAddr) -> io::Result<u16> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /api/pins HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other("not an HTTP status line"))
}
