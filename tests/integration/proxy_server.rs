//! `nicksock proxy`: real clients through it — curl with every proxy scheme it has to nginx
//! over HTTP and HTTPS, curl with `http_proxy`, OpenBSD nc's `-X 4|5|connect` — with and
//! without passwords, loopback by default, the replies that name a failure, misbehaving
//! clients cut off alone, 200 tunnels at once, SIGTERM finishing a transfer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;

use crate::http_get::Nginx;
use crate::util::*;

/// `proxy ARGS 127.0.0.1 0` (or as `args` say, when they end with an address and port), and
/// its first address.
fn proxy(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["-v", "proxy"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn_io(nicksock(&all), Stdio::null(), Stdio::piped());
    let addr = ready_addr(&p.wait_line("listening on"));
    (p, addr)
}

/// curl's body for `url` with the proxy options `opts`, and its exit code.
fn curl(opts: &[&str], url: &str) -> (Vec<u8>, i32) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(opts)
        .arg(url)
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .env_remove("no_proxy")
        .output()
        .expect("curl");
    (out.stdout, out.status.code().unwrap_or(-1))
}

#[test]
fn curl_through_every_scheme_to_nginx_over_http_and_https() {
    if !have("curl") {
        return;
    }
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let data = pattern(3 << 20, 24);
    std::fs::write(nginx.root().join("big.bin"), &data).expect("write");
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let (_plain, addr) = proxy(&["0"]);
    let (_tls, tls_addr) = proxy(&["--tls", "--cert", &cert, "--key", &key, "0"]);
    let p = format!("127.0.0.1:{}", addr.port());
    let https_proxy = format!("https://127.0.0.1:{}", tls_addr.port());
    let schemes: Vec<Vec<&str>> = vec![
        vec!["-x", &p],
        vec!["--proxy", &https_proxy, "--proxy-cacert", &cert],
        vec!["--socks4", &p],
        vec!["--socks4a", &p],
        vec!["--socks5", &p],
        vec!["--socks5-hostname", &p],
    ];
    for opts in &schemes {
        for url in [nginx.http("/big.bin"), nginx.https("/big.bin")] {
            let mut all = opts.clone();
            let cacert = nginx.cert();
            all.extend_from_slice(&["--cacert", &cacert]);
            let (got, code) = curl(&all, &url.replace("127.0.0.1", "localhost"));
            assert_eq!(code, 0, "{opts:?} {url}");
            assert!(got == data, "{opts:?} {url}: {} bytes", got.len());
        }
    }
    // http_proxy: curl sends the http:// URL in absolute form, forwarded.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", &nginx.http("/big.bin")])
        .env("http_proxy", format!("http://{p}"))
        .output()
        .expect("curl");
    assert!(out.status.success());
    assert!(out.stdout == data);
}

#[test]
fn nc_through_socks4_socks5_and_connect() {
    if !have("nc") {
        return;
    }
    let (_p, addr) = proxy(&["0"]);
    let (_echo, target) = {
        let mut e = Proc::spawn_io(
            nicksock(&["echo", "127.0.0.1", "0"]),
            Stdio::null(),
            Stdio::null(),
        );
        let a = e.wait_ready(1)[0];
        (e, a)
    };
    for x in ["4", "5", "connect"] {
        let mut nc = Command::new("nc");
        nc.args([
            "-N",
            "-X",
            x,
            "-x",
            &format!("127.0.0.1:{}", addr.port()),
            "127.0.0.1",
            &target.port().to_string(),
        ]);
        let mut c = Proc::spawn(nc);
        c.send(b"through the proxy\n");
        c.close_stdin();
        let done = c.wait();
        assert_eq!(done.out(), "through the proxy\n", "-X {x}: {}", done.stderr);
    }
}

#[test]
fn passwords_are_asked_and_checked() {
    if !have("curl") {
        return;
    }
    let www = tempdir();
    let Some(origin) = crate::proxies::Origin::start(www.path(), "127.0.0.1", None) else {
        return;
    };
    let (_p, addr) = proxy(&["--auth", "pi:raspberry", "127.0.0.1", "0"]);
    let p = format!("127.0.0.1:{}", addr.port());
    let url = format!("http://127.0.0.1:{}/", origin.port());
    let status = |opts: &[&str]| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{http_connect}",
                "--max-time",
                "20",
            ])
            .args(opts)
            .arg(&url)
            .output()
            .expect("curl");
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            out.status.code().unwrap_or(-1),
        )
    };
    assert!(status(&["-x", &p]).0.starts_with("407"));
    assert!(
        status(&["-x", &p, "--proxy-user", "pi:wrong"])
            .0
            .starts_with("407")
    );
    assert!(
        status(&["-x", &p, "--proxy-user", "pi:raspberry"])
            .0
            .starts_with("200")
    );
    assert!(
        status(&["-p", "-x", &p, "--proxy-user", "pi:raspberry"])
            .0
            .starts_with("200")
    );
    // SOCKS5: curl's error 97 is a proxy handshake failure.
    assert_eq!(status(&["--socks5", &p]).1, 97);
    assert_eq!(status(&["--socks5", &format!("pi:wrong@{p}")]).1, 97);
    assert!(
        status(&["--socks5", &format!("pi:raspberry@{p}")])
            .0
            .starts_with("200")
    );
    // SOCKS4 has no passwords: refused while --auth is on.
    assert_eq!(status(&["--socks4", &p]).1, 97);

    // An --auth-file others may read is refused at start.
    let dir = tempdir();
    let file = write_file(dir.path(), "users", b"pi:raspberry\n");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let done = run(&["proxy", "--auth-file", file.to_str().unwrap(), "0"], b"");
    done.assert_code(2);
    assert!(done.stderr.contains("chmod 600"), "{}", done.stderr);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_p, addr) = proxy(&["--auth-file", file.to_str().unwrap(), "127.0.0.1", "0"]);
    let p = format!("127.0.0.1:{}", addr.port());
    assert!(
        status(&["-x", &p, "--proxy-user", "pi:raspberry"])
            .0
            .starts_with("200")
    );
}

#[test]
fn loopback_only_unless_guarded() {
    let mut p = Proc::spawn_io(nicksock(&["proxy", "0"]), Stdio::null(), Stdio::piped());
    let line = p.wait_line("listening on");
    assert!(line.contains("loopback only"), "{line}");
    assert!(ready_addr(&line).ip().is_loopback());
    // Asking for every address without a guard is refused; with --allow it binds as asked.
    let done = run(&["proxy", "0.0.0.0", "0"], b"");
    done.assert_code(2);
    assert!(done.stderr.contains("open proxy"), "{}", done.stderr);
    let (_q, addr) = proxy(&["--allow", "127.0.0.0/8", "0.0.0.0", "0"]);
    assert!(addr.ip().is_unspecified(), "{addr}");
}

/// A raw SOCKS5 exchange: no authentication, CONNECT to `host:port` (a name); the reply's
/// REP byte, or None when the connection closed first.
fn socks5_rep(proxy: SocketAddr, host: &str, port: u16) -> Option<u8> {
    let mut s = TcpStream::connect(proxy).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut two = [0u8; 2];
    s.read_exact(&mut two).ok()?;
    let mut req = vec![5, 1, 0, 3, u8::try_from(host.len()).unwrap()];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).ok()?;
    Some(reply[1])
}

/// A raw HTTP CONNECT to `target`: everything the proxy says before it closes.
fn http_connect(proxy: SocketAddr, target: &str) -> String {
    let mut s = TcpStream::connect(proxy).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    got
}

#[test]
fn replies_name_the_failure_and_to_port_limits_destinations() {
    let (_p, addr) = proxy(&["0"]);
    let (_refusing, closed) = refusing_port();
    // SOCKS5: refused (5), a name that cannot be (4: host unreachable).
    assert_eq!(socks5_rep(addr, "127.0.0.1", closed), Some(5));
    assert_eq!(socks5_rep(addr, "no-such-host.invalid", 80), Some(4));
    // HTTP: 502 with a line that names the failure.
    let got = http_connect(addr, &format!("127.0.0.1:{closed}"));
    assert!(
        got.starts_with("HTTP/1.1 502") && got.contains("connection refused"),
        "{got}"
    );
    let got = http_connect(addr, "no-such-host.invalid:80");
    assert!(
        got.starts_with("HTTP/1.1 502") && got.contains("name not found"),
        "{got}"
    );
    // --to-port: SOCKS5 reply 2, HTTP 403.
    let (_q, limited) = proxy(&["--to-port", "22,443", "0"]);
    assert_eq!(socks5_rep(limited, "127.0.0.1", closed), Some(2));
    let got = http_connect(limited, &format!("127.0.0.1:{closed}"));
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
}

#[test]
fn misbehaving_clients_are_cut_off_alone() {
    let (mut p, addr) = proxy(&["0"]);
    let echo_port = crate::proxies::echo_thread();
    // Garbage, a stalled SOCKS5 greeting, an endless HTTP head: each cut off.
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage.set_read_timeout(Some(PATIENCE)).unwrap();
    garbage
        .write_all(b"\x16\x03\x01 not a proxy request")
        .unwrap();
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest);
    assert!(rest.is_empty());
    let mut endless = TcpStream::connect(addr).unwrap();
    endless.set_read_timeout(Some(PATIENCE)).unwrap();
    let line = format!("GET http://x/ HTTP/1.1\r\nX: {}\r\n", "a".repeat(1000));
    let mut answer = String::new();
    for _ in 0..40 {
        if endless.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    let _ = endless.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let stalled = TcpStream::connect(addr).unwrap();
    (&stalled).write_all(&[5]).unwrap();
    // Meanwhile a good client is served.
    let mut good = TcpStream::connect(addr).unwrap();
    good.set_read_timeout(Some(PATIENCE)).unwrap();
    good.write_all(format!("CONNECT 127.0.0.1:{echo_port} HTTP/1.1\r\n\r\nping\n").as_bytes())
        .unwrap();
    good.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    good.read_to_string(&mut got).unwrap();
    assert!(got.ends_with("\r\n\r\nping\n"), "{got}");
    // The stalled one is cut at the end of its 10 s.
    let mut s = stalled;
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(p.child.try_wait().unwrap().is_none(), "the proxy died");
}

#[test]
fn two_hundred_tunnels_at_once_each_carry_a_mebibyte_both_ways() {
    let (_p, addr) = proxy(&["--max-conns", "1000", "0"]);
    let echo_port = crate::proxies::echo_thread();
    let clients: Vec<_> = (0..200u64)
        .map(|i| {
            thread::spawn(move || {
                let data = pattern(1 << 20, i + 1);
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_read_timeout(Some(PATIENCE)).unwrap();
                // SOCKS5 without waiting for each answer, then the data.
                let mut hello = vec![5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1];
                hello.extend_from_slice(&echo_port.to_be_bytes());
                s.write_all(&hello).unwrap();
                let mut w = s.try_clone().unwrap();
                let sent = data.clone();
                let writer = thread::spawn(move || {
                    w.write_all(&sent).unwrap();
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let mut head = [0u8; 12];
                s.read_exact(&mut head).unwrap();
                assert_eq!(head[..4], [5, 0, 5, 0], "client {i}");
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                assert!(got == data, "client {i}: {} bytes", got.len());
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
}

#[test]
fn sigterm_lets_a_tunnel_in_flight_finish() {
    let (mut p, addr) = proxy(&["0"]);
    let echo_port = crate::proxies::echo_thread();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(format!("CONNECT 127.0.0.1:{echo_port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = [0u8; 39];
    s.read_exact(&mut head).unwrap();
    assert!(head.starts_with(b"HTTP/1.1 200"));
    p.signal("TERM");
    p.wait_line("stopping (SIGTERM)");
    // The tunnel still carries bytes both ways, and its end ends the proxy, exit 0.
    s.write_all(b"after SIGTERM\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "after SIGTERM\n");
    p.wait().assert_code(0);
}

#[test]
fn a_tunnel_whose_client_never_reads_stalls_no_other() {
    let (_p, addr) = proxy(&["0"]);
    // A target that sends without end to whoever connects.
    let flood = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let flood_port = flood.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in flood.incoming().flatten() {
            thread::spawn(move || {
                let chunk = vec![b'z'; 64 * 1024];
                let mut s = s;
                while s.write_all(&chunk).is_ok() {}
            });
        }
    });
    // The client that never reads: its tunnel fills every buffer on the way.
    let mut sleeper = TcpStream::connect(addr).unwrap();
    sleeper
        .write_all(format!("CONNECT 127.0.0.1:{flood_port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    // Another client is served as if nothing happened, many times over.
    let echo_port = crate::proxies::echo_thread();
    for i in 0..20 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let line = format!("round {i}\n");
        s.write_all(format!("CONNECT 127.0.0.1:{echo_port} HTTP/1.1\r\n\r\n{line}").as_bytes())
            .unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert!(got.ends_with(&line), "{got:?}");
    }
    drop(sleeper);
}

#[test]
fn allow_and_deny_guard_the_proxy_too() {
    let (mut p, addr) = proxy(&["--allow", "127.0.0.1", "127.0.0.1", "0"]);
    let echo_port = crate::proxies::echo_thread();
    let ask = format!("CONNECT 127.0.0.1:{echo_port} HTTP/1.1\r\n\r\nhi\n");
    let through = |from: &str| {
        let mut s = crate::access::connect_from(from, addr);
        let _ = s.write_all(ask.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got
    };
    assert!(through("127.0.0.1").ends_with("hi\n"));
    assert!(through("127.0.0.2").is_empty());
    p.wait_line("refused 127.0.0.2:");
}

#[test]
fn an_unreachable_network_gets_its_own_reply() {
    // A namespace of its own with loopback only: 10.0.0.1 has no route, so the connect
    // fails at once (ENETUNREACH) and nothing leaves the machine.
    if !have("unshare") || !have("ip") || !have("python3") {
        return;
    }
    let socks5 = "import socket, sys
s = socket.create_connection(('127.0.0.1', 1080), timeout=20)
s.sendall(bytes([5, 1, 0])); s.recv(2)
s.sendall(bytes([5, 1, 0, 1, 10, 0, 0, 1, 0, 80]))
print('rep', s.recv(10)[1])";
    let script = format!(
        "ip link set lo up || exit 99
         {bin} proxy 127.0.0.1 1080 </dev/null 2>/dev/null & p=$!
         trap 'kill $p' EXIT
         {bin} connect -z --retry-for 10 127.0.0.1 1080 || exit 98
         python3 -c \"$0\"
         printf 'CONNECT 10.0.0.1:80 HTTP/1.1\\r\\n\\r\\n' | {bin} connect 127.0.0.1 1080",
        bin = bin_shell()
    );
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script, socks5])
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(99) || stderr.contains("unshare failed") {
        skip(&format!("no network namespace here: {stderr}"));
        return;
    }
    // SOCKS5 reply 3, "network unreachable"; HTTP 502 naming it.
    assert!(stdout.contains("rep 3"), "{stdout}{stderr}");
    assert!(
        stdout.contains("HTTP/1.1 502") && stdout.contains("unreachable"),
        "{stdout}{stderr}"
    );
}
