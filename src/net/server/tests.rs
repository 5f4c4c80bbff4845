//! The server core against real loopback clients.

use super::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream as StdStream};
use std::thread;

/// How long any one of these tests may run.
const TEST_LIMIT: Duration = Duration::from_secs(20);
/// A token none of the server's uses: the test's time limit.
const LIMIT_TOKEN: Token = Token(usize::MAX - 100);

/// One echo connection, or one that says `bye` to its first bytes and finishes.
#[derive(Default)]
struct TestConn {
    out: Outbox,
    eof: bool,
    said_bye: bool,
    bye: bool,
    opened: Option<Instant>,
}

impl Exchange for TestConn {
    type App = ();
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }
    fn room(&self) -> usize {
        if self.eof || self.said_bye {
            0
        } else {
            65_536usize.saturating_sub(self.out.pending())
        }
    }
    fn received(&mut self, link: &mut Link, data: &[u8]) -> io::Result<()> {
        if self.bye {
            self.out.push(b"bye\n");
            self.said_bye = true;
            Ok(())
        } else {
            self.out.send(link, data)
        }
    }
    fn ended(&mut self) {
        self.eof = true;
    }
    fn is_finished(&self) -> bool {
        self.eof || self.said_bye
    }
}

#[derive(Default)]
struct TestService {
    scratch: Vec<u8>,
    opened: usize,
    bye: bool,
    /// A deadline of the service's own, from the connection's start.
    own: Option<Duration>,
    /// Connections with nothing to send are idle (closed to make room).
    sheddable: bool,
}

impl Service for TestService {
    type Conn = TestConn;
    const DOING: &'static str = "testing";
    fn open(&mut self, _group: usize, now: Instant) -> TestConn {
        self.opened += 1;
        TestConn {
            bye: self.bye,
            opened: Some(now),
            ..TestConn::default()
        }
    }
    fn pump(
        &mut self,
        _cx: &mut Context<'_>,
        link: &mut Link,
        conn: &mut TestConn,
    ) -> io::Result<Next> {
        if self.scratch.is_empty() {
            self.scratch = vec![0; 65_536];
        }
        exchange(link, conn, &mut (), &mut self.scratch)
    }
    fn deadline(&self, conn: &TestConn) -> Option<(Instant, &'static str)> {
        Some((conn.opened? + self.own?, "too slow"))
    }
    fn phase(&self, conn: &TestConn) -> Phase {
        if self.sheddable && conn.out.is_empty() {
            Phase::Idle
        } else {
            Phase::Busy
        }
    }
    fn busy_answer(&self, _group: usize) -> Option<&'static [u8]> {
        Some(b"busy\n")
    }
}

/// Runs a server until every connection it opened (at least `clients`) is closed.
struct Until {
    server: Server<TestService>,
    clients: usize,
    limit: Instant,
    /// Deadlines still pending when it stopped (the test's own limit among them).
    timers_left: usize,
}

impl Handler for Until {
    fn on_event(&mut self, cx: &mut Context<'_>, event: &Event) -> Result<()> {
        self.server.on_event(cx, event)
    }
    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        self.server.on_timer(cx, token)
    }
    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        assert!(Instant::now() < self.limit, "the server did not finish");
        let s = &self.server;
        let done = s.service.opened >= self.clients && s.conns.is_empty();
        self.timers_left = cx.timers.len();
        Ok(if done { Flow::Stop } else { Flow::Continue })
    }
}

/// Serves `service` on a loopback port while `client` runs against it; returns what
/// the client returned once every connection is closed.
fn serve<T: Send + 'static>(
    service: TestService,
    idle: Option<Duration>,
    max_conns: usize,
    clients: usize,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let group = Group {
        listeners: vec![Listener::Tcp(listener)],
        tls: None,
        idle,
        max_conns,
    };
    let mut ev = EventLoop::new().unwrap();
    let mut server = Server::new(service, vec![group], 0);
    server.acceptor.register(ev.registry()).unwrap();
    let limit = Instant::now() + TEST_LIMIT;
    ev.add_timer(limit, LIMIT_TOKEN);
    let client = thread::spawn(move || client(addr));
    let mut until = Until {
        server,
        clients,
        limit,
        timers_left: 0,
    };
    ev.run(&mut until).unwrap();
    TIMERS_LEFT.with(|t| t.set(until.timers_left));
    client.join().unwrap()
}

thread_local! {
    /// Deadlines pending when the last [`serve`] of this thread stopped.
    static TIMERS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[test]
fn closed_connections_leave_no_deadlines_behind() {
    // Found by scripts/soak.sh: each connection's idle deadline (600 s on the line
    // port) stayed queued after it closed, so a flood of short connections grew the
    // server by megabytes a minute.
    let clients = 300;
    let idle = Some(Duration::from_secs(600));
    serve(TestService::default(), idle, 10, clients, move |addr| {
        for _ in 0..clients {
            let mut c = StdStream::connect(addr).unwrap();
            c.write_all(b"x").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).unwrap();
        }
    });
    let left = TIMERS_LEFT.with(std::cell::Cell::get);
    assert!(
        left <= 1,
        "{left} deadlines left for {clients} closed connections"
    );
}

#[test]
fn every_byte_comes_back_and_the_close_is_graceful() {
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let got = serve(TestService::default(), None, 10, 1, move |addr| {
        let mut c = StdStream::connect(addr).unwrap();
        let mut w = c.try_clone().unwrap();
        let writer = thread::spawn(move || {
            w.write_all(&sent).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        got
    });
    assert_eq!(got.len(), data.len());
    assert!(got == data);
}

#[test]
fn a_client_over_the_limit_is_turned_away_at_once_and_the_others_go_on() {
    let (first, second) = serve(TestService::default(), None, 1, 1, |addr| {
        let mut a = StdStream::connect(addr).unwrap();
        a.write_all(b"a").unwrap();
        let mut one = [0u8; 1];
        a.read_exact(&mut one).unwrap();
        let mut b = StdStream::connect(addr).unwrap();
        let mut rest = Vec::new();
        let second = b.read_to_end(&mut rest).map(|_| rest);
        a.write_all(b"bc").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut first = one.to_vec();
        a.read_to_end(&mut first).unwrap();
        (first, second)
    });
    assert_eq!(first, b"abc");
    assert!(
        second.is_ok_and(|b| b == b"busy\n"),
        "the second client got no busy answer"
    );
}

#[test]
fn a_full_server_closes_its_longest_idle_client_to_make_room() {
    let service = TestService {
        sheddable: true,
        ..TestService::default()
    };
    let (old, new) = serve(service, None, 2, 3, |addr| {
        let round_trip = |c: &mut StdStream| {
            c.write_all(b"x").unwrap();
            let mut one = [0u8; 1];
            c.read_exact(&mut one).unwrap();
        };
        let mut oldest = StdStream::connect(addr).unwrap();
        round_trip(&mut oldest);
        let mut second = StdStream::connect(addr).unwrap();
        round_trip(&mut second);
        // Both were active just now: a newcomer is told to come back.
        let mut early = StdStream::connect(addr).unwrap();
        let mut told = Vec::new();
        early.read_to_end(&mut told).unwrap();
        // The time a connection must have been idle to give up its place.
        thread::sleep(SHED_MIN_AGE);
        let mut third = StdStream::connect(addr).unwrap();
        round_trip(&mut third);
        // The oldest idle one made room: it was closed, the newcomer is served.
        let mut rest = Vec::new();
        let old = oldest.read_to_end(&mut rest).map(|_| rest);
        for c in [&second, &third] {
            c.shutdown(Shutdown::Write).unwrap();
        }
        let mut new = Vec::new();
        third.read_to_end(&mut new).unwrap();
        (old, (told, new))
    });
    let (told, new) = new;
    assert_eq!(
        told, b"busy\n",
        "a young connection was closed for the newcomer"
    );
    assert!(
        old.is_ok_and(|b| b.is_empty()),
        "the oldest was not closed cleanly"
    );
    assert!(new.is_empty());
}

#[test]
fn a_client_that_finds_everyone_busy_gets_the_busy_answer() {
    let (busy, first) = serve(TestService::default(), None, 1, 1, |addr| {
        let mut a = StdStream::connect(addr).unwrap();
        a.write_all(b"a").unwrap();
        let mut one = [0u8; 1];
        a.read_exact(&mut one).unwrap();
        let mut b = StdStream::connect(addr).unwrap();
        let mut busy = Vec::new();
        b.read_to_end(&mut busy).unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut first = Vec::new();
        a.read_to_end(&mut first).unwrap();
        (busy, first)
    });
    assert_eq!(busy, b"busy\n");
    assert!(first.is_empty());
}

#[test]
fn an_idle_client_is_closed_after_the_idle_time() {
    let idle = Duration::from_millis(150);
    let (waited, got) = serve(TestService::default(), Some(idle), 10, 1, |addr| {
        // Timed from before the connect: the server's clock for this client starts
        // when it accepts, which may come before connect() returns here.
        let start = Instant::now();
        let mut c = StdStream::connect(addr).unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        (start.elapsed(), got)
    });
    assert!(got.is_empty());
    assert!(waited >= idle, "closed after {waited:?}");
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn the_services_own_deadline_closes_a_connection_that_keeps_moving() {
    let service = TestService {
        own: Some(Duration::from_millis(200)),
        ..TestService::default()
    };
    let (waited, echoed) = serve(service, Some(Duration::from_secs(30)), 10, 1, |addr| {
        // Timed from before the connect: the server's clock for this client starts
        // when it accepts, which may come before connect() returns here.
        let start = Instant::now();
        let mut c = StdStream::connect(addr).unwrap();
        let mut echoed = 0;
        let mut byte = [0u8; 1];
        // Busy all along: only the service's deadline can end it.
        while c.write_all(b"x").is_ok() {
            match c.read(&mut byte) {
                Ok(1) => echoed += 1,
                _ => break,
            }
            thread::sleep(Duration::from_millis(5));
        }
        (start.elapsed(), echoed)
    });
    assert!(echoed > 0);
    assert!(
        waited >= Duration::from_millis(200),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn a_last_answer_is_read_even_when_the_client_was_still_sending() {
    let service = TestService {
        bye: true,
        ..TestService::default()
    };
    let got = serve(service, None, 10, 1, |addr| {
        let mut c = StdStream::connect(addr).unwrap();
        // More than the server reads before it answers: without the lingering close,
        // the unread bytes would turn its close into a reset that destroys the answer.
        let _ = c.write_all(&[b'x'; 200_000]);
        let _ = c.shutdown(Shutdown::Write);
        let mut got = Vec::new();
        c.read_to_end(&mut got).map(|_| got)
    });
    assert_eq!(got.unwrap(), b"bye\n");
}
