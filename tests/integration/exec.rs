//! `--exec` and `--sh-exec`: a program on the socket, every byte both ways (nmap #962's
//! shortened file through `ncat -e /bin/cat` is the case to beat), the program's exit
//! status as ours, its environment, many at once with `-k`, none left behind.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::thread;

use crate::util::*;

/// Sends `data` on `s` (then ends our side) while reading everything that comes back.
fn round_trip<S: Read + Write + Send + TryCloneStream + 'static>(
    mut s: S,
    data: Vec<u8>,
    shut: impl FnOnce(&S) + Send + 'static,
) -> Vec<u8> {
    // A session that never ends fails the test instead of hanging it.
    s.set_timeout();
    let mut writer = s.clone_stream();
    let sender = thread::spawn(move || {
        writer.write_all(&data).expect("send");
        shut(&writer);
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("read back");
    sender.join().expect("sender");
    got
}

trait TryCloneStream: Sized {
    fn clone_stream(&self) -> Self;
    fn set_timeout(&self);
}

impl TryCloneStream for TcpStream {
    fn clone_stream(&self) -> Self {
        self.try_clone().expect("clone")
    }
    fn set_timeout(&self) {
        self.set_read_timeout(Some(PATIENCE)).expect("timeout");
    }
}

impl TryCloneStream for UnixStream {
    fn clone_stream(&self) -> Self {
        self.try_clone().expect("clone")
    }
    fn set_timeout(&self) {
        self.set_read_timeout(Some(PATIENCE)).expect("timeout");
    }
}

fn tcp_round_trip(port: u16, data: Vec<u8>) -> Vec<u8> {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    round_trip(s, data, |w| w.shutdown(Shutdown::Write).expect("shutdown"))
}

/// A server `listen ARGS 127.0.0.1 0` and its port.
fn server(args: &[&str]) -> (Proc, u16) {
    let mut all = vec!["-v", "listen"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["127.0.0.1", "0"]);
    let mut p = Proc::spawn_io(nicksock(&all), Stdio::null(), Stdio::piped());
    let port = p.wait_ready(1)[0].port();
    (p, port)
}

/// The processes (zombies included) whose /proc stat field `field` (counted after the
/// command's closing parenthesis: 1 the parent, 2 the process group) is `value`.
fn processes_with(field: usize, value: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        if fields.get(field).and_then(|p| p.parse::<u32>().ok()) == Some(value) {
            found.push(pid);
        }
    }
    found
}

/// The children of `pid`, zombies included.
fn children_of(pid: u32) -> Vec<u32> {
    processes_with(1, pid)
}

#[test]
fn sixty_four_mib_through_exec_cat_arrive_whole_both_ways() {
    let data = pattern(64 << 20, 962);
    // listen --exec /bin/cat, OpenBSD nc as the client (-N: its stdin's end is a FIN).
    if have("nc") {
        let dir = tempdir();
        let input = write_file(dir.path(), "in.bin", &data);
        let (mut srv, port) = server(&["--exec", "/bin/cat"]);
        let out = std::fs::File::create(dir.path().join("out.bin")).expect("out");
        let mut nc = Command::new("nc");
        nc.args(["-N", "127.0.0.1", &port.to_string()]);
        let mut client = Proc::spawn_io(
            nc,
            Stdio::from(std::fs::File::open(&input).expect("in")),
            Stdio::from(out),
        );
        client.wait().assert_code(0);
        let done = srv.wait();
        done.assert_code(0);
        let got = std::fs::read(dir.path().join("out.bin")).expect("read out");
        assert_eq!(got.len(), data.len(), "{}", done.stderr);
        assert!(got == data, "the bytes differ");
        assert!(
            done.stderr
                .contains("exited with status 0 (67108864 bytes in, 67108864 out"),
            "{}",
            done.stderr
        );
    }
    // connect --exec /bin/cat to a listener of ours.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let mut client = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port, "--exec", "/bin/cat"]),
        Stdio::null(),
        Stdio::piped(),
    );
    let (s, _) = listener.accept().expect("accept");
    let got = round_trip(s, data.clone(), |w| {
        w.shutdown(Shutdown::Write).expect("shutdown")
    });
    assert!(
        got == data,
        "connect --exec: {} of {} bytes",
        got.len(),
        data.len()
    );
    client.wait().assert_code(0);
}

#[test]
fn an_upper_case_server_serves_fifty_clients_at_once_and_leaves_no_zombie_after_200() {
    let (mut srv, port) = server(&["-k", "--sh-exec", "tr a-z A-Z"]);
    let pid = srv.child.id();
    for wave in 0..4u64 {
        let clients: Vec<_> = (0..50u64)
            .map(|i| {
                thread::spawn(move || {
                    let line: Vec<u8> = pattern(100_000, wave * 100 + i + 1)
                        .iter()
                        .map(|b| b'a' + b % 26)
                        .collect();
                    let got = tcp_round_trip(port, line.clone());
                    assert_eq!(got, line.to_ascii_uppercase(), "client {wave}/{i}");
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client");
        }
    }
    // Every program has exited and was reaped: no child, not even a zombie.
    wait_until("the server's children to be reaped", || {
        children_of(pid).is_empty()
    });
    srv.signal("TERM");
    srv.wait().assert_code(0);
}

#[test]
fn a_program_that_reads_nothing_and_exits_at_once_ends_the_session_cleanly() {
    let (mut srv, port) = server(&["--exec", "true"]);
    let got = tcp_round_trip(port, b"nobody reads this\n".to_vec());
    assert!(got.is_empty());
    let done = srv.wait();
    done.assert_code(0);
    assert!(
        done.stderr.contains("'true' exited with status 0"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_program_answers_after_the_end_of_its_input() {
    // wc -c can only answer once its stdin has ended: the peer's FIN must reach it, and
    // its answer must still go back on the half-closed connection.
    let (mut srv, port) = server(&["--exec", "wc -c"]);
    let got = tcp_round_trip(port, pattern(300_000, 7));
    assert_eq!(String::from_utf8_lossy(&got).trim(), "300000");
    srv.wait().assert_code(0);

    // The same from the connecting side, with nc -l as the server.
    if !have("nc") {
        return;
    }
    // Port 0: nc binds a free port itself and names it (-v), so no other test can take it.
    let mut nc = Command::new("nc");
    nc.args(["-v", "-l", "-N", "127.0.0.1", "0"]);
    let mut peer = Proc::spawn(nc);
    let listening = peer.wait_line("Listening on");
    let port = listening.rsplit(' ').next().expect("a port").to_string();
    let mut client = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port, "-c", "wc -l"]),
        Stdio::null(),
        Stdio::null(),
    );
    peer.send(b"one\ntwo\nthree\n");
    peer.close_stdin();
    let done = peer.wait();
    assert_eq!(done.out().trim(), "3");
    client.wait().assert_code(0);
}

#[test]
fn connect_exec_exits_with_the_programs_status() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let cases: [(&str, i32, Option<&str>); 4] = [
        ("exit 7", 7, None),
        ("kill -9 $$", 137, Some("killed by signal 9 (SIGKILL)")),
        ("exec /nonexistent/program", 127, None),
        ("exit 0", 0, None),
    ];
    for (script, code, says) in cases {
        let mut c = Proc::spawn_io(
            nicksock(&["connect", "127.0.0.1", &port, "--sh-exec", script]),
            Stdio::null(),
            Stdio::null(),
        );
        let (s, _) = listener.accept().expect("accept");
        drop(s);
        let done = c.wait();
        done.assert_code(code);
        match says {
            Some(words) => assert!(done.stderr.contains(words), "{script}: {}", done.stderr),
            // A program's own failure is its own to tell: no line of ours.
            None => assert!(
                !done.stderr.contains("nicksock"),
                "{script}: {}",
                done.stderr
            ),
        }
    }
    // A program that cannot be started: 127 (not found) or 126 (not executable), as a
    // shell says, with a line that names it.
    let dir = tempdir();
    let plain = write_file(dir.path(), "not-executable", b"#!/bin/sh\n");
    for (program, code) in [
        ("/nonexistent/program", 127),
        (plain.to_str().unwrap(), 126),
    ] {
        let mut c = Proc::spawn_io(
            nicksock(&["connect", "127.0.0.1", &port, "--exec", program]),
            Stdio::null(),
            Stdio::null(),
        );
        let (s, _) = listener.accept().expect("accept");
        let done = c.wait();
        drop(s);
        done.assert_code(code);
        assert!(
            done.stderr.contains(&format!("cannot run '{program}'")),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn the_program_sees_who_it_talks_to() {
    let script = "echo $NICKSOCK_PROTO $NICKSOCK_REMOTE_ADDR $NICKSOCK_REMOTE_PORT \
                  $NICKSOCK_LOCAL_ADDR $NICKSOCK_LOCAL_PORT";
    let (mut srv, port) = server(&["-c", script]);
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mine = s.local_addr().expect("local").port();
    let got = round_trip(s, Vec::new(), |w| {
        w.shutdown(Shutdown::Write).expect("shutdown")
    });
    assert_eq!(
        String::from_utf8_lossy(&got).trim(),
        format!("TCP 127.0.0.1 {mine} 127.0.0.1 {port}")
    );
    srv.wait().assert_code(0);

    // Over a Unix socket: the peer's pid and uid.
    let dir = tempdir();
    let path = dir.path().join("s.sock");
    let path_arg = path.to_str().expect("path").to_string();
    let mut srv = Proc::spawn_io(
        nicksock(&[
            "listen",
            "-U",
            &path_arg,
            "-c",
            "echo $NICKSOCK_PROTO $NICKSOCK_REMOTE_PID $NICKSOCK_REMOTE_UID",
        ]),
        Stdio::null(),
        Stdio::piped(),
    );
    srv.wait_line("listening on");
    let s = UnixStream::connect(&path).expect("connect");
    let got = round_trip(s, Vec::new(), |w| {
        w.shutdown(Shutdown::Write).expect("shutdown")
    });
    let uid = rustix::process::getuid().as_raw();
    assert_eq!(
        String::from_utf8_lossy(&got).trim(),
        format!("UNIX {} {uid}", std::process::id())
    );
    srv.wait().assert_code(0);
}

#[test]
fn sigterm_and_sigint_reach_the_programs() {
    for (signal, code) in [("TERM", 0), ("INT", 130)] {
        let (mut srv, port) = server(&["-k", "-c", "echo $$; exec tail -f /dev/null"]);
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut first = Vec::new();
        let mut byte = [0u8; 1];
        while !first.ends_with(b"\n") {
            assert_eq!(s.read(&mut byte).expect("read pid"), 1);
            first.push(byte[0]);
        }
        let child: u32 = String::from_utf8_lossy(&first).trim().parse().expect("pid");
        assert!(children_of(srv.child.id()).contains(&child));
        srv.signal(signal);
        let done = srv.wait();
        done.assert_code(code);
        // The program is gone (killed by the signal passed on, and reaped).
        assert!(
            !std::path::Path::new(&format!("/proc/{child}")).exists(),
            "SIG{signal}: program {child} outlived the server"
        );
        // Its end reached the client: the connection is closed, not left hanging.
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut rest = Vec::new();
        let ended = s.read_to_end(&mut rest);
        assert!(
            !matches!(&ended, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
            "SIG{signal}: the client's connection was left open"
        );
    }
}

/// The processes of process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    processes_with(2, pgid)
}

#[test]
fn sigint_reaches_the_programs_trap_and_leaves_no_grandchild() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    // A background job that waits for ever and, started by a non-interactive shell,
    // ignores SIGINT: only the group's SIGKILL ends it.
    let script = "trap 'echo got INT; exit 3' INT; echo $$; tail -f /dev/null & wait";
    let client = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port, "-c", script]),
        Stdio::null(),
        Stdio::null(),
    );
    let mut client = client;
    let (mut s, _) = listener.accept().expect("accept");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while !first.ends_with(b"\n") {
        assert_eq!(s.read(&mut byte).expect("read pid"), 1);
        first.push(byte[0]);
    }
    let group: u32 = String::from_utf8_lossy(&first).trim().parse().expect("pid");
    wait_until("the background job to start", || {
        group_members(group).len() >= 2
    });
    client.signal("INT");
    let done = client.wait();
    done.assert_code(130);
    // The program's trap ran, and what it said reached the peer.
    let mut rest = String::new();
    let _ = s.read_to_string(&mut rest);
    assert!(rest.contains("got INT"), "{rest:?}");
    // Nothing of its group is left: not the shell, not its background job.
    wait_until("the program's group to be gone", || {
        group_members(group).is_empty()
    });
}

#[test]
fn a_tls_client_without_the_asked_certificate_starts_no_program() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let marker = dir.path().join("ran");
    let script = format!("echo ran >> '{}'", marker.display());
    let (mut srv, port) = server(&[
        "-k",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--cacert",
        &cert,
        "--sh-exec",
        &script,
    ]);
    // A client that connects and says nothing, and one that offers no certificate.
    drop(TcpStream::connect(("127.0.0.1", port)).expect("connect"));
    let py = "import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
try:
    t = ctx.wrap_socket(s); t.sendall(b'hello'); t.recv(10)
except (ssl.SSLError, OSError) as e:
    pass";
    let out = Command::new("python3")
        .args(["-c", py, &port.to_string()])
        .output()
        .expect("python3");
    assert!(out.status.success());
    srv.wait_line("certificate");
    srv.signal("TERM");
    srv.wait();
    assert!(
        !marker.exists(),
        "a program ran for a client without a certificate"
    );
}

#[test]
fn a_peer_that_never_takes_the_programs_output_is_a_failure() {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    // A small receive window: the output waits in our send queue, unacknowledged.
    listener.set_recv_buffer_size(4096).expect("rcvbuf");
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .expect("bind");
    listener.listen(1).expect("listen");
    let port = listener
        .local_addr()
        .unwrap()
        .as_socket()
        .unwrap()
        .port()
        .to_string();
    let mut client = Proc::spawn_io(
        nicksock(&[
            "connect",
            "127.0.0.1",
            &port,
            "--exec",
            "head -c 2000000 /dev/zero",
        ]),
        Stdio::null(),
        Stdio::null(),
    );
    let (peer, _) = listener.accept().expect("accept");
    let pid = client.child.id();
    // The program has written everything and exited; nicksock waits for the peer.
    wait_until("the program to end", || children_of(pid).is_empty());
    // The peer closes without reading: a reset.
    drop(peer);
    // Exit 1, not the program's 0: its output did not get there.
    let done = client.wait();
    assert_eq!(done.code(), 1, "{}", done.stderr);
    assert!(done.stderr.contains("peer"), "{}", done.stderr);
}

#[test]
fn exec_over_tls_with_openssl_s_client() {
    if !have("openssl") {
        return;
    }
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["localhost"]);
    let (mut srv, port) = server(&[
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "--sh-exec",
        "read line; echo \"$line\" | tr a-z A-Z",
    ]);
    let mut client = Command::new("openssl");
    client.args([
        "s_client",
        "-quiet",
        "-connect",
        &format!("127.0.0.1:{port}"),
    ]);
    let mut client = Proc::spawn(client);
    client.send(b"plaintext for the program\n");
    // The program answers and exits; our close_notify ends s_client.
    let got = client.wait();
    assert!(got.out().contains("PLAINTEXT FOR THE PROGRAM\n"), "{got:?}");
    srv.wait().assert_code(0);
}

#[test]
fn programs_of_cut_connections_count_until_they_end() {
    // Programs that ignore SIGTERM: cut, they live on (as orphans) until the SIGKILL 2 s
    // later, and hold their places meanwhile.
    let (mut srv, port) = server(&[
        "-k",
        "--max-children",
        "2",
        "--sh-exec",
        "trap '' TERM; echo ready; exec tail -f /dev/null",
    ]);
    // A client whose program said it is ready (its trap is set).
    let ready_client = || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut ready = [0u8; 6];
        s.read_exact(&mut ready).map(|()| s)
    };
    for _ in 0..2 {
        let s = ready_client().expect("served");
        let peer = s.local_addr().expect("addr").to_string();
        // A reset: the connection is cut while its program runs.
        socket2::SockRef::from(&s)
            .set_linger(Some(std::time::Duration::ZERO))
            .expect("linger");
        drop(s);
        srv.wait_line(&format!("{peer}: 'trap"));
    }
    // Both places are held by programs still ending: the next client is turned away.
    assert!(ready_client().is_err(), "a third program started");
    srv.wait_line("already serving");
    // Once they are killed (2 s after the cut), clients are served again.
    wait_until("a client served after the orphans ended", || {
        ready_client().is_ok()
    });
    srv.signal("TERM");
}
