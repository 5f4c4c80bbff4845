//! connect, listen and echo over TCP and UDP: the labs L1–L4 and L16–L18, the session rules
//! of DESIGN.md §2 and the exit codes of §3.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// A port number argument.
fn p(port: u16) -> String {
    port.to_string()
}

/// Starts a nicksock server and returns it with its first bound port.
fn server(args: &[&str], lines: usize) -> (Proc, Vec<std::net::SocketAddr>) {
    let mut proc = Proc::spawn(nicksock(args));
    let addrs = proc.wait_ready(lines);
    (proc, addrs)
}

/// Starts a nicksock server whose stdin is /dev/null, as a script's background job runs it
/// (its side of each session ends at once), and returns it with its bound addresses.
fn quiet_server(args: &[&str], lines: usize) -> (Proc, Vec<std::net::SocketAddr>) {
    let mut proc = Proc::spawn_io(
        nicksock(args),
        std::process::Stdio::null(),
        std::process::Stdio::piped(),
    );
    let addrs = proc.wait_ready(lines);
    (proc, addrs)
}

/// Starts `nc -v -l 127.0.0.1 0` with `args` and `input` on its stdin (then closed), and
/// returns it with the port it picked (from its "Listening on localhost 40605" line).
fn nc_listener(args: &[&str], input: &[u8]) -> (Proc, String) {
    let mut all = vec!["-v", "-l"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["127.0.0.1", "0"]);
    let mut proc = nc(&all, input);
    let line = proc.wait_line("Listening on");
    let port = line.rsplit(' ').next().unwrap().to_string();
    (proc, port)
}

/// Runs OpenBSD nc with `args` and `input` on its stdin (then closed).
fn nc(args: &[&str], input: &[u8]) -> Proc {
    let mut cmd = Command::new("nc");
    cmd.args(args);
    let mut proc = Proc::spawn(cmd);
    proc.send(input);
    proc.close_stdin();
    proc
}

#[test]
fn connect_talks_to_openbsd_nc_listener() {
    // Each direction on its own: nc reads no stdin (-d) or nicksock none (--recv-only).
    if !have("nc") {
        return;
    }
    // nicksock → `nc -l -d` (nc reads no stdin and ends at our EOF).
    let (mut listener, port) = nc_listener(&["-d"], b"");
    let done = run(&["connect", "127.0.0.1", &port], b"Hello World\n");
    done.assert_code(0);
    assert_eq!(listener.wait().out(), "Hello World\n");
    // `nc -l -N` → nicksock (nc sends, shuts down its side; we print and end).
    let (mut listener, port) = nc_listener(&["-N"], b"hello from nc\n");
    let done = run(&["connect", "--recv-only", "127.0.0.1", &port], b"");
    done.assert_code(0);
    assert_eq!(done.out(), "hello from nc\n");
    listener.wait();
}

#[test]
fn listen_talks_to_openbsd_nc_client() {
    if !have("nc") {
        return;
    }
    // nc → nicksock: the lab's "print what a client sends".
    let (mut listen, addrs) = server(&["listen", "--recv-only", "127.0.0.1", "0"], 1);
    nc(&["-N", "127.0.0.1", &p(addrs[0].port())], b"Hello World\n").wait();
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "Hello World\n");
    // nicksock → nc: stdin goes to the client, then our half-close ends nc.
    let (mut listen, addrs) = server(&["listen", "127.0.0.1", "0"], 1);
    listen.send(b"hi from nicksock\n");
    listen.close_stdin();
    let got = nc(&["-d", "127.0.0.1", &p(addrs[0].port())], b"").wait();
    assert_eq!(got.out(), "hi from nicksock\n");
    listen.wait().assert_code(0);
}

#[test]
fn socat_in_both_roles() {
    if !have("socat") {
        return;
    }
    // socat listens, nicksock connects; socat answers only after our EOF (wc -c).
    let mut socat = Command::new("socat");
    socat.args(["-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "EXEC:wc -c"]);
    let mut socat = Proc::spawn(socat);
    let line = socat.wait_line("listening on");
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    let done = run(&["connect", "127.0.0.1", &port], b"twelve bytes");
    done.assert_code(0);
    assert_eq!(
        done.out().trim(),
        "12",
        "the answer sent after our half-close came through"
    );

    // nicksock listens, socat connects and answers after the listener's EOF.
    let (mut listen, addrs) = server(&["listen", "127.0.0.1", "0"], 1);
    listen.send(b"seven b");
    listen.close_stdin();
    let mut socat = Command::new("socat");
    socat.args(["EXEC:wc -c", &format!("TCP:127.0.0.1:{}", addrs[0].port())]);
    let mut socat = Proc::spawn(socat);
    socat.wait();
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out().trim(), "7");
}

#[test]
fn reply_after_our_eof_is_printed_and_the_session_ends_when_both_sides_have() {
    // A peer that reads to EOF, then answers and closes.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        thread::sleep(Duration::from_millis(300));
        s.write_all(format!("got {} bytes\n", got.len()).as_bytes())
            .unwrap();
    });
    let done = run(&["connect", "127.0.0.1", &p(port)], b"abc");
    peer.join().unwrap();
    done.assert_code(0);
    assert_eq!(done.out(), "got 3 bytes\n");
}

#[test]
fn peer_eof_does_not_end_a_session_whose_stdin_is_still_open() {
    // DESIGN.md §2 rule 3: the peer's end ends what the peer sends, never what we send. A
    // pipe on stdin (not a terminal) may still bring bytes, so the session waits for it.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"bye\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        rest
    });
    let mut c = Proc::spawn(nicksock(&["-vv", "connect", "127.0.0.1", &p(port)]));
    c.wait_line("the peer ended its sending side");
    assert!(
        c.child.try_wait().unwrap().is_none(),
        "the session ended while stdin was open"
    );
    c.send(b"sent after the peer's end\n");
    c.close_stdin();
    let done = c.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "bye\n");
    assert_eq!(peer.join().unwrap(), b"sent after the peer's end\n");
}

#[test]
fn peer_reset_is_exit_1_after_delivering_what_came() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (connected_tx, connected) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"partial").unwrap();
        wait_acknowledged(&s);
        // Only once the client took the connection (a reset before is a failed connect).
        let _ = connected.recv();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    let mut c = Proc::spawn(nicksock(&["-v", "connect", "127.0.0.1", &p(port)]));
    c.wait_line("connected to");
    connected_tx.send(()).unwrap();
    let done = c.wait();
    done.assert_code(1);
    assert_eq!(done.out(), "partial");
    assert!(done.stderr.contains("reset"), "{}", done.stderr);
}

#[test]
fn exit_codes_for_refused_in_use_and_unknown_host() {
    let (_held, closed) = refusing_port();
    let done = run(&["connect", "127.0.0.1", &p(closed)], b"");
    done.assert_code(4);
    assert!(
        done.stderr
            .starts_with("nicksock: error: connecting to 127.0.0.1"),
        "{}",
        done.stderr
    );
    assert_eq!(done.stderr.lines().count(), 1);

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let done = run(&["listen", "127.0.0.1", &p(port)], b"");
    done.assert_code(8);
    assert!(
        done.stderr.contains("address already in use"),
        "{}",
        done.stderr
    );

    for bad in ["no-such-host.invalid", "bad..name", "under score"] {
        let done = run(&["connect", bad, "80"], b"");
        done.assert_code(3);
        assert!(done.stderr.contains("cannot resolve"), "{}", done.stderr);
    }
}

#[test]
fn verbose_shows_what_was_resolved_and_used() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let done = run(&["-v", "connect", "-4", "-z", "localhost", &p(port)], b"");
    done.assert_code(0);
    assert!(
        done.stderr.contains("resolved localhost to 127.0.0.1"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("connected to 127.0.0.1:"),
        "{}",
        done.stderr
    );
}

#[test]
fn zero_io_reports_open_and_closed_ports() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    run(&["connect", "-z", "127.0.0.1", &p(port)], b"").assert_code(0);
    drop(l);
    run(&["connect", "-z", "127.0.0.1", &p(port)], b"").assert_code(4);
}

#[test]
fn retry_for_waits_for_a_port_that_opens_later() {
    let (sock, port) = refusing_port();
    let mut c = Proc::spawn(nicksock(&[
        "-vv",
        "connect",
        "--retry-for",
        "10",
        "127.0.0.1",
        &p(port),
    ]));
    c.close_stdin();
    // A refused attempt, then the port opens.
    c.wait_line("retrying in");
    sock.listen(8).unwrap();
    let l: TcpListener = sock.into();
    let (mut s, _) = l.accept().unwrap();
    s.write_all(b"up\n").unwrap();
    drop(s);
    let done = c.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "up\n");
}

#[test]
fn retry_for_gives_up_at_its_deadline_after_trying_there() {
    let (_held, closed) = refusing_port();
    let started = Instant::now();
    let done = run(
        &["connect", "--retry-for", "2", "-z", "127.0.0.1", &p(closed)],
        b"",
    );
    let took = started.elapsed();
    done.assert_code(4);
    assert!(
        done.stderr.contains("kept trying for 2 s"),
        "{}",
        done.stderr
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2500),
        "gave up after {took:?}"
    );
}

#[test]
fn sigint_ends_a_connect_that_hangs_at_once() {
    let hole = BlackHole::new();
    let port = p(hole.addr.port());
    let url = format!("http://127.0.0.1:{port}/");
    for args in [
        vec!["-vv", "connect", "127.0.0.1", &port],
        vec!["-vv", "http-get", &url],
    ] {
        let mut c = Proc::spawn(nicksock(&args));
        c.wait_line("trying 127.0.0.1");
        let asked = Instant::now();
        c.signal("INT");
        let done = c.wait();
        let took = asked.elapsed();
        done.assert_code(130);
        assert!(
            took < Duration::from_secs(1),
            "{args:?}: exit {took:?} after SIGINT"
        );
    }
}

#[test]
fn connect_timeout_is_exit_5() {
    let hole = BlackHole::new();
    let started = Instant::now();
    let done = run(
        &["connect", "-w", "0.5", "127.0.0.1", &p(hole.addr.port())],
        b"",
    );
    done.assert_code(5);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(done.stderr.contains("timed out"), "{}", done.stderr);
}

#[test]
fn crlf_split_across_two_reads_stays_one_crlf() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut first = [0u8; 2];
        s.read_exact(&mut first).unwrap();
        got_tx.send(()).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        [&first[..], &rest].concat()
    });
    let mut c = Proc::spawn(nicksock(&["connect", "-C", "127.0.0.1", &p(port)]));
    c.send(b"a\r");
    // The CR has crossed before the LF is written: two reads of stdin.
    got_rx.recv_timeout(PATIENCE).unwrap();
    c.send(b"\nb\n");
    c.close_stdin();
    c.wait().assert_code(0);
    assert_eq!(peer.join().unwrap(), b"a\r\nb\r\n");
}

#[test]
fn keep_open_serves_a_second_client() {
    // Each client half-closes and waits for our end: stdin at /dev/null gives it at once.
    let (mut listen, addrs) =
        quiet_server(&["listen", "-k", "--max-conns", "2", "127.0.0.1", "0"], 1);
    for msg in ["first\n", "second\n"] {
        let mut s = TcpStream::connect(addrs[0]).unwrap();
        s.write_all(msg.as_bytes()).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    }
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "first\nsecond\n");
}

#[test]
fn listen_without_addr_is_reachable_on_ipv4_and_ipv6() {
    let (mut listen, addrs) = quiet_server(&["listen", "-k", "--max-conns", "2", "0"], 2);
    assert_eq!(
        addrs[0].port(),
        addrs[1].port(),
        "one port for both families"
    );
    for (i, host) in ["127.0.0.1", "[::1]"].into_iter().enumerate() {
        let mut s = TcpStream::connect(format!("{host}:{}", addrs[0].port())).unwrap();
        s.write_all(format!("via {i}\n").as_bytes()).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    }
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "via 0\nvia 1\n");
}

#[test]
fn udp_both_ways() {
    // connect -u: stdin as datagrams to a UDP peer, its datagrams to stdout.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let mut c = Proc::spawn(nicksock(&[
        "connect",
        "-u",
        "-q",
        "2",
        "127.0.0.1",
        &p(port),
    ]));
    c.send(b"ping");
    let mut buf = [0u8; 100];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    peer.send_to(b"pong", from).unwrap();
    // -q 2: the session lasts 2 s after stdin's end, time enough for the answer.
    c.close_stdin();
    let done = c.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "pong");

    // listen -u: prints what comes, answers the sender.
    let (mut l, addrs) = server(&["listen", "-u", "127.0.0.1", "0"], 1);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"hello udp", addrs[0]).unwrap();
    l.send(b"answer");
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"answer");
    l.signal("TERM");
    let done = l.wait();
    assert_eq!(done.out(), "hello udp");
}

#[test]
fn udp_against_socat() {
    if !have("socat") {
        return;
    }
    let (mut l, addrs) = server(&["-v", "listen", "-u", "127.0.0.1", "0"], 1);
    let mut socat = Command::new("socat");
    socat.args([
        "-T",
        "2",
        "-",
        &format!("UDP:127.0.0.1:{}", addrs[0].port()),
    ]);
    let mut socat = Proc::spawn(socat);
    socat.send(b"dgram from socat");
    // The datagram is on stdout before the loop looks at signals again.
    l.wait_line("datagram from");
    l.signal("TERM");
    let done = l.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "dgram from socat");
}

/// Sends `data` through nicksock connect → nicksock listen and returns what arrived.
fn transfer(data: &[u8], forward: bool) -> Vec<u8> {
    let dir = tempdir();
    let file = write_file(dir.path(), "data.bin", data);
    if forward {
        // The receiver as the README runs it: stdin at /dev/null, no --recv-only.
        let (mut l, addrs) = quiet_server(&["listen", "127.0.0.1", "0"], 1);
        let mut c = Proc::spawn_with_stdin_file(
            nicksock(&["connect", "127.0.0.1", &p(addrs[0].port())]),
            &file,
        );
        c.wait().assert_code(0);
        let done = l.wait();
        done.assert_code(0);
        done.stdout
    } else {
        let mut l = Proc::spawn_with_stdin_file(nicksock(&["listen", "127.0.0.1", "0"]), &file);
        let addrs = l.wait_ready(1);
        let mut c = Proc::spawn_io(
            nicksock(&["connect", "127.0.0.1", &p(addrs[0].port())]),
            std::process::Stdio::null(),
            std::process::Stdio::piped(),
        );
        let done = c.wait();
        done.assert_code(0);
        l.wait().assert_code(0);
        done.stdout
    }
}

#[test]
fn sixty_four_mib_arrive_intact_in_both_directions() {
    let data = pattern(64 << 20, 7);
    let there = transfer(&data, true);
    assert_eq!(there.len(), data.len());
    assert!(there == data, "connect → listen corrupted the data");
    let back = transfer(&data, false);
    assert_eq!(back.len(), data.len());
    assert!(back == data, "listen → connect corrupted the data");
}

#[test]
fn echo_serves_fifty_clients_at_once() {
    let (_echo, addrs) = server(&["echo", "127.0.0.1", "0"], 1);
    let addr = addrs[0];
    let clients: Vec<_> = (0..50u64)
        .map(|i| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(PATIENCE)).unwrap();
                // Several rounds per connection, as in the lab.
                for round in 0..5 {
                    let msg = pattern(20_000 + i as usize, i * 100 + round);
                    s.write_all(&msg).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert!(back == msg, "client {i} round {round} got other bytes");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client failed");
    }
}

#[test]
fn echo_client_that_does_not_read_stalls_no_one() {
    let (_echo, addrs) = server(&["echo", "127.0.0.1", "0"], 1);
    // A hog sends without ever reading.
    let mut hog = TcpStream::connect(addrs[0]).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    while sent < 64 << 20 {
        match hog.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break, // the server stopped reading it: backpressure
        }
    }
    assert!(
        sent < 64 << 20,
        "the server read without bound from a client that never reads"
    );
    let mut s = TcpStream::connect(addrs[0]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"still here").unwrap();
    let mut back = [0u8; 10];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still here");
}

#[test]
fn udp_echo() {
    let (_echo, addrs) = server(&["echo", "-u", "127.0.0.1", "0"], 1);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    for msg in [&b"one"[..], b"two", b"three"] {
        s.send_to(msg, addrs[0]).unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = s.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], msg);
    }
}

#[test]
fn idle_session_uses_no_cpu() {
    let (mut l, addrs) = server(&["-v", "listen", "127.0.0.1", "0"], 1);
    let _client = TcpStream::connect(addrs[0]).unwrap();
    l.wait_line("connection from");
    let before = cpu_ticks(l.child.id());
    thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(l.child.id()) - before;
    assert!(used <= 1, "an idle session used {used} clock ticks in 2 s");
}

#[test]
fn idle_timeout_is_exit_5_and_quit_after_eof_ends_the_session() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _peer = thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept() {
            held.push(s);
        }
    });
    let mut c = Proc::spawn(nicksock(&["connect", "-i", "0.5", "127.0.0.1", &p(port)]));
    let done = c.wait();
    done.assert_code(5);
    assert!(done.stderr.contains("idle"), "{}", done.stderr);

    let started = Instant::now();
    let done = run(&["connect", "-q", "0.5", "127.0.0.1", &p(port)], b"x");
    done.assert_code(0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn send_only_and_recv_only() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"ignored").unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let done = run(
        &["connect", "--send-only", "127.0.0.1", &p(port)],
        b"payload",
    );
    done.assert_code(0);
    assert_eq!(done.out(), "");
    assert_eq!(peer.join().unwrap(), b"payload");

    // --recv-only never reads stdin, so never half-closes: the peer sees no EOF from us.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 16];
        let saw = s.read(&mut buf);
        s.write_all(b"data").unwrap();
        saw.is_err()
    });
    let done = run(
        &["connect", "--recv-only", "127.0.0.1", &p(port)],
        b"never sent",
    );
    assert!(
        peer.join().unwrap(),
        "the peer got bytes or EOF from a --recv-only session"
    );
    done.assert_code(0);
    assert_eq!(done.out(), "data");
}

#[test]
fn crlf_and_source_port() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, from) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        (got, from.port())
    });
    // The source port was free a moment ago; if another test took it first (exit 8,
    // address in use), take another.
    let mut src = free_port();
    let mut done = None;
    for _ in 0..5 {
        let tried = run(
            &["connect", "-C", "-p", &p(src), "127.0.0.1", &p(port)],
            b"GET / HTTP/1.0\n\n",
        );
        if tried.code() != 8 {
            done = Some(tried);
            break;
        }
        src = free_port();
    }
    done.expect("five source ports in use").assert_code(0);
    let (got, from) = peer.join().unwrap();
    assert_eq!(got, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(from, src);
}

#[test]
fn bad_input_is_a_usage_error_not_a_panic() {
    for args in [
        &["listen", "70000"][..],
        &["connect", "127.0.0.1", "70000"],
        &["connect", "-w", "-1", "127.0.0.1", "80"],
        &["connect", "-w", "soon", "127.0.0.1", "80"],
        &["connect", "--send-only", "--recv-only", "127.0.0.1", "80"],
        &["connect", "-4", "-6", "127.0.0.1", "80"],
        &["echo"],
        &["connect", "127.0.0.1", "0"],
    ] {
        let done = run(args, b"");
        done.assert_code(2);
        assert!(done.stderr.contains("error:"), "{args:?}: {}", done.stderr);
    }
}

#[test]
fn sigterm_stops_a_server_cleanly_and_sigint_is_130() {
    let (echo, _) = server(&["echo", "127.0.0.1", "0"], 1);
    let mut echo = echo;
    echo.signal("TERM");
    echo.wait().assert_code(0);
    let (mut echo, _) = server(&["echo", "127.0.0.1", "0"], 1);
    echo.signal("INT");
    echo.wait().assert_code(130);
}

#[test]
fn received_data_reaches_a_terminal_and_a_file() {
    // Plain TCP receives by splice(2) where stdout takes it, and reads where it does not
    // (a terminal): both must deliver every byte.
    if !have("script") {
        return;
    }
    let dir = tempdir();
    let log = dir.path().join("tty.txt");
    // The listener's stderr (its ready line) goes to a file: its stdout is the terminal.
    let ready = dir.path().join("ready.txt");
    let inner = format!(
        "{} listen --recv-only 127.0.0.1 0 2> '{}'",
        bin_shell(),
        ready.display()
    );
    let mut term = Command::new("script");
    term.args(["-qec", &inner, log.to_str().unwrap()]);
    let mut term = Proc::spawn(term);
    let deadline = Instant::now() + PATIENCE;
    let port = loop {
        let text = std::fs::read_to_string(&ready).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("listening on")) {
            break ready_addr(line).port();
        }
        assert!(
            Instant::now() < deadline,
            "the listener in the terminal never got ready"
        );
        thread::sleep(Duration::from_millis(5));
    };
    let done = run(&["connect", "127.0.0.1", &p(port)], b"to the terminal\n");
    done.assert_code(0);
    term.wait();
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(seen.contains("to the terminal"), "{seen:?}");

    let data = pattern(3 << 20, 5);
    let file = write_file(dir.path(), "in.bin", &data);
    let out = std::fs::File::create(dir.path().join("out.bin")).unwrap();
    let mut cmd = nicksock(&["listen", "--recv-only", "127.0.0.1", "0"]);
    cmd.stdout(out)
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let port = line.trim().rsplit(':').next().unwrap().to_string();
    let mut c = Proc::spawn_with_stdin_file(nicksock(&["connect", "127.0.0.1", &port]), &file);
    c.wait().assert_code(0);
    assert!(child.wait().unwrap().success());
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == data);
}

#[test]
fn usage_mistakes_found_after_parsing_are_exit_2_with_the_usage_line() {
    let dir = tempdir();
    let missing = dir.path().join("no-such.pem");
    let missing = missing.to_str().unwrap();
    for args in [
        // -u with --tls is refused before the (missing) files are read.
        &[
            "listen", "-u", "--tls", "--cert", missing, "--key", missing, "0",
        ][..],
        &["echo", "--tls", "127.0.0.1", "0"],
        &["relay", "0", "127.0.0.1", "0"],
        &["listen", "127.0.0.1", "99999"],
    ] {
        let done = run(args, b"");
        done.assert_code(2);
        assert!(done.stderr.contains("error:"), "{args:?}: {}", done.stderr);
        assert!(
            !done.stderr.contains("no-such.pem"),
            "{args:?}: {}",
            done.stderr
        );
    }
    let done = run(&["relay", "0", "127.0.0.1", "0"], b"");
    assert!(
        done.stderr.contains("Usage: nicksock relay"),
        "{}",
        done.stderr
    );
}

#[test]
fn sixteen_mib_from_connect_to_listen_arrive_whole() {
    // A file on connect's stdin, listen's stdout a file, as `nicksock listen 1234 > out`
    // and `nicksock connect host 1234 < in` on two machines: every byte, in order.
    let dir = tempdir();
    let data = pattern(16 << 20, 16);
    let input = write_file(dir.path(), "in", &data);
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path).expect("create out");
    let mut server = Proc::spawn_io(
        nicksock(&["listen", "127.0.0.1", "0"]),
        std::process::Stdio::null(),
        std::process::Stdio::from(out),
    );
    let addr = server.wait_ready(1)[0];
    let mut client =
        Proc::spawn_with_stdin_file(nicksock(&["connect", "127.0.0.1", &p(addr.port())]), &input);
    client.wait().assert_code(0);
    server.wait().assert_code(0);
    let got = file_bytes(&out_path);
    assert_eq!(got.len(), data.len(), "bytes received");
    assert!(got == data, "16 MiB arrived, but not the bytes sent");
}
