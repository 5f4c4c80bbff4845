//! "The bytes arrive, or the exit code says they did not" (DESIGN.md §2), as a table.
//!
//! Every row is a file transfer the way people start one: a sender whose stdin is a file, a
//! pipe that starts late, a pipe held open, or /dev/null; a receiver whose stdin is /dev/null
//! (a background job in a script), a pipe held open, or a terminal; plain TCP or TLS; the
//! sender or the receiver listening. Each row checks what a user would: the SHA-256 of what
//! the receiver wrote against the sender's input, both exit codes, and how long each side
//! took (printed, so `cargo test transfer -- --nocapture` shows the table).
//!
//! After the table come real peers on the other end (OpenBSD nc, ncat, socat) and the cases
//! where bytes cannot arrive: then the exit code must say so.

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// Bytes per transfer: more than loopback's socket buffers hold (the old rules delivered
/// about 5 MB before the receiver's early end cut the sender off).
const SIZE: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
enum SenderStdin {
    /// `< file`: read on the loop, sendfile on plain TCP.
    File,
    /// A pipe whose first byte comes only after the session is up (and after the receiver's
    /// end, when the receiver's stdin is /dev/null).
    LatePipe,
    /// A pipe that stays open until the receiver has every byte.
    HeldPipe,
    /// `< /dev/null`: nothing to send.
    DevNull,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ReceiverStdin {
    /// `< /dev/null`: its end comes at once.
    DevNull,
    /// A pipe held open until the receiver saw the sender's end.
    Held,
    /// A terminal (a pty) nobody types into.
    Terminal,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Listens {
    Sender,
    Receiver,
}

const SENDERS: [SenderStdin; 4] = [
    SenderStdin::File,
    SenderStdin::LatePipe,
    SenderStdin::HeldPipe,
    SenderStdin::DevNull,
];
const RECEIVERS: [ReceiverStdin; 3] = [
    ReceiverStdin::DevNull,
    ReceiverStdin::Held,
    ReceiverStdin::Terminal,
];

/// The certificate a TLS row uses, made once per test.
struct Tls {
    dir: tempfile::TempDir,
}

impl Tls {
    fn new() -> Self {
        let dir = tempdir();
        let out = nicksock(&[
            "gen-cert",
            "--out",
            dir.path().to_str().unwrap(),
            "127.0.0.1",
        ])
        .output()
        .expect("gen-cert");
        assert!(out.status.success(), "{out:?}");
        Tls { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn server_args(&self) -> Vec<String> {
        let (cert, key) = (self.path("cert.pem"), self.path("cert-key.pem"));
        ["--tls", "--cert", &cert, "--key", &key]
            .map(str::to_string)
            .to_vec()
    }

    fn client_args(&self) -> Vec<String> {
        ["--tls", "--cacert", &self.path("cert.pem")]
            .map(str::to_string)
            .to_vec()
    }
}

/// What one row saw.
struct Row {
    sender: Finished,
    receiver: Finished,
    sender_took: Duration,
    receiver_took: Duration,
    received: Vec<u8>,
}

/// Waits for both processes, noting when each exited.
fn wait_both(
    a: &mut Proc,
    b: &mut Proc,
    start: Instant,
) -> (Finished, Duration, Finished, Duration) {
    let deadline = start + PATIENCE;
    let (mut fa, mut fb) = (None, None);
    while fa.is_none() || fb.is_none() {
        if fa.is_none() && a.child.try_wait().expect("try_wait").is_some() {
            fa = Some((a.wait(), start.elapsed()));
        }
        if fb.is_none() && b.child.try_wait().expect("try_wait").is_some() {
            fb = Some((b.wait(), start.elapsed()));
        }
        assert!(
            Instant::now() < deadline,
            "hung: sender exited {}, receiver exited {}; stderr: {:?} / {:?}",
            fa.is_some(),
            fb.is_some(),
            a.stderr_seen,
            b.stderr_seen
        );
        thread::sleep(Duration::from_millis(2));
    }
    let (fa, ta) = fa.unwrap();
    let (fb, tb) = fb.unwrap();
    (fa, ta, fb, tb)
}

/// How the two sides are joined: TLS or not, TCP on loopback or a Unix socket, and which
/// side listens.
#[derive(Clone, Copy)]
struct Join<'a> {
    tls: Option<&'a Tls>,
    unix: Option<&'a Path>,
    listens: Listens,
}

/// Runs one transfer of `data` (stored in `input`) and returns what both sides did.
fn transfer(
    dir: &Path,
    input: &Path,
    data: &[u8],
    send: SenderStdin,
    recv: ReceiverStdin,
    join: Join<'_>,
) -> Row {
    let Join { tls, unix, listens } = join;
    let received_path = dir.join("received.bin");
    let sent_out = dir.join("sender-stdout.bin");
    // -vv: the lines "connection from", "connected to" and "the peer ended its sending
    // side" tell the test when to act, instead of sleeping.
    let listen_args = |extra: Vec<String>| {
        let mut a = vec!["-vv".to_string(), "listen".to_string()];
        a.extend(extra);
        match unix {
            Some(path) => a.extend(["-U".to_string(), path.display().to_string()]),
            None => a.extend(["127.0.0.1".to_string(), "0".to_string()]),
        }
        a
    };
    let connect_args = |extra: Vec<String>, port: u16| {
        let mut a = vec!["-vv".to_string(), "connect".to_string()];
        a.extend(extra);
        match unix {
            Some(path) => a.extend(["-U".to_string(), path.display().to_string()]),
            None => a.extend(["127.0.0.1".to_string(), port.to_string()]),
        }
        a
    };
    // The port the listener printed (0 for a Unix socket: the path is known).
    let ready = |p: &mut Proc| match unix {
        Some(_) => {
            p.wait_line("listening on ");
            0
        }
        None => p.wait_ready(1)[0].port(),
    };
    let (server_tls, client_tls) = match tls {
        Some(t) => (t.server_args(), t.client_args()),
        None => (Vec::new(), Vec::new()),
    };
    let mut client_tls = client_tls;
    if tls.is_some() && unix.is_some() {
        // The certificate is for 127.0.0.1; a Unix socket has no host name to check.
        client_tls.extend(["--servername", "127.0.0.1"].map(str::to_string));
    }

    let sender_stdin = || match send {
        SenderStdin::File => Stdio::from(File::open(input).unwrap()),
        SenderStdin::DevNull => Stdio::null(),
        SenderStdin::LatePipe | SenderStdin::HeldPipe => Stdio::piped(),
    };
    let mut terminal = None;
    let mut receiver_stdin = || match recv {
        ReceiverStdin::DevNull => Stdio::null(),
        ReceiverStdin::Held => Stdio::piped(),
        ReceiverStdin::Terminal => {
            let (follower, leader) = pty();
            terminal = Some(leader);
            Stdio::from(follower)
        }
    };
    let out_file = |p: &Path| Stdio::from(File::create(p).unwrap());
    let spawn = |args: Vec<String>, stdin: Stdio, out: &Path| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Proc::spawn_io(nicksock(&args), stdin, out_file(out))
    };

    let start = Instant::now();
    let (mut sender, mut receiver) = match listens {
        Listens::Sender => {
            let mut s = spawn(listen_args(server_tls), sender_stdin(), &sent_out);
            let port = ready(&mut s);
            let r = spawn(
                connect_args(client_tls, port),
                receiver_stdin(),
                &received_path,
            );
            (s, r)
        }
        Listens::Receiver => {
            let mut r = spawn(listen_args(server_tls), receiver_stdin(), &received_path);
            let port = ready(&mut r);
            let s = spawn(connect_args(client_tls, port), sender_stdin(), &sent_out);
            (s, r)
        }
    };

    // Feed the sender's pipe from a thread (a pipe blocks when full); `go` starts it, `close`
    // ends it.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (close_tx, close_rx) = mpsc::channel::<()>();
    let writer = sender.stdin.take().map(|mut pipe| {
        let data = data.to_vec();
        thread::spawn(move || {
            let _ = go_rx.recv();
            pipe.write_all(&data).expect("feeding the sender");
            let _ = close_rx.recv();
        })
    });
    match send {
        SenderStdin::LatePipe => {
            let up = if recv == ReceiverStdin::DevNull {
                "the peer ended its sending side"
            } else if listens == Listens::Sender {
                "connection from"
            } else {
                "connected to"
            };
            sender.wait_line(up);
            go_tx.send(()).unwrap();
            close_tx.send(()).unwrap();
        }
        SenderStdin::HeldPipe => {
            go_tx.send(()).unwrap();
            // Held open until every byte is in the receiver's file.
            let deadline = Instant::now() + PATIENCE;
            while std::fs::metadata(&received_path).map_or(0, |m| m.len()) < data.len() as u64 {
                assert!(
                    Instant::now() < deadline,
                    "the held pipe's bytes never arrived"
                );
                thread::sleep(Duration::from_millis(2));
            }
            close_tx.send(()).unwrap();
        }
        _ => {}
    }
    if recv == ReceiverStdin::Held {
        receiver.wait_line("the peer ended its sending side");
        receiver.close_stdin();
    }
    let (s, st, r, rt) = wait_both(&mut sender, &mut receiver, start);
    if let Some(w) = writer {
        w.join().unwrap();
    }
    drop(terminal);
    assert!(
        std::fs::read(&sent_out).unwrap().is_empty(),
        "the receiver sent bytes"
    );
    Row {
        sender: s,
        receiver: r,
        sender_took: st,
        receiver_took: rt,
        received: std::fs::read(&received_path).unwrap(),
    }
}

fn sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every stdin of the sender against every stdin of the receiver, for one transport and one
/// listening side: every row must deliver every byte with exit 0 on both sides.
fn table(tls: bool, listens: Listens) {
    table_via(tls, listens, false);
}

/// [`table`] over TCP on loopback, or over a Unix domain socket.
fn table_via(tls: bool, listens: Listens, unix: bool) {
    let dir = tempdir();
    let data = pattern(SIZE, 11);
    let input = write_file(dir.path(), "input.bin", &data);
    let certs = tls.then(Tls::new);
    let socket = unix.then(|| dir.path().join("t.sock"));
    let mut failures = Vec::new();
    eprintln!(
        "{:<5} {:<8} {:<9} {:<9} | {:<16} {:<16} | exit s r | sender   receiver",
        "tls", "listens", "sender", "receiver", "sent sha256", "received sha256"
    );
    for send in SENDERS {
        for recv in RECEIVERS {
            let join = Join {
                tls: certs.as_ref(),
                unix: socket.as_deref(),
                listens,
            };
            let row = transfer(dir.path(), &input, &data, send, recv, join);
            let expected: &[u8] = if send == SenderStdin::DevNull {
                b""
            } else {
                &data
            };
            eprintln!(
                "{:<5} {:<8} {:<9} {:<9} | {:<16} {:<16} | {:>4} {} | {:>7.0?} {:>7.0?}",
                tls,
                format!("{listens:?}"),
                format!("{send:?}"),
                format!("{recv:?}"),
                sha256(expected),
                sha256(&row.received),
                row.sender.code(),
                row.receiver.code(),
                row.sender_took,
                row.receiver_took,
            );
            let ok = row.received == expected
                && row.sender.code() == 0
                && row.receiver.code() == 0
                && !row.sender.stderr.contains("panicked")
                && !row.receiver.stderr.contains("panicked");
            if !ok {
                failures.push(format!(
                    "{send:?} → {recv:?}: received {} of {} bytes, exit {} / {}; stderr: {} / {}",
                    row.received.len(),
                    expected.len(),
                    row.sender.code(),
                    row.receiver.code(),
                    row.sender.stderr,
                    row.receiver.stderr
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "rows that failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_stdin_plain_sender_listens() {
    table(false, Listens::Sender);
}

#[test]
fn every_stdin_plain_receiver_listens() {
    table(false, Listens::Receiver);
}

#[test]
fn every_stdin_tls_sender_listens() {
    table(true, Listens::Sender);
}

#[test]
fn every_stdin_tls_receiver_listens() {
    table(true, Listens::Receiver);
}

#[test]
fn every_stdin_over_a_unix_socket_plain_receiver_listens() {
    table_via(false, Listens::Receiver, true);
}

#[test]
fn every_stdin_over_a_unix_socket_tls_sender_listens() {
    table_via(true, Listens::Sender, true);
}

/// A receiver program on the other end: the command, and whether it listens (then the test
/// reads its port from the stderr line that `ready` names; else it connects to nicksock).
struct Peer {
    argv: Vec<String>,
    listens: bool,
}

/// nicksock sends `input` (a file) to a real peer whose stdin is /dev/null; returns what
/// the peer wrote and nicksock's end.
fn send_to_peer(dir: &Path, input: &Path, peer: &Peer) -> (Vec<u8>, Finished, Finished) {
    let received = dir.join("peer-received.bin");
    let out = || Stdio::from(File::create(&received).unwrap());
    if peer.listens {
        let mut cmd = Command::new(&peer.argv[0]);
        cmd.args(&peer.argv[1..]);
        let mut p = Proc::spawn_io(cmd, Stdio::null(), out());
        // OpenBSD nc -v: "Listening on localhost 40605".
        let line = p.wait_line("Listening on");
        let port = line.rsplit(' ').next().unwrap().to_string();
        let mut s = Proc::spawn_io(
            nicksock(&["connect", "127.0.0.1", &port]),
            Stdio::from(File::open(input).unwrap()),
            Stdio::null(),
        );
        let (sf, _, pf, _) = wait_both(&mut s, &mut p, Instant::now());
        (std::fs::read(&received).unwrap(), sf, pf)
    } else {
        let mut s = Proc::spawn_io(
            nicksock(&["listen", "127.0.0.1", "0"]),
            Stdio::from(File::open(input).unwrap()),
            Stdio::null(),
        );
        let port = s.wait_ready(1)[0].port().to_string();
        let mut cmd = Command::new(&peer.argv[0]);
        cmd.args(&peer.argv[1..]).args(["127.0.0.1", &port]);
        let mut p = Proc::spawn_io(cmd, Stdio::null(), out());
        let (sf, _, pf, _) = wait_both(&mut s, &mut p, Instant::now());
        (std::fs::read(&received).unwrap(), sf, pf)
    }
}

/// A real peer sends `input` to a nicksock receiver whose stdin is /dev/null.
fn receive_from_peer(dir: &Path, input: &Path, argv: &[&str]) -> (Vec<u8>, Finished, Finished) {
    let received = dir.join("nicksock-received.bin");
    let mut r = Proc::spawn_io(
        nicksock(&["listen", "127.0.0.1", "0"]),
        Stdio::null(),
        Stdio::from(File::create(&received).unwrap()),
    );
    let port = r.wait_ready(1)[0].port().to_string();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).args(["127.0.0.1", &port]);
    let mut s = Proc::spawn_io(cmd, Stdio::from(File::open(input).unwrap()), Stdio::null());
    let (sf, _, rf, _) = wait_both(&mut s, &mut r, Instant::now());
    (std::fs::read(&received).unwrap(), sf, rf)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn real_peers_receive_every_byte_with_stdin_at_dev_null() {
    if !have("nc") || !have("ncat") {
        return;
    }
    let dir = tempdir();
    let data = pattern(SIZE, 12);
    let input = write_file(dir.path(), "input.bin", &data);
    for peer in [
        Peer {
            argv: words("nc -v -l 127.0.0.1 0"),
            listens: true,
        },
        Peer {
            argv: words("nc -v -N -l 127.0.0.1 0"),
            listens: true,
        },
        Peer {
            argv: words("nc"),
            listens: false,
        },
        Peer {
            argv: words("nc -N"),
            listens: false,
        },
        Peer {
            argv: words("ncat"),
            listens: false,
        },
    ] {
        let (got, ours, theirs) = send_to_peer(dir.path(), &input, &peer);
        eprintln!(
            "nicksock → {:?}: {} of {} bytes, exit {} / {}",
            peer.argv,
            got.len(),
            data.len(),
            ours.code(),
            theirs.code()
        );
        ours.assert_code(0);
        assert_eq!(
            got.len(),
            data.len(),
            "{:?} got part of the file",
            peer.argv
        );
        assert!(got == data, "{:?} got other bytes", peer.argv);
    }
    for argv in [&["nc", "-N"][..], &["nc"], &["ncat"]] {
        let (got, theirs, ours) = receive_from_peer(dir.path(), &input, argv);
        eprintln!(
            "{argv:?} → nicksock: {} of {} bytes, exit {} / {}",
            got.len(),
            data.len(),
            theirs.code(),
            ours.code()
        );
        ours.assert_code(0);
        assert!(
            got == data,
            "{argv:?} → nicksock lost bytes ({} arrived)",
            got.len()
        );
    }
}

#[test]
fn socat_that_gives_up_early_is_never_exit_0_with_bytes_missing() {
    // `socat … STDIO` with stdin at /dev/null shuts its side at once and closes the whole
    // connection 0.5 s later: what nicksock sends after that is lost, and it must say so.
    if !have("socat") {
        return;
    }
    let dir = tempdir();
    let received = dir.path().join("socat.bin");
    let mut socat = Command::new("socat");
    socat.args(["-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "STDIO"]);
    let mut socat = Proc::spawn_io(
        socat,
        Stdio::null(),
        Stdio::from(File::create(&received).unwrap()),
    );
    let line = socat.wait_line("listening on");
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    let mut sender = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port]),
        Stdio::piped(),
        Stdio::null(),
    );
    let first = pattern(1 << 20, 13);
    sender.send(&first);
    // socat leaves by itself; then more bytes come from the pipe.
    let socat_done = socat.wait();
    let got = std::fs::read(&received).unwrap();
    // nicksock may have left already, on the reset of a socat that closed with bytes unread.
    let _ = sender
        .stdin
        .as_mut()
        .unwrap()
        .write_all(&pattern(1 << 20, 14));
    sender.close_stdin();
    let done = sender.wait();
    eprintln!(
        "socat kept {} bytes and exited {}; nicksock: exit {}, {}",
        got.len(),
        socat_done.code(),
        done.code(),
        done.stderr
    );
    assert!(got.len() <= first.len() && got == first[..got.len()]);
    assert_eq!(done.code(), 1, "bytes were lost: {}", done.stderr);
    let line = done
        .stderr
        .lines()
        .find(|l| l.starts_with("nicksock: error: "))
        .unwrap_or_else(|| panic!("no error line: {}", done.stderr));
    assert!(line.contains(" sent"), "{line}");
}

#[test]
fn a_peer_that_closes_with_our_bytes_unread_is_exit_1_saying_how_much_was_sent() {
    let dir = tempdir();
    let data = pattern(32 << 20, 15);
    let input = write_file(dir.path(), "input.bin", &data);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut some = vec![0u8; 64 << 10];
        std::io::Read::read_exact(&mut s, &mut some).unwrap();
        // Closing with bytes unread makes the kernel reset the connection.
    });
    let mut c = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port.to_string()]),
        Stdio::from(File::open(&input).unwrap()),
        Stdio::null(),
    );
    peer.join().unwrap();
    let done = c.wait();
    done.assert_code(1);
    let line = done
        .stderr
        .lines()
        .find(|l| l.starts_with("nicksock: error: "))
        .unwrap_or_else(|| panic!("no error line: {}", done.stderr));
    let total = format!(" of {} bytes", data.len());
    assert!(line.contains("sent ") && line.ends_with(&total), "{line}");
    let sent: u64 = line
        .rsplit("sent ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"));
    assert!(sent < data.len() as u64, "{line}");
}

#[test]
fn a_terminal_session_the_server_closes_ends_at_once() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"bye\n").unwrap();
    });
    let (follower, leader) = pty();
    let started = Instant::now();
    let mut c = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port.to_string()]),
        Stdio::from(follower),
        Stdio::piped(),
    );
    let done = c.wait();
    let took = started.elapsed();
    drop(leader);
    done.assert_code(0);
    assert_eq!(done.out(), "bye\n");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// Sends `data` from a nicksock whose stdin is `stdin` to a nicksock receiver whose stdin is
/// /dev/null; `feed` runs once both are up (to write into a FIFO or socket). Returns what
/// arrived and both ends.
fn send_from(stdin: Stdio, feed: impl FnOnce()) -> (Vec<u8>, Finished, Finished) {
    let dir = tempdir();
    let received = dir.path().join("received.bin");
    let mut r = Proc::spawn_io(
        nicksock(&["listen", "127.0.0.1", "0"]),
        Stdio::null(),
        Stdio::from(File::create(&received).unwrap()),
    );
    let port = r.wait_ready(1)[0].port().to_string();
    let mut s = Proc::spawn_io(
        nicksock(&["connect", "127.0.0.1", &port]),
        stdin,
        Stdio::null(),
    );
    feed();
    let (sf, _, rf, _) = wait_both(&mut s, &mut r, Instant::now());
    (std::fs::read(&received).unwrap(), sf, rf)
}

#[test]
fn a_fifo_and_a_socket_on_stdin_deliver_every_byte() {
    let data = pattern(SIZE, 16);
    // A FIFO (`mkfifo f; producer > f & nicksock connect … < f`): opening either side
    // waits for the other, and the reader's EOF comes when the writer closes.
    let dir = tempdir();
    let fifo = mkfifo(dir.path(), "fifo");
    let fifo_for_writer = fifo.clone();
    let bytes = data.clone();
    let writer = thread::spawn(move || {
        let mut w = File::options().write(true).open(fifo_for_writer).unwrap();
        w.write_all(&bytes).unwrap();
    });
    let reader = File::open(&fifo).unwrap();
    let (got, sender, receiver) = send_from(Stdio::from(reader), || writer.join().unwrap());
    sender.assert_code(0);
    receiver.assert_code(0);
    assert!(
        got == data,
        "FIFO: {} of {} bytes arrived",
        got.len(),
        data.len()
    );

    // A Unix socket (as under inetd or a supervisor): EOF is the other end's shutdown.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let bytes = data.clone();
    let feeder = thread::spawn(move || {
        let mut ours = ours;
        ours.write_all(&bytes).unwrap();
        ours.shutdown(std::net::Shutdown::Write).unwrap();
        // Held until nicksock is done with its stdin.
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut ours, &mut rest).unwrap();
    });
    let stdin = Stdio::from(std::os::fd::OwnedFd::from(theirs));
    let (got, sender, receiver) = send_from(stdin, || {});
    feeder.join().unwrap();
    sender.assert_code(0);
    receiver.assert_code(0);
    assert!(
        got == data,
        "socket: {} of {} bytes arrived",
        got.len(),
        data.len()
    );
}

#[test]
fn no_shutdown_keeps_our_side_open_and_ends_at_the_peers_end() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = [0u8; 6];
        std::io::Read::read_exact(&mut s, &mut got).unwrap();
        // No end from nicksock: a read finds nothing, neither bytes nor EOF.
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let after = std::io::Read::read(&mut s, &mut [0u8; 1]);
        s.write_all(b"reply\n").unwrap();
        (got, after.is_err())
    });
    let done = run(
        &["connect", "--no-shutdown", "127.0.0.1", &port.to_string()],
        b"hello\n",
    );
    let (got, no_eof) = peer.join().unwrap();
    done.assert_code(0);
    assert_eq!(&got, b"hello\n");
    assert!(no_eof, "the peer saw our end despite --no-shutdown");
    assert_eq!(done.out(), "reply\n");
}
