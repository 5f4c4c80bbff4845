//! SIGTERM, as systemd, `timeout`, CI runners and `docker stop` send it, with a client
//! connected: every server stops accepting, lets what is in flight finish within its grace
//! period (`--grace`), and exits 0 when it did; past the grace, or on a second SIGTERM,
//! `listen` says what was cut (exit 1) and the many-client servers cut what is left.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::serve_gpio::Served;
use crate::util::*;

/// A server started with `-v` and stdin at /dev/null (a background job), its first address.
fn quiet(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn_io(nicksock(&all), Stdio::null(), Stdio::piped());
    let addr = p.wait_ready(1)[0];
    (p, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

#[test]
fn listen_lets_the_session_in_flight_finish_then_exits_0() {
    for keep_open in [true, false] {
        let mut args = vec!["listen"];
        if keep_open {
            args.push("-k");
        }
        args.extend(["127.0.0.1", "0"]);
        let (mut listen, addr) = quiet(&args);
        let mut c = connect(addr);
        c.write_all(b"before, ").unwrap();
        listen.wait_line("connection from");
        listen.signal("TERM");
        listen.wait_line("stopping (SIGTERM)");
        // No new client is taken, but this one still sends, and is sent our end.
        c.write_all(b"after the signal\n").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).expect("our end, not a reset");
        let done = listen.wait();
        done.assert_code(0);
        assert_eq!(done.out(), "before, after the signal\n", "-k {keep_open}");
    }
}

#[test]
fn listen_past_its_grace_or_on_a_second_sigterm_says_the_session_was_cut() {
    // The client stays, silent: the grace period runs out.
    let (mut listen, addr) = quiet(&["listen", "-k", "--grace", "0.5", "127.0.0.1", "0"]);
    let _c = connect(addr);
    listen.wait_line("connection from");
    let start = Instant::now();
    listen.signal("TERM");
    let done = listen.wait();
    done.assert_code(1);
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert!(done.stderr.contains("grace period"), "{}", done.stderr);

    // A second SIGTERM does not wait for a long grace.
    let (mut listen, addr) = quiet(&["listen", "-k", "--grace", "600", "127.0.0.1", "0"]);
    let _c = connect(addr);
    listen.wait_line("connection from");
    listen.signal("TERM");
    listen.wait_line("stopping (SIGTERM)");
    listen.signal("TERM");
    let done = listen.wait();
    done.assert_code(1);
    assert!(done.stderr.contains("second SIGTERM"), "{}", done.stderr);
}

#[test]
fn echo_finishes_a_connected_client_and_exits_0() {
    let (mut echo, addr) = quiet(&["echo", "127.0.0.1", "0"]);
    let mut c = connect(addr);
    c.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    echo.signal("TERM");
    // Nothing is owed to it: it is sent our end at once, not a reset.
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("our end, not a reset");
    assert!(rest.is_empty());
    echo.wait().assert_code(0);
    // No one is accepted any more.
    assert!(TcpStream::connect(addr).is_err(), "the port is closed");
}

#[test]
fn a_chat_member_is_sent_what_it_was_owed_then_our_end() {
    let (mut chat, addr) = quiet(&["listen", "--chat", "127.0.0.1", "0"]);
    let c = connect(addr);
    let mut lines = BufReader::new(c.try_clone().unwrap());
    let mut welcome = String::new();
    lines.read_line(&mut welcome).unwrap();
    assert!(welcome.starts_with("* welcome"), "{welcome}");
    chat.signal("TERM");
    chat.wait_line("stopping (SIGTERM)");
    let mut rest = String::new();
    lines
        .read_to_string(&mut rest)
        .expect("our end, not a reset");
    chat.wait().assert_code(0);
}

#[test]
fn serve_gpio_ends_an_event_stream_and_a_kept_alive_connection_and_exits_0() {
    let mut s = Served::start(&["--pin", "13", "-v"]);
    let mut sub = connect(s.http);
    sub.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut kept = connect(s.http);
    kept.write_all(b"GET /api/pins HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Both have their answer's start before the signal.
    let mut first = [0u8; 12];
    sub.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let start = Instant::now();
    s.proc.signal("TERM");
    for c in [&mut sub, &mut kept] {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).expect("our end, not a reset");
    }
    s.proc.wait().assert_code(0);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "at rest, they did not wait for the grace period: {:?}",
        start.elapsed()
    );
}

#[test]
fn a_server_cuts_what_is_still_owed_at_the_end_of_its_grace_and_says_so() {
    let (mut echo, addr) = quiet(&["echo", "--grace", "0.5", "127.0.0.1", "0"]);
    let mut c = connect(addr);
    // It sends more than fits back without reading: its echo is owed when the signal comes.
    c.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    while c.write_all(&chunk).is_ok() {}
    echo.signal("TERM");
    let done = echo.wait();
    done.assert_code(1);
    assert!(
        done.stderr.contains("cut off") && done.stderr.contains("grace period"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_transfer_cut_by_sigterm_is_a_reset_and_exit_1_never_a_clean_end() {
    // A sender whose stdin is a file: SIGTERM must not end our side early (the receiver
    // would take a cut file for a whole one). Past the grace the session is reset.
    let dir = tempdir();
    let file = write_file(dir.path(), "big", &pattern(64 << 20, 7));
    let mut listen = Proc::spawn_io(
        nicksock(&["-v", "listen", "--grace", "0.5", "127.0.0.1", "0"]),
        Stdio::from(std::fs::File::open(&file).unwrap()),
        Stdio::null(),
    );
    let addr = listen.wait_ready(1)[0];
    let mut c = connect(addr);
    let mut first = vec![0u8; 1 << 20];
    c.read_exact(&mut first).unwrap();
    listen.wait_line("connection from");
    // The receiver stops reading: the sender is stalled part-way when the signal comes.
    listen.signal("TERM");
    let done = listen.wait();
    done.assert_code(1);
    assert!(done.stderr.contains("grace period"), "{}", done.stderr);
    let mut rest = Vec::new();
    let end = c.read_to_end(&mut rest);
    assert!(
        matches!(&end, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the receiver must see a reset, not a clean end: {end:?} after {} bytes",
        first.len() + rest.len()
    );
}

#[test]
fn a_client_at_rest_is_not_counted_as_cut_when_the_grace_ends_during_its_close() {
    // The idle client keeps its side open: the lingering close outlasts a short grace.
    let (mut echo, addr) = quiet(&["echo", "--grace", "0.3", "127.0.0.1", "0"]);
    let mut c = connect(addr);
    c.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    c.read_exact(&mut back).unwrap();
    echo.signal("TERM");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("our end, not a reset");
    echo.wait().assert_code(0);
}
