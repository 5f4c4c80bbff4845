//! `relay`: clients joined to a target, TLS on either side, with real peers on both ends
//! (nc, socat, openssl s_client/s_server, curl, the lab's Python web server), the half-close
//! rules, many clients, and the failures that must close one client only.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// A certificate for 127.0.0.1, made with gen-cert in `dir`: (cert, key).
fn cert(dir: &Path) -> (String, String) {
    self_signed(dir, &["127.0.0.1"])
}

/// Starts a nicksock server (`echo …`, `relay …`) and returns it with its first port.
fn start(args: &[&str]) -> (Proc, u16) {
    let mut p = Proc::spawn_io(nicksock(args), Stdio::null(), Stdio::piped());
    let port = p.wait_ready(1)[0].port();
    (p, port)
}

/// `relay 127.0.0.1 0 127.0.0.1 PORT` with `extra` options first.
fn relay_to(port: u16, extra: &[&str]) -> (Proc, u16) {
    let target = port.to_string();
    let mut args = vec!["-v", "relay"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["127.0.0.1", "0", "127.0.0.1", &target]);
    start(&args)
}

#[test]
fn sixty_four_mib_both_ways_plain_and_tls_on_either_side() {
    let dir = tempdir();
    let (c, k) = cert(dir.path());
    let data = pattern(64 << 20, 21);
    let input = write_file(dir.path(), "in.bin", &data);
    for (tls_in, tls_out) in [(false, false), (true, false), (false, true), (true, true)] {
        // The target echoes; what comes back has crossed the relay twice.
        let mut echo_args = vec!["echo"];
        if tls_out {
            echo_args.extend_from_slice(&["--tls", "--cert", &c, "--key", &k]);
        }
        echo_args.extend_from_slice(&["127.0.0.1", "0"]);
        let (_echo, echo_port) = start(&echo_args);
        let mut extra = Vec::new();
        if tls_in {
            extra.extend_from_slice(&["--tls", "--cert", &c, "--key", &k]);
        }
        if tls_out {
            extra.extend_from_slice(&["--to-tls", "--to-cacert", &c]);
        }
        let (mut relay, port) = relay_to(echo_port, &extra);
        let port = port.to_string();
        let mut client = vec!["connect"];
        if tls_in {
            client.extend_from_slice(&["--tls", "--cacert", &c]);
        }
        client.extend_from_slice(&["127.0.0.1", &port]);
        let started = Instant::now();
        let mut c = Proc::spawn_io(
            nicksock(&client),
            Stdio::from(File::open(&input).unwrap()),
            Stdio::piped(),
        );
        let done = c.wait();
        eprintln!(
            "TLS in {tls_in}, out {tls_out}: {} MiB back in {:?}",
            done.stdout.len() >> 20,
            started.elapsed()
        );
        done.assert_code(0);
        assert!(
            done.stdout == data,
            "tls in {tls_in}, out {tls_out}: bytes differ"
        );
        relay.wait_line("both sides ended");
        relay.signal("TERM");
        relay.wait().assert_code(0);
    }
}

#[test]
fn real_peers_on_both_ends() {
    if !have("nc") || !have("socat") || !have("openssl") || !have("curl") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let (c, k) = cert(dir.path());

    // nc → relay → socat (which answers the byte count only after the client's end).
    let mut socat = Command::new("socat");
    socat.args(["-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "EXEC:wc -c"]);
    let mut socat = Proc::spawn_io(socat, Stdio::null(), Stdio::null());
    let line = socat.wait_line("listening on");
    let socat_port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    let (_relay, port) = relay_to(socat_port, &[]);
    let mut nc = Command::new("nc");
    nc.args(["-N", "127.0.0.1", &port.to_string()]);
    let mut nc = Proc::spawn(nc);
    nc.send(b"twelve bytes");
    nc.close_stdin();
    let done = nc.wait();
    assert_eq!(
        done.out().trim(),
        "12",
        "the answer after the half-close came back"
    );

    // openssl s_client → relay --tls → nicksock echo.
    let (_echo, echo_port) = start(&["echo", "127.0.0.1", "0"]);
    let (_relay, port) = relay_to(echo_port, &["--tls", "--cert", &c, "--key", &k]);
    let mut s_client = Command::new("openssl");
    s_client.args([
        "s_client",
        "-quiet",
        "-CAfile",
        &c,
        "-verify_return_error",
        "-connect",
        &format!("127.0.0.1:{port}"),
    ]);
    // s_client ends at stdin's end without waiting for the answer: read it while stdin is
    // open (its stdin closes when the test lets go of it, which ends it).
    let mut s_client = s_client
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = s_client.stdin.take().unwrap();
    input.write_all(b"through TLS and back\n").unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut out = s_client.stdout.take().unwrap();
    while !got.ends_with(b"back\n") {
        assert!(Instant::now() < deadline, "no echo through relay --tls");
        let mut buf = [0u8; 256];
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "s_client's output ended early: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"through TLS and back\n");
    drop(input);
    let _ = s_client.kill();
    let _ = s_client.wait();

    // nc → relay --to-tls → openssl s_server: the relay verifies the server's certificate.
    // Its "ACCEPT 127.0.0.1:PORT" line goes to stdout: sent to stderr to wait for it.
    let mut s_server = Command::new("sh");
    s_server.args([
        "-c",
        "exec openssl s_server -accept 127.0.0.1:0 -cert \"$0\" -key \"$1\" -naccept 1 1>&2",
        &c,
        &k,
    ]);
    let mut s_server = Proc::spawn(s_server);
    let s_port = ready_addr(
        &s_server
            .wait_line("ACCEPT")
            .replace("ACCEPT", "listening on"),
    )
    .port();
    let (_relay, port) = relay_to(s_port, &["--to-tls", "--to-cacert", &c]);
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"hello s_server\n").unwrap();
    s_server.send(b"hello client\n");
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 13];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello client\n");

    // curl --cacert → relay --tls → the lab's Python web server (HTTPS in front of it).
    let page = write_file(dir.path(), "index.html", b"<h1>Hello from the lab</h1>\n");
    let mut lab = Command::new("python3");
    lab.args([
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench/lab_server.py"),
        page.to_str().unwrap(),
    ]);
    let mut lab = Proc::spawn(lab);
    let lab_port = lab.wait_ready(1)[0].port();
    let (_relay, port) = relay_to(lab_port, &["--tls", "--cert", &c, "--key", &k]);
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &c, &format!("https://127.0.0.1:{port}/")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"<h1>Hello from the lab</h1>\n");
}

#[test]
fn two_hundred_clients_at_once_each_get_their_own_bytes() {
    let (_echo, echo_port) = start(&["echo", "127.0.0.1", "0"]);
    let (_relay, port) = relay_to(echo_port, &[]);
    let clients: Vec<_> = (0..200u64)
        .map(|i| {
            thread::spawn(move || {
                let data = pattern(64 << 10, i + 100);
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(PATIENCE)).unwrap();
                let mut w = s.try_clone().unwrap();
                let sent = data.clone();
                let writer = thread::spawn(move || {
                    w.write_all(&sent).unwrap();
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                got == data
            })
        })
        .collect();
    let ok = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(ok, 200, "clients that got their own bytes back");
}

#[test]
fn a_client_that_never_reads_stalls_no_one() {
    let (_echo, echo_port) = start(&["echo", "127.0.0.1", "0"]);
    let (_relay, port) = relay_to(echo_port, &[]);
    // Writes until everything between it and the echo server is full, never reads.
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Full once a blocking write stays blocked for 300 ms (bounded: PATIENCE in all).
    stuck
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    let deadline = Instant::now() + PATIENCE;
    let mut stuck_bytes = 0usize;
    while let Ok(n) = stuck.write(&chunk) {
        assert!(Instant::now() < deadline, "the path never filled");
        stuck_bytes += n;
    }
    assert!(stuck_bytes > 0);
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"still served\n").unwrap();
    let mut buf = [0u8; 13];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still served\n");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_target_that_refuses_or_fails_verification_closes_that_client_only() {
    let dir = tempdir();
    let (c, k) = cert(dir.path());
    let (_held, refusing) = refusing_port();
    let (mut relay, port) = relay_to(refusing, &[]);
    for _ in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let got = s.read(&mut [0u8; 16]);
        assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
        let line = relay.wait_line("nicksock: relay:");
        assert!(line.contains("connection refused"), "{line}");
    }
    assert!(relay.child.try_wait().unwrap().is_none(), "the relay died");

    // A target whose certificate the relay does not trust (no --to-cacert: web PKI roots).
    let (_echo, echo_port) = start(&["echo", "--tls", "--cert", &c, "--key", &k, "127.0.0.1", "0"]);
    let (mut relay, port) = relay_to(echo_port, &["--to-tls"]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = s.write_all(b"secret\n");
    let got = s.read(&mut [0u8; 16]);
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
    let line = relay.wait_line("nicksock: relay:");
    assert!(line.contains("TLS"), "{line}");
    assert!(relay.child.try_wait().unwrap().is_none(), "the relay died");
}

#[test]
fn sigterm_lets_a_transfer_in_flight_finish() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = l.local_addr().unwrap().port();
    let target = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let (mut relay, port) = relay_to(target_port, &[]);
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let first = pattern(1 << 20, 31);
    client.write_all(&first).unwrap();
    relay.signal("TERM");
    relay.wait_line("stopping (SIGTERM): no new clients; 1 may finish");
    // New clients are not taken any more; the one in flight goes on.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let second = pattern(1 << 20, 32);
    client.write_all(&second).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    let got = target.join().unwrap();
    assert!(
        got == [first, second].concat(),
        "{} bytes arrived",
        got.len()
    );
    relay.wait().assert_code(0);
}

#[test]
fn a_target_that_closes_during_the_tls_handshake_frees_the_pair() {
    // The target accepts and leaves at once, before any TLS.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        while let Ok((s, _)) = l.accept() {
            drop(s);
        }
    });
    let (mut relay, port) = relay_to(target_port, &["--to-tls"]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = s.write_all(&pattern(200 << 10, 41));
    let got = s.read(&mut [0u8; 16]);
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
    // Left before or after reading our ClientHello: an end during the handshake, or the
    // reset of a socket closed with our hello unread. Either way the pair is gone.
    let line = relay.wait_line("nicksock: relay:");
    assert!(
        line.contains("target: TLS: the peer closed the connection during the handshake")
            || line.contains("target: connection reset"),
        "{line}"
    );
}

#[test]
fn a_trace_of_the_relay_shows_both_sides_plaintext_from_tls() {
    let dir = tempdir();
    let (c, k) = cert(dir.path());
    let (_echo, echo_port) = start(&["echo", "127.0.0.1", "0"]);
    let trace = dir.path().join("trace.txt");
    let target = echo_port.to_string();
    let (mut relay, port) = start(&[
        "relay",
        "--trace-ascii",
        trace.to_str().unwrap(),
        "--tls",
        "--cert",
        &c,
        "--key",
        &k,
        "127.0.0.1",
        "0",
        "127.0.0.1",
        &target,
    ]);
    let mut client = Proc::spawn(nicksock(&[
        "connect",
        "--tls",
        "--cacert",
        &c,
        "127.0.0.1",
        &port.to_string(),
    ]));
    client.send(b"through the relay\r\n");
    client.close_stdin();
    let done = client.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "through the relay\r\n");
    relay.signal("TERM");
    relay.wait();
    let text = std::fs::read_to_string(&trace).expect("the trace");
    // Four chunks of the same words: in from the client (decrypted), out to the echo, back
    // from it, out to the client.
    let seen = text.matches("\nthrough the relay\\r\\n\n").count();
    assert_eq!(seen, 4, "{text}");
    assert!(
        text.contains(&format!(" to 127.0.0.1:{echo_port}, offset 0,")),
        "{text}"
    );
    assert!(
        text.contains(&format!(" from 127.0.0.1:{echo_port}, offset 0,")),
        "{text}"
    );
}
