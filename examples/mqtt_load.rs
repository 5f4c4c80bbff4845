//! `serve-gpio --mqtt` under load (scripts/bench/mqtt.sh), through a real broker on
//! loopback, with nicksock's own MQTT codec on plain blocking sockets:
//!
//!     mqtt_load BROKER PREFIX latency N        N commands (QoS 1 PUBLISH on PREFIX/13/set, ON
//!                                              and OFF in turn), each timed from its send to
//!                                              its state on PREFIX/13/state
//!     mqtt_load BROKER PREFIX rate LINE RATE SECS
//!                                              RATE toggles a second for SECS, `toggle 13`
//!                                              lines to serve-gpio's line port LINE (replies
//!                                              read as they come); checks that MQTT carried
//!                                              every state, in order
//!
//! BROKER and LINE are ADDR:PORT. serve-gpio serves pin 13 (an output) and starts with it off.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nicksock::mqtt::codec::{self, Connect, Packet, Publish, QoS};

mod common;
use common::summary;

const PATIENCE: Duration = Duration::from_secs(20);

/// A blocking MQTT client: its socket and the bytes read past the last packet.
struct Mqtt {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Mqtt {
    fn connect(broker: SocketAddr, id: &str, topic: &str) -> Mqtt {
        let sock = TcpStream::connect(broker).expect("connect to the broker");
        sock.set_nodelay(true).expect("nodelay");
        sock.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut m = Mqtt {
            sock,
            buf: Vec::new(),
        };
        let mut out = Vec::new();
        let connect = Connect {
            client_id: id,
            keep_alive: 60,
            clean_session: true,
            will: None,
            username: None,
            password: None,
        };
        codec::connect(&mut out, &connect).expect("CONNECT");
        codec::subscribe(&mut out, 1, &[(topic, QoS::AtLeastOnce)]).expect("SUBSCRIBE");
        m.sock.write_all(&out).expect("send CONNECT");
        m
    }

    /// The next packet's kind and, for a PUBLISH, its payload.
    fn next(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some((len, packet)) = codec::decode(&self.buf, 1 << 20).expect("a packet") {
                let got = match packet {
                    Packet::Publish(p) => {
                        if let Some(pid) = p.pid {
                            let mut ack = Vec::new();
                            codec::puback(&mut ack, pid);
                            self.sock.write_all(&ack).expect("PUBACK");
                        }
                        (3, p.payload.to_vec())
                    }
                    Packet::ConnAck { code, .. } => {
                        assert_eq!(code, 0, "the broker refused us");
                        (2, Vec::new())
                    }
                    Packet::SubAck { .. } => (9, Vec::new()),
                    Packet::PubAck(_) => (4, Vec::new()),
                    _ => (0, Vec::new()),
                };
                self.buf.drain(..len);
                return got;
            }
            let mut chunk = [0u8; 4096];
            let n = match self.sock.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => panic!("nothing for {PATIENCE:?}"),
                Err(e) => panic!("reading the broker: {e}"),
            };
            assert!(n > 0, "the broker closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Waits for a state message and returns its payload.
    fn state(&mut self) -> Vec<u8> {
        loop {
            let (kind, payload) = self.next();
            if kind == 3 {
                return payload;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: mqtt_load BROKER PREFIX latency N | BROKER PREFIX rate LINE RATE SECS");
        std::process::exit(2)
    };
    let [broker, prefix, mode, rest @ ..] = args.as_slice() else {
        usage()
    };
    let broker: SocketAddr = broker.parse().unwrap_or_else(|_| usage());
    let state_topic = format!("{prefix}/13/state");
    match (mode.as_str(), rest) {
        ("latency", [n]) => latency(
            broker,
            prefix,
            &state_topic,
            n.parse().unwrap_or_else(|_| usage()),
        ),
        ("rate", [line, per_sec, secs]) => rate(
            broker,
            &state_topic,
            line.parse().unwrap_or_else(|_| usage()),
            per_sec.parse().unwrap_or_else(|_| usage()),
            secs.parse().unwrap_or_else(|_| usage()),
        ),
        _ => usage(),
    }
}

fn latency(broker: SocketAddr, prefix: &str, state_topic: &str, n: usize) {
    let mut sub = Mqtt::connect(broker, "mqtt-load-latency", state_topic);
    // The retained state first: the pin is off.
    assert_eq!(sub.state(), b"OFF", "pin 13 must start off");
    let set = format!("{prefix}/13/set");
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let want: &[u8] = if i % 2 == 0 { b"ON" } else { b"OFF" };
        let mut out = Vec::new();
        codec::publish_packet(
            &mut out,
            &Publish {
                topic: &set,
                payload: want,
                qos: QoS::AtLeastOnce,
                retain: false,
                dup: false,
                pid: Some((i % 60_000 + 1) as u16),
            },
        )
        .expect("PUBLISH");
        let sent = Instant::now();
        sub.sock.write_all(&out).expect("send the command");
        let got = sub.state();
        times.push(sent.elapsed());
        assert_eq!(got, want, "command {i}: the state published back");
    }
    println!(
        "{n} commands, each state back before the next: command to state {}",
        summary(&mut times)
    );
}

fn rate(broker: SocketAddr, state_topic: &str, line: SocketAddr, per_sec: u32, secs: u32) {
    let total = (per_sec * secs) as usize;
    let (tx, rx) = mpsc::channel();
    let topic = state_topic.to_string();
    let (ready_tx, ready_rx) = mpsc::channel();
    // The MQTT side: every state, in order.
    thread::spawn(move || {
        let mut sub = Mqtt::connect(broker, "mqtt-load-rate", &topic);
        assert_eq!(sub.state(), b"OFF", "pin 13 must start off");
        ready_tx.send(()).expect("ready");
        let mut states = Vec::with_capacity(total);
        while states.len() < total {
            states.push(sub.state());
        }
        tx.send(states).expect("states");
    });
    ready_rx
        .recv_timeout(PATIENCE)
        .expect("the MQTT subscriber");
    let mut c = TcpStream::connect(line).expect("connect to serve-gpio's line port");
    c.set_nodelay(true).expect("nodelay");
    // The replies, read as they come: one line per command.
    let replies = c.try_clone().expect("clone");
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        replies.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(replies));
        for i in 0..total {
            let reply = lines.next().expect("a reply").expect("a reply");
            let want = if i % 2 == 0 { "13 on" } else { "13 off" };
            assert_eq!(reply, want, "reply {i}");
        }
        done_tx.send(Instant::now()).expect("done");
    });
    let start = Instant::now();
    let mut late = 0;
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 / f64::from(per_sec));
        match at.checked_duration_since(Instant::now()) {
            Some(wait) => thread::sleep(wait),
            None => late += 1,
        }
        c.write_all(b"toggle 13\n").expect("send a command");
    }
    let answered = done_rx.recv_timeout(PATIENCE).expect("every reply");
    let took = answered.duration_since(start);
    let states = rx
        .recv_timeout(PATIENCE)
        .expect("MQTT carried every change within 20 s");
    for (i, s) in states.iter().enumerate() {
        let want: &[u8] = if i % 2 == 0 { b"ON" } else { b"OFF" };
        assert_eq!(s, want, "state {i} of {total}");
    }
    println!(
        "{total} changes by the line protocol in {took:.2?} ({:.0}/s, {late} sent behind \
         schedule); MQTT carried all {total} states in order",
        total as f64 / took.as_secs_f64()
    );
}
