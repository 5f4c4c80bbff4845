//! TLS on the socket commands (labs L7, L14, L15): nicksock against real OpenSSL and curl,
//! mTLS, and every way a handshake must fail without a byte of data crossing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// A CA, a server leaf for 127.0.0.1/localhost and a client leaf, all signed by the CA.
fn pki(dir: &Path) {
    let (ca, ca_key) = (arg(dir, "ca.pem"), arg(dir, "ca-key.pem"));
    gen_cert(dir, &["--ca", "Test CA"]);
    gen_cert(
        dir,
        &[
            "--ca-cert",
            &ca,
            "--ca-key",
            &ca_key,
            "127.0.0.1",
            "localhost",
        ],
    );
    gen_cert(
        dir,
        &["--client", "--ca-cert", &ca, "--ca-key", &ca_key, "alice"],
    );
}

fn arg(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

/// Starts `listen --tls` with the server leaf; `extra` goes before the address.
fn tls_listener(dir: &Path, extra: &[&str]) -> (Proc, u16) {
    let cert = arg(dir, "cert.pem");
    let key = arg(dir, "cert-key.pem");
    let mut args = vec!["listen", "--tls", "--cert", &cert, "--key", &key];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["127.0.0.1", "0"]);
    let mut p = Proc::spawn(nicksock(&args));
    let port = p.wait_ready(1)[0].port();
    (p, port)
}

#[test]
fn openssl_s_client_talks_to_listen_tls() {
    if !have("openssl") {
        return;
    }
    let dir = tempdir();
    pki(dir.path());
    // The server says its piece and keeps its side open for 3 s (-q) for the answer.
    let (mut server, port) = tls_listener(dir.path(), &["--no-shutdown", "-q", "3"]);
    server.send(b"from nicksock\n");
    server.close_stdin();
    let mut client = Command::new("openssl");
    client.args([
        "s_client",
        "-quiet",
        "-verify_return_error",
        "-CAfile",
        &arg(dir.path(), "ca.pem"),
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-verify_ip",
        "127.0.0.1",
    ]);
    let mut client = Proc::spawn(client);
    client.send(b"from openssl\n");
    client.close_stdin();
    let done = server.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "from openssl\n");
    let got = client.wait();
    assert!(got.out().contains("from nicksock\n"), "{got:?}");
}

/// `openssl s_server` for one client with the server leaf of `dir` and `extra` options
/// (words without spaces in them); returns it and its port.
fn openssl_s_server(dir: &Path, extra: &str) -> (Proc, u16) {
    // Its "ACCEPT 127.0.0.1:PORT" line (and what it receives) goes to stdout: sent to
    // stderr, to wait for the port there.
    let script = format!(
        "exec openssl s_server -naccept 1 -accept 127.0.0.1:0 -cert \"$0\" -key \"$1\" {extra} 1>&2"
    );
    let mut server = Command::new("sh");
    server.args([
        "-c",
        &script,
        &arg(dir, "cert.pem"),
        &arg(dir, "cert-key.pem"),
    ]);
    let mut server = Proc::spawn(server);
    let line = server.wait_line("ACCEPT");
    let port = ready_addr(&line.replace("ACCEPT", "listening on")).port();
    (server, port)
}

#[test]
fn connect_tls_talks_to_openssl_s_server() {
    if !have("openssl") {
        return;
    }
    let dir = tempdir();
    pki(dir.path());
    let (mut server, port) = openssl_s_server(dir.path(), "");
    server.send(b"from openssl\n");
    let ca = arg(dir.path(), "ca.pem");
    let mut client = Proc::spawn(nicksock(&[
        "connect",
        "--tls",
        "--cacert",
        &ca,
        "-q",
        "1",
        "127.0.0.1",
        &port.to_string(),
    ]));
    client.send(b"from nicksock\n");
    client.close_stdin();
    let done = client.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "from openssl\n");
    let got = server.wait();
    assert!(got.stderr.contains("from nicksock"), "{got:?}");
}

#[test]
fn curl_fetches_a_canned_response_over_tls() {
    if !have("curl") {
        return;
    }
    let dir = tempdir();
    pki(dir.path());
    let (mut server, port) = tls_listener(dir.path(), &[]);
    server.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nsecure");
    server.close_stdin();
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &arg(dir.path(), "ca.pem")])
        .arg(format!("https://localhost:{port}/"))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"secure");
    let done = server.wait();
    done.assert_code(0);
    assert!(
        done.out().starts_with("GET / HTTP/1.1\r\n"),
        "{}",
        done.out()
    );
}

/// Runs a TLS client with `client_args` against a TLS listener with `server_args`, both
/// with data on stdin, and asserts the handshake fails with nothing crossing.
fn assert_refused(dir: &Path, server_args: &[&str], client_args: &[&str], reason: &str) {
    let (mut server, port) = tls_listener(dir, server_args);
    server.send(b"server secret");
    let mut args = vec!["connect", "--tls"];
    args.extend_from_slice(client_args);
    let port = port.to_string();
    args.extend_from_slice(&["127.0.0.1", &port]);
    let done = run(&args, b"client secret");
    assert_ne!(done.code(), 0, "the handshake should fail: {}", done.stderr);
    assert_eq!(done.out(), "", "data crossed to the client");
    server.close_stdin();
    let s = server.wait();
    assert_ne!(s.code(), 0);
    assert_eq!(s.out(), "", "data crossed to the server");
    let both = format!("{}\n{}", done.stderr, s.stderr);
    assert!(both.contains(reason), "expected {reason:?} in: {both}");
}

#[test]
fn untrusted_certificate_and_wrong_name_fail_with_exit_6() {
    let dir = tempdir();
    pki(dir.path());
    let ca = arg(dir.path(), "ca.pem");
    // Default roots: the web PKI does not know our CA.
    assert_refused(dir.path(), &[], &[], "unknown issuer");
    let (_held, refusing) = refusing_port();
    let done = run(
        &["connect", "--tls", "127.0.0.1", &refusing.to_string()],
        b"",
    );
    assert_eq!(done.code(), 4);
    // Trusted CA, wrong name.
    assert_refused(
        dir.path(),
        &[],
        &["--cacert", &ca, "--servername", "example.org"],
        "not valid for example.org",
    );
    let (mut server, port) = tls_listener(dir.path(), &[]);
    server.close_stdin();
    let done = run(
        &[
            "connect",
            "--tls",
            "--cacert",
            &ca,
            "--servername",
            "example.org",
            "127.0.0.1",
            &port.to_string(),
        ],
        b"",
    );
    done.assert_code(6);
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_right_ca() {
    let dir = tempdir();
    pki(dir.path());
    let ca = arg(dir.path(), "ca.pem");
    let require = ["--cacert", ca.as_str()];
    // No client certificate.
    assert_refused(
        dir.path(),
        &require,
        &["--cacert", &ca],
        "client certificate",
    );
    // A client certificate from another CA.
    let other = tempdir();
    gen_cert(other.path(), &["--ca", "Other CA"]);
    let (oca, oca_key) = (arg(other.path(), "ca.pem"), arg(other.path(), "ca-key.pem"));
    gen_cert(
        other.path(),
        &[
            "--client",
            "--ca-cert",
            &oca,
            "--ca-key",
            &oca_key,
            "mallory",
        ],
    );
    let (c, k) = (
        arg(other.path(), "client.pem"),
        arg(other.path(), "client-key.pem"),
    );
    assert_refused(
        dir.path(),
        &require,
        &["--cacert", &ca, "--cert", &c, "--key", &k],
        "unknown",
    );
    // The right one: data crosses both ways.
    let (mut server, port) = tls_listener(dir.path(), &require);
    server.send(b"hello alice\n");
    server.close_stdin();
    let (c, k) = (
        arg(dir.path(), "client.pem"),
        arg(dir.path(), "client-key.pem"),
    );
    let done = run(
        &[
            "connect",
            "--tls",
            "--cacert",
            &ca,
            "--cert",
            &c,
            "--key",
            &k,
            "-q",
            "2",
            "127.0.0.1",
            &port.to_string(),
        ],
        b"hello server\n",
    );
    done.assert_code(0);
    assert_eq!(done.out(), "hello alice\n");
    assert_eq!(server.wait().out(), "hello server\n");
}

#[test]
fn insecure_skips_verification_and_says_so() {
    let dir = tempdir();
    pki(dir.path());
    let (mut server, port) = tls_listener(dir.path(), &[]);
    server.send(b"ok\n");
    server.close_stdin();
    let done = run(
        &["connect", "--tls", "-k", "127.0.0.1", &port.to_string()],
        b"",
    );
    done.assert_code(0);
    assert_eq!(done.out(), "ok\n");
    assert!(done.stderr.contains("--insecure"), "{}", done.stderr);
}

#[test]
fn stalled_handshake_and_plaintext_client_block_no_one() {
    let dir = tempdir();
    pki(dir.path());
    let cert = arg(dir.path(), "cert.pem");
    let key = arg(dir.path(), "cert-key.pem");
    let mut echo = Proc::spawn(nicksock(&[
        "echo",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "127.0.0.1",
        "0",
    ]));
    let addr = echo.wait_ready(1)[0];
    // One client connects and never says hello; another speaks plain text.
    let _staller = TcpStream::connect(addr).unwrap();
    let mut plain = TcpStream::connect(addr).unwrap();
    plain.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut junk = Vec::new();
    let _ = plain.read_to_end(&mut junk); // the server drops it
    let ca = arg(dir.path(), "ca.pem");
    let done = run(
        &[
            "connect",
            "--tls",
            "--cacert",
            &ca,
            "127.0.0.1",
            &addr.port().to_string(),
        ],
        b"round trip\n",
    );
    done.assert_code(0);
    assert_eq!(done.out(), "round trip\n");
    echo.signal("TERM");
    echo.wait().assert_code(0);

    // The sequential `listen -k` drops a plain-text client and serves the next one.
    let (mut server, port) = tls_listener(dir.path(), &["-k", "--max-conns", "2"]);
    // Nothing to send: our side of each session ends at once (DESIGN.md §2).
    server.close_stdin();
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.write_all(b"hello?\n").unwrap();
    let _ = plain.read_to_end(&mut junk);
    let done = run(
        &[
            "connect",
            "--tls",
            "--cacert",
            &ca,
            "127.0.0.1",
            &port.to_string(),
        ],
        b"second\n",
    );
    done.assert_code(0);
    let s = server.wait();
    s.assert_code(0);
    assert_eq!(s.out(), "second\n");
    assert!(s.stderr.contains("TLS"), "{}", s.stderr);
}

#[test]
fn sixty_four_mib_over_tls_arrive_intact() {
    let dir = tempdir();
    pki(dir.path());
    let data = pattern(64 << 20, 11);
    let file = write_file(dir.path(), "data.bin", &data);
    let (mut server, port) = tls_listener(dir.path(), &["--recv-only"]);
    let ca = arg(dir.path(), "ca.pem");
    let mut client = Proc::spawn_with_stdin_file(
        nicksock(&[
            "connect",
            "--tls",
            "--cacert",
            &ca,
            "127.0.0.1",
            &port.to_string(),
        ]),
        &file,
    );
    client.wait().assert_code(0);
    let done = server.wait();
    done.assert_code(0);
    assert_eq!(done.stdout.len(), data.len());
    assert!(done.stdout == data, "the data changed on the way");
}

#[test]
fn bad_pem_files_are_exit_10_naming_the_file() {
    let dir = tempdir();
    pki(dir.path());
    let bad = write_file(dir.path(), "bad.pem", b"not a certificate\n");
    let bad = bad.to_str().unwrap();
    let key = arg(dir.path(), "cert-key.pem");
    let done = run(
        &[
            "listen",
            "--tls",
            "--cert",
            bad,
            "--key",
            &key,
            "127.0.0.1",
            "0",
        ],
        b"",
    );
    done.assert_code(10);
    assert!(done.stderr.contains("bad.pem"), "{}", done.stderr);
    let done = run(
        &[
            "connect",
            "--tls",
            "--cacert",
            "/nonexistent/ca.pem",
            "127.0.0.1",
            "1",
        ],
        b"",
    );
    done.assert_code(10);
    assert!(
        done.stderr.contains("/nonexistent/ca.pem"),
        "{}",
        done.stderr
    );
    // --tls without --cert/--key is a usage mistake, not a file that could not be read.
    let done = run(&["listen", "--tls", "127.0.0.1", "0"], b"");
    assert_eq!(done.code(), 2);
    assert!(done.stderr.contains("--cert"), "{}", done.stderr);
}

#[test]
fn a_client_that_leaves_during_the_handshake_ends_a_tls_listener() {
    // A port scan or `connect -z` against `listen --tls` run from a script (stdin /dev/null):
    // no session was made, and the listener must say so rather than wait forever.
    let dir = tempdir();
    pki(dir.path());
    let (cert, key) = (arg(dir.path(), "cert.pem"), arg(dir.path(), "cert-key.pem"));
    let mut server = Proc::spawn_io(
        nicksock(&[
            "listen",
            "--tls",
            "--cert",
            &cert,
            "--key",
            &key,
            "127.0.0.1",
            "0",
        ]),
        std::process::Stdio::null(),
        std::process::Stdio::piped(),
    );
    let port = server.wait_ready(1)[0].port();
    drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    let done = server.wait();
    done.assert_code(6);
    assert!(
        done.stderr.contains("during the handshake"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_client_that_leaves_before_our_close_notify_got_everything() {
    // curl reads a Content-Length response and closes; our close_notify, sent only when
    // stdin ends afterwards, meets a closed socket and comes back as a reset. Every byte of
    // stdin was delivered: exit 0, not a loss.
    if !have("curl") {
        return;
    }
    let dir = tempdir();
    pki(dir.path());
    let (mut server, port) = tls_listener(dir.path(), &["-vv"]);
    server.send(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nsecure");
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &arg(dir.path(), "ca.pem")])
        .arg(format!("https://localhost:{port}/"))
        .output()
        .expect("curl");
    assert_eq!(
        out.stdout,
        b"secure",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.wait_line("the peer ended its sending side");
    server.close_stdin();
    server.wait().assert_code(0);
}

/// The lines of a key log file, sorted.
fn key_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("the key log");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn the_key_log_matches_what_openssl_logged_for_the_same_tls_1_3_session() {
    if !have("openssl") {
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempdir();
    pki(dir.path());
    let ours = dir.path().join("nicksock-keys.log");
    let theirs = dir.path().join("openssl-keys.log");
    let ours_arg = ours.display().to_string();
    let (mut server, port) = tls_listener(dir.path(), &["--keylog", &ours_arg]);
    // Said before the ready line, once.
    let warned: Vec<&String> = server
        .stderr_seen
        .iter()
        .filter(|l| l.contains("warning: writing TLS secrets to"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", server.stderr_seen);
    assert!(warned[0].contains(&ours_arg), "{}", warned[0]);
    let mut client = Command::new("openssl");
    client.args([
        "s_client",
        "-quiet",
        "-tls1_3",
        "-CAfile",
        &arg(dir.path(), "ca.pem"),
        "-keylogfile",
        &theirs.display().to_string(),
        "-connect",
        &format!("127.0.0.1:{port}"),
    ]);
    let mut client = Proc::spawn(client);
    client.send(b"secret words\n");
    client.close_stdin();
    server.close_stdin();
    server.wait().assert_code(0);
    client.wait();
    let ours_lines = key_lines(&ours);
    let theirs_lines = key_lines(&theirs);
    let labels: Vec<&str> = ours_lines
        .iter()
        .filter_map(|l| l.split(' ').next())
        .collect();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        assert!(labels.contains(&label), "no {label} in {ours_lines:?}");
    }
    // Same client random, same secrets: each of our lines is one OpenSSL wrote.
    for line in &ours_lines {
        assert!(
            theirs_lines.contains(line),
            "{line} not in OpenSSL's {theirs_lines:?}"
        );
    }
    let mode = std::fs::metadata(&ours).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key log is the owner's alone");
}

#[test]
fn sslkeylogfile_logs_a_tls_1_2_client_random_line_openssl_agrees_with() {
    if !have("openssl") {
        return;
    }
    let dir = tempdir();
    pki(dir.path());
    let ours = dir.path().join("client-keys.log");
    let theirs = dir.path().join("server-keys.log");
    let keylog = format!("-tls1_2 -keylogfile {}", theirs.display());
    let (mut server, port) = openssl_s_server(dir.path(), &keylog);
    server.send(b"hello\n");
    let ca = arg(dir.path(), "ca.pem");
    let mut cmd = nicksock(&[
        "connect",
        "--tls",
        "--cacert",
        &ca,
        "-q",
        "1",
        "127.0.0.1",
        &port.to_string(),
    ]);
    cmd.env("SSLKEYLOGFILE", &ours);
    let mut client = Proc::spawn(cmd);
    client.close_stdin();
    let done = client.wait();
    done.assert_code(0);
    assert!(done.stderr.contains("(SSLKEYLOGFILE)"), "{}", done.stderr);
    server.wait();
    let ours_lines = key_lines(&ours);
    assert_eq!(ours_lines.len(), 1, "{ours_lines:?}");
    assert!(
        ours_lines[0].starts_with("CLIENT_RANDOM "),
        "{ours_lines:?}"
    );
    assert!(
        key_lines(&theirs).contains(&ours_lines[0]),
        "{:?}",
        key_lines(&theirs)
    );
}

#[test]
fn a_key_log_that_cannot_be_opened_is_exit_10_before_any_connection() {
    let (_held, port) = refusing_port();
    let done = run(
        &[
            "connect",
            "--keylog",
            "/nonexistent/dir/keys.log",
            "127.0.0.1",
            &port.to_string(),
        ],
        b"",
    );
    done.assert_code(10);
    assert!(
        done.stderr
            .contains("opening the TLS key log /nonexistent/dir/keys.log"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("refused"),
        "no connection was tried: {}",
        done.stderr
    );
}

/// The bytes each heading of a trace announces, summed by direction (sent, received).
fn traced_bytes(trace: &str) -> (u64, u64) {
    let mut totals = (0, 0);
    for line in trace.lines() {
        let mut words = line.split(' ');
        let (Some(arrow), Some(_), Some(n)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match arrow {
            "=>" => totals.0 += n,
            "<=" => totals.1 += n,
            _ => {}
        }
    }
    totals
}

#[test]
fn a_trace_of_a_tls_session_shows_the_plaintext_every_byte_of_it() {
    let dir = tempdir();
    pki(dir.path());
    let (mut server, port) = tls_listener(dir.path(), &[]);
    server.send(b"hello from the server\r\n");
    server.close_stdin();
    // A file as stdin: without a trace it would go by sendfile, past our eyes.
    let lines: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    let input = write_file(dir.path(), "input.txt", lines.as_bytes());
    let trace = dir.path().join("trace.txt");
    let ca = arg(dir.path(), "ca.pem");
    let client = Proc::spawn_with_stdin_file(
        nicksock(&[
            "connect",
            "--tls",
            "--cacert",
            &ca,
            "--trace-ascii",
            trace.to_str().unwrap(),
            "127.0.0.1",
            &port.to_string(),
        ]),
        &input,
    );
    let mut client = client;
    let done = client.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "hello from the server\r\n");
    assert_eq!(server.wait().out(), lines);
    let text = std::fs::read_to_string(&trace).expect("the trace");
    assert!(
        text.contains("\nline 0\\n\nline 1\\n\n"),
        "plaintext, not TLS records"
    );
    assert!(text.contains("\nhello from the server\\r\\n\n"), "{text}");
    assert_eq!(traced_bytes(&text), (lines.len() as u64, 23));
}

#[test]
fn a_trace_of_plain_tcp_sees_what_splice_and_sendfile_would_have_hidden() {
    let dir = tempdir();
    let data = pattern(1 << 20, 7);
    let input = write_file(dir.path(), "input.bin", &data);
    let mut server = Proc::spawn_io(
        nicksock(&["listen", "--trace", "-", "127.0.0.1", "0"]),
        std::process::Stdio::null(),
        std::process::Stdio::piped(),
    );
    let port = server.wait_ready(1)[0].port();
    let mut client = Proc::spawn_with_stdin_file(
        nicksock(&["connect", "--trace", "-", "127.0.0.1", &port.to_string()]),
        &input,
    );
    let sent = client.wait();
    sent.assert_code(0);
    let got = server.wait();
    got.assert_code(0);
    assert!(got.stdout == data, "the bytes arrived");
    assert_eq!(traced_bytes(&sent.stderr).0, data.len() as u64);
    assert_eq!(traced_bytes(&got.stderr).1, data.len() as u64);
    assert!(got.stderr.contains("\n0000: "), "hex lines");
}
