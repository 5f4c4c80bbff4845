//! Unix domain sockets: `listen -U`, `connect -U`, `echo -U` and `http-get --unix-socket`
//! against OpenBSD `nc -U`, socat, `openssl s_client -unix` and `curl --unix-socket`; the
//! socket file's life (a stale one replaced, a live one left alone with exit 8, ours removed
//! on exit).

use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::*;

/// Starts `nicksock ARGS` and waits for its `listening on PATH` line.
fn unix_server(args: &[&str]) -> Proc {
    let mut proc = Proc::spawn(nicksock(args));
    proc.wait_line("listening on ");
    proc
}

/// Like [`unix_server`], with stdin at /dev/null as a background job of a script has it.
fn quiet_unix_server(args: &[&str]) -> Proc {
    let mut proc = Proc::spawn_io(nicksock(args), Stdio::null(), Stdio::piped());
    proc.wait_line("listening on ");
    proc
}

/// Runs OpenBSD nc with `args`, `input` on its stdin (then closed).
fn nc(args: &[&str], input: &[u8]) -> Proc {
    let mut cmd = Command::new("nc");
    cmd.args(args);
    let mut proc = Proc::spawn(cmd);
    proc.send(input);
    proc.close_stdin();
    proc
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn listen_and_connect_talk_to_openbsd_nc_over_a_unix_socket() {
    if !have("nc") {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("l.sock");
    // nc -U → listen -U, while listen's own stdin goes the other way: both directions.
    let mut listen = unix_server(&["listen", "-U", s(&path)]);
    listen.send(b"from nicksock\n");
    listen.close_stdin();
    let got = nc(&["-U", s(&path)], b"from nc\n").wait();
    assert_eq!(got.out(), "from nicksock\n");
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "from nc\n");
    assert!(!path.exists(), "listen left its socket file behind");

    // connect -U → nc -lU; nc reads nothing back (-d) and ends at our end of stream.
    let mut cmd = Command::new("nc");
    cmd.args(["-d", "-l", "-U", s(&path)]);
    let mut server = Proc::spawn(cmd);
    // nc prints no ready line: connect waits for its socket with --retry-for.
    let done = run(
        &["connect", "--retry-for", "10", "-U", s(&path)],
        b"hello nc\n",
    );
    done.assert_code(0);
    assert_eq!(server.wait().out(), "hello nc\n");
}

#[test]
fn a_file_arrives_whole_over_a_unix_socket_with_the_receiver_stdin_at_dev_null() {
    if !have("socat") {
        return;
    }
    // The first promise, on a Unix socket: socat sends 4 MiB, listen -U (stdin at
    // /dev/null, as in a background job) writes every byte and only then exits 0.
    let dir = tempdir();
    let path = dir.path().join("f.sock");
    let data = pattern(4 << 20, 7);
    let file = write_file(dir.path(), "data", &data);
    let mut listen = quiet_unix_server(&["listen", "-U", s(&path)]);
    let sent = Command::new("socat")
        .args([
            "-u",
            &format!("FILE:{}", s(&file)),
            &format!("UNIX-CONNECT:{}", s(&path)),
        ])
        .status()
        .unwrap();
    assert!(sent.success());
    let done = listen.wait();
    done.assert_code(0);
    assert!(
        done.stdout == data,
        "got {} of {} bytes",
        done.stdout.len(),
        data.len()
    );

    // And the other way: connect -U sends a file from stdin to socat's listener.
    let out = dir.path().join("copy");
    let mut cmd = Command::new("socat");
    cmd.args([
        "-u",
        &format!("UNIX-LISTEN:{}", s(&path)),
        &format!("CREATE:{}", s(&out)),
    ]);
    let mut server = Proc::spawn(cmd);
    let mut client = nicksock(&["connect", "--retry-for", "10", "-U", s(&path)]);
    client.stdin(std::fs::File::open(&file).unwrap());
    let status = client.output().unwrap();
    assert!(status.status.success(), "{status:?}");
    server.wait();
    assert!(std::fs::read(&out).unwrap() == data, "the copy differs");
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_server_is_left_alone() {
    let dir = tempdir();
    let path = dir.path().join("st.sock");
    // A server that died without cleaning up: the file stays, nobody answers.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let mut first = quiet_unix_server(&["listen", "-U", s(&path)]);

    // A second server on the same path: address in use (exit 8), and the first one is
    // not disturbed (it must not have been handed a probing connection as its client).
    let second = run(&["listen", "-U", s(&path)], b"");
    second.assert_code(8);
    assert!(
        second.stderr.contains("address already in use"),
        "{}",
        second.stderr
    );
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"still here\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    let done = first.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "still here\n");
    assert!(!path.exists());

    // A file that is not a socket is never removed.
    std::fs::write(&path, b"precious").unwrap();
    let refused = run(&["echo", "-U", s(&path)], b"");
    refused.assert_code(8);
    assert!(
        refused.stderr.contains("not a socket"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn echo_removes_its_socket_file_on_sigterm_and_sigint() {
    let dir = tempdir();
    let path = dir.path().join("e.sock");
    for sig in ["TERM", "INT"] {
        let mut echo = unix_server(&["echo", "-U", s(&path)]);
        let mut c = UnixStream::connect(&path).unwrap();
        c.write_all(b"ping\n").unwrap();
        let mut got = [0u8; 5];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping\n");
        echo.signal(sig);
        let done = echo.wait();
        assert!(
            !path.exists(),
            "SIG{sig} left the socket file: {}",
            done.stderr
        );
    }
}

#[test]
fn tls_over_a_unix_socket_with_openssl_and_nicksock_clients() {
    if !have("openssl") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["localhost"]);
    let path = dir.path().join("t.sock");
    let mut echo = unix_server(&[
        "echo",
        "-U",
        s(&path),
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
    ]);
    assert_eq!(s_client_line(&path, &cert, "over tls"), "over tls");
    let done = run(
        &["connect", "-U", s(&path), "--tls", "--cacert", &cert],
        b"nicksock over tls\n",
    );
    done.assert_code(0);
    assert_eq!(done.out(), "nicksock over tls\n");
    // The certificate is for localhost: a --servername it does not name fails the check.
    let wrong = run(
        &[
            "connect",
            "-U",
            s(&path),
            "--tls",
            "--cacert",
            &cert,
            "--servername",
            "other.test",
        ],
        b"x\n",
    );
    wrong.assert_code(6);
    echo.signal("TERM");
    echo.wait();
}

#[test]
fn curl_and_http_get_over_unix_sockets() {
    if !have("curl") || !have("nc") {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("h.sock");
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";
    // curl --unix-socket → listen -U answering with a canned response (lab L6's way).
    let mut listen = unix_server(&["listen", "-U", s(&path)]);
    listen.send(response);
    listen.close_stdin();
    let curl = Command::new("curl")
        .args([
            "-sS",
            "--unix-socket",
            s(&path),
            "http://lab.test/index.html",
        ])
        .output()
        .unwrap();
    assert!(curl.status.success(), "{curl:?}");
    assert_eq!(curl.stdout, b"hello\n");
    let request = listen.wait().out();
    assert!(
        request.starts_with("GET /index.html HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("Host: lab.test\r\n"), "{request}");

    // http-get --unix-socket → nc -lU: the URL's host goes in the Host header, the bytes go
    // to the socket, and no name is looked up (lab.test does not exist).
    let mut cmd = Command::new("nc");
    cmd.args(["-l", "-U", s(&path)]);
    let mut server = Proc::spawn(cmd);
    server.send(response);
    server.close_stdin();
    let got = run(
        &[
            "http-get",
            "--retry-for",
            "10",
            "--unix-socket",
            s(&path),
            "http://lab.test/x",
        ],
        b"",
    );
    got.assert_code(0);
    assert_eq!(got.out(), "hello\n");
    let request = server.wait().out();
    assert!(request.starts_with("GET /x HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("Host: lab.test\r\n"), "{request}");
}

#[test]
fn connecting_to_nothing_says_so_with_exit_4_and_retry_for_waits_for_the_socket() {
    let dir = tempdir();
    let path = dir.path().join("later.sock");
    let missing = run(&["connect", "-U", s(&path)], b"");
    missing.assert_code(4);
    assert!(
        missing.stderr.contains("no such socket"),
        "{}",
        missing.stderr
    );
    let missing = run(
        &["http-get", "--unix-socket", s(&path), "http://x.test/"],
        b"",
    );
    missing.assert_code(4);
    // A stale file: refused, also exit 4.
    drop(UnixListener::bind(&path).unwrap());
    let refused = run(&["connect", "-z", "-U", s(&path)], b"");
    refused.assert_code(4);
    assert!(refused.stderr.contains("refused"), "{}", refused.stderr);
    std::fs::remove_file(&path).unwrap();

    // --retry-for: the client is already trying when the server comes up.
    let mut client = Proc::spawn(nicksock(&[
        "connect",
        "-v",
        "--retry-for",
        "20",
        "-U",
        s(&path),
    ]));
    client.wait_line("retrying in");
    let server = UnixListener::bind(&path).unwrap();
    let (mut peer, _) = server.accept().unwrap();
    client.send(b"late\n");
    client.close_stdin();
    let mut got = String::new();
    peer.read_to_string(&mut got).unwrap();
    assert_eq!(got, "late\n");
    drop(peer);
    client.wait().assert_code(0);
    let zero = run(&["connect", "-z", "-v", "-U", s(&path)], b"");
    zero.assert_code(0);
    assert!(zero.stderr.contains("succeeded"), "{}", zero.stderr);
}

#[test]
fn bad_socket_paths_are_usage_errors() {
    let long = format!("/tmp/{}.sock", "x".repeat(150));
    for args in [
        vec!["listen", "-U", &long],
        vec!["connect", "-U", &long],
        vec!["http-get", "--unix-socket", &long, "http://x.test/"],
    ] {
        let done = run(&args, b"");
        done.assert_code(2);
        assert!(
            done.stderr.contains("invalid socket path"),
            "{args:?}: {}",
            done.stderr
        );
    }
    // An empty path, -U with a port, or with UDP, makes no sense.
    run(&["echo", "-U", ""], b"").assert_code(2);
    run(&["listen", "-U", "/tmp/x.sock", "1234"], b"").assert_code(2);
    run(&["connect", "-u", "-U", "/tmp/x.sock"], b"").assert_code(2);
    // relay: with --to-unix only [ADDR] PORT, with --unix only TARGET_HOST TARGET_PORT.
    let extra = run(
        &["relay", "--to-unix", "/tmp/x.sock", "8080", "h", "80"],
        b"",
    );
    extra.assert_code(2);
    assert!(
        extra.stderr.contains("[ADDR] PORT (with --to-unix)"),
        "{}",
        extra.stderr
    );
    run(&["relay", "--unix", "/tmp/x.sock", "8080"], b"").assert_code(2);
    run(&["relay", "8080", "h"], b"").assert_code(2);
}

#[test]
fn chat_and_trace_work_on_a_unix_socket() {
    if !have("nc") {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("c.sock");
    let mut chat = unix_server(&["--trace-ascii", "-", "listen", "--chat", "-U", s(&path)]);
    let reader = UnixStream::connect(&path).unwrap();
    let lines = lines_of(reader);
    let welcome = lines
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap();
    assert!(welcome.starts_with("* welcome"), "{welcome}");
    nc(&["-N", "-U", s(&path)], b"hello room\n")
        .wait()
        .assert_code(0);
    let said = (0..10)
        .map_while(|_| lines.recv_timeout(std::time::Duration::from_secs(20)).ok())
        .find(|l| l.contains("hello room"));
    assert!(
        said.is_some_and(|l| l.ends_with("> hello room")),
        "the line did not arrive"
    );
    // The trace names a local peer by its process.
    let traced = chat.wait_line("bytes from pid ");
    assert!(traced.contains("(uid "), "{traced}");
    chat.signal("TERM");
    chat.wait();
}

/// Sends `line` through `openssl s_client -unix PATH` (verifying against `cert`) and
/// returns the first line that comes back. s_client keeps the session open after its stdin
/// ends, so the answer is read with a time limit and s_client is then stopped.
fn s_client_line(path: &Path, cert: &str, line: &str) -> String {
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-unix", s(path), "-CAfile", cert])
        .args(["-verify_return_error"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = client.stdin.as_mut().unwrap();
    stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    let lines = lines_of(client.stdout.take().unwrap());
    let answer = lines.recv_timeout(std::time::Duration::from_secs(20));
    let _ = client.kill();
    let _ = client.wait();
    answer.unwrap_or_else(|e| panic!("no answer through s_client: {e}"))
}

/// The lines read from `from`, by a thread, for `recv_timeout`.
fn lines_of(from: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn relay_joins_tcp_and_unix_sockets_with_tls_on_either_side() {
    if !have("nc") || !have("openssl") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["localhost"]);
    let target = dir.path().join("target.sock");
    let front = dir.path().join("front.sock");
    // TCP → relay → a Unix echo server (socat TCP-LISTEN,fork UNIX-CONNECT).
    let mut echo = unix_server(&["echo", "-U", s(&target)]);
    let mut relay = Proc::spawn(nicksock(&[
        "relay",
        "-v",
        "--to-unix",
        s(&target),
        "127.0.0.1",
        "0",
    ]));
    let port = ready_addr(&relay.wait_line("listening on "))
        .port()
        .to_string();
    let got = nc(&["-N", "127.0.0.1", &port], b"through the relay\n").wait();
    assert_eq!(got.out(), "through the relay\n");
    relay.wait_line("both sides ended");

    // TLS on a Unix socket in front → relay → the TCP side (stunnel's job, on a socket file).
    let mut tls_front = unix_server(&[
        "relay",
        "--unix",
        s(&front),
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "127.0.0.1",
        &port,
    ]);
    assert_eq!(
        s_client_line(&front, &cert, "tls, unix, tcp, unix"),
        "tls, unix, tcp, unix"
    );

    // The target goes away: each client is closed and the failure logged; the relay stays.
    echo.signal("TERM");
    echo.wait();
    let cut = nc(&["127.0.0.1", &port], b"anyone?\n").wait();
    assert_eq!(cut.out(), "");
    let line = relay.wait_line("nicksock: relay:");
    assert!(line.contains("no such socket"), "{line}");
    assert!(relay.child.try_wait().unwrap().is_none(), "the relay died");
    tls_front.signal("TERM");
    tls_front.wait();
    assert!(!front.exists());
}

#[test]
fn a_tls_peer_on_a_unix_socket_that_leaves_our_bytes_unread_is_a_failure() {
    // A TLS server on a Unix socket reads one line, answers, ends TLS cleanly and closes
    // with 100 KB of ours unread: the client must not exit 0. (Over TCP a reset after a
    // clean TLS end is forgiven when only our close_notify was unacknowledged; a Unix
    // socket's count cannot tell that, since the peer's close throws its queue away.)
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["localhost"]);
    let path = dir.path().join("rude.sock");
    let server = r#"
import select, socket, ssl, sys
path, cert, key = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
print("listening on", path, file=sys.stderr, flush=True)
c, _ = s.accept()
t = ctx.wrap_socket(c, server_side=True)
line = b""
while not line.endswith(b"\n"):
    got = t.recv(1)
    if not got:
        break
    line += got
# Leave the rest unread until the client has sent all of it and ended its side.
p = select.poll()
p.register(t.fileno(), select.POLLRDHUP)
p.poll(20000)
t.sendall(b"bye\n")
# A clean TLS end from our side (close_notify sent, the client's not awaited), then the
# socket closed with the client's bytes still unread.
t.setblocking(False)
try:
    t.unwrap()
except (ssl.SSLWantReadError, ssl.SSLError, OSError):
    pass
t.close()
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", server, s(&path), &cert, &key]);
    let mut server = Proc::spawn(cmd);
    server.wait_line("listening on");
    let mut data = b"hello\n".to_vec();
    data.extend(pattern(100 * 1024, 3));
    let file = write_file(dir.path(), "data", &data);
    let mut client = nicksock(&["connect", "-U", s(&path), "--tls", "--cacert", &cert]);
    client.stdin(std::fs::File::open(&file).unwrap());
    let done = client.output().unwrap();
    server.wait();
    let stderr = String::from_utf8_lossy(&done.stderr);
    eprintln!("exit {:?}: {stderr}", done.status.code());
    assert_ne!(
        done.status.code(),
        Some(0),
        "100 KB unread, yet exit 0: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn relay_waits_for_room_in_a_unix_targets_full_backlog() {
    // A target that is slow to accept: its backlog (1) fills, and the kernel refuses more
    // connects with EAGAIN at once. The relay keeps those clients and tries again until -w,
    // as a TCP connect would wait, instead of closing them.
    if !have("python3") || !have("nc") {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("slow.sock");
    let server = r#"
import socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
print("listening on", sys.argv[1], file=sys.stderr, flush=True)
sys.stdin.readline()  # accept only once told to
def echo(c):
    with c:
        while True:
            got = c.recv(4096)
            if not got:
                return
            c.sendall(got)
for _ in range(4):
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,)).start()
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", server, s(&path)]);
    let mut target = Proc::spawn(cmd);
    target.wait_line("listening on");
    let mut relay = Proc::spawn(nicksock(&[
        "relay",
        "-v",
        "-w",
        "20",
        "--to-unix",
        s(&path),
        "127.0.0.1",
        "0",
    ]));
    let port = ready_addr(&relay.wait_line("listening on "))
        .port()
        .to_string();
    let clients: Vec<Proc> = (0..4)
        .map(|i| {
            let mut cmd = Command::new("nc");
            cmd.args(["-N", "127.0.0.1", &port]);
            let mut c = Proc::spawn(cmd);
            c.send(format!("client {i}\n").as_bytes());
            c.close_stdin();
            c
        })
        .collect();
    // Two connects fit (the backlog and one more); the others find it full.
    relay.wait_line("backlog is full");
    relay.wait_line("backlog is full");
    target.send(b"go\n");
    for (i, mut c) in clients.into_iter().enumerate() {
        assert_eq!(c.wait().out(), format!("client {i}\n"), "client {i}");
    }
    for _ in 0..4 {
        relay.wait_line("both sides ended");
    }
}

#[test]
fn serve_gpio_on_a_unix_socket_answers_curl_as_behind_a_reverse_proxy() {
    if !have("curl") {
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("gpio.sock");
    let mut served = unix_server(&[
        "serve-gpio",
        "--backend",
        "sim",
        "--pin",
        "13=LED",
        "-U",
        s(&path),
    ]);
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--unix-socket", s(&path)])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "curl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let switched = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"state":"on"}"#,
        "http://pi.local/api/pins/LED",
    ]);
    assert!(switched.contains(r#""state":"on""#), "{switched}");
    let page = curl(&["http://pi.local/"]);
    assert!(page.contains("LED (GPIO13)"), "{page}");
    assert!(page.contains(r#"id="pin13-state">on<"#), "{page}");
    served.signal("TERM");
    served.wait().assert_code(0);
    assert!(!path.exists(), "serve-gpio left its socket file");
}
