//! Proxies: `connect --proxy URL` (and nc's `-X`/`-x`), `http-get` through a proxy by flag
//! and by environment (with curl's `no_proxy` rules), and `relay --to-proxy`, against real
//! proxies started per test by `proxies.rs`: tinyproxy (HTTP CONNECT and absolute-form GET,
//! with and without BasicAuth), microsocks (SOCKS5, with and without username/password),
//! dante (SOCKS4 and SOCKS5), stunnel in front of tinyproxy (an HTTPS proxy), and small
//! proxies of our own where no real one can show something.
//!
//! What the proxies do with TCP's half-close decides how a transfer must be set up (see
//! `proxies.rs`): dante carries it, so the session rules' setups (a receiver whose stdin is
//! /dev/null ends its side at once) work through it as they do directly. tinyproxy and
//! microsocks end the whole tunnel at the first FIN from either side and lose what the other
//! side still had on its way: through them nobody ends its side before the other has
//! everything (the receiver is `--recv-only`, which ends nothing until the peer's end; the
//! sender is `--send-only` with its stdin held until the target has every byte), as a user
//! of such a proxy must. The `proxy_half_close_*` tests say what nicksock must do when that
//! is not done.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::proxies::*;
use crate::util::*;

/// Bytes per transfer: more than loopback's socket buffers and the proxies' own hold.
const SIZE: usize = 16 << 20;

/// The password of every proxy with credentials here: no output may show it.
const PASSWORD: &str = "s3cret-pw";

/// A name only the proxies in their own mount namespace can resolve.
const PROXY_ONLY_NAME: &str = "only-the-proxy-knows.nicksock-test";

/// How `connect` reaches a proxy: the flags, and whether the proxy carries half-close.
struct Via {
    what: String,
    args: Vec<String>,
    carries_half_close: bool,
}

impl Via {
    /// `--proxy URL` (with `extra` flags after it).
    fn url(proxy: &Proxy, url: String, extra: &[&str]) -> Via {
        let mut args = vec!["--proxy".to_string(), url.clone()];
        args.extend(extra.iter().map(|s| s.to_string()));
        if let Some(ca) = &proxy.cacert {
            args.extend(["--proxy-cacert".to_string(), ca.clone()]);
        }
        Via {
            what: format!("{url} {}", extra.join(" ")).trim_end().to_string(),
            args,
            carries_half_close: proxy.carries_half_close,
        }
    }

    fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

/// A certificate for the TLS targets (127.0.0.1 and localhost).
struct Tls {
    _dir: tempfile::TempDir,
    cert: String,
    key: String,
}

impl Tls {
    fn new() -> Tls {
        let dir = tempdir();
        let (cert, key) = self_signed(dir.path(), &["127.0.0.1", "localhost"]);
        Tls {
            _dir: dir,
            cert,
            key,
        }
    }

    fn server(&self) -> Vec<&str> {
        vec!["--tls", "--cert", &self.cert, "--key", &self.key]
    }

    fn client(&self) -> Vec<&str> {
        vec!["--tls", "--cacert", &self.cert]
    }
}

/// Starts `nicksock listen ARGS 127.0.0.1 0` with the stdin and stdout given; its port.
fn listen(args: &[&str], stdin: Stdio, stdout: Stdio) -> (Proc, u16) {
    let mut all = vec!["listen"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["127.0.0.1", "0"]);
    let mut p = Proc::spawn_io(nicksock(&all), stdin, stdout);
    let port = p.wait_ready(1)[0].port();
    (p, port)
}

/// Starts a nicksock server (`echo …`, `relay …`) with stdin /dev/null; its first port.
fn server(args: &[&str]) -> (Proc, u16) {
    let mut p = Proc::spawn_io(nicksock(args), Stdio::null(), Stdio::null());
    let port = p.wait_ready(1)[0].port();
    (p, port)
}

/// `connect VIA EXTRA 127.0.0.1 PORT`.
fn connect_args<'a>(via: &'a Via, extra: &[&'a str], port: &'a str) -> Vec<&'a str> {
    let mut all = vec!["connect"];
    all.extend(via.args());
    all.extend_from_slice(extra);
    all.extend_from_slice(&["127.0.0.1", port]);
    all
}

fn file(path: &Path) -> Stdio {
    Stdio::from(File::open(path).expect("open input"))
}

fn create(path: &Path) -> Stdio {
    Stdio::from(File::create(path).expect("create output"))
}

/// 16 MiB each way between `connect` through `via` and a `listen` target, plain or TLS to
/// the target: the receiver's copy equals the sender's file and both exit 0. The receiver
/// with nothing to send has stdin /dev/null; through a proxy that cuts at the first FIN
/// it is `--recv-only` too, and the sender `--send-only` (module comment).
fn both_ways(via: &Via, tls: Option<&Tls>, input: &Path, data: &[u8], dir: &Path) {
    let mode = if tls.is_some() { "TLS" } else { "plain" };
    let server_tls = tls.map(Tls::server).unwrap_or_default();
    let client_tls = tls.map(Tls::client).unwrap_or_default();
    let quiet: &[&str] = if via.carries_half_close {
        &[]
    } else {
        &["--recv-only"]
    };
    let started = Instant::now();

    // Up: connect's stdin is the file; the target writes what it gets to a file. Through
    // a proxy that ends the tunnel at the first FIN, connect is `--send-only` and its stdin
    // is a pipe held open until the target has every byte (as ssh or a person holds it):
    // microsocks reads the client's side first whenever it can, so during a flood the TLS
    // target's session ticket waits unread in it, and its close at our FIN with that unread
    // resets the target.
    let received = dir.join("up.bin");
    let mut target_args = server_tls.clone();
    target_args.extend_from_slice(quiet);
    let (mut target, port) = listen(&target_args, Stdio::null(), create(&received));
    let port = port.to_string();
    let mut extra = client_tls.clone();
    extra.push("-v");
    if !via.carries_half_close {
        // Nothing is wanted back: so the tunnel's end right after ours loses nothing.
        extra.push("--send-only");
    }
    let args = connect_args(via, &extra, &port);
    let mut client = if via.carries_half_close {
        Proc::spawn_io(nicksock(&args), file(input), Stdio::null())
    } else {
        let mut client = Proc::spawn_io(nicksock(&args), Stdio::piped(), Stdio::null());
        let mut stdin = client.stdin.take().expect("stdin");
        let mut source = File::open(input).expect("input");
        let writer = thread::spawn(move || io::copy(&mut source, &mut stdin).map(|_| stdin));
        wait_until("the target to have every byte", || {
            fs::metadata(&received).is_ok_and(|m| m.len() >= data.len() as u64)
        });
        drop(writer.join().expect("writer").expect("write stdin"));
        client
    };
    let c = client.wait();
    c.assert_code(0);
    assert!(
        c.stderr.contains("via proxy"),
        "{}: -v says so: {}",
        via.what,
        c.stderr
    );
    target.wait().assert_code(0);
    let got = fs::read(&received).expect("the target's copy");
    assert!(
        got == data,
        "{} {mode}, to the target: {} of {} bytes arrived (or they differ)",
        via.what,
        got.len(),
        data.len()
    );
    let up = started.elapsed();

    // Down: the target sends the file; connect's stdin is /dev/null, its stdout a file.
    let received = dir.join("down.bin");
    let (mut target, port) = listen(&server_tls, file(input), Stdio::null());
    let port = port.to_string();
    let mut extra = client_tls.clone();
    extra.extend_from_slice(quiet);
    let mut client = Proc::spawn_io(
        nicksock(&connect_args(via, &extra, &port)),
        Stdio::null(),
        create(&received),
    );
    client.wait().assert_code(0);
    target.wait().assert_code(0);
    let got = fs::read(&received).expect("connect's copy");
    assert!(
        got == data,
        "{} {mode}, from the target: {} of {} bytes arrived (or they differ)",
        via.what,
        got.len(),
        data.len()
    );
    eprintln!(
        "{} {mode}: 16 MiB up in {up:?}, down in {:?}",
        via.what,
        started.elapsed() - up
    );
}

/// Every `via` both ways, plain and TLS to the target.
fn transfers(vias: &[Via]) {
    let dir = tempdir();
    let data = pattern(SIZE, 0x5eed);
    let input = write_file(dir.path(), "in.bin", &data);
    let tls = Tls::new();
    for via in vias {
        for tls in [None, Some(&tls)] {
            both_ways(via, tls, &input, &data, dir.path());
        }
    }
}

#[test]
fn proxy_tinyproxy_carries_16_mib_both_ways_with_and_without_credentials() {
    let (Some(open), Some(auth)) = (tinyproxy(None), tinyproxy(Some(("user", PASSWORD)))) else {
        return;
    };
    transfers(&[
        Via::url(&open, open.url.clone(), &[]),
        Via::url(&auth, auth.url_with("user", PASSWORD), &[]),
        Via::url(
            &auth,
            auth.url.clone(),
            &["--proxy-user", &format!("user:{PASSWORD}")],
        ),
    ]);
    // Each transfer went through as a CONNECT to its own target (a client may ask again
    // with credentials after a 407: distinct targets are counted).
    let connects = |p: &Proxy| {
        let mut targets: Vec<String> = p
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("CONNECT 127.0.0.1:"))
            .collect();
        targets.sort();
        targets.dedup();
        targets.len()
    };
    assert_eq!(connects(&open), 4, "{}", open.log());
    assert_eq!(connects(&auth), 8, "{}", auth.log());
}

#[test]
fn proxy_microsocks_carries_16_mib_both_ways_socks5_socks5h_and_with_credentials() {
    let (Some(open), Some(auth)) = (microsocks(None), microsocks(Some(("user", PASSWORD)))) else {
        return;
    };
    transfers(&[
        Via::url(&open, open.url_as("socks5"), &[]),
        Via::url(&open, open.url_as("socks5h"), &[]),
        Via::url(&auth, auth.url_with("user", PASSWORD), &[]),
    ]);
}

#[test]
fn proxy_dante_carries_16_mib_both_ways_socks4_socks4a_socks5() {
    let Some(dante) = dante() else { return };
    // dante has no SOCKS4a (proxies.rs): socks4a:// to an address literal must send the
    // address as SOCKS4 does, so it works here; names over SOCKS4a are shown with a proxy
    // of our own below.
    transfers(&[
        Via::url(&dante, dante.url_as("socks4"), &[]),
        Via::url(&dante, dante.url_as("socks4a"), &[]),
        Via::url(&dante, dante.url_as("socks5"), &[]),
    ]);
}

#[test]
fn proxy_https_carries_16_mib_both_ways_with_its_certificate_trusted() {
    let Some(https) = https_proxy(None) else {
        return;
    };
    // Via::url adds --proxy-cacert.
    transfers(&[Via::url(&https, https.url.clone(), &[])]);
    assert_eq!(https.requests().len(), 4, "{}", https.log());
}

/// A target that speaks first: it sends `banner` at once, then answers one line with
/// `you said: LINE`, then reads to its client's end.
fn speaks_first(banner: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                s.set_read_timeout(Some(PATIENCE)).expect("timeout");
                s.write_all(banner).expect("banner");
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while !line.ends_with(b"\n") {
                    if s.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    line.push(byte[0]);
                }
                let _ = s.write_all(&[b"you said: ", &line[..]].concat());
                let _ = io::copy(&mut s, &mut io::sink());
            });
        }
    });
    port
}

/// A child's stdout as a pipe the test reads from as it comes.
struct Stdout {
    chunks: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl Stdout {
    /// The pipe's write end for the child, and the reader.
    fn pipe() -> (Stdio, Stdout) {
        let (mut r, w) = io::pipe().expect("pipe");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        (
            Stdio::from(w),
            Stdout {
                chunks: rx,
                pending: Vec::new(),
            },
        )
    }

    /// Exactly the next `n` bytes; Err says how many came before the end or PATIENCE.
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + PATIENCE;
        while self.pending.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.pending.extend_from_slice(&chunk),
                Err(e) => {
                    let start = &self.pending[..self.pending.len().min(64)];
                    return Err(format!(
                        "stdout: {} of {n} bytes, then {e:?}; they start {:?}",
                        self.pending.len(),
                        String::from_utf8_lossy(start)
                    ));
                }
            }
        }
        Ok(self.pending.drain(..n).collect())
    }

    /// Everything up to the end of the pipe.
    fn rest(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.pending.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return std::mem::take(&mut self.pending);
                }
                Err(e) => panic!("stdout did not end: {e:?}"),
            }
        }
    }
}

#[test]
fn proxy_a_target_that_speaks_first_is_heard_from_its_first_byte() {
    let (Some(tiny), Some(ms), Some(dante), Some(https)) = (
        tinyproxy(None),
        microsocks(None),
        dante(),
        https_proxy(None),
    ) else {
        return;
    };
    const BANNER: &[u8] = b"SSH-2.0-test\r\n";
    let target = speaks_first(BANNER).to_string();
    for via in [
        Via::url(&tiny, tiny.url.clone(), &[]),
        Via::url(&ms, ms.url_as("socks5"), &[]),
        Via::url(&dante, dante.url_as("socks4"), &[]),
        Via::url(&https, https.url.clone(), &[]),
    ] {
        let (out, mut stdout) = Stdout::pipe();
        let mut client = Proc::spawn_io(
            nicksock(&connect_args(&via, &[], &target)),
            Stdio::piped(),
            out,
        );
        // Nothing of the target's is taken for the proxy's reply, and nothing of the
        // proxy's reply comes out: the first bytes are the banner, exactly.
        let first = stdout
            .take(BANNER.len())
            .unwrap_or_else(|e| panic!("{}: {e}; {:?}", via.what, client.wait()));
        assert_eq!(
            String::from_utf8_lossy(&first),
            String::from_utf8_lossy(BANNER),
            "{}",
            via.what
        );
        client.send(b"hello\n");
        let answer = stdout
            .take(16)
            .unwrap_or_else(|e| panic!("{}: {e}; {:?}", via.what, client.wait()));
        assert_eq!(answer, b"you said: hello\n", "{}", via.what);
        client.close_stdin();
        let done = client.wait();
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
        if via.carries_half_close {
            done.assert_code(0);
        } else {
            // The tunnel ends at our end: exit 0, or the possible loss said (see the
            // half-close tests below).
            assert!(
                done.code() == 0 || !done.stderr.is_empty(),
                "{}: a failure says why",
                via.what
            );
        }
        assert!(stdout.rest().is_empty(), "{}: nothing more", via.what);
    }
}

/// A target that greets each client with `hello from the target` and closes.
fn greeter() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let _ = s.write_all(b"hello from the target\n");
        }
    });
    port
}

/// `nicksock ARGS` in a mount namespace that resolves names from /etc/hosts only (no DNS
/// query leaves the machine for a made-up name); None (SKIP) where that cannot be made.
fn no_dns_nicksock(dir: &Path, args: &[&str]) -> Option<Proc> {
    let mut argv = bin_argv();
    argv.extend(args.iter().map(|s| s.to_string()));
    let cmd = without_dns(dir, &argv)?;
    Some(Proc::spawn_io(cmd, Stdio::null(), Stdio::piped()))
}

#[test]
fn proxy_socks5h_and_socks4a_reach_a_name_only_the_proxy_can_resolve() {
    let hosts = format!("127.0.0.1 {PROXY_ONLY_NAME}");
    let (Some(ms), Some(dante)) = (microsocks_with_hosts(&hosts), dante_with_hosts(&hosts)) else {
        return;
    };
    let socks4a = Socks4a::start(&[(PROXY_ONLY_NAME, Ipv4Addr::LOCALHOST)]);
    let target = greeter().to_string();
    let scratch = tempdir();
    // The client runs where the name does not resolve at all: it must hand the name over.
    for url in [
        ms.url_as("socks5h"),
        dante.url_as("socks5h"),
        socks4a.url("socks4a"),
    ] {
        let args = [
            "-v",
            "connect",
            "--recv-only",
            "--proxy",
            &url,
            PROXY_ONLY_NAME,
            &target,
        ];
        let Some(mut client) = no_dns_nicksock(scratch.path(), &args) else {
            return;
        };
        let done = client.wait();
        done.assert_code(0);
        assert_eq!(done.out(), "hello from the target\n", "{url}");
    }
    assert!(
        ms.log().contains(&format!("{PROXY_ONLY_NAME}:{target}")),
        "microsocks was asked for the name: {}",
        ms.log()
    );
    assert_eq!(
        socks4a.asked(),
        vec![format!("name {PROXY_ONLY_NAME}:{target}")],
        "SOCKS4a sent the name, not an address"
    );

    // socks5:// and socks4:// resolve on our side, where the name is unknown: exit 3, and
    // the proxy is not asked anything.
    for url in [ms.url_as("socks5"), socks4a.url("socks4")] {
        let args = ["connect", "--proxy", &url, PROXY_ONLY_NAME, &target];
        let Some(mut client) = no_dns_nicksock(scratch.path(), &args) else {
            return;
        };
        let done = client.wait();
        done.assert_code(3);
        assert!(done.stderr.contains(PROXY_ONLY_NAME), "{}", done.stderr);
    }
    assert_eq!(socks4a.asked().len(), 1, "{:?}", socks4a.asked());
}

/// `nicksock http-get ARGS` with the environment variables `env` set (every other proxy
/// variable is removed by `nicksock()`).
fn http_get(env: &[(&str, &str)], args: &[&str]) -> Finished {
    let mut all = vec!["http-get"];
    all.extend_from_slice(args);
    let mut cmd = nicksock(&all);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut p = Proc::spawn_io(cmd, Stdio::null(), Stdio::piped());
    p.wait()
}

/// Whether an IPv6 loopback address can be listened on.
fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn proxy_http_get_by_flag_and_environment_with_no_proxy_like_curl() {
    let Some(tiny) = tinyproxy(None) else { return };
    let www = tempdir();
    write_file(www.path(), "hello.txt", b"hello\n");
    let tls = Tls::new();
    let (Some(origin), Some(secure)) = (
        Origin::start(www.path(), "127.0.0.1", None),
        Origin::start(www.path(), "127.0.0.1", Some((&tls.cert, &tls.key))),
    ) else {
        return;
    };
    let p = origin.port();
    let plain = format!("http://127.0.0.1:{p}/hello.txt");
    let by_name = format!("http://localhost:{p}/hello.txt");
    let https = format!("https://127.0.0.1:{}/hello.txt", secure.port());
    let proxy = tiny.url.as_str();
    let seen = || tiny.requests().len();

    // Asserts one fetch: its body, and whether tinyproxy logged a request for it (then the
    // last one is `want_logged`'s start).
    let check = |what: &str, env: &[(&str, &str)], args: &[&str], logged: Option<&str>| {
        let before = seen();
        let done = http_get(env, args);
        done.assert_code(0);
        assert_eq!(done.out(), "hello\n", "{what}: {}", done.stderr);
        let requests = tiny.requests();
        match logged {
            Some(start) => {
                assert_eq!(requests.len(), before + 1, "{what}: through the proxy");
                let last = requests.last().unwrap();
                assert!(last.starts_with(start), "{what}: {last:?}, not {start:?}");
            }
            None => assert_eq!(requests.len(), before, "{what}: direct: {requests:?}"),
        }
    };
    let absolute = format!("GET {plain} HTTP/1.1");
    let tunnel = format!("CONNECT 127.0.0.1:{} ", secure.port());
    let ca = tls.cert.as_str();

    // By flag: http:// in absolute form, https:// through CONNECT.
    check(
        "--proxy, http",
        &[],
        &["--proxy", proxy, &plain],
        Some(&absolute),
    );
    check("-x, http", &[], &["-x", proxy, &plain], Some(&absolute));
    check(
        "--proxy, https",
        &[],
        &["--proxy", proxy, "--cacert", ca, &https],
        Some(&tunnel),
    );
    // By environment, as curl reads it: http_proxy only in lower case.
    check(
        "http_proxy",
        &[("http_proxy", proxy)],
        &[&plain],
        Some(&absolute),
    );
    check(
        "HTTP_PROXY is ignored",
        &[("HTTP_PROXY", proxy)],
        &[&plain],
        None,
    );
    check(
        "https_proxy",
        &[("https_proxy", proxy)],
        &["--cacert", ca, &https],
        Some(&tunnel),
    );
    check(
        "HTTPS_PROXY",
        &[("HTTPS_PROXY", proxy)],
        &["--cacert", ca, &https],
        Some(&tunnel),
    );
    check(
        "https_proxy is not for http://",
        &[("https_proxy", proxy)],
        &[&plain],
        None,
    );
    check(
        "all_proxy",
        &[("all_proxy", proxy)],
        &[&plain],
        Some(&absolute),
    );
    check(
        "ALL_PROXY",
        &[("ALL_PROXY", proxy)],
        &[&plain],
        Some(&absolute),
    );
    check(
        "--proxy '' turns the environment off",
        &[("http_proxy", proxy), ("all_proxy", proxy)],
        &["--proxy", "", &plain],
        None,
    );

    // no_proxy / NO_PROXY: addresses, CIDR ranges, names with their subdomains, `*`.
    let env_for = |var: &'static str, list: &'static str| [("http_proxy", proxy), (var, list)];
    for (list, url) in [
        ("127.0.0.1", &plain),
        ("127.0.0.0/8", &plain),
        ("example.invalid,127.0.0.1", &plain),
        ("localhost", &by_name),
        (".localhost", &by_name),
        ("*", &plain),
        ("*", &by_name),
    ] {
        check(
            &format!("NO_PROXY={list} for {url}"),
            &env_for("NO_PROXY", list),
            &[url],
            None,
        );
        check(
            &format!("no_proxy={list} for {url}"),
            &env_for("no_proxy", list),
            &[url],
            None,
        );
    }
    for (list, url) in [
        ("127.0.0.2", &plain),
        ("10.0.0.0/8", &plain),
        ("127.0.0.1/32", &by_name),
        ("other.localhost", &by_name),
    ] {
        let start = format!("GET {url} HTTP/1.1");
        check(
            &format!("NO_PROXY={list} does not match {url}"),
            &env_for("NO_PROXY", list),
            &[url],
            Some(&start),
        );
    }
    // --noproxy replaces NO_PROXY.
    check(
        "--noproxy replaces NO_PROXY",
        &env_for("NO_PROXY", "127.0.0.1"),
        &["--noproxy", "example.invalid", &plain],
        Some(&absolute),
    );
    check(
        "--noproxy",
        &[("http_proxy", proxy)],
        &["--noproxy", "127.0.0.1", &plain],
        None,
    );
    check(
        "--noproxy '*' with --proxy",
        &[],
        &["--proxy", proxy, "--noproxy", "*", &plain],
        None,
    );

    // IPv6: an origin on [::1] and the list's spellings of it.
    if ipv6_loopback() {
        let Some(origin6) = Origin::start(www.path(), "::1", None) else {
            return;
        };
        let v6 = format!("http://[::1]:{}/hello.txt", origin6.port());
        for list in ["::1", "[::1]", "::1/128"] {
            check(
                &format!("NO_PROXY={list} for {v6}"),
                &env_for("NO_PROXY", list),
                &[&v6],
                None,
            );
        }
        check(
            "NO_PROXY=127.0.0.1 does not match [::1]",
            &env_for("NO_PROXY", "127.0.0.1"),
            &[&v6],
            Some(&format!("GET {v6} HTTP/1.1")),
        );
    } else {
        skip("no IPv6 loopback: the [::1] forms of NO_PROXY are not checked");
    }

    // -L: a redirect from an origin outside NO_PROXY (localhost) to one inside it
    // (127.0.0.1): the first request goes through the proxy, the second directly.
    let redirect = format!("http://localhost:{p}/redirect?to={plain}");
    check(
        "-L from outside NO_PROXY to inside",
        &env_for("NO_PROXY", "127.0.0.1"),
        &["-L", &redirect],
        Some(&format!("GET {redirect} HTTP/1.1")),
    );
    // And back: from inside (direct) to outside (through the proxy).
    let back = format!("http://127.0.0.1:{p}/redirect?to={by_name}");
    check(
        "-L from inside NO_PROXY to outside",
        &env_for("NO_PROXY", "127.0.0.1"),
        &["-L", &back],
        Some(&format!("GET {by_name} HTTP/1.1")),
    );
}

#[test]
fn proxy_http_get_through_socks_and_an_https_proxy() {
    let (Some(dante), Some(https)) = (dante(), https_proxy(None)) else {
        return;
    };
    let www = tempdir();
    write_file(www.path(), "hello.txt", b"hello\n");
    let Some(origin) = Origin::start(www.path(), "127.0.0.1", None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/hello.txt", origin.port());
    for proxy in [
        dante.url_as("socks5"),
        dante.url_as("socks5h"),
        dante.url_as("socks4"),
    ] {
        let done = http_get(&[], &["--proxy", &proxy, &url]);
        done.assert_code(0);
        assert_eq!(done.out(), "hello\n", "{proxy}");
    }
    let ca = https.cacert.clone().unwrap();
    let done = http_get(&[], &["--proxy", &https.url, "--proxy-cacert", &ca, &url]);
    done.assert_code(0);
    assert_eq!(done.out(), "hello\n");
    assert!(
        https
            .requests()
            .last()
            .unwrap()
            .starts_with(&format!("GET {url} ")),
        "{}",
        https.log()
    );
    // The proxy's certificate is checked like any server's: untrusted is exit 6 (TLS), and
    // --proxy-insecure lets it through with a warning.
    let done = http_get(&[], &["--proxy", &https.url, &url]);
    done.assert_code(6);
    let done = http_get(&[], &["--proxy", &https.url, "--proxy-insecure", &url]);
    done.assert_code(0);
    assert_eq!(done.out(), "hello\n");
    assert!(
        done.stderr.contains("insecure"),
        "a warning: {}",
        done.stderr
    );
}

/// A target that is never reached: a port that refuses, held for the test.
fn refused_target() -> (socket2::Socket, String) {
    let (sock, port) = refusing_port();
    (sock, port.to_string())
}

/// `connect ARGS` with stdin /dev/null.
fn connect(args: &[&str]) -> Finished {
    let mut all = vec!["connect"];
    all.extend_from_slice(args);
    Proc::spawn_io(nicksock(&all), Stdio::null(), Stdio::piped()).wait()
}

#[test]
fn proxy_failures_have_their_exit_codes() {
    let (Some(tiny), Some(tiny_auth), Some(strict), Some(ms), Some(ms_auth), Some(dante)) = (
        tinyproxy(None),
        tinyproxy(Some(("user", PASSWORD))),
        tinyproxy_with(None, "ConnectPort 443\n"),
        microsocks(None),
        microsocks(Some(("user", PASSWORD))),
        dante(),
    ) else {
        return;
    };
    let target = greeter().to_string();
    let t = target.as_str();

    // Wrong or missing credentials, and a policy's refusal: 11. (tinyproxy answers a wrong
    // password with 401, a missing one with 407; microsocks fails the sub-negotiation, or
    // offers no method we have.)
    let wrong_http = tiny_auth.url_with("user", "wrong");
    let wrong_socks = ms_auth.url_with("user", "wrong");
    for args in [
        vec!["--proxy", &wrong_http, "127.0.0.1", t],
        vec!["--proxy", &tiny_auth.url, "127.0.0.1", t],
        vec![
            "--proxy",
            &tiny_auth.url,
            "--proxy-user",
            "user:wrong",
            "127.0.0.1",
            t,
        ],
        vec!["--proxy", &wrong_socks, "127.0.0.1", t],
        vec!["--proxy", &ms_auth.url, "127.0.0.1", t],
        vec!["--proxy", &strict.url, "127.0.0.1", t],
    ] {
        let done = connect(&args);
        assert_eq!(done.code(), 11, "{args:?}: {}", done.stderr);
        assert!(done.stdout.is_empty(), "{args:?}");
        assert_eq!(done.stderr.lines().count(), 1, "one line: {}", done.stderr);
    }
    let www = tempdir();
    write_file(www.path(), "hello.txt", b"hello\n");
    let Some(origin) = Origin::start(www.path(), "127.0.0.1", None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/hello.txt", origin.port());
    // (tinyproxy's 401 to an absolute-form GET could be the origin's own; through CONNECT
    // it can only be the proxy's. Its 407 is the proxy's either way.)
    let secure_url = format!("https://127.0.0.1:{}/hello.txt", origin.port());
    http_get(&[], &["--proxy", &wrong_http, &secure_url]).assert_code(11);
    http_get(&[], &["--proxy", &tiny_auth.url, &secure_url]).assert_code(11);
    http_get(&[], &["--proxy", &tiny_auth.url, &url]).assert_code(11);
    http_get(&[("http_proxy", &wrong_socks)], &[&url]).assert_code(11);

    // What a proxy of our own says: 407 and 403 are 11; 502, 503, 504 (the proxy cannot
    // reach the target) are 4 with the proxy's words.
    for (status, code) in [
        ("407 Proxy Authentication Required", 11),
        ("403 Forbidden", 11),
        ("502 Bad Gateway", 4),
        ("503 Service Unavailable", 4),
        ("504 Gateway Timeout", 4),
    ] {
        let fake = Answering::start(status);
        let done = connect(&["--proxy", &fake.url(), "127.0.0.1", t]);
        done.assert_code(code);
        assert!(
            fake.head()
                .starts_with(&format!("CONNECT 127.0.0.1:{t} HTTP/1.")),
            "{status}"
        );
        let words = &status[4..];
        assert!(done.stderr.contains(words), "{status}: {}", done.stderr);
    }

    // The proxy is down: 4.
    let (_down, down) = refusing_port();
    for scheme in ["http", "socks5", "socks4"] {
        let url = format!("{scheme}://127.0.0.1:{down}");
        connect(&["--proxy", &url, "127.0.0.1", t]).assert_code(4);
    }
    http_get(&[], &["--proxy", &format!("http://127.0.0.1:{down}"), &url]).assert_code(4);
    http_get(
        &[("http_proxy", &format!("http://127.0.0.1:{down}"))],
        &[&url],
    )
    .assert_code(4);

    // The proxy's name does not resolve: 3 (no DNS query: hosts from /etc/hosts only).
    let scratch = tempdir();
    let args = [
        "connect",
        "--proxy",
        "socks5://no-such-proxy.nicksock-test:1080",
        "127.0.0.1",
        t,
    ];
    if let Some(mut client) = no_dns_nicksock(scratch.path(), &args) {
        client.wait().assert_code(3);
    }

    // The proxy cannot reach the target: 4, and why.
    let (_refusing, refused) = refused_target();
    let r = refused.as_str();
    for (proxy, words) in [
        (ms.url_as("socks5"), "connection refused"),
        (dante.url_as("socks5"), "connection refused"),
        (dante.url_as("socks4"), ""),
        // tinyproxy says `500 Unable to connect` (not 502): still the target, not us.
        (tiny.url.clone(), "Unable to connect"),
    ] {
        let done = connect(&["--proxy", &proxy, "127.0.0.1", r]);
        done.assert_code(4);
        assert!(
            done.stderr.to_lowercase().contains(&words.to_lowercase()),
            "{proxy}: {}",
            done.stderr
        );
        assert_eq!(done.stderr.lines().count(), 1, "one line: {}", done.stderr);
    }
    let https = format!("https://127.0.0.1:{r}/");
    http_get(&[], &["--proxy", &tiny.url, &https]).assert_code(4);
    let unreachable = format!("http://127.0.0.1:{r}/hello.txt");
    http_get(&[], &["--proxy", &ms.url, &unreachable]).assert_code(4);

    // TLS to an https:// proxy that is not trusted: 6.
    if let Some(hp) = https_proxy(None) {
        let done = connect(&["--proxy", &hp.url, "127.0.0.1", t]);
        done.assert_code(6);
    }
}

#[test]
fn proxy_that_never_answers_times_out_and_sigint_ends_the_wait_at_once() {
    let silent = Silent::start();
    let url = |scheme: &str| format!("{scheme}://127.0.0.1:{}", silent.port);
    let target = greeter().to_string();

    // -w 1: the proxy's handshake is part of connecting, so it is bounded too.
    for scheme in ["socks5", "socks4", "http"] {
        let started = Instant::now();
        let done = connect(&["-w", "1", "--proxy", &url(scheme), "127.0.0.1", &target]);
        let took = started.elapsed();
        done.assert_code(5);
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(4),
            "{scheme}: -w 1 took {took:?}"
        );
    }
    // http-get --connect-timeout: through SOCKS and CONNECT the tunnel is the connection.
    let www = "http://127.0.0.1:9/";
    for (proxy, url) in [(url("socks5"), www), (url("http"), "https://127.0.0.1:9/")] {
        let started = Instant::now();
        let done = http_get(&[], &["--connect-timeout", "1", "--proxy", &proxy, url]);
        let took = started.elapsed();
        done.assert_code(5);
        assert!(took < Duration::from_secs(4), "{proxy}: took {took:?}");
    }

    // SIGINT while waiting for the proxy's answer: 130, at once. (A silent proxy of its
    // own each time: `accepted` must be this client's.)
    for scheme in ["socks5", "http"] {
        let silent = Silent::start();
        let url = format!("{scheme}://127.0.0.1:{}", silent.port);
        let mut client = Proc::spawn_io(
            nicksock(&["connect", "--proxy", &url, "127.0.0.1", &target]),
            Stdio::null(),
            Stdio::piped(),
        );
        // It has sent its handshake and waits on its loop for the answer.
        silent.accepted();
        let pid = client.child.id() as libc::pid_t;
        let signalled = Instant::now();
        // SAFETY: kill(2) to our own child, by its id.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let done = client.wait_for(PATIENCE).expect("an exit after SIGINT");
        let took = signalled.elapsed();
        assert_eq!(done.code(), 130, "{scheme}");
        assert!(
            took < Duration::from_millis(100),
            "{scheme}: exit {took:?} after SIGINT"
        );
    }
}

#[test]
fn proxy_passwords_are_never_shown() {
    let (Some(tiny), Some(ms)) = (
        tinyproxy(Some(("user", PASSWORD))),
        microsocks(Some(("user", PASSWORD))),
    ) else {
        return;
    };
    use base64::Engine;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("user:{PASSWORD}").as_bytes());
    let dir = tempdir();
    let target = greeter().to_string();
    let www = tempdir();
    write_file(www.path(), "hello.txt", b"hello\n");
    let Some(origin) = Origin::start(www.path(), "127.0.0.1", None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/hello.txt", origin.port());
    let user = format!("user:{PASSWORD}");
    let cases: Vec<(&Proxy, Vec<String>)> = vec![
        (
            &tiny,
            vec!["--proxy".into(), tiny.url_with("user", PASSWORD)],
        ),
        (
            &tiny,
            vec![
                "--proxy".into(),
                tiny.url.clone(),
                "--proxy-user".into(),
                user.clone(),
            ],
        ),
        (&ms, vec!["--proxy".into(), ms.url_with("user", PASSWORD)]),
        (
            &ms,
            vec![
                "--proxy".into(),
                ms.url.clone(),
                "--proxy-user".into(),
                user.clone(),
            ],
        ),
    ];
    for (i, (proxy, flags)) in cases.iter().enumerate() {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        for command in ["connect", "http-get"] {
            let trace = dir.path().join(format!("trace-{i}-{command}"));
            let trace_arg = trace.display().to_string();
            // The text view: the hex view would split a secret across its lines.
            let mut args = vec!["-v", "--trace-ascii", &trace_arg, command];
            args.extend_from_slice(&flags);
            if command == "connect" {
                args.extend_from_slice(&["--recv-only", "127.0.0.1", &target]);
            } else {
                args.push(&url);
            }
            let done = Proc::spawn_io(nicksock(&args), Stdio::null(), Stdio::piped()).wait();
            done.assert_code(0);
            let shown = format!("user:***@127.0.0.1:{}", proxy.port);
            assert!(
                done.stderr
                    .lines()
                    .any(|l| l.contains("via proxy") && l.contains(&shown)),
                "{args:?}: -v says `via proxy` and the URL with *** for the password: {}",
                done.stderr
            );
            let trace = String::from_utf8_lossy(&file_bytes(&trace)).into_owned();
            assert!(!trace.is_empty(), "{args:?}: a trace was written");
            for (what, text) in [("stderr", &done.stderr), ("the trace", &trace)] {
                assert!(!text.contains(PASSWORD), "{args:?}: the password in {what}");
                assert!(
                    !text.contains(&encoded),
                    "{args:?}: the Basic credentials in {what}"
                );
            }
        }
    }

    // Nor in /proc/PID/cmdline while it runs (ps): nicksock overwrites it, as curl does.
    // (Under an emulator the process is the emulator, whose own argv it cannot touch.)
    if std::env::var_os("NICKSOCK_TEST_RUNNER").is_some_and(|r| !r.is_empty()) {
        return;
    }
    // Every spelling: a URL, a URL without its scheme (taken as http://), --proxy-user.
    for spelling in [
        "socks5://user:{PW}@{ADDR}",
        "user:{PW}@{ADDR}",
        "--proxy-user",
    ] {
        let silent = Silent::start();
        let addr = format!("127.0.0.1:{}", silent.port);
        let url = spelling.replace("{PW}", PASSWORD).replace("{ADDR}", &addr);
        let user = format!("user:{PASSWORD}");
        let args = if spelling == "--proxy-user" {
            vec![
                "connect",
                "--proxy",
                &addr,
                "--proxy-user",
                &user,
                "127.0.0.1",
                &target,
            ]
        } else {
            vec!["connect", "--proxy", &url, "127.0.0.1", &target]
        };
        let mut client = Proc::spawn_io(nicksock(&args), Stdio::null(), Stdio::piped());
        silent.accepted();
        let cmdline = fs::read(format!("/proc/{}/cmdline", client.child.id())).unwrap_or_default();
        client.signal("INT");
        let _ = client.wait();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            cmdline.contains("connect"),
            "read while it ran: {cmdline:?}"
        );
        assert!(
            !cmdline.contains(PASSWORD),
            "{spelling}: ps shows {cmdline}"
        );
    }

    // nc's -x takes no credentials; typed as curl's -x takes them, the error hides them.
    let done = connect(&[
        "-x",
        &format!("user:{PASSWORD}@127.0.0.1:1"),
        "127.0.0.1",
        &target,
    ]);
    assert_eq!(done.code(), 2, "{}", done.stderr);
    assert!(!done.stderr.contains(PASSWORD), "{}", done.stderr);
}

/// One client of the relay: sends `data` while reading as much back, compares, then ends
/// its side.
fn echo_client(port: u16, data: Vec<u8>) -> Result<(), String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let sent = data.clone();
    let writer = thread::spawn(move || w.write_all(&sent));
    let mut got = vec![0u8; data.len()];
    let mut r = s;
    // Read everything back before ending our side: a proxy that cuts at the first FIN
    // would otherwise lose the echo's tail.
    r.read_exact(&mut got)
        .map_err(|e| format!("reading back: {e}"))?;
    writer
        .join()
        .expect("writer")
        .map_err(|e| format!("sending: {e}"))?;
    if got != data {
        return Err("the echo differs".into());
    }
    let _ = r.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    if !rest.is_empty() {
        return Err(format!("{} bytes too many", rest.len()));
    }
    Ok(())
}

#[test]
fn proxy_relay_to_proxy_serves_50_clients_at_once() {
    let (Some(dante), Some(tiny)) = (dante(), tinyproxy(Some(("user", PASSWORD)))) else {
        return;
    };
    let (_echo, echo) = server(&["echo", "127.0.0.1", "0"]);
    let echo = echo.to_string();
    // SOCKS5 through dante (microsocks stops for good when both directions are full: see
    // proxies.rs), HTTP CONNECT through tinyproxy with credentials.
    for url in [dante.url_as("socks5"), tiny.url_with("user", PASSWORD)] {
        let (mut relay, port) = server(&[
            "-v",
            "relay",
            "127.0.0.1",
            "0",
            "127.0.0.1",
            &echo,
            "--to-proxy",
            &url,
        ]);
        let started = Instant::now();
        let clients: Vec<_> = (0..50)
            .map(|i| thread::spawn(move || echo_client(port, pattern(256 << 10, 100 + i))))
            .collect();
        let failed: Vec<String> = clients
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| c.join().expect("client").err().map(|e| format!("{i}: {e}")))
            .collect();
        assert!(
            failed.is_empty(),
            "{url}: {failed:?}; relay: {:?}",
            relay.stderr_seen
        );
        eprintln!("{url}: 50 × 256 KiB echoed in {:?}", started.elapsed());
        relay.signal("TERM");
        let done = relay.wait();
        done.assert_code(0);
        assert!(!done.stderr.contains(PASSWORD), "{}", done.stderr);
    }
    let connects = tiny
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("CONNECT 127.0.0.1:{echo} ")))
        .count();
    assert_eq!(connects, 50, "a tunnel per client: {}", tiny.log());
}

#[test]
fn proxy_ssh_style_nc_spelling_pipes_16_mib_both_ways() {
    let (Some(dante), Some(tiny)) = (dante(), tinyproxy(None)) else {
        return;
    };
    let (_echo, echo) = server(&["echo", "127.0.0.1", "0"]);
    let echo = echo.to_string();
    let data = pattern(SIZE, 77);
    // As ssh's ProxyCommand runs it: stdin and stdout pipes, both ways at once.
    let d = dante.addr();
    let t = tiny.addr();
    for flags in [
        vec!["-X", "5", "-x", &d],
        vec!["-x", &d],
        vec!["-X", "4", "-x", &d],
        vec!["-X", "connect", "-x", &t],
    ] {
        let mut args = vec!["connect"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["127.0.0.1", &echo]);
        let (out, mut stdout) = Stdout::pipe();
        let mut client = Proc::spawn_io(nicksock(&args), Stdio::piped(), out);
        let mut stdin = client.stdin.take().expect("stdin");
        let sent = data.clone();
        let writer = thread::spawn(move || stdin.write_all(&sent).map(|()| stdin));
        let got = stdout
            .take(SIZE)
            .unwrap_or_else(|e| panic!("{flags:?}: {e}; {:?}", client.wait()));
        assert!(
            got == data,
            "{flags:?}: 16 MiB came back, not the ones sent"
        );
        // Only now stdin ends (as ssh holds it until it is done): through a proxy that cuts
        // at the first FIN an earlier end would lose the echo's tail.
        drop(writer.join().expect("writer").expect("write stdin"));
        let done = client.wait();
        if flags.contains(&"connect") {
            // An HTTP tunnel ends at our end: exit 0, or the possible loss said (see the
            // half-close tests below).
            assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
            assert!(done.code() == 0 || !done.stderr.is_empty(), "{flags:?}");
        } else {
            done.assert_code(0);
        }
        assert!(stdout.rest().is_empty(), "{flags:?}: nothing more");
    }
}

/// A target that reads to its client's end and only then answers `reply to N bytes`;
/// what it read comes out of the receiver.
fn answers_after_the_end() -> (u16, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let port = thread_target(move |mut s| {
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = s.write_all(format!("reply to {} bytes\n", got.len()).as_bytes());
        let _ = tx.send(got);
    });
    (port, rx)
}

/// A target that sends `data` at once, then reads to its client's end; each connection is
/// announced on the receiver.
fn sends(data: Vec<u8>) -> (u16, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let port = thread_target(move |mut s| {
        let _ = tx.send(());
        let _ = s.write_all(&data);
        let _ = s.shutdown(Shutdown::Write);
        let _ = io::copy(&mut s, &mut io::sink());
    });
    (port, rx)
}

/// What one run did: its exit code, stdout and stderr.
struct Ran {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// What `echo hi | connect --proxy URL` (to a target that answers only after our end) and
/// `connect --proxy URL < /dev/null` (from a target that sends 4 MiB at once) did. Both
/// must have reached their target through the proxy.
fn half_close(url: &str) -> (Ran, Ran) {
    let (reply_port, heard) = answers_after_the_end();
    let mut client = Proc::spawn_io(
        nicksock(&[
            "connect",
            "--proxy",
            url,
            "127.0.0.1",
            &reply_port.to_string(),
        ]),
        Stdio::piped(),
        Stdio::piped(),
    );
    client.send(b"hi\n");
    client.close_stdin();
    let done = client.wait();
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    assert_eq!(
        heard.recv_timeout(PATIENCE).as_deref(),
        Ok(&b"hi\n"[..]),
        "{url}: the target got our line and our end: {}",
        done.stderr
    );
    let reply = Ran {
        code: done.code(),
        stdout: done.stdout,
        stderr: done.stderr,
    };

    let (sender, reached) = sends(pattern(4 << 20, 9));
    let done = connect(&["--proxy", url, "127.0.0.1", &sender.to_string()]);
    reached
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{url}: the sending target was reached: {}", done.stderr));
    let download = Ran {
        code: done.code(),
        stdout: done.stdout,
        stderr: done.stderr,
    };
    eprintln!(
        "{url}: `echo hi | connect`: exit {}, {:?}, stderr {:?}; `connect < /dev/null`: \
         exit {}, {} of {} bytes, stderr {:?}",
        reply.code,
        String::from_utf8_lossy(&reply.stdout),
        reply.stderr,
        download.code,
        download.stdout.len(),
        4 << 20,
        download.stderr
    );
    (reply, download)
}

const REPLY: &[u8] = b"reply to 3 bytes\n";

// Half-close through each proxy, as measured (proxies.rs: our own client, and nc and
// Python by hand): dante carries our FIN to the target and the target's later bytes back.
// tinyproxy and microsocks close both sides at the first FIN from either: the target's
// reply to our end is lost, and the client sees a clean FIN right after its own, exactly as
// from a target with nothing more to say (no byte on the wire tells them apart). So
// through them `echo hi | connect` gets no reply, and `connect < /dev/null` gets none of a
// download the target had only begun to send.
//
// The promise (the bytes arrive, or the exit code says they did not) then asks: never exit
// 0 with the reply or the download *silently* missing where nicksock can tell. Through an
// HTTP proxy it can: the tunnel ends at either side's end (RFC 9110 §9.3.6), so an end that
// comes after ours is the proxy's, and the exit code says so. Through SOCKS it cannot (dante
// carries half-close, and a dante session whose target had nothing more to say must end 0:
// `proxy_ssh_style…`); there the remedy is the user's, `--no-shutdown`, and it must work.

#[test]
fn proxy_half_close_through_dante_gets_the_reply_after_our_end() {
    let Some(dante) = dante() else { return };
    for scheme in ["socks5", "socks4"] {
        let (reply, download) = half_close(&dante.url_as(scheme));
        assert_eq!(reply.code, 0, "{scheme}: {}", reply.stderr);
        assert_eq!(reply.stdout, REPLY, "{scheme}");
        assert_eq!(download.code, 0, "{scheme}: {}", download.stderr);
        assert!(
            download.stdout == pattern(4 << 20, 9),
            "{scheme}: {} of {} bytes",
            download.stdout.len(),
            4 << 20
        );
    }
}

#[test]
fn proxy_half_close_through_tinyproxy_is_never_a_silent_loss() {
    let Some(tiny) = tinyproxy(None) else { return };
    let (reply, download) = half_close(&tiny.url);
    if reply.stdout == REPLY {
        assert_eq!(reply.code, 0, "{}", reply.stderr);
    } else {
        assert_ne!(
            reply.code, 0,
            "the HTTP tunnel ended at our end and the reply is missing: not exit 0 ({:?})",
            reply.stderr
        );
        assert!(!reply.stderr.is_empty(), "and a line says why");
    }
    if download.stdout != pattern(4 << 20, 9) {
        assert_ne!(
            download.code,
            0,
            "the HTTP tunnel ended at our end with {} of {} bytes: not exit 0 ({:?})",
            download.stdout.len(),
            4 << 20,
            download.stderr
        );
    }
}

/// A download through `url` with stdin at /dev/null and `extra` flags: (exit, complete).
fn download(url: &str, extra: &[&str]) -> (i32, bool, String) {
    let data = pattern(4 << 20, 9);
    let (sender, reached) = sends(data.clone());
    let port = sender.to_string();
    let mut args = vec!["--proxy", url];
    args.extend_from_slice(extra);
    args.extend(["127.0.0.1", port.as_str()]);
    let done = connect(&args);
    reached
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{url}: the sending target was reached: {}", done.stderr));
    (done.code(), done.stdout == data, done.stderr)
}

#[test]
fn proxy_half_close_through_tinyproxy_is_cured_by_keeping_our_side_open() {
    // With nothing to send (--recv-only) our end is never sent into an HTTP tunnel, and
    // --no-shutdown keeps it back: the whole download arrives, exit 0.
    let Some(tiny) = tinyproxy(None) else { return };
    for extra in [&["--recv-only"][..], &["--no-shutdown"][..]] {
        let (code, complete, stderr) = download(&tiny.url, extra);
        assert_eq!((code, complete), (0, true), "{extra:?}: {stderr}");
    }
}

#[test]
fn proxy_half_close_through_microsocks_is_cured_by_no_shutdown() {
    // microsocks closes the whole tunnel at our end (measured in proxies.rs; the README says
    // so): with stdin at /dev/null a download gets nothing. --no-shutdown keeps our side
    // open until the target ends: all of it arrives, exit 0.
    let Some(ms) = microsocks(None) else { return };
    let (code, complete, stderr) = download(&ms.url, &[]);
    assert!(
        !complete,
        "microsocks now carries half-close (exit {code}): the README's table is out of date"
    );
    let (code, complete, stderr2) = download(&ms.url, &["--no-shutdown"]);
    assert_eq!((code, complete), (0, true), "{stderr} / {stderr2}");
}
