//! `connect -z HOST PORTS…`: many ports probed at once, reported in port order as OpenBSD
//! nc reports them, against real listeners, refusing ports and ports that drop SYNs.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::*;

/// Three listening ports and seventeen refusing ones (bound, not listening: a SYN gets a
/// reset), all held while the value lives; the ports sorted.
struct Ports {
    open: Vec<u16>,
    all: Vec<u16>,
    _held: (Vec<TcpListener>, Vec<socket2::Socket>),
}

fn twenty_ports() -> Ports {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let refusing: Vec<(socket2::Socket, u16)> = (0..17).map(|_| refusing_port()).collect();
    let open: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    let mut all: Vec<u16> = open
        .iter()
        .copied()
        .chain(refusing.iter().map(|(_, p)| *p))
        .collect();
    all.sort_unstable();
    let mut open = open;
    open.sort_unstable();
    Ports {
        open,
        all,
        _held: (listeners, refusing.into_iter().map(|(s, _)| s).collect()),
    }
}

/// The lines that say what a probe found, as nicksock and OpenBSD nc (`nc: ` prefixed to
/// its failures) word them.
fn probe_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .map(|l| l.strip_prefix("nc: ").unwrap_or(l))
        .filter(|l| l.starts_with("Connection to ") || l.starts_with("connect to "))
        .collect()
}

fn words(ports: &[u16]) -> Vec<String> {
    ports.iter().map(u16::to_string).collect()
}

#[test]
fn a_scan_reports_exactly_the_open_ports_in_order_as_nc_does() {
    let ports = twenty_ports();
    let list = words(&ports.all);
    let mut args = vec!["-v", "connect", "-z", "127.0.0.1"];
    args.extend(list.iter().map(String::as_str));
    let done = run(&args, b"");
    done.assert_code(0);
    let succeeded: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.ends_with("succeeded!"))
        .collect();
    let expected: Vec<String> = ports
        .open
        .iter()
        .map(|p| format!("Connection to 127.0.0.1 {p} port [tcp/"))
        .collect();
    assert_eq!(succeeded.len(), 3, "{}", done.stderr);
    for (line, start) in succeeded.iter().zip(&expected) {
        assert!(line.starts_with(start.as_str()), "{line} / {start}");
    }
    assert!(done.stdout.is_empty());

    // -vv: every port, in order, worded as OpenBSD nc words them.
    args[0] = "-vv";
    let all = run(&args, b"");
    all.assert_code(0);
    let ours = probe_lines(&all.stderr);
    assert_eq!(ours.len(), 20, "{}", all.stderr);
    if !have("nc") {
        return;
    }
    let out = Command::new("nc")
        .arg("-zv")
        .arg("127.0.0.1")
        .args(&list)
        .output()
        .expect("nc");
    let nc = String::from_utf8_lossy(&out.stderr);
    let theirs = probe_lines(&nc);
    assert_eq!(ours, theirs, "nicksock:\n{}\nnc:\n{nc}", all.stderr);
}

#[test]
fn a_scan_with_nothing_open_says_refused_or_timed_out() {
    let refusing: Vec<(socket2::Socket, u16)> = (0..5).map(|_| refusing_port()).collect();
    let list = words(&refusing.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    let mut args = vec!["connect", "-z", "127.0.0.1"];
    args.extend(list.iter().map(String::as_str));
    let done = run(&args, b"");
    done.assert_code(4);
    assert!(done.stderr.contains("5 refused"), "{}", done.stderr);

    // Ports that drop SYNs: no answer within -w, exit 5, the ports probed at once.
    let holes = [BlackHole::new(), BlackHole::new()];
    let list = words(&holes.iter().map(|h| h.addr.port()).collect::<Vec<_>>());
    let mut args = vec!["connect", "-z", "-w", "1", "127.0.0.1"];
    args.extend(list.iter().map(String::as_str));
    let started = Instant::now();
    let done = run(&args, b"");
    done.assert_code(5);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "probed at once: {took:?}");
    assert!(done.stderr.contains("2 timed out"), "{}", done.stderr);
}

#[test]
fn ports_are_numbers_ranges_lists_and_service_names() {
    let ports = twenty_ports();
    let (low, high) = (ports.all[0], ports.all[19]);
    // A range over the twenty (and whatever else lies between: other tests' listeners),
    // and a comma list of the three.
    let range = format!("{low}-{high}");
    let done = run(&["-v", "connect", "-z", "127.0.0.1", &range], b"");
    done.assert_code(0);
    for p in &ports.open {
        assert!(
            done.stderr.contains(&format!("127.0.0.1 {p} port")),
            "{p}: {}",
            done.stderr
        );
    }
    let list = words(&ports.open).join(",");
    let done = run(&["-v", "connect", "-z", "127.0.0.1", &list], b"");
    done.assert_code(0);
    assert_eq!(
        done.stderr.matches("succeeded!").count(),
        3,
        "{}",
        done.stderr
    );
    // Mistakes are usage errors naming the word.
    for bad in ["0", "25-20", "70000", "no_such_service"] {
        let done = run(&["connect", "-z", "127.0.0.1", bad], b"");
        done.assert_code(2);
        assert!(done.stderr.contains(bad), "{bad}: {}", done.stderr);
    }
    // Several ports are for -z only.
    let done = run(&["connect", "127.0.0.1", "1", "2"], b"");
    done.assert_code(2);
    assert!(done.stderr.contains("-z"), "{}", done.stderr);
    if std::fs::read_to_string("/etc/services").is_ok_and(|s| s.contains("\nssh\t")) {
        // A name is a port: ssh is 22 (nothing listens there in a test, or something
        // does: either way it is probed, and said with -vv).
        let done = run(
            &["-vv", "connect", "-z", "-w", "2", "127.0.0.1", "ssh"],
            b"",
        );
        assert!(done.stderr.contains("port 22"), "{}", done.stderr);
    }
}

#[test]
fn every_port_of_an_empty_network_namespace_is_scanned() {
    // A namespace of its own: only the three servers started in it listen, so the scan
    // of all 65,535 ports must find exactly those (and never a port the kernel also picked
    // as the probe's own source port, which connects to itself).
    if !have("unshare") || !have("ip") {
        return;
    }
    let script = format!(
        "ip link set lo up || exit 99
         pids=
         trap 'kill $pids 2>/dev/null' EXIT
         for p in 7 2222 65535; do
           {bin} echo 127.0.0.1 $p </dev/null >/dev/null 2>&1 & pids=\"$pids $!\"
         done
         echo \"servers:$pids\"
         for p in 7 2222 65535; do {bin} connect -z --retry-for 10 127.0.0.1 $p || exit 98; done
         {bin} -v connect -z 127.0.0.1 1-65535",
        bin = bin_shell()
    );
    let started = Instant::now();
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The servers started in the namespace are gone once the script is (none left behind).
    let stdout = String::from_utf8_lossy(&out.stdout);
    for pid in stdout
        .lines()
        .filter_map(|l| l.strip_prefix("servers:"))
        .flat_map(str::split_whitespace)
    {
        wait_until(&format!("server {pid} ends"), || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|st| st.contains(") Z "))
        });
    }
    if out.status.code() == Some(99) || stderr.contains("unshare failed") {
        skip(&format!("no network namespace here: {stderr}"));
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let open: Vec<&str> = stderr
        .lines()
        .filter(|l| l.ends_with("succeeded!"))
        .collect();
    assert_eq!(open.len(), 3, "{stderr}");
    for (line, port) in open.iter().zip(["7", "2222", "65535"]) {
        assert!(
            line.starts_with(&format!("Connection to 127.0.0.1 {port} port")),
            "{line}"
        );
    }
    eprintln!("65,535 ports in {:?}", started.elapsed());
}

#[test]
fn with_tls_a_port_is_open_once_a_handshake_completes() {
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let mut tls = Proc::spawn(nicksock(&[
        "echo",
        "--tls",
        "--cert",
        &cert,
        "--key",
        &key,
        "127.0.0.1",
        "0",
    ]));
    let tls_port = tls.wait_ready(1)[0].port();
    let mut plain = Proc::spawn(nicksock(&["echo", "127.0.0.1", "0"]));
    let plain_port = plain.wait_ready(1)[0].port();
    let (tls_port, plain_port) = (tls_port.to_string(), plain_port.to_string());
    let scan = |ports: &[&str]| {
        let mut args = vec![
            "-vv", "connect", "-z", "-w", "2", "--tls", "--cacert", &cert,
        ];
        args.push("127.0.0.1");
        args.extend_from_slice(ports);
        run(&args, b"")
    };
    // The TLS server completes a handshake: open. The plain one accepts the connection but
    // answers no handshake: not open, said with -vv.
    let done = scan(&[&tls_port, &plain_port]);
    done.assert_code(0);
    assert!(
        done.stderr
            .contains(&format!("Connection to 127.0.0.1 {tls_port} port")),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!(
            "connect to 127.0.0.1 port {plain_port} (tcp) failed"
        )),
        "{}",
        done.stderr
    );
    // The plain port alone: no handshake, not open.
    let done = scan(&[&plain_port]);
    assert_ne!(done.code(), 0, "{}", done.stderr);
    tls.signal("INT");
    plain.signal("INT");
}

#[test]
fn udp_ports_are_open_unless_unreachable_comes_back_as_nc_says() {
    // A port with a socket bound (it takes the empty datagram) and one without (the kernel
    // answers "port unreachable").
    let bound = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let open = bound.local_addr().expect("addr").port().to_string();
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.local_addr().expect("addr").port().to_string()
    };
    let done = run(
        &["-vv", "connect", "-u", "-z", "127.0.0.1", &open, &closed],
        b"",
    );
    done.assert_code(0);
    let ours = probe_lines(&done.stderr);
    assert_eq!(ours.len(), 2, "{}", done.stderr);
    assert!(ours[0].starts_with(&format!("Connection to 127.0.0.1 {open} port [udp/")));
    assert!(ours[1].contains(&format!("port {closed} (udp) failed: Connection refused")));
    // The probe is an empty datagram, nothing more.
    let mut buf = [0u8; 16];
    bound.set_read_timeout(Some(PATIENCE)).expect("timeout");
    assert_eq!(bound.recv(&mut buf).expect("the probe"), 0);
    // A closed port alone: exit 4.
    run(&["connect", "-u", "-z", "127.0.0.1", &closed], b"").assert_code(4);
    if !have("nc") {
        return;
    }
    let out = Command::new("nc")
        .args(["-uzv", "127.0.0.1", &open, &closed])
        .output()
        .expect("nc");
    let nc = String::from_utf8_lossy(&out.stderr);
    let theirs = probe_lines(&nc);
    eprintln!("nc -uzv says:\n{nc}");
    assert_eq!(theirs.first(), ours.first(), "the open port, worded alike");
}
