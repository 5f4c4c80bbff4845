//! `--allow` and `--deny` on every server: a client from 127.0.0.2 is closed before a byte
//! while 127.0.0.1 is served, deny wins over allow, IPv6, the file forms, a refused TLS
//! client sees no handshake, datagrams from strangers are dropped.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};

use crate::serve_gpio::Served;
use crate::util::*;

/// A TCP connection to `to` from the address `from` (any port).
pub fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let from: IpAddr = from.parse().expect("address");
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    sock.bind(&SocketAddr::new(from, 0).into()).expect("bind");
    sock.connect(&to.into()).expect("connect");
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    s
}

/// What a client from `from` gets back for `ask` (then its end): the server's bytes, or
/// nothing when it was closed without a word (a reset counts as nothing too).
fn exchange(from: &str, to: SocketAddr, ask: &[u8]) -> Vec<u8> {
    let mut s = connect_from(from, to);
    // A refused client may find the connection already closed: its write may fail.
    let _ = s.write_all(ask);
    let _ = s.shutdown(Shutdown::Write);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

/// `echo ARGS 127.0.0.1 0` (or the address given last in `args`), once it listens.
fn echo(args: &[&str], at: &str) -> (Proc, SocketAddr) {
    let mut all = vec!["-v", "echo"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[at, "0"]);
    let mut p = Proc::spawn_io(nicksock(&all), Stdio::null(), Stdio::piped());
    let addr = p.wait_ready(1)[0];
    (p, addr)
}

#[test]
fn echo_serves_the_allowed_and_closes_the_others_before_a_byte() {
    let (mut p, addr) = echo(&["--allow", "127.0.0.1"], "127.0.0.1");
    assert_eq!(exchange("127.0.0.1", addr, b"hello\n"), b"hello\n");
    assert!(exchange("127.0.0.2", addr, b"hello\n").is_empty());
    p.wait_line("refused 127.0.0.2:");
    p.signal("TERM");
    p.wait().assert_code(0);

    // Deny wins over allow; ranges; several entries in one value.
    let (_p, addr) = echo(
        &["--allow", "127.0.0.0/8,10.0.0.0/8", "--deny", "127.0.0.2"],
        "127.0.0.1",
    );
    assert_eq!(exchange("127.0.0.3", addr, b"in\n"), b"in\n");
    assert!(exchange("127.0.0.2", addr, b"out\n").is_empty());
}

#[test]
fn ipv6_entries_and_the_file_forms() {
    let dir = tempdir();
    let allow = write_file(
        dir.path(),
        "allow",
        b"# the lab\n127.0.0.1  # this host\n\n::1/128\n",
    );
    let deny = write_file(dir.path(), "deny", b"127.0.0.9\n");
    let (_p, addr) = echo(
        &[
            "--allow-file",
            allow.to_str().unwrap(),
            "--deny-file",
            deny.to_str().unwrap(),
        ],
        "127.0.0.1",
    );
    assert_eq!(exchange("127.0.0.1", addr, b"a\n"), b"a\n");
    assert!(exchange("127.0.0.2", addr, b"b\n").is_empty());
    assert!(exchange("127.0.0.9", addr, b"c\n").is_empty());
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        skip("no IPv6 loopback here");
        return;
    }
    let (_p, addr) = echo(&["--allow", "::1/128"], "::1");
    assert_eq!(exchange("::1", addr, b"six\n"), b"six\n");
    let (_p, addr) = echo(&["--deny", "::1"], "::1");
    assert!(exchange("::1", addr, b"six\n").is_empty());

    // A bad entry is a usage error naming it; a missing file is exit 10.
    let bad = write_file(dir.path(), "bad", b"10.0.0.1\nlab-pc\n");
    let done = run(&["echo", "--allow-file", bad.to_str().unwrap(), "0"], b"");
    done.assert_code(2);
    assert!(
        done.stderr.contains("line 2: 'lab-pc' is not an address"),
        "{}",
        done.stderr
    );
    let done = run(&["echo", "--deny-file", "/nonexistent/deny", "0"], b"");
    done.assert_code(10);
}

#[test]
fn a_refused_tls_client_sees_no_handshake() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let (_p, addr) = echo(
        &[
            "--tls",
            "--cert",
            &cert,
            "--key",
            &key,
            "--allow",
            "127.0.0.1",
        ],
        "127.0.0.1",
    );
    let handshake = |from: &str| {
        let script = "import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=20, source_address=(sys.argv[1], 0))
try:
    ctx.wrap_socket(s).close(); print('handshake')
except (ssl.SSLError, OSError) as e:
    print('no handshake:', type(e).__name__)";
        let out = Command::new("python3")
            .args([
                "-c",
                script,
                from,
                &addr.ip().to_string(),
                &addr.port().to_string(),
            ])
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(handshake("127.0.0.1"), "handshake");
    assert!(handshake("127.0.0.2").starts_with("no handshake"));
}

#[test]
fn listen_takes_only_allowed_clients_and_nc_from_elsewhere_is_turned_away() {
    if !have("nc") {
        return;
    }
    let mut p = Proc::spawn_io(
        nicksock(&[
            "-v",
            "listen",
            "-k",
            "--deny",
            "127.0.0.2",
            "127.0.0.1",
            "0",
        ]),
        Stdio::null(),
        Stdio::piped(),
    );
    let port = p.wait_ready(1)[0].port().to_string();
    for (from, line) in [
        ("127.0.0.2", "from a stranger\n"),
        ("127.0.0.1", "from a friend\n"),
    ] {
        let mut nc = Command::new("nc");
        nc.args(["-N", "-s", from, "127.0.0.1", &port]);
        let mut c = Proc::spawn(nc);
        c.send(line.as_bytes());
        c.close_stdin();
        c.wait();
    }
    p.wait_line("connection from 127.0.0.1");
    p.signal("TERM");
    let done = p.wait();
    assert_eq!(done.out(), "from a friend\n");
    assert!(
        done.stderr.contains("refused 127.0.0.2:"),
        "{}",
        done.stderr
    );
}

#[test]
fn datagrams_from_strangers_are_dropped() {
    let mut p = Proc::spawn_io(
        nicksock(&[
            "-v",
            "listen",
            "-u",
            "-k",
            "--allow",
            "127.0.0.1",
            "127.0.0.1",
            "0",
        ]),
        Stdio::null(),
        Stdio::piped(),
    );
    let addr = ready_addr(&p.wait_line("bound on").replace("bound on", "listening on"));
    let stranger = UdpSocket::bind("127.0.0.2:0").expect("bind");
    stranger.send_to(b"dropped\n", addr).expect("send");
    let friend = UdpSocket::bind("127.0.0.1:0").expect("bind");
    friend.send_to(b"kept\n", addr).expect("send");
    // The stranger's datagram went first: once the friend's is taken, it was judged.
    p.wait_line("datagram from 127.0.0.1:");
    p.signal("TERM");
    let done = p.wait();
    assert_eq!(done.out(), "kept\n");
    assert!(!done.stderr.contains("127.0.0.2"), "{}", done.stderr);
}

#[test]
fn relay_and_serve_gpio_refuse_on_every_port() {
    let (_echo, target) = echo(&[], "127.0.0.1");
    let mut relay = Proc::spawn_io(
        nicksock(&[
            "relay",
            "--allow",
            "127.0.0.1",
            "127.0.0.1",
            "0",
            "127.0.0.1",
            &target.port().to_string(),
        ]),
        Stdio::null(),
        Stdio::piped(),
    );
    let addr = relay.wait_ready(1)[0];
    assert_eq!(exchange("127.0.0.1", addr, b"through\n"), b"through\n");
    assert!(exchange("127.0.0.2", addr, b"through\n").is_empty());

    let s = Served::start(&["--pin", "13", "--line-port", "0", "--deny", "127.0.0.2"]);
    assert!(
        s.proc
            .stderr_seen
            .iter()
            .any(|l| l == "who: everyone but 127.0.0.2 may connect (--allow/--deny)"),
        "{:?}",
        s.proc.stderr_seen
    );
    let get = b"GET /api/pins HTTP/1.1\r\nHost: pi\r\nConnection: close\r\n\r\n";
    assert!(exchange("127.0.0.1", s.http, get).starts_with(b"HTTP/1.1 200"));
    assert!(exchange("127.0.0.2", s.http, get).is_empty());
    let line = s.line.expect("line port");
    assert!(!exchange("127.0.0.1", line, b"get 13\n").is_empty());
    assert!(exchange("127.0.0.2", line, b"get 13\n").is_empty());
    s.proc.signal("TERM");
}
