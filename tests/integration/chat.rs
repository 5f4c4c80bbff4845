//! `listen --chat` and `listen --broker`: many clients, each one's words to all the
//! others, a slow reader slowing the senders and losing nothing, a client that never
//! reads dropped; the chat lab with OpenBSD nc too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::*;

const PATIENCE: Duration = Duration::from_secs(10);

/// A chat client: the stream to write and a line reader.
struct Client {
    to: TcpStream,
    from: BufReader<TcpStream>,
}

impl Client {
    fn join(addr: SocketAddr) -> Client {
        let to = TcpStream::connect(addr).expect("connect");
        to.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let from = BufReader::new(to.try_clone().expect("clone"));
        Client { to, from }
    }

    fn say(&mut self, text: &str) {
        self.to.write_all(text.as_bytes()).expect("send");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.from.read_line(&mut line).expect("a line");
        assert!(line.ends_with('\n'), "the room closed: {line:?}");
        line.trim_end_matches('\n').to_string()
    }
}

fn room(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["listen"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["127.0.0.1", "0"]);
    let mut p = Proc::spawn(nicksock(&all));
    let addr = p.wait_ready(1)[0];
    (p, addr)
}

#[test]
fn three_clients_chat_with_names_notices_and_nick() {
    let (_room, addr) = room(&["--chat"]);
    let mut a = Client::join(addr);
    assert!(a.line().starts_with("* welcome, user1"));
    let mut b = Client::join(addr);
    assert!(b.line().starts_with("* welcome, user2"));
    assert_eq!(a.line(), "* user2 joined");
    let mut c = Client::join(addr);
    c.line();
    assert_eq!(a.line(), "* user3 joined");
    assert_eq!(b.line(), "* user3 joined");
    a.say("/nick alice\n");
    assert_eq!(a.line(), "* you are now alice");
    assert_eq!(b.line(), "* user1 is now alice");
    assert_eq!(c.line(), "* user1 is now alice");
    a.say("hello, room\r\n");
    assert_eq!(b.line(), "<alice> hello, room");
    assert_eq!(c.line(), "<alice> hello, room");
    b.say("hi al");
    b.say("ice\n");
    assert_eq!(
        a.line(),
        "<user2> hi alice",
        "a line sent in pieces arrives whole"
    );
    assert_eq!(c.line(), "<user2> hi alice");
    // A line over the limit is cut there, and its sender told.
    let long = "x".repeat(5000);
    c.say(&format!("{long}\nafter\n"));
    assert_eq!(c.line(), "* your line was cut at 4096 bytes");
    assert_eq!(a.line(), format!("<user3> {}", &long[..4096]));
    assert_eq!(a.line(), "<user3> after");
    b.line();
    b.line();
    drop(c);
    assert_eq!(a.line(), "* user3 left");
    assert_eq!(b.line(), "* user3 left");
    // Nobody hears their own words back.
    a.say("only for bob\n");
    assert_eq!(b.line(), "<alice> only for bob");
    b.say("ack\n");
    assert_eq!(a.line(), "<user2> ack");
}

#[test]
fn a_reader_gets_every_line_of_a_flood_and_only_a_client_that_never_reads_is_dropped() {
    let (_room, addr) = room(&["--chat"]);
    let mut a = Client::join(addr);
    a.line();
    let mut b = Client::join(addr);
    b.line();
    a.line(); // user2 joined
    // D never reads, with a small receive buffer.
    let d =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    d.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    d.connect(&addr.into()).expect("connect");
    assert_eq!(b.line(), "* user3 joined");
    // A pastes 40,000 lines of 250 bytes as fast as it can, ten times what the log holds.
    let lines = 40_000;
    let writer = {
        let mut to = a.to.try_clone().expect("clone");
        let text: String = (0..lines).map(|i| format!("{i:0>249}\n")).collect();
        std::thread::spawn(move || {
            to.write_all(text.as_bytes()).expect("send");
            to
        })
    };
    // The room fills (D reads nothing) and holds A back instead of dropping anyone who
    // reads: every line reaches B, in order; D's leaving comes among them. (That a reader
    // slower than the senders is kept, not dropped, is the policy's unit test in chat.rs.)
    b.to.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let (mut next, mut d_left) = (0, false);
    while next < lines || !d_left {
        let l = b.line();
        if l == "* user3 left" && !d_left {
            d_left = true;
            continue;
        }
        assert_eq!(l, format!("<user1> {next:0>249}"), "line {next} of {lines}");
        next += 1;
    }
    let mut to_a = writer.join().expect("writer");
    // A's line after the flood reaches B.
    to_a.write_all(b"after the flood\n").expect("send");
    assert_eq!(b.line(), "<user1> after the flood");
    // D was dropped: after what it had buffered, its stream ends, a bounded amount.
    let mut stalled: TcpStream = d.into();
    stalled.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut sink = Vec::new();
    let ended = stalled.read_to_end(&mut sink);
    assert!(
        ended.is_ok()
            || matches!(&ended, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{ended:?}"
    );
    assert!(
        sink.len() < 4 * 1024 * 1024,
        "it was sent a bounded amount: {}",
        sink.len()
    );
}

#[test]
fn the_broker_passes_raw_bytes_to_the_others_only() {
    let (_room, addr) = room(&["--broker"]);
    let mut a = TcpStream::connect(addr).expect("connect");
    let mut b = TcpStream::connect(addr).expect("connect");
    let mut c = TcpStream::connect(addr).expect("connect");
    for s in [&a, &b, &c] {
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    }
    // All three are in once a and b hear what c says (the last to connect).
    c.write_all(b"!").expect("send");
    for peer in [&mut a, &mut b] {
        let mut got = [0u8; 1];
        peer.read_exact(&mut got).expect("c's byte");
        assert_eq!(&got, b"!");
    }
    let data = pattern(100_000, 5);
    a.write_all(&data).expect("send");
    for peer in [&mut b, &mut c] {
        let mut got = vec![0u8; data.len()];
        peer.read_exact(&mut got).expect("the bytes");
        assert!(got == data, "unchanged, with no prefix");
    }
    a.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut echo = [0u8; 1];
    assert!(
        a.read(&mut echo).is_err(),
        "nothing comes back to the sender"
    );
}

#[test]
fn the_chat_lab_with_openbsd_nc_as_a_client() {
    if !have("nc") {
        return;
    }
    let (_room, addr) = room(&["--chat"]);
    let mut bob = Client::join(addr);
    bob.line();
    let port = addr.port().to_string();
    let mut nc = Proc::spawn({
        let mut cmd = std::process::Command::new("nc");
        cmd.args(["-N", "127.0.0.1", &port]);
        cmd
    });
    nc.send(b"/nick nc\nhello from nc\n");
    assert_eq!(bob.line(), "* user2 joined");
    assert_eq!(bob.line(), "* user2 is now nc");
    assert_eq!(bob.line(), "<nc> hello from nc");
    let mut carol = Client::join(addr);
    carol.line();
    bob.line(); // user3 joined
    bob.say("hello, nc\n");
    // Once carol has it, nc has been sent it too (one delivery round for everyone).
    assert_eq!(carol.line(), "<user1> hello, nc");
    nc.close_stdin();
    assert_eq!(bob.line(), "* nc left");
    let done = nc.wait();
    assert!(
        done.out().contains("<user1> hello, nc\n"),
        "{:?}",
        done.out()
    );
}

#[test]
fn the_chat_room_over_tls() {
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let (mut room, addr) = room(&["-v", "--chat", "--tls", "--cert", &cert, "--key", &key]);
    let port = addr.port().to_string();
    let client = |input: &[u8]| {
        let mut p = Proc::spawn(nicksock(&[
            "connect",
            "--tls",
            "--cacert",
            &cert,
            "127.0.0.1",
            &port,
        ]));
        p.send(input);
        p
    };
    // Both are in the room (the server says so with -v) before the second speaks; the
    // first stays until it has heard the second, then leaves.
    let mut first = client(b"/nick first\n");
    room.wait_line("connection from");
    let mut second = client(b"/nick second\n");
    room.wait_line("connection from");
    second.send(b"hello over TLS\n");
    second.close_stdin();
    let said = second.wait();
    said.assert_code(0);
    assert!(
        said.out().contains("* you are now second\n"),
        "{}",
        said.out()
    );
    first.close_stdin();
    let heard = first.wait();
    heard.assert_code(0);
    assert!(
        heard.out().contains("<second> hello over TLS\n"),
        "{}",
        heard.out()
    );
}

#[test]
fn a_speaker_that_stays_connected_after_a_long_paste_reaches_a_reader_whole() {
    // Found in review: when the room filled, the paused speaker was woken only by news,
    // and news that outlasted the server's delivery rounds waited for an event that never
    // came (the speaker's bytes were already in our kernel buffer): the reader got 32,768
    // lines and was then dropped as stalled.
    let (_room, addr) = room(&["--chat"]);
    let mut reader = Client::join(addr);
    reader.line();
    let mut speaker = Client::join(addr);
    assert_eq!(reader.line(), "* user2 joined");
    // An empty line each: 100 times what the log holds.
    let lines = 400_000;
    speaker.say(&"\n".repeat(lines));
    reader
        .to
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < lines {
        let n = reader.from.read(&mut buf).expect("the paste");
        assert!(n > 0, "the room closed after {got} of {lines} lines");
        got += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    assert_eq!(got, lines);
    // Both still connected, both still served.
    speaker.say("end\n");
    assert_eq!(reader.line(), "<user2> end");
}
