//! UDP to many: broadcast (`connect -u -b`) and multicast (`listen -u --join`, `connect -u`
//! to a group with `--ttl`, `--iface`, `--multicast-loop`), between two network namespaces
//! the test makes and joins by a veth pair; and `listen -u -k -v` naming each sender once.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::util::*;

/// Two network namespaces, `a` (10.77.0.1/24 on `va`) and `b` (10.77.0.2/24 on `vb`), joined
/// by a veth pair, each with its default route on the pair (so 255.255.255.255 and groups go
/// out there) and IPv6 link-local addresses usable at once (no duplicate detection wait).
/// Both are deleted when the value goes.
struct Pair {
    a: String,
    b: String,
}

impl Pair {
    /// The pair, or `None` (and a SKIP) where namespaces cannot be made.
    fn new() -> Option<Pair> {
        if !have("ip") {
            return None;
        }
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id();
        let pair = Pair {
            a: format!("nsk{id}a{n}"),
            b: format!("nsk{id}b{n}"),
        };
        let no_dad = "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && \
                      echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad";
        let (a, b) = (pair.a.as_str(), pair.b.as_str());
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", a],
            vec!["netns", "add", b],
            vec!["netns", "exec", a, "sh", "-c", no_dad],
            vec!["netns", "exec", b, "sh", "-c", no_dad],
            vec![
                "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b,
            ],
            vec!["-n", a, "addr", "add", "10.77.0.1/24", "dev", "va"],
            vec!["-n", b, "addr", "add", "10.77.0.2/24", "dev", "vb"],
            vec!["-n", a, "link", "set", "lo", "up"],
            vec!["-n", b, "link", "set", "lo", "up"],
            vec!["-n", a, "link", "set", "va", "up"],
            vec!["-n", b, "link", "set", "vb", "up"],
            vec!["-n", a, "route", "add", "default", "dev", "va"],
            vec!["-n", b, "route", "add", "default", "dev", "vb"],
        ];
        for (i, step) in steps.iter().enumerate() {
            let out = Command::new("ip").args(step).output().expect("ip");
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                if i == 0 {
                    skip(&format!("no network namespaces here (ip netns add: {why})"));
                    return None;
                }
                panic!("ip {}: {why}", step.join(" "));
            }
        }
        Some(pair)
    }

    /// The binary with `args`, run in namespace `ns`.
    fn nicksock(&self, ns: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).args(bin_argv()).args(args);
        cmd
    }

    /// Runs `connect ARGS` in `a` with `data` as stdin; returns how it ended.
    fn send(&self, args: &[&str], data: &[u8]) -> Finished {
        let mut all = vec!["connect", "-u", "--send-only"];
        all.extend_from_slice(args);
        let mut p = Proc::spawn(self.nicksock(&self.a, &all));
        p.send(data);
        p.close_stdin();
        p.wait()
    }

    /// A receiver `listen ARGS` in `b` (stdin /dev/null), once it is bound.
    fn receiver(&self, args: &[&str]) -> Proc {
        let mut all = vec!["-v", "listen", "-u"];
        all.extend_from_slice(args);
        let mut p = Proc::spawn_io(self.nicksock(&self.b, &all), Stdio::null(), Stdio::piped());
        p.wait_line("bound on");
        p
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A Python receiver in namespace `ns` that joins `group` (IPv4 or IPv6, on interface
/// `iface`) on `port` beside nicksock, and prints the TTL or hop limit the first datagram
/// arrived with, as the kernel read it from the IP header.
fn ttl_reader(ns: &str, group: &str, iface: &str, port: u16) -> Proc {
    let script = r#"
import socket, struct, sys
group, iface, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
v6 = ":" in group
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if v6 else "0.0.0.0", port))
if v6:
    mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", socket.if_nametoindex(iface))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    s.setsockopt(socket.IPPROTO_IPV6, 51, 1)  # IPV6_RECVHOPLIMIT
else:
    mreq = socket.inet_aton(group) + socket.inet_aton("0.0.0.0")
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
s.settimeout(20)
print("ready", file=sys.stderr, flush=True)
data, anc, _, _ = s.recvmsg(65535, socket.CMSG_SPACE(4))
print("ttl", struct.unpack("i", anc[0][2][:4])[0], data.decode().strip(), flush=True)
"#;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "python3", "-c", script, group, iface])
        .arg(port.to_string());
    let mut p = Proc::spawn_io(cmd, Stdio::null(), Stdio::piped());
    p.wait_line("ready");
    p
}

#[test]
fn a_broadcast_reaches_listen_in_the_other_namespace() {
    let Some(pair) = Pair::new() else {
        return;
    };
    let mut rx = pair.receiver(&["-k", "5000"]);
    // The subnet's broadcast address and the limited broadcast, each from its own socket.
    pair.send(&["-b", "10.77.0.255", "5000"], b"to the subnet\n")
        .assert_code(0);
    rx.wait_line("datagram from [::ffff:10.77.0.1]");
    pair.send(&["-b", "255.255.255.255", "5000"], b"to everyone\n")
        .assert_code(0);
    rx.wait_line("datagram from [::ffff:10.77.0.1]");
    // Without -b the kernel refuses, and the error says what to add.
    let refused = pair.send(&["10.77.0.255", "5000"], b"refused\n");
    assert_eq!(refused.code(), 1);
    assert!(refused.stderr.contains("add -b"), "{}", refused.stderr);
    rx.signal("TERM");
    let done = rx.wait();
    assert_eq!(done.out(), "to the subnet\nto everyone\n");
}

#[test]
fn an_ipv4_group_is_joined_and_heard_with_the_ttl_we_set() {
    let Some(pair) = Pair::new() else {
        return;
    };
    if !have("python3") {
        return;
    }
    // Two members on one port in b: nicksock, and a reader of the TTL.
    let mut rx = pair.receiver(&["--join", "239.77.0.1", "5001"]);
    let mut ttl = ttl_reader(&pair.b, "239.77.0.1", "vb", 5001);
    pair.send(&["--ttl", "3", "239.77.0.1", "5001"], b"to the group\n")
        .assert_code(0);
    assert_eq!(ttl.wait().out(), "ttl 3 to the group\n");
    rx.wait_line("datagram from 10.77.0.1");
    rx.signal("TERM");
    assert_eq!(rx.wait().out(), "to the group\n");
}

#[test]
fn an_ipv6_group_is_joined_on_an_interface_and_heard_with_the_hop_limit_we_set() {
    let Some(pair) = Pair::new() else {
        return;
    };
    if !have("python3") {
        return;
    }
    let mut rx = pair.receiver(&["--join", "ff12::77", "--iface", "vb", "5002"]);
    let mut hops = ttl_reader(&pair.b, "ff12::77", "vb", 5002);
    pair.send(
        &["--iface", "va", "--ttl", "2", "ff12::77", "5002"],
        b"to the v6 group\n",
    )
    .assert_code(0);
    assert_eq!(hops.wait().out(), "ttl 2 to the v6 group\n");
    rx.wait_line("datagram from [fe80::");
    rx.signal("TERM");
    assert_eq!(rx.wait().out(), "to the v6 group\n");
}

#[test]
fn multicast_loop_lets_a_member_on_the_same_host_hear() {
    let Some(pair) = Pair::new() else {
        return;
    };
    // The member is in a, beside the sender: only --multicast-loop brings it the datagram.
    let args = ["-v", "listen", "-u", "--join", "239.77.0.2", "5003"];
    let mut rx = Proc::spawn_io(pair.nicksock(&pair.a, &args), Stdio::null(), Stdio::piped());
    rx.wait_line("bound on");
    pair.send(
        &["--multicast-loop", "239.77.0.2", "5003"],
        b"heard at home\n",
    )
    .assert_code(0);
    rx.wait_line("datagram from 10.77.0.1");
    rx.signal("TERM");
    assert_eq!(rx.wait().out(), "heard at home\n");
}

#[test]
fn multicast_options_without_a_group_are_a_usage_error() {
    let done = run(
        &["connect", "-u", "--multicast-loop", "127.0.0.1", "9"],
        b"",
    );
    done.assert_code(2);
    assert!(
        done.stderr
            .contains("--multicast-loop is for a multicast group"),
        "{}",
        done.stderr
    );
    let done = run(&["listen", "-u", "--join", "10.0.0.1", "9"], b"");
    done.assert_code(2);
    assert!(
        done.stderr.contains("not a multicast group"),
        "{}",
        done.stderr
    );
    let done = run(
        &["connect", "-u", "--iface", "no-such-if0", "239.1.1.1", "9"],
        b"",
    );
    done.assert_code(2);
    assert!(done.stderr.contains("no such interface"), "{}", done.stderr);
}

#[test]
fn listen_u_k_names_each_sender_once() {
    let mut rx = Proc::spawn_io(
        nicksock(&["-v", "listen", "-u", "-k", "127.0.0.1", "0"]),
        Stdio::null(),
        Stdio::piped(),
    );
    let addr = ready_addr(&rx.wait_line("bound on").replace("bound on", "listening on"));
    let one = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let two = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for line in ["1a\n", "1b\n", "1c\n"] {
        one.send_to(line.as_bytes(), addr).expect("send");
    }
    two.send_to(b"2a\n", addr).expect("send");
    rx.wait_line(&format!("datagram from {}", two.local_addr().unwrap()));
    rx.signal("TERM");
    let done = rx.wait();
    assert_eq!(done.out(), "1a\n1b\n1c\n2a\n");
    let named = done
        .stderr
        .lines()
        .filter(|l| l.starts_with("datagram from"))
        .count();
    assert_eq!(named, 2, "{}", done.stderr);
}
