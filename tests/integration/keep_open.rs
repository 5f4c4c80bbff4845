//! `listen -k` with stdin a pipe that stays open (a test harness, `tail -f log | nicksock
//! listen -k …`): stdin is one stream the clients share in turn (DESIGN.md §2). Each client
//! gets the bytes fed while it was connected, its session ends when it has ended and has
//! everything taken for it, and the next client gets the rest: nothing lost, nothing twice.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use crate::util::*;

/// `listen -v -k ARGS 127.0.0.1 0` (or `ADDR` given in `args`) with its stdin a pipe the
/// test holds open, and its first bound address.
fn held_listener(args: &[&str], lines: usize) -> (Proc, Vec<SocketAddr>) {
    let mut all = vec!["-v", "listen", "-k"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn(nicksock(&all));
    let addrs = p.wait_ready(lines);
    (p, addrs)
}

/// A client program whose stdout goes to `out` and whose stdin the test holds.
fn client(cmd: Command, out: &Path) -> Proc {
    let file = std::fs::File::create(out).expect("create the client's output");
    Proc::spawn_io(cmd, Stdio::piped(), Stdio::from(file))
}

/// One client's turn: once the listener reports it, `fed` goes into the listener's stdin
/// and must reach the client (`out`); then the client says `says` and ends its input.
fn turn(listen: &mut Proc, mut c: Proc, out: &Path, fed: &str, says: &str) {
    listen.wait_line("connection from");
    listen.send(fed.as_bytes());
    wait_until(&format!("{fed:?} at the client"), || {
        file_bytes(out) == fed.as_bytes()
    });
    c.send(says.as_bytes());
    c.close_stdin();
    let done = c.wait();
    done.assert_code(0);
    assert_eq!(file_bytes(out), fed.as_bytes(), "nothing more reached it");
}

#[test]
fn a_held_stdin_serves_nc_then_nicksock_then_a_tls_client_in_a_row() {
    if !have("nc") {
        return;
    }
    let dir = tempdir();
    let (mut listen, addrs) = held_listener(&["--max-conns", "2", "127.0.0.1", "0"], 1);
    let port = addrs[0].port().to_string();
    let out = dir.path().join("nc.out");
    let mut nc = Command::new("nc");
    nc.args(["-N", "127.0.0.1", &port]);
    turn(&mut listen, client(nc, &out), &out, "to nc\n", "from nc\n");
    let out = dir.path().join("connect.out");
    let connect = nicksock(&["connect", "127.0.0.1", &port]);
    turn(
        &mut listen,
        client(connect, &out),
        &out,
        "to connect\n",
        "from connect\n",
    );
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "from nc\nfrom connect\n");

    // The same on a TLS listener, with one TLS client after another.
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let tls = ["--tls", "--cert", &cert, "--key", &key];
    let (mut listen, addrs) = held_listener(
        &[&tls[..], &["--max-conns", "2", "127.0.0.1", "0"]].concat(),
        1,
    );
    let port = addrs[0].port().to_string();
    for i in 0..2 {
        let out = dir.path().join(format!("tls{i}.out"));
        let c = nicksock(&["connect", "--tls", "--cacert", &cert, "127.0.0.1", &port]);
        let (fed, says) = (format!("to tls {i}\n"), format!("from tls {i}\n"));
        turn(&mut listen, client(c, &out), &out, &fed, &says);
    }
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "from tls 0\nfrom tls 1\n");
}

/// A raw client's turn: `fed` into the listener's stdin must arrive; then the client says
/// `says`, half-closes, and reads to the end.
fn raw_turn(listen: &mut Proc, addr: SocketAddr, fed: &str, says: &str) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    listen.wait_line("connection from");
    listen.send(fed.as_bytes());
    let mut got = vec![0u8; fed.len()];
    s.read_exact(&mut got).expect("the fed bytes");
    assert_eq!(got, fed.as_bytes());
    s.write_all(says.as_bytes()).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("our end, not a reset");
    assert!(rest.is_empty(), "nothing more: {rest:?}");
}

#[test]
fn a_dual_stack_listener_serves_ipv4_then_ipv6_with_a_held_stdin() {
    let (mut listen, addrs) = held_listener(&["--max-conns", "3", "0"], 2);
    let port = addrs[0].port();
    for (i, host) in ["127.0.0.1", "[::1]", "127.0.0.1"].into_iter().enumerate() {
        let addr: SocketAddr = format!("{host}:{port}").parse().unwrap();
        raw_turn(
            &mut listen,
            addr,
            &format!("to {i}\n"),
            &format!("from {i}\n"),
        );
    }
    let done = listen.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "from 0\nfrom 1\nfrom 2\n");
}

/// Feeds `data` into the listener's stdin from a thread (a pipe that keeps giving while
/// clients come and go); the thread gives the pipe back, still open, when all is written.
fn feeder(
    listen: &mut Proc,
    data: &[u8],
) -> (thread::JoinHandle<std::process::ChildStdin>, Vec<u8>) {
    let mut stdin = listen.stdin.take().expect("stdin");
    let data = data.to_vec();
    let copy = data.clone();
    let handle = thread::spawn(move || {
        for chunk in copy.chunks(64 * 1024) {
            stdin.write_all(chunk).expect("feed");
        }
        stdin
    });
    (handle, data)
}

#[test]
fn a_client_that_half_closes_mid_stream_gets_all_taken_for_it_and_the_next_the_rest() {
    for tls in [false, true] {
        let dir = tempdir();
        let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
        let mut args = vec!["--max-conns", "2", "127.0.0.1", "0"];
        if tls {
            args.splice(0..0, ["--tls", "--cert", &cert, "--key", &key]);
        }
        let (mut listen, addrs) = held_listener(&args, 1);
        let port = addrs[0].port().to_string();
        // More than the pipes and socket buffers between the listener and a stalled client
        // hold, so the first client cannot have been sent it all.
        let total = 32 << 20;
        let (feeding, data) = feeder(&mut listen, &pattern(total, 21));
        // The first client takes a MiB and stops reading, so the listener is stalled part-way
        // through sending; then it ends its side and reads on to our end.
        let mut cmd = if tls {
            nicksock(&["connect", "--tls", "--cacert", &cert, "127.0.0.1", &port])
        } else {
            nicksock(&["connect", "127.0.0.1", &port])
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut first = cmd.spawn().expect("spawn the first client");
        let mut from_first = first.stdout.take().expect("stdout");
        let mut got_first = vec![0u8; 1 << 20];
        from_first.read_exact(&mut got_first).expect("a MiB");
        drop(first.stdin.take());
        from_first.read_to_end(&mut got_first).expect("the rest");
        assert!(
            first.wait().expect("wait").success(),
            "tls {tls}: the first client failed"
        );
        assert!(
            got_first.len() < total,
            "tls {tls}: the first client was to end part-way, got all {total}"
        );
        // The second client gets the rest: it keeps its side open until all has come.
        let second_out = dir.path().join("second.out");
        let cmd = if tls {
            nicksock(&["connect", "--tls", "--cacert", &cert, "127.0.0.1", &port])
        } else {
            nicksock(&["connect", "127.0.0.1", &port])
        };
        let mut second = client(cmd, &second_out);
        // The feeder done, the listener's stdin ends.
        drop(feeding.join().expect("feeder"));
        let rest = total - got_first.len();
        wait_until("the rest at the second client", || {
            file_bytes(&second_out).len() >= rest
        });
        second.close_stdin();
        second.wait().assert_code(0);
        listen.wait().assert_code(0);
        let mut both = got_first.clone();
        both.extend_from_slice(&file_bytes(&second_out));
        assert!(
            both == data,
            "tls {tls}: {} + {} bytes arrived of {total}, nothing lost or twice",
            got_first.len(),
            both.len() - got_first.len()
        );
    }
}

#[test]
fn a_client_that_never_completes_the_tls_handshake_takes_nothing_of_stdin() {
    // A health check or a port scan: connect, then close without a handshake. Stdin fed
    // before it came must go to the next, real client, whole.
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let args = ["--tls", "--cert", &cert, "--key", &key];
    let (mut listen, addrs) = held_listener(
        &[&args[..], &["--max-conns", "2", "127.0.0.1", "0"]].concat(),
        1,
    );
    listen.send(b"for the real client\n");
    let probe = TcpStream::connect(addrs[0]).expect("probe");
    listen.wait_line("connection from");
    drop(probe);
    let out = dir.path().join("real.out");
    let port = addrs[0].port().to_string();
    let c = nicksock(&["connect", "--tls", "--cacert", &cert, "127.0.0.1", &port]);
    let mut real = client(c, &out);
    wait_until("stdin at the real client", || {
        file_bytes(&out) == b"for the real client\n"
    });
    real.close_stdin();
    real.wait().assert_code(0);
    listen.close_stdin();
    let done = listen.wait();
    done.assert_code(0);
}
