//! `serve-gpio`'s live events as users follow them: `curl -N` on `/api/events` (plain and
//! TLS), `watch` on the line port, and a thousand subscribers that never read while the
//! pins keep changing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_gpio::{Served, curl};
use crate::util::*;

/// How long an event may take to reach a subscriber once the change was answered.
const EVENT_LATENCY: Duration = Duration::from_millis(100);
/// How long any one wait for an event may last before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// `curl -N` following an event stream; each `data:` line arrives as JSON.
pub struct Subscriber {
    child: Child,
    events: Receiver<Value>,
}

impl Subscriber {
    pub fn start(args: &[&str]) -> Subscriber {
        let mut child = Command::new("curl")
            .args(["-N", "-s", "-S", "--max-time", "60"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("running curl");
        let out = child.stdout.take().expect("stdout");
        let (tx, events) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(data) = line.strip_prefix("data: ") {
                    let doc = serde_json::from_str(data).expect("each event is JSON");
                    if tx.send(doc).is_err() {
                        break;
                    }
                }
            }
        });
        Subscriber { child, events }
    }

    /// The next event, waiting at most `limit`.
    fn next_within(&self, limit: Duration) -> Option<Value> {
        self.events.recv_timeout(limit).ok()
    }

    pub fn next(&self) -> Value {
        self.next_within(PATIENCE).expect("an event")
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (pin, state, cause) of an event.
fn said(event: &Value) -> (u64, &str, &str) {
    (
        event["pin"].as_u64().expect("pin"),
        event["state"].as_str().expect("state"),
        event["cause"].as_str().expect("cause"),
    )
}

/// Asserts the next event is `expected` and came within [`EVENT_LATENCY`] of `since`.
fn assert_event_soon(sub: &Subscriber, since: Instant, expected: (u64, &str, &str)) {
    let event = sub.next();
    let late = since.elapsed();
    assert_eq!(said(&event), expected, "{event}");
    assert!(
        late < EVENT_LATENCY,
        "the event came {late:?} after the change"
    );
}

#[test]
fn curl_sees_the_state_then_each_change_as_it_happens() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--pin", "19"]);
    let sub = Subscriber::start(&[&s.url("/api/events")]);
    assert_eq!(said(&sub.next()), (13, "off", "initial"));
    assert_eq!(said(&sub.next()), (19, "off", "initial"));
    let form = "Content-Type: application/x-www-form-urlencoded";
    let posted = curl(&["-H", form, "-d", "pin=13&state=on", &s.url("/")]);
    assert_eq!(posted.status, 303);
    assert_event_soon(&sub, Instant::now(), (13, "on", "form"));
    let json = "Content-Type: application/json";
    let changed = curl(&[
        "-H",
        json,
        "-d",
        r#"{"action":"toggle"}"#,
        &s.url("/api/pins/19"),
    ]);
    assert_eq!(changed.status, 200);
    assert_event_soon(&sub, Instant::now(), (19, "on", "api"));
    // Setting a pin to the state it has is no change.
    curl(&["-H", form, "-d", "pin=13&state=on", &s.url("/")]);
    assert!(sub.next_within(Duration::from_millis(300)).is_none());
}

#[test]
fn the_stream_over_tls_with_a_password() {
    if !have("curl") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["localhost"]);
    let s = Served::start(&[
        "--pin", "13", "--tls", "--cert", &cert, "--key", &key, "--auth", "pi:pw",
    ]);
    let url = |path: &str| format!("https://localhost:{}{path}", s.http.port());
    let refused = curl(&["--cacert", &cert, &url("/api/events")]);
    assert_eq!(refused.status, 401);
    let sub = Subscriber::start(&["--cacert", &cert, "-u", "pi:pw", &url("/api/events")]);
    assert_eq!(said(&sub.next()), (13, "off", "initial"));
    let json = "Content-Type: application/json";
    let changed = curl(&[
        "--cacert",
        &cert,
        "-u",
        "pi:pw",
        "-H",
        json,
        "-d",
        r#"{"value":1}"#,
        &url("/api/pins/13"),
    ]);
    assert_eq!(changed.status, 200);
    assert_event_soon(&sub, Instant::now(), (13, "on", "api"));
}

/// Reads one line (without its newline) from a line-protocol connection.
fn read_line(c: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    c.read_line(&mut line).expect("a line");
    assert!(line.ends_with('\n'), "the connection ended: {line:?}");
    line.trim_end().to_string()
}

#[test]
fn watch_on_the_line_port_sees_changes_made_over_http_between_its_replies() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--line-port", "0"]);
    let line = s.line.expect("line port");
    let stream = TcpStream::connect(line).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut watcher = BufReader::new(stream.try_clone().expect("clone"));
    let mut to_server = stream;
    to_server.write_all(b"watch\n").expect("send");
    assert_eq!(read_line(&mut watcher), "watching: 13 off");
    let form = "Content-Type: application/x-www-form-urlencoded";
    curl(&["-H", form, "-d", "pin=13&state=on", &s.url("/")]);
    let since = Instant::now();
    assert_eq!(read_line(&mut watcher), "13 on");
    assert!(since.elapsed() < EVENT_LATENCY, "{:?}", since.elapsed());
    // Replies and events are whole lines, in order: the reply to its own command, then
    // the change it made.
    to_server.write_all(b"status\ntoggle\n").expect("send");
    assert_eq!(read_line(&mut watcher), "13 on");
    assert_eq!(read_line(&mut watcher), "13 off");
    assert_eq!(read_line(&mut watcher), "13 off");
    to_server.write_all(b"unwatch\n").expect("send");
    assert_eq!(read_line(&mut watcher), "not watching");
    curl(&["-H", form, "-d", "pin=13&state=on", &s.url("/")]);
    to_server.write_all(b"status\n").expect("send");
    assert_eq!(read_line(&mut watcher), "13 on", "no event after unwatch");
}

/// The resident set of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Open descriptors of a process.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Sends `POST /api/pins/13 {"action":"toggle"}` on a keep-alive connection and reads the
/// whole response; returns how long the answer took.
fn toggle(c: &mut TcpStream, buf: &mut Vec<u8>) -> Duration {
    let body = r#"{"action":"toggle"}"#;
    let request = format!(
        "POST /api/pins/13 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let start = Instant::now();
    c.write_all(request.as_bytes()).expect("send");
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).expect("response");
        assert!(n > 0, "the server closed the changer");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(buf);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse().ok())
                .expect("Content-Length");
            if rest.len() >= len {
                return start.elapsed();
            }
        }
    }
}

#[test]
fn a_thousand_subscribers_that_never_read_slow_no_one_and_are_dropped() {
    const SUBSCRIBERS: usize = 1000;
    // Past the log's length: every one of them falls behind and is dropped.
    const CHANGES: usize = 2000;
    let _ = rlimit::increase_nofile_limit(4 * SUBSCRIBERS as u64);
    let s = Served::start(&["--pin", "13"]);
    let pid = s.proc.child.id();
    let before = rss_kib(pid);
    let subscribers: Vec<socket2::Socket> = (0..SUBSCRIBERS)
        .map(|_| {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            // A small window, so that a subscriber that does not read is full at once.
            sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            sock.connect(&s.http.into()).expect("connect");
            (&sock)
                .write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("subscribe");
            sock
        })
        .collect();
    let mut changer = TcpStream::connect(s.http).expect("connect");
    changer.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut buf = Vec::new();
    let mut took: Vec<Duration> = (0..CHANGES)
        .map(|_| toggle(&mut changer, &mut buf))
        .collect();
    let grown = rss_kib(pid).saturating_sub(before);
    took.sort();
    let p95 = took[took.len() * 95 / 100];
    let max = took[took.len() - 1];
    eprintln!(
        "{SUBSCRIBERS} subscribers, {CHANGES} changes: POST answered p50 {:?}, p95 {p95:?}, \
         max {max:?}; server RSS grew {grown} KiB",
        took[took.len() / 2]
    );
    assert!(p95 < Duration::from_millis(50), "p95 {p95:?}");
    assert!(max < Duration::from_secs(1), "max {max:?}");
    // Each subscriber holds at most its backlog (4 KiB, in a buffer of up to 8) and a cursor.
    assert!(grown < 32 * 1024, "the server grew by {grown} KiB");
    // Every one fell behind the log and was dropped: after what it had buffered, each
    // stream ends (the server closes the socket before its FIN goes out), and the server
    // holds only the changer's connection (and its listeners, epoll, signal pipe, stdio).
    for sub in subscribers {
        let mut stream: TcpStream = sub.into();
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut sink = Vec::new();
        match stream.read_to_end(&mut sink) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
    assert!(fds(pid) <= 32, "{} descriptors still open", fds(pid));
    // And the server goes on serving.
    assert!(toggle(&mut changer, &mut buf) < PATIENCE);
}

#[test]
fn a_named_pin_switched_on_for_a_while_comes_back_and_the_stream_says_why() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13=LED", "--line-port", "0"]);
    let sub = Subscriber::start(&[&s.url("/api/events")]);
    let first = sub.next();
    assert_eq!((&first["pin"], &first["name"]), (&13.into(), &"LED".into()));
    let form = "Content-Type: application/x-www-form-urlencoded";
    let posted = curl(&["-H", form, "-d", "pin=LED&state=on&for=0.3", &s.url("/")]);
    assert_eq!(posted.status, 303);
    let set = Instant::now();
    let on = sub.next();
    assert_eq!(said(&on), (13, "on", "form"));
    assert_eq!(on["timer"]["to"], "off");
    let off = sub.next();
    let after = set.elapsed();
    assert_eq!(said(&off), (13, "off", "timer"));
    assert!(
        after >= Duration::from_millis(290) && after < Duration::from_secs(2),
        "switched back after {after:?}"
    );
    // The line protocol takes the name and the same `for`; a later change cancels it.
    let line = s.line.expect("line port");
    let done = run(
        &["connect", "127.0.0.1", &line.port().to_string()],
        b"on led for 60\noff LED\n",
    );
    assert_eq!(
        done.out(),
        "13 on, off in 60 s\n13 off\n",
        "{}",
        done.stderr
    );
    assert_eq!(said(&sub.next()), (13, "on", "line"));
    let cancelled = sub.next();
    assert_eq!(said(&cancelled), (13, "off", "line"));
    assert_eq!(cancelled["timer_cancelled"], true);
    let bad = curl(&["-H", form, "-d", "pin=13&state=on&for=ever", &s.url("/")]);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("&#39;for&#39;"), "{}", bad.body);
}

#[test]
fn the_brightness_slider_the_api_and_the_line_set_a_pwm_duty() {
    if !have("curl") {
        return;
    }
    let mut s = Served::start(&["--pwm", "13=LED", "--line-port", "0"]);
    assert!(
        s.proc
            .stderr_seen
            .iter()
            .any(|l| l.contains("GPIO13 (PWM)")),
        "the start line says which pins are PWM: {:?}",
        s.proc.stderr_seen
    );
    let sub = Subscriber::start(&[&s.url("/api/events")]);
    assert_eq!(sub.next()["duty"], 0);
    let form = "Content-Type: application/x-www-form-urlencoded";
    let posted = curl(&["-H", form, "-d", "pin=13&duty=40", &s.url("/")]);
    assert_eq!(posted.status, 303);
    let event = sub.next();
    assert_eq!(
        (&event["duty"], &event["state"]),
        (&40.into(), &"on".into())
    );
    let line = s.line.expect("line port");
    let done = run(
        &["connect", "127.0.0.1", &line.port().to_string()],
        b"duty LED 5\nstatus\n",
    );
    assert_eq!(done.out(), "13 duty 5\n13 duty 5\n", "{}", done.stderr);
    assert_eq!(sub.next()["duty"], 5);
    let bad = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"duty":101}"#,
        &s.url("/api/pins/13"),
    ]);
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"].as_str().unwrap_or("").contains("duty"),
        "{}",
        bad.body
    );
    s.proc.signal("TERM");
    assert_eq!(s.proc.wait().code(), 0);
}

#[test]
fn a_subscriber_that_reconnects_with_last_event_id_misses_nothing() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13"]);
    let form = "Content-Type: application/x-www-form-urlencoded";
    // Three changes happen while no one listens; a client that saw only the first (id 1)
    // comes back, as a browser's EventSource does, and is sent the other two.
    for state in ["on", "off", "on"] {
        let body = format!("pin=13&state={state}");
        curl(&["-H", form, "-d", &body, &s.url("/")]);
    }
    let sub = Subscriber::start(&["-H", "Last-Event-ID: 1", &s.url("/api/events")]);
    assert_eq!(said(&sub.next()), (13, "off", "form"));
    assert_eq!(said(&sub.next()), (13, "on", "form"));
    assert!(
        sub.next_within(Duration::from_millis(300)).is_none(),
        "no snapshot after them"
    );
}
