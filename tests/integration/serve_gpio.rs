//! `serve-gpio` on simulated pins, driven the way users drive it: curl for every route and
//! error status (labs L8, L10–L12), `nicksock connect` for the line protocol (L5), many raw
//! clients while one stalls (L9), HTTPS with a `gen-cert` certificate (L15).

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// A `serve-gpio` on 127.0.0.1 with simulated pins, its HTTP and line-protocol addresses.
pub struct Served {
    pub proc: Proc,
    pub http: SocketAddr,
    pub line: Option<SocketAddr>,
}

impl Served {
    /// Starts `serve-gpio --backend sim 127.0.0.1 --port 0 ARGS` and waits until it is ready.
    pub fn start(args: &[&str]) -> Served {
        let mut all = vec!["serve-gpio", "--backend", "sim", "127.0.0.1", "--port", "0"];
        all.extend_from_slice(args);
        let mut proc = Proc::spawn(nicksock(&all));
        let mut http = None;
        let mut line = None;
        let wanted = if args.contains(&"--line-port") { 2 } else { 1 };
        for _ in 0..wanted {
            let ready = proc.wait_line("listening on ");
            if ready.ends_with("(line protocol)") {
                line = Some(ready_addr(&ready));
            } else {
                http = Some(ready_addr(&ready));
            }
        }
        let http = http.expect("an HTTP ready line");
        Served { proc, http, line }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }
}

/// A response as curl saw it.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    /// The final head (after any `100 Continue`), lines joined with `\n`.
    pub head: String,
    pub body: String,
    /// curl's stderr (`-v` output).
    pub trace: String,
}

impl Fetched {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Runs `curl -s -S -i -v ARGS` and splits what it printed.
pub fn curl(args: &[&str]) -> Fetched {
    let out = Command::new("curl")
        .args(["-s", "-S", "-i", "-v", "--max-time", "15"])
        .args(args)
        .output()
        .expect("running curl");
    let trace = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {trace}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = last_head(&text);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Fetched {
        status,
        head: head.replace("\r\n", "\n"),
        body: body.to_string(),
        trace,
    }
}

/// The last response head in curl's `-i` output (interim `100 Continue` heads and, with
/// `-L`, redirects come first) and what follows it.
fn last_head(text: &str) -> (&str, &str) {
    let mut rest = text;
    loop {
        let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
        if body.starts_with("HTTP/1.") {
            rest = body;
        } else {
            return (head, body);
        }
    }
}

/// Pin 13's value as `GET /api/pins` reports it.
fn pin13(s: &Served) -> u64 {
    let pins = curl(&[&s.url("/api/pins")]).json();
    pins["pins"]
        .as_array()
        .and_then(|pins| pins.iter().find(|p| p["pin"] == 13))
        .and_then(|p| p["value"].as_u64())
        .unwrap_or_else(|| panic!("no pin 13 in {pins}"))
}

const FORM: &str = "Content-Type: application/x-www-form-urlencoded";

#[test]
fn page_and_json_api() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--pin", "19"]);
    let page = curl(&[&s.url("/")]);
    assert_eq!(page.status, 200);
    assert!(page.head.starts_with("HTTP/1.1 200 OK\n"), "{}", page.head);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        page.header("Content-Length"),
        Some(page.body.len().to_string().as_str())
    );
    assert!(
        page.body.contains("id=\"pin13-state\">off<"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"pin19-state\">off<"),
        "{}",
        page.body
    );

    let list = curl(&[&s.url("/api/pins")]);
    assert_eq!(list.header("Content-Type"), Some("application/json"));
    assert_eq!(list.header("Cache-Control"), Some("no-store"));
    assert_eq!(list.json()["pins"].as_array().map(Vec::len), Some(2));

    let json = ["-H", "Content-Type: application/json", "--data"];
    let set = curl(&[&json[..], &[r#"{"value":1}"#, &s.url("/api/pins/13")]].concat());
    assert_eq!(set.status, 200);
    assert_eq!(set.json()["value"], 1);
    assert_eq!(set.json()["state"], "on");
    let one = curl(&[&s.url("/api/pins/13")]);
    assert_eq!(
        (one.json()["pin"].clone(), one.json()["value"].clone()),
        (13.into(), 1.into())
    );
    let toggled = curl(
        &[
            &json[..],
            &[r#"{"action":"toggle"}"#, &s.url("/api/pins/19")],
        ]
        .concat(),
    );
    assert_eq!(toggled.json()["value"], 1);
    assert_eq!(pin13(&s), 1);
}

#[test]
fn form_post_and_get_query_switch_the_pin() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13"]);
    let posted = curl(&["-H", FORM, "--data", "pin=13&state=on", &s.url("/")]);
    assert_eq!(posted.status, 303);
    assert_eq!(posted.header("Location"), Some("/"));
    assert_eq!(pin13(&s), 1);
    // Following the redirect shows the page with the pin on.
    let followed = curl(&[
        "-L",
        "-H",
        FORM,
        "--data",
        "pin=13&state=toggle",
        &s.url("/"),
    ]);
    assert_eq!(followed.status, 200);
    assert!(
        followed.body.contains("id=\"pin13-state\">off<"),
        "{}",
        followed.body
    );

    let queried = curl(&[&s.url("/?pin=13&state=on")]);
    assert_eq!(queried.status, 303);
    assert_eq!(pin13(&s), 1);
    let queried = curl(&[&s.url("/?pin=13&state=off")]);
    assert_eq!(queried.status, 303);
    assert_eq!(pin13(&s), 0);
}

#[test]
fn error_statuses_are_answered_and_the_server_keeps_serving() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13"]);
    let missing = curl(&[&s.url("/nope")]);
    assert_eq!(missing.status, 404);
    let wrong = curl(&["-X", "DELETE", &s.url("/")]);
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("Allow"), Some("GET, HEAD, POST"));
    let wrong = curl(&["-X", "PUT", &s.url("/api/pins")]);
    assert_eq!(
        (wrong.status, wrong.header("Allow")),
        (405, Some("GET, HEAD"))
    );
    let unknown = curl(&["-X", "get", &s.url("/")]);
    assert_eq!(unknown.status, 501, "{}", unknown.body);
    assert!(
        unknown.head.starts_with("HTTP/1.1 501 Not Implemented"),
        "{}",
        unknown.head
    );

    // Pins not given with --pin are never touched.
    let other = curl(&["-H", FORM, "--data", "pin=5&state=on", &s.url("/")]);
    assert_eq!(other.status, 403);
    let json = [
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"value":1}"#,
    ];
    let other = curl(&[&json[..], &[&s.url("/api/pins/5")]].concat());
    assert_eq!(other.status, 403);
    assert!(
        other.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("not served"))
    );

    let bad = curl(&["-H", FORM, "--data", "pin=13&state=blink", &s.url("/")]);
    assert_eq!(bad.status, 400);
    let bad = curl(&[&s.url("/?pin=x13&state=on")]);
    assert_eq!(bad.status, 400);
    let bad = curl(&[
        "-H",
        "Content-Type: application/json",
        "--data",
        "{",
        &s.url("/api/pins/13"),
    ]);
    assert_eq!(bad.status, 400);

    // A head over 16 KiB: 431, then the connection is closed.
    let big = format!("X-Big: {}", "a".repeat(20 * 1024));
    let huge = curl(&["-H", &big, &s.url("/")]);
    assert_eq!(huge.status, 431);
    assert_eq!(huge.header("Connection"), Some("close"));
    // A body over 64 KiB: 413.
    let dir = tempdir();
    let body = write_file(dir.path(), "body", &vec![b'a'; 70 * 1024]);
    let at = format!("@{}", body.display());
    let large = curl(&["-H", FORM, "--data-binary", &at, &s.url("/")]);
    assert_eq!(large.status, 413);
    assert_eq!(large.header("Connection"), Some("close"));
    // A malformed head: 400.
    let malformed = curl(&["-H", "Bad Header: v", &s.url("/")]);
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.header("Connection"), Some("close"));

    assert_eq!(pin13(&s), 0);
    assert_eq!(curl(&[&s.url("/")]).status, 200);
}

#[test]
fn head_reports_the_get_content_length() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13"]);
    for path in ["/", "/api/pins", "/nope"] {
        let head = curl(&["-I", &s.url(path)]);
        let get = curl(&[&s.url(path)]);
        assert_eq!(head.status, get.status, "{path}");
        assert!(head.body.is_empty(), "{path}: {:?}", head.body);
        assert_eq!(
            head.header("Content-Length"),
            Some(get.body.len().to_string().as_str()),
            "{path}"
        );
    }
}

#[test]
fn keep_alive_http_1_0_and_100_continue() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13"]);
    let two = curl(&[&s.url("/api/pins"), &s.url("/api/pins/13")]);
    assert_eq!(
        two.trace.matches("Connected to").count(),
        1,
        "{}",
        two.trace
    );
    assert!(two.trace.contains("Re-using"), "{}", two.trace);
    assert_eq!(two.header("Connection"), Some("keep-alive"));

    let old = curl(&["-0", &s.url("/api/pins/13")]);
    assert!(old.head.starts_with("HTTP/1.0 200 OK\n"), "{}", old.head);
    assert_eq!(old.header("Connection"), Some("close"));
    assert!(
        old.trace.contains("GET /api/pins/13 HTTP/1.0"),
        "{}",
        old.trace
    );

    let waited = curl(&[
        "-H",
        "Expect: 100-continue",
        "-H",
        FORM,
        "--data",
        "pin=13&state=on",
        &s.url("/"),
    ]);
    assert!(
        waited.trace.contains("HTTP/1.1 100 Continue"),
        "{}",
        waited.trace
    );
    assert_eq!(waited.status, 303);
    assert_eq!(pin13(&s), 1);
}

#[test]
fn basic_auth_and_read_only() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--auth", "pi:s3cret"]);
    let denied = curl(&[&s.url("/")]);
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("WWW-Authenticate"),
        Some("Basic realm=\"nicksock\"")
    );
    assert_eq!(curl(&["-u", "pi:wrong", &s.url("/")]).status, 401);
    assert_eq!(curl(&["-u", "pi:s3cret", &s.url("/")]).status, 200);
    let set = curl(&[
        "-u",
        "pi:s3cret",
        "-H",
        FORM,
        "--data",
        "pin=13&state=on",
        &s.url("/"),
    ]);
    assert_eq!(set.status, 303);

    let ro = Served::start(&["--pin", "13", "--read-only"]);
    let refused = curl(&["-H", FORM, "--data", "pin=13&state=on", &ro.url("/")]);
    assert_eq!(refused.status, 403);
    assert_eq!(curl(&[&ro.url("/?pin=13&state=on")]).status, 403);
    let page = curl(&[&ro.url("/")]);
    assert!(page.body.contains("Read-only"), "{}", page.body);
    assert!(!page.body.contains("pin13-on"), "{}", page.body);
    assert_eq!(pin13(&ro), 0);
}

#[test]
fn line_protocol_with_nicksock_connect() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--line-port", "0"]);
    let line = s.line.expect("line port");
    let port = line.port().to_string();
    let done = run(
        &["connect", "127.0.0.1", &port],
        b"on\nstatus\nblink\nstatus 13\ntoggle\ntoggle 13\n",
    );
    done.assert_code(0);
    let replies: Vec<String> = done.out().lines().map(str::to_string).collect();
    assert_eq!(replies.len(), 6, "{replies:?}");
    assert_eq!(replies[..2], ["13 on", "13 on"]);
    assert!(
        replies[2].starts_with("error: unknown command 'blink'"),
        "{replies:?}"
    );
    assert_eq!(replies[3..], ["13 on", "13 off", "13 on"]);
    assert_eq!(pin13(&s), 1);
    // The lab's client sends a word with no newline and closes.
    let done = run(&["connect", "127.0.0.1", &port], b"off");
    assert_eq!(done.out(), "13 off\n");
    assert_eq!(pin13(&s), 0);

    // A line over 1 KiB: an error line, then the end of the connection.
    let mut raw = TcpStream::connect(line).expect("connect");
    raw.set_read_timeout(Some(PATIENCE)).expect("timeout");
    raw.write_all(&[b'x'; 2000]).expect("send");
    let mut reply = String::new();
    raw.read_to_string(&mut reply)
        .expect("read until the server closes");
    assert_eq!(reply, "error: line longer than 1024 bytes; closing\n");
}

#[test]
fn line_protocol_is_read_only_under_auth() {
    let s = Served::start(&["--pin", "13", "--line-port", "0", "--auth", "pi:pw"]);
    let port = s.line.expect("line port").port().to_string();
    let done = run(&["connect", "127.0.0.1", &port], b"on\nstatus\n");
    let out = done.out();
    assert!(
        out.starts_with("error: the line protocol is read-only"),
        "{out}"
    );
    assert!(out.ends_with("\n13 off\n"), "{out}");
    let mut proc = s.proc;
    proc.signal("TERM");
    let finished = proc.wait();
    finished.assert_code(0);
    assert!(
        finished.stderr.contains("with --auth it is read-only"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("--auth without --tls"),
        "{}",
        finished.stderr
    );
}

/// One raw HTTP/1.1 exchange: the whole answer, the connection closed by the server.
fn raw_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn a_client_that_half_closes_gets_its_answers_and_the_end() {
    let s = Served::start(&["--pin", "13", "--line-port", "0"]);
    let mut http = TcpStream::connect(s.http).expect("connect");
    http.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let two = "GET /api/pins/13 HTTP/1.1\r\nHost: t\r\n\r\n".repeat(2);
    http.write_all(two.as_bytes()).expect("send");
    http.shutdown(Shutdown::Write).expect("half-close");
    let mut answer = String::new();
    http.read_to_string(&mut answer)
        .expect("the answers, then the end");
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");

    let mut line = TcpStream::connect(s.line.expect("line port")).expect("connect");
    line.set_read_timeout(Some(PATIENCE)).expect("timeout");
    line.write_all(b"on\nstatus").expect("send");
    line.shutdown(Shutdown::Write).expect("half-close");
    let mut replies = String::new();
    line.read_to_string(&mut replies)
        .expect("the replies, then the end");
    assert_eq!(replies, "13 on\n13 on\n");
}

#[test]
fn many_clients_are_served_while_one_stalls_and_one_does_not_read() {
    let s = Served::start(&["--pin", "13"]);
    let started = Instant::now();
    let mut stalled = TcpStream::connect(s.http).expect("connect");
    stalled
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: ")
        .expect("send");
    // A client that pipelines requests and never reads the answers.
    let mut greedy = TcpStream::connect(s.http).expect("connect");
    greedy.set_nonblocking(true).expect("nonblocking");
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for _ in 0..5000 {
        if greedy.write(request).is_err() {
            break;
        }
    }

    let clients: Vec<_> = (0..20)
        .map(|i| {
            let addr = s.http;
            thread::spawn(move || raw_get(addr, &format!("/api/pins/13?client={i}")))
        })
        .collect();
    for client in clients {
        let answer = client.join().expect("client thread");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\"value\":0}\n"), "{answer}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "20 clients took {:?}",
        started.elapsed()
    );

    // The stalled request is cut off after its deadline (10 s), not before.
    stalled.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(
        waited >= Duration::from_secs(9) && waited < PATIENCE,
        "closed after {waited:?}"
    );
    let _ = greedy.shutdown(Shutdown::Both);
    assert!(raw_get(s.http, "/").starts_with("HTTP/1.1 200 OK\r\n"));
}

#[test]
fn https_with_a_gen_cert_certificate() {
    if !have("curl") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["localhost", "127.0.0.1"]);
    let s = Served::start(&[
        "--pin",
        "13",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--line-port",
        "0",
    ]);
    let url = format!("https://localhost:{}/api/pins/13", s.http.port());
    let secure = curl(&["--cacert", &cert, &url]);
    assert_eq!(secure.status, 200);
    assert_eq!(secure.json()["value"], 0);
    let line = s.line.expect("line port").port().to_string();
    let done = run(
        &[
            "connect",
            "--tls",
            "--cacert",
            &cert,
            "--servername",
            "localhost",
            "127.0.0.1",
            &line,
        ],
        b"on\n",
    );
    assert_eq!(done.out(), "13 on\n", "{}", done.stderr);
    let secure = curl(&["--cacert", &cert, &url]);
    assert_eq!(secure.json()["value"], 1);
}

#[test]
fn simulated_inputs_are_buttons_marked_simulated() {
    if !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--input", "26", "--active-low", "26"]);
    let pins = curl(&[&s.url("/api/pins")]).json();
    let input = &pins["pins"][1];
    assert_eq!(
        (
            &input["pin"],
            &input["mode"],
            &input["active_low"],
            &input["simulated"]
        ),
        (&26.into(), &"input".into(), &true.into(), &true.into()),
        "{pins}"
    );
    let page = curl(&[&s.url("/")]).body;
    assert!(page.contains("id=\"pin26-state\">off<"), "{page}");
    assert!(page.contains("simulated button"), "{page}");
    // The button lab on a laptop: pressing the simulated button (real inputs refuse this;
    // see vm_gpio's cdev tests).
    let json = ["-H", "Content-Type: application/json", "--data"];
    let press = curl(&[&json[..], &[r#"{"state":"on"}"#, &s.url("/api/pins/26")]].concat());
    assert_eq!(press.status, 200, "{}", press.body);
    assert_eq!(press.json()["state"], "on");

    let both = run(
        &[
            "serve-gpio",
            "--backend",
            "sim",
            "--pin",
            "13",
            "--input",
            "13",
        ],
        b"",
    );
    both.assert_code(2);
    assert!(both.stderr.contains("both --pin"), "{}", both.stderr);
}

#[test]
fn bad_configurations_fail_before_serving_and_signals_stop_it() {
    let stray = run(
        &[
            "serve-gpio",
            "--backend",
            "sim",
            "--pin",
            "13",
            "--active-low",
            "5",
        ],
        b"",
    );
    stray.assert_code(2);
    let no_key = run(
        &["serve-gpio", "--backend", "sim", "--pin", "13", "--tls"],
        b"",
    );
    // A usage mistake (issue 11: was exit 10, as if a file could not be read).
    no_key.assert_code(2);
    let auth = run(
        &[
            "serve-gpio",
            "--backend",
            "sim",
            "--pin",
            "13",
            "--auth",
            "nocolon",
        ],
        b"",
    );
    auth.assert_code(2);
    assert!(
        auth.stderr.contains("--auth wants USER:PASS"),
        "{}",
        auth.stderr
    );

    let s = Served::start(&["--pin", "13"]);
    let mut proc = s.proc;
    proc.signal("INT");
    proc.wait().assert_code(130);
}

#[test]
fn auto_backend_says_which_it_picked() {
    let chips = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("gpiochip"))
        })
        .unwrap_or(false);
    if chips {
        skip("this machine has a GPIO chip; auto would drive real pins");
        return;
    }
    let mut proc = Proc::spawn(nicksock(&[
        "serve-gpio",
        "--pin",
        "13",
        "127.0.0.1",
        "--port",
        "0",
    ]));
    let said = proc.wait_line("gpio: ");
    assert!(
        said.contains("simulated") && said.contains("auto"),
        "{said}"
    );
    proc.wait_ready(1);
}

/// How long a connection must have been idle (or its request arriving) before a full
/// server closes it for a newcomer (`server::SHED_MIN_AGE`).
const SHED_MIN_AGE: Duration = Duration::from_millis(500);

/// Sends `words` on a new line-protocol connection and reads the one reply line.
fn line_command(addr: SocketAddr, words: &str) -> (TcpStream, String) {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(format!("{words}\n").as_bytes()).expect("send");
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while c.read(&mut byte).expect("reply") == 1 && byte[0] != b'\n' {
        reply.push(byte[0]);
    }
    (c, String::from_utf8_lossy(&reply).into_owned())
}

#[test]
fn full_ports_make_room_and_never_lock_out_the_page() {
    let s = Served::start(&["--pin", "13", "--line-port", "0", "--max-conns", "3"]);
    let line = s.line.expect("line port");
    // The line port full of idle clients does not touch the HTTP port's room.
    let mut idle: Vec<TcpStream> = (0..3).map(|_| line_command(line, "status").0).collect();
    assert_eq!(curl(&[&s.url("/api/pins")]).status, 200);
    // Clients that spoke just now keep their places: a newcomer is told to come back.
    let (_early, reply) = line_command(line, "status");
    assert!(reply.starts_with("error: server full"), "{reply}");
    // Once they have been idle for a while (half a second), a newcomer takes the place of
    // the longest idle one.
    thread::sleep(SHED_MIN_AGE);
    let (_fourth, reply) = line_command(line, "status");
    assert!(reply.contains("13"), "{reply}");
    let mut rest = Vec::new();
    idle[0]
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(idle[0].read_to_end(&mut rest).expect("closed"), 0);

    // Slow senders of half a request fill the HTTP port; a whole request still gets its
    // answer, in the place of the slowest.
    let slow: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = TcpStream::connect(s.http).expect("connect");
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").expect("send");
            c
        })
        .collect();
    // At first a newcomer finds them all busy and is told when to come back.
    let busy = raw_get(s.http, "/api/pins");
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(busy.contains("Retry-After: 1\r\n"), "{busy}");
    thread::sleep(SHED_MIN_AGE);
    let start = Instant::now();
    let got = raw_get(s.http, "/api/pins");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    drop((idle, slow));
}

/// Runs `serve-gpio ARGS` with stderr on a terminal until it is ready, stops it, and
/// returns all it wrote there.
fn start_on_a_terminal(args: &[&str]) -> String {
    let (follower, leader) = pty();
    let mut cmd = nicksock(args);
    cmd.env_remove("INVOCATION_ID")
        .env_remove("JOURNAL_STREAM")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(follower);
    let mut child = cmd.spawn().expect("spawn");
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut terminal = std::fs::File::from(leader);
        let mut buf = [0u8; 4096];
        // Ends with EIO once the server has exited and closed its side.
        while let Ok(n) = terminal.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains("listening on") {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.extend(
            rx.recv_timeout(left)
                .expect("the ready line on the terminal"),
        );
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().expect("exit").success());
    while let Ok(more) = rx.recv_timeout(Duration::from_millis(500)) {
        seen.extend(more);
    }
    String::from_utf8_lossy(&seen).replace("\r\n", "\n")
}

/// serve-gpio on every IPv4 address of the machine, read-only (it changes nothing).
const EVERYWHERE: [&str; 9] = [
    "serve-gpio",
    "--backend",
    "sim",
    "--pin",
    "13",
    "--read-only",
    "0.0.0.0",
    "--port",
    "0",
];

#[test]
fn on_a_terminal_the_start_shows_the_pages_urls_and_a_qr_code_of_the_first() {
    let args = EVERYWHERE;
    let shown = start_on_a_terminal(&args);
    let port = shown
        .lines()
        .find_map(|l| l.strip_prefix("listening on 0.0.0.0:"))
        .expect("a ready line");
    let urls: Vec<&str> = shown
        .lines()
        .filter_map(|l| l.strip_prefix("page: "))
        .collect();
    // Every IPv4 address of this machine but loopback, each as the page's URL.
    let expected: Vec<String> = if_addrs::get_if_addrs()
        .expect("the machine's addresses")
        .iter()
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
        .map(|ip| format!("http://{ip}:{port}/"))
        .collect();
    assert_eq!(urls, expected, "{shown}");
    let qr_lines = shown.lines().filter(|l| l.contains('\u{2588}')).count();
    if expected.is_empty() {
        assert_eq!(qr_lines, 0, "{shown}");
    } else {
        assert!(qr_lines >= 10, "a QR code: {shown}");
    }
    // --no-qr keeps the URLs and drops the code.
    let args = [&args[..], &["--no-qr"]].concat();
    let shown = start_on_a_terminal(&args);
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("page: ")).count(),
        expected.len()
    );
    assert!(!shown.contains('\u{2588}'), "{shown}");
}

#[test]
fn in_a_pipe_the_start_shows_no_urls_and_no_code() {
    let mut proc = Proc::spawn(nicksock(&EVERYWHERE));
    proc.wait_line("listening on");
    proc.signal("TERM");
    let done = proc.wait();
    assert_eq!(done.code(), 0);
    assert!(!done.stderr.contains("page: "), "{}", done.stderr);
    assert!(!done.stderr.contains('\u{2588}'), "{}", done.stderr);
}

/// The pins as `GET /api/pins` shows them: (pin, value, duty).
fn pin_states(s: &Served) -> Vec<(u64, u64, Option<u64>)> {
    let list = curl(&[&s.url("/api/pins")]).json();
    list["pins"]
        .as_array()
        .expect("pins")
        .iter()
        .map(|p| {
            (
                p["pin"].as_u64().expect("pin"),
                p["value"].as_u64().expect("value"),
                p["duty"].as_u64(),
            )
        })
        .collect()
}

#[test]
fn state_file_restores_levels_and_duties_after_sigterm_and_policies_override() {
    let dir = tempdir();
    let file = dir.path().join("pins.json");
    let state = file.to_str().expect("path");
    let pins = ["--pin", "13", "--pin", "5", "--pwm", "18", "--input", "6"];
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut all: Vec<String> = pins.iter().map(|s| s.to_string()).collect();
        all.extend(["--state-file".to_string(), state.to_string()]);
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };
    let start = |extra: &[&'static str]| {
        let owned = args(extra);
        let words: Vec<&str> = owned.iter().map(String::as_str).collect();
        Served::start(&words)
    };

    // First start: no file yet is a warning, the pins start off.
    let mut first = start(&[]);
    let said = |s: &Served, what: &str| s.proc.stderr_seen.iter().any(|l| l.contains(what));
    assert!(
        said(&first, "no saved pin states yet"),
        "{:?}",
        first.proc.stderr_seen
    );
    let json = |body: &str| ["-H", "Content-Type: application/json", "-d", body].map(String::from);
    for (pin, body) in [("13", r#"{"value":1}"#), ("18", r#"{"duty":40}"#)] {
        let a = json(body);
        let url = first.url(&format!("/api/pins/{pin}"));
        let done = curl(&[&a[0], &a[1], &a[2], &a[3], &url]);
        assert_eq!(done.status, 200, "{}", done.body);
    }
    first.proc.signal("TERM");
    first.proc.wait().assert_code(0);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(&file).expect("the state file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Second start: 13 on and 18 at 40 % again, 5 off; the input is not in the file.
    let second = start(&[]);
    assert_eq!(
        pin_states(&second),
        [(13, 1, None), (5, 0, None), (18, 1, Some(40)), (6, 0, None)]
    );
    let saved = fs::read_to_string(&file).expect("state");
    assert!(!saved.contains("\"6\""), "{saved}");
    drop(second);

    // Policies: 13 forced off, every other output on.
    let third = start(&["--restore", "on", "--restore", "13=off"]);
    assert_eq!(
        pin_states(&third),
        [
            (13, 0, None),
            (5, 1, None),
            (18, 1, Some(100)),
            (6, 0, None)
        ]
    );
    drop(third);

    // A truncated file: a warning, and the defaults.
    let text = fs::read(&file).expect("state");
    fs::write(&file, &text[..text.len() / 2]).expect("truncate");
    let fourth = start(&[]);
    assert!(
        said(&fourth, "the saved pin states are ignored"),
        "{:?}",
        fourth.proc.stderr_seen
    );
    assert_eq!(
        pin_states(&fourth),
        [(13, 0, None), (5, 0, None), (18, 0, Some(0)), (6, 0, None)]
    );
    drop(fourth);

    // --restore for an input or a pin not served: a usage error.
    for bad in [["--restore", "6=on"], ["--restore", "7=on"]] {
        let owned = args(&bad);
        let mut all = vec!["serve-gpio", "--backend", "sim", "127.0.0.1", "--port", "0"];
        all.extend(owned.iter().map(String::as_str));
        run(&all, b"").assert_code(2);
    }
}
