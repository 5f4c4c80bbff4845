//! `http-get` end to end: the real binary against a scripted server in a thread of this test
//! (it records the exact request bytes and answers exactly as told, well-formed or not) and
//! against a real nginx over HTTP and HTTPS. Loopback only.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a scripted connection does after the request has been read.
type Script = Box<dyn FnOnce(TcpStream) + Send>;

/// A server on loopback that answers the n-th connection with the n-th script and records
/// every request it read.
struct Scripted {
    addr: SocketAddr,
    requests: Receiver<Vec<u8>>,
}

impl Scripted {
    fn start(scripts: Vec<Script>) -> Scripted {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind"), scripts)
    }

    fn start_on(listener: TcpListener, scripts: Vec<Script>) -> Scripted {
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for script in scripts {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                s.set_read_timeout(Some(PATIENCE)).expect("timeout");
                s.set_nodelay(true).expect("nodelay");
                let request = read_request(&mut s);
                if tx.send(request).is_err() {
                    return;
                }
                script(s);
            }
        });
        Scripted { addr, requests: rx }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request the server read.
    fn request(&self) -> String {
        let bytes = self
            .requests
            .recv_timeout(PATIENCE)
            .expect("a request reached the server");
        String::from_utf8(bytes).expect("text request")
    }

    /// Whether no further request came.
    fn no_more_requests(&self) -> bool {
        self.requests.try_recv().is_err()
    }
}

/// Reads a request head and as many body bytes as its Content-Length says.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut req = Vec::new();
    let mut byte = [0u8; 1];
    while !req.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => req.push(byte[0]),
            _ => return req,
        }
    }
    let head = String::from_utf8_lossy(&req).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if s.read_exact(&mut body).is_ok() {
        req.extend_from_slice(&body);
    }
    req
}

/// Answers with these bytes and closes.
fn reply(bytes: impl Into<Vec<u8>>) -> Script {
    let bytes = bytes.into();
    Box::new(move |mut s: TcpStream| {
        let _ = s.write_all(&bytes);
    })
}

/// Answers in pieces of `piece` bytes with a pause after each, so the client gets many reads.
fn trickle(bytes: impl Into<Vec<u8>>, piece: usize) -> Script {
    let bytes = bytes.into();
    Box::new(move |mut s: TcpStream| {
        for part in bytes.chunks(piece) {
            if s.write_all(part).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
    })
}

/// Sends these bytes, then resets the connection (SO_LINGER 0).
fn reset_after(bytes: impl Into<Vec<u8>>) -> Script {
    let bytes = bytes.into();
    Box::new(move |mut s: TcpStream| {
        let _ = s.write_all(&bytes);
        // The bytes are in the client's kernel before the reset is sent.
        wait_acknowledged(&s);
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    })
}

/// Reads the request, then says nothing until the client goes away.
fn stall() -> Script {
    Box::new(|mut s: TcpStream| {
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
    })
}

fn ok_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn redirect(status: &str, location: &str) -> String {
    format!("HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 5\r\n\r\nmoved")
}

/// Runs `nicksock http-get ARGS` to completion.
fn get(args: &[&str]) -> Finished {
    let mut all = vec!["http-get"];
    all.extend_from_slice(args);
    run(&all, b"")
}

/// Runs `nicksock http-get ARGS` in `dir`.
fn get_in(dir: &Path, args: &[&str]) -> Finished {
    let mut cmd = nicksock(&[&["http-get"][..], args].concat());
    cmd.current_dir(dir);
    let mut p = Proc::spawn(cmd);
    p.close_stdin();
    p.wait()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn http_get_sends_the_request_line_and_headers_of_the_lab() {
    let server = Scripted::start(vec![
        reply(ok_response("index")),
        reply(ok_response("ten")),
        reply(ok_response("auth")),
    ]);
    let done = get(&[&server.url("/index.html?q=1")]);
    done.assert_code(0);
    assert_eq!(done.out(), "index");
    let port = server.addr.port();
    assert_eq!(
        server.request(),
        format!(
            "GET /index.html?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             User-Agent: nicksock/{VERSION}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
    );

    // The lab's HTTP/1.0 client, with no scheme, its own agent and an extra header.
    let bare = format!("127.0.0.1:{port}");
    get(&["--http1.0", "-A", "lab/1", "-H", "X-Lab: 7", &bare]).assert_code(0);
    let req = server.request();
    assert!(req.starts_with("GET / HTTP/1.0\r\n"), "{req}");
    assert!(req.contains("\r\nUser-Agent: lab/1\r\n"), "{req}");
    assert!(req.contains("\r\nX-Lab: 7\r\n"), "{req}");

    // Credentials in the URL become Basic auth and never reach the Host header.
    get(&[&format!("http://Aladdin:open%20sesame@127.0.0.1:{port}/")]).assert_code(0);
    let req = server.request();
    assert!(
        req.contains("\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
        "{req}"
    );
    assert!(
        req.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
        "{req}"
    );
}

#[test]
fn http_get_speaks_to_an_ipv6_literal() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        skip("no IPv6 loopback");
        return;
    };
    let server = Scripted::start_on(listener, vec![reply(ok_response("six"))]);
    let port = server.addr.port();
    let done = get(&[&format!("[::1]:{port}/v6")]);
    done.assert_code(0);
    assert_eq!(done.out(), "six");
    let req = server.request();
    assert!(req.starts_with("GET /v6 HTTP/1.1\r\n"), "{req}");
    assert!(
        req.contains(&format!("\r\nHost: [::1]:{port}\r\n")),
        "{req}"
    );
}

#[test]
fn http_get_posts_forms_and_json_with_their_length() {
    let server = Scripted::start(vec![
        reply(ok_response("form")),
        reply(ok_response("{\"ok\":true}")),
        reply(ok_response("put")),
    ]);
    get(&["-d", "name=pi&led=on", &server.url("/form")]).assert_code(0);
    let req = server.request();
    assert!(req.starts_with("POST /form HTTP/1.1\r\n"), "{req}");
    assert!(
        req.contains("\r\nContent-Type: application/x-www-form-urlencoded\r\n"),
        "{req}"
    );
    assert!(req.contains("\r\nContent-Length: 14\r\n"), "{req}");
    assert!(req.ends_with("\r\n\r\nname=pi&led=on"), "{req}");

    let json = r#"{"text":"build passed"}"#;
    let done = get(&["--json", json, &server.url("/hook")]);
    done.assert_code(0);
    assert_eq!(done.out(), "{\"ok\":true}");
    let req = server.request();
    assert!(req.starts_with("POST /hook HTTP/1.1\r\n"), "{req}");
    assert!(
        req.contains("\r\nContent-Type: application/json\r\n"),
        "{req}"
    );
    assert!(req.contains("\r\nAccept: application/json\r\n"), "{req}");
    assert!(!req.contains("*/*"), "{req}");
    assert!(
        req.contains(&format!("\r\nContent-Length: {}\r\n", json.len())),
        "{req}"
    );
    assert!(req.ends_with(&format!("\r\n\r\n{json}")), "{req}");

    let dir = tempdir();
    write_file(dir.path(), "body.txt", b"line one\nline two\n");
    get_in(
        dir.path(),
        &["-X", "PUT", "-d", "@body.txt", &server.url("/f")],
    )
    .assert_code(0);
    let req = server.request();
    assert!(req.starts_with("PUT /f HTTP/1.1\r\n"), "{req}");
    assert!(req.ends_with("\r\n\r\nline oneline two"), "{req}");
}

#[test]
fn http_get_decodes_chunked_bodies_with_extensions_and_trailers() {
    let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                5;name=value\r\nhello\r\n7;x\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n";
    let server = Scripted::start(vec![reply(wire), trickle(wire, 3), reply(wire)]);
    let done = get(&[&server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "hello, world");
    let done = get(&[&server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "hello, world", "the same, three bytes per read");
    let done = get(&["--raw", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), wire, "--raw is the bytes off the socket");
}

#[test]
fn http_get_delivers_large_and_small_pieces_of_a_body_in_order() {
    // Large chunks go out straight from the read buffer, small ones are gathered first: the
    // two must interleave in order, whether the head shares a read with the body or not.
    let data = pattern(300_000, 21);
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut at = 0;
    for len in [70_000, 3, 20_000, 1, 50_000, 17, 159_979] {
        wire.extend_from_slice(format!("{len:x}\r\n").as_bytes());
        wire.extend_from_slice(&data[at..at + len]);
        wire.extend_from_slice(b"\r\n");
        at += len;
    }
    assert_eq!(at, data.len());
    wire.extend_from_slice(b"0\r\n\r\n");
    let mut framed =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).into_bytes();
    framed.extend_from_slice(&data);
    let server = Scripted::start(vec![
        reply(wire.clone()),
        trickle(wire.clone(), 30_000),
        reply(framed.clone()),
        trickle(wire.clone(), 65_536),
    ]);
    let dir = tempdir();
    let out = dir.path().join("out");
    let out_arg = out.to_str().unwrap();
    for (args, want, what) in [
        (vec!["-o", out_arg], &data, "chunked, in one write"),
        (
            vec!["-o", out_arg],
            &data,
            "chunked, 30,000 bytes per write",
        ),
        (vec!["-i", "-o", out_arg], &framed, "-i: head and body"),
        (vec!["--raw", "-o", out_arg], &wire, "--raw"),
    ] {
        let mut args = args.clone();
        let url = server.url("/");
        args.push(&url);
        get(&args).assert_code(0);
        let got = std::fs::read(&out).unwrap();
        assert!(
            got == *want,
            "{what}: {} bytes, {} wanted",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn http_get_hands_over_what_came_when_a_fast_download_slows_down() {
    // 32 MiB as fast as the socket takes them: a fast download, so the socket only wakes us
    // once 256 KiB wait. Once they are all in the client's output, 1000 bytes, and the
    // server waits until those are in the output too before it sends the rest: they must
    // come out without waiting for the 256 KiB (within the low-water mark's patience).
    const FAST: usize = 32 << 20;
    let data = pattern(FAST + (1 << 20), 33);
    let (go, gate) = mpsc::channel::<()>();
    let body = data.clone();
    let server = Scripted::start(vec![Box::new(move |mut s: TcpStream| {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let first = FAST + 1000;
        let _ = s
            .write_all(head.as_bytes())
            .and_then(|()| s.write_all(&body[..FAST]));
        for part in [&body[FAST..first], &body[first..]] {
            if gate.recv_timeout(PATIENCE).is_err() || s.write_all(part).is_err() {
                return;
            }
        }
    })]);
    let dir = tempdir();
    let out = dir.path().join("out");
    let mut client = Proc::spawn_io(
        nicksock(&["http-get", &server.url("/")]),
        Stdio::null(),
        Stdio::from(fs::File::create(&out).unwrap()),
    );
    for (len, what) in [
        (FAST, "the fast part in the output"),
        (FAST + 1000, "the 1000 bytes after it in the output"),
    ] {
        wait_until(what, || {
            fs::metadata(&out).is_ok_and(|m| m.len() == len as u64)
        });
        go.send(()).unwrap();
    }
    client.wait().assert_code(0);
    assert!(fs::read(&out).unwrap() == data, "the whole body, in order");
}

#[test]
fn http_get_reads_split_slow_and_close_delimited_responses() {
    let body =
        String::from_utf8(pattern(3000, 7).iter().map(|b| b'a' + b % 26).collect()).expect("ascii");
    let framed = ok_response(&body);
    let close_delimited = format!("HTTP/1.0 200 OK\r\nServer: lab\r\n\r\n{body}");
    let server = Scripted::start(vec![
        trickle(framed.clone(), 7),
        trickle(close_delimited.clone(), 500),
        trickle(framed.clone(), 1000),
    ]);
    let done = get(&[&server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), body);
    let done = get(&[&server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), body, "a body that runs to the close");
    let done = get(&["-i", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), framed, "-i: head and body, exactly");
}

#[test]
fn http_get_expects_no_body_for_head_204_304_and_skips_100() {
    let server = Scripted::start(vec![
        // The head promises 1000 bytes, but a HEAD response has none: no waiting for them.
        Box::new(|mut s: TcpStream| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            stall()(s);
        }),
        Box::new(|mut s: TcpStream| {
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
            stall()(s);
        }),
        Box::new(|mut s: TcpStream| {
            let _ = s.write_all(b"HTTP/1.1 304 Not Modified\r\n\r\n");
            stall()(s);
        }),
        reply(format!(
            "HTTP/1.1 100 Continue\r\n\r\n{}",
            ok_response("after continue")
        )),
        reply(format!("HTTP/1.1 100 Continue\r\n\r\n{}", ok_response("x"))),
    ]);
    let done = get(&["-I", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(
        done.out(),
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    );
    assert!(server.request().starts_with("HEAD / HTTP/1.1\r\n"));
    for _ in 0..2 {
        let done = get(&["-w", "%{http_code}", &server.url("/")]);
        done.assert_code(0);
        assert!(
            matches!(done.out().as_str(), "204" | "304"),
            "{}",
            done.out()
        );
    }
    let done = get(&[&server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "after continue");
    let done = get(&["-i", &server.url("/")]);
    done.assert_code(0);
    assert!(
        done.out().starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        done.out()
    );
}

#[test]
fn http_get_follows_redirects_as_curl_does() {
    let server = Scripted::start(vec![
        reply(redirect("302 Found", "next?x=1")),
        reply(ok_response("arrived")),
        // A POST through 303 becomes a GET without a body…
        reply(redirect("303 See Other", "/result")),
        reply(ok_response("seen")),
        // …and through 307 stays a POST with its body.
        reply(redirect("307 Temporary Redirect", "/again")),
        reply(ok_response("kept")),
    ]);
    let done = get(&[
        "-L",
        "-w",
        "\n%{url_effective} %{num_redirects}",
        &server.url("/dir/start"),
    ]);
    done.assert_code(0);
    assert_eq!(
        done.out(),
        format!("arrived\n{} 1", server.url("/dir/next?x=1"))
    );
    server.request();
    assert!(
        server
            .request()
            .starts_with("GET /dir/next?x=1 HTTP/1.1\r\n")
    );

    get(&["-L", "-d", "a=1", &server.url("/form")]).assert_code(0);
    assert!(server.request().starts_with("POST /form "));
    let req = server.request();
    assert!(req.starts_with("GET /result HTTP/1.1\r\n"), "{req}");
    assert!(!req.contains("Content-Length"), "{req}");

    get(&["-L", "-d", "a=1", &server.url("/form")]).assert_code(0);
    server.request();
    let req = server.request();
    assert!(req.starts_with("POST /again HTTP/1.1\r\n"), "{req}");
    assert!(req.ends_with("\r\n\r\na=1"), "{req}");
}

#[test]
fn http_get_stops_redirect_loops_and_shows_redirects_without_l() {
    let looping = || reply(redirect("301 Moved Permanently", "/loop"));
    let server = Scripted::start(vec![looping(), looping(), looping(), looping(), looping()]);
    let done = get(&["-L", "--max-redirs", "3", &server.url("/loop")]);
    done.assert_code(7);
    assert!(
        done.stderr.contains("too many redirects"),
        "{}",
        done.stderr
    );
    assert!(done.out().is_empty());
    for _ in 0..4 {
        server.request();
    }
    assert!(
        server.no_more_requests(),
        "three redirects followed, no more"
    );

    let done = get(&["-w", " %{http_code}", &server.url("/loop")]);
    done.assert_code(0);
    assert_eq!(
        done.out(),
        "moved 301",
        "without -L the redirect itself is the answer"
    );
}

#[test]
fn http_get_fail_on_404_prints_nothing_and_fail_with_body_prints_it() {
    let not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno such x";
    let server = Scripted::start(vec![reply(not_found), reply(not_found), reply(not_found)]);
    let done = get(&["-f", &server.url("/x")]);
    done.assert_code(7);
    assert!(done.stdout.is_empty());
    assert!(done.stderr.contains("404 Not Found"), "{}", done.stderr);
    let done = get(&["--fail-with-body", &server.url("/x")]);
    done.assert_code(7);
    assert_eq!(done.out(), "no such x");
    let done = get(&[&server.url("/x")]);
    done.assert_code(0);
    assert_eq!(
        done.out(),
        "no such x",
        "without -f a 404 is an answer like another"
    );
}

#[test]
fn http_get_reset_mid_body_fails_and_leaves_no_file() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
    let mut partial = head.as_bytes().to_vec();
    partial.extend(pattern(20_000, 3));
    let server = Scripted::start(vec![
        reset_after(partial.clone()),
        reset_after(partial.clone()),
        // Short: the server closes (no reset) before the announced length.
        reply(partial.clone()),
    ]);
    let done = get(&[&server.url("/big")]);
    done.assert_code(1);
    assert!(
        done.stderr.contains("reset") || done.stderr.contains("closed"),
        "{}",
        done.stderr
    );

    let dir = tempdir();
    let target = dir.path().join("big.bin");
    fs::write(&target, b"old copy").expect("old file");
    let done = get(&["-o", target.to_str().expect("path"), &server.url("/big")]);
    done.assert_code(1);
    assert_eq!(
        fs::read(&target).expect("old file"),
        b"old copy",
        "a failed download does not touch the file at -o"
    );
    assert_eq!(files_in(dir.path()), ["big.bin"], "no temporary file left");

    let fresh = dir.path().join("short.bin");
    let done = get(&["-o", fresh.to_str().expect("path"), &server.url("/big")]);
    done.assert_code(1);
    assert!(
        done.stderr.contains("after 20000 of 100000 body bytes"),
        "{}",
        done.stderr
    );
    assert!(!fresh.exists(), "no file at -o after a short body");
    assert_eq!(files_in(dir.path()), ["big.bin"]);
}

#[test]
fn http_get_rejects_a_reply_that_is_not_http() {
    let server = Scripted::start(vec![reply("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")]);
    let done = get(&[&server.url("/")]);
    done.assert_code(1);
    assert!(done.stdout.is_empty(), "no garbage on stdout");
    assert!(
        done.stderr.contains("not an HTTP response"),
        "{}",
        done.stderr
    );
}

#[test]
fn http_get_writes_files_with_o_and_remote_name() {
    let server = Scripted::start(vec![
        reply(ok_response("file body")),
        reply(ok_response("b")),
    ]);
    let dir = tempdir();
    let done = get_in(dir.path(), &["-O", &server.url("/files/report.txt?v=2")]);
    done.assert_code(0);
    assert!(done.stdout.is_empty(), "the body went to the file");
    assert!(
        done.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        done.stderr
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("report.txt")).expect("file"),
        "file body"
    );
    let done = get_in(dir.path(), &["-o", "out/b.txt", &server.url("/b")]);
    done.assert_code(10);
    assert!(done.stderr.contains("out/b.txt"), "{}", done.stderr);

    let done = get_in(dir.path(), &["-O", &server.url("/")]);
    done.assert_code(10);
    assert!(done.stderr.contains("-O"), "{}", done.stderr);
    assert_eq!(files_in(dir.path()), ["report.txt"]);
}

#[test]
fn http_get_write_out_says_000_when_refused() {
    let (_held, port) = refusing_port();
    let done = get(&["-w", "%{http_code}", &format!("http://127.0.0.1:{port}/")]);
    done.assert_code(4);
    assert_eq!(done.out(), "000");
    assert!(
        done.stderr.contains("connection refused"),
        "{}",
        done.stderr
    );
}

#[test]
fn http_get_max_time_ends_a_stalled_transfer() {
    let server = Scripted::start(vec![stall()]);
    let started = Instant::now();
    let done = get(&["-m", "0.5", &server.url("/")]);
    done.assert_code(5);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(done.stderr.contains("--max-time"), "{}", done.stderr);
}

#[test]
fn http_get_bad_input_is_one_line_and_a_usage_error() {
    for args in [
        &["http://exa mple.org/"][..],
        &["-H", "no colon", "http://127.0.0.1:9/"],
        &["-w", "%{bogus}", "http://127.0.0.1:9/"],
        &["ftp://127.0.0.1/f"],
    ] {
        let done = get(args);
        done.assert_code(2);
    }
    let done = get(&["-d", "@/nonexistent/body.json", "http://127.0.0.1:9/"]);
    done.assert_code(10);
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(
        done.stderr.starts_with("nicksock: error: "),
        "{}",
        done.stderr
    );
}

/// A real nginx in a temporary directory, serving `root` over HTTP and HTTPS on loopback,
/// killed when the test lets go of it.
pub struct Nginx {
    child: std::process::Child,
    pub http: u16,
    pub https: u16,
    /// The relays that hold `http` and `https` in front of nginx's Unix sockets.
    _relays: Vec<Proc>,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx, or None (SKIP) where it is not installed.
    pub fn start() -> Option<Nginx> {
        Self::start_with("")
    }

    /// Starts nginx with `extra` in its server block (`{d}` in it is nginx's directory);
    /// None (SKIP) where nginx is not installed.
    pub fn start_with(extra: &str) -> Option<Nginx> {
        if !have("nginx") {
            return None;
        }
        let dir = tempdir();
        let root = dir.path().join("www");
        let certs = dir.path().join("certs");
        fs::create_dir_all(&root).expect("www");
        fs::create_dir_all(&certs).expect("certs");
        let made = nicksock(&[
            "gen-cert",
            "127.0.0.1",
            "localhost",
            "--out",
            certs.to_str().expect("path"),
        ])
        .output()
        .expect("gen-cert");
        assert!(made.status.success(), "gen-cert: {made:?}");
        let d = dir.path().display().to_string();
        // nginx listens on Unix sockets in its directory, and a `nicksock relay` for each
        // holds a TCP port of 127.0.0.1 in front of it, from an ephemeral bind on: no port
        // is chosen while free and bound later. (Its redirects are relative: behind a Unix
        // socket it knows no port to put in them.)
        let (http_sock, https_sock) = (format!("{d}/http.sock"), format!("{d}/https.sock"));
        let pid_file = dir.path().join("nginx.pid");
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  log_format conn '$connection $status $request_uri';\n\
               access_log {d}/access.log conn;\n  client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               default_type application/octet-stream;\n  sendfile on;\n\
               server {{\n    listen unix:{http_sock};\n    listen unix:{https_sock} ssl;\n\
                 ssl_certificate {d}/certs/cert.pem;\n\
                 ssl_certificate_key {d}/certs/cert-key.pem;\n\
                 ssl_protocols TLSv1.3;\n    root {d}/www;\n\
                 absolute_redirect off;\n\
                 location = /old {{ return 301 /small.txt; }}\n{extra}\n  }}\n}}\n",
            extra = extra.replace("{d}", &d),
        );
        let conf_path = write_file(dir.path(), "nginx.conf", conf.as_bytes());
        let child = Command::new("nginx")
            .args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c"])
            .arg(&conf_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut server = Nginx {
            child,
            http: 0,
            https: 0,
            _relays: Vec::new(),
            dir,
        };
        // nginx writes its pid file once its sockets listen.
        wait_until("nginx to listen (its pid file)", || {
            let exited = server.child.try_wait().expect("nginx status").is_some();
            assert!(!exited, "nginx did not come up: {}", server.error_log());
            pid_file.exists()
        });
        let mut relay = |sock: &str| {
            let mut relay = Proc::spawn(nicksock(&["relay", "127.0.0.1", "0", "--to-unix", sock]));
            let port = relay.wait_ready(1)[0].port();
            server._relays.push(relay);
            port
        };
        (server.http, server.https) = (relay(&http_sock), relay(&https_sock));
        Some(server)
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    pub fn cert(&self) -> String {
        self.dir.path().join("certs/cert.pem").display().to_string()
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    pub fn https(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https)
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The access log so far: nginx's connection serial number, the status and the URI of
    /// every request, in order.
    pub fn requests(&self) -> Vec<(u64, u16, String)> {
        fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut f = l.splitn(3, ' ');
                let mut next = || f.next().expect("log field");
                let connection = next().parse().expect("connection number");
                let status = next().parse().expect("status");
                (connection, status, next().to_string())
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BIG_FILE_LEN: usize = 32 * 1024 * 1024;

#[test]
fn http_get_downloads_32_mib_from_nginx_over_http_and_https_intact() {
    let Some(nginx) = Nginx::start() else { return };
    let data = pattern(BIG_FILE_LEN, 42);
    write_file(&nginx.root(), "big.bin", &data);
    write_file(&nginx.root(), "small.txt", b"small\n");
    let out = tempdir();

    let file = out.path().join("http.bin");
    let done = get(&["-o", file.to_str().expect("path"), &nginx.http("/big.bin")]);
    done.assert_code(0);
    assert!(
        fs::read(&file).expect("download") == data,
        "HTTP copy differs"
    );

    let done = get(&[
        "--cacert",
        &nginx.cert(),
        "-w",
        "%{size_download}",
        "-o",
        "-",
        &nginx.https("/big.bin"),
    ]);
    done.assert_code(0);
    let (body, size) = done.stdout.split_at(BIG_FILE_LEN);
    assert!(body == data.as_slice(), "HTTPS copy differs");
    assert_eq!(size, BIG_FILE_LEN.to_string().as_bytes());

    // With stderr on a terminal (script(1) gives it one), a download to a file draws a bar
    // there, stdout stays empty, and -s silences the bar.
    if have("script") {
        for silent in [false, true] {
            let file = out.path().join(format!("tty-{silent}.bin"));
            let stdout = out.path().join(format!("stdout-{silent}.txt"));
            let command = format!(
                "{} http-get {} -o '{}' '{}' > '{}'",
                bin_shell(),
                if silent { "-s" } else { "" },
                file.display(),
                nginx.http("/big.bin"),
                stdout.display()
            );
            let terminal = Command::new("script")
                .args(["-qec", &command, "/dev/null"])
                .output()
                .expect("script");
            assert!(terminal.status.success(), "{terminal:?}");
            let terminal = String::from_utf8_lossy(&terminal.stdout);
            assert_eq!(terminal.contains("ETA"), !silent, "{terminal}");
            assert!(fs::read(&stdout).expect("stdout file").is_empty());
            assert!(fs::read(&file).expect("download") == data, "copy differs");
        }
    }

    // A real server's redirect and 404.
    let done = get(&["-L", &nginx.http("/old")]);
    done.assert_code(0);
    assert_eq!(done.out(), "small\n");
    let done = get(&["-f", "-w", "%{http_code}", &nginx.http("/missing")]);
    done.assert_code(7);
    assert_eq!(done.out(), "404");
}

#[test]
fn http_get_https_trusts_only_what_it_is_told_to() {
    let Some(nginx) = Nginx::start() else { return };
    write_file(&nginx.root(), "small.txt", b"small\n");
    let url = nginx.https("/small.txt");

    let done = get(&[&url]);
    done.assert_code(6);
    assert!(done.stdout.is_empty());
    assert!(
        done.stderr.contains("not trusted (unknown issuer)"),
        "the message names the reason: {}",
        done.stderr
    );
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);

    let done = get(&["--cacert", &nginx.cert(), &url]);
    done.assert_code(0);
    assert_eq!(done.out(), "small\n");
    assert!(done.stderr.is_empty(), "{}", done.stderr);

    let localhost = format!("https://localhost:{}/small.txt", nginx.https);
    let done = get(&["-4", "--cacert", &nginx.cert(), &localhost]);
    done.assert_code(0);
    assert_eq!(done.out(), "small\n", "SNI and verification by name");

    let done = get(&["-k", &url]);
    done.assert_code(0);
    assert_eq!(done.out(), "small\n");
    assert!(
        done.stderr.contains("warning: --insecure"),
        "{}",
        done.stderr
    );
}

#[test]
fn http_get_resolve_pins_a_made_up_name_to_loopback_without_looking_it_up() {
    let server = Scripted::start(vec![
        reply(ok_response("pinned")),
        reply(redirect("302 Found", "/next")),
        reply(ok_response("followed")),
    ]);
    let port = server.addr.port();
    // `.invalid` never resolves (RFC 6761); the pin makes the lookup unnecessary, and -v
    // shows the pinned address and no resolver at work.
    let pin = format!("nicksock-test.invalid:{port}:127.0.0.1");
    let url = format!("http://nicksock-test.invalid:{port}/page");
    let done = get(&["-v", "--resolve", &pin, &url]);
    done.assert_code(0);
    assert_eq!(done.out(), "pinned");
    assert!(
        done.stderr.contains(&format!(
            "* --resolve: nicksock-test.invalid:{port} is 127.0.0.1:{port}"
        )),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("resolved "), "{}", done.stderr);
    // The Host header keeps the name.
    let req = server.request();
    assert!(
        req.contains(&format!("\r\nHost: nicksock-test.invalid:{port}\r\n")),
        "{req}"
    );
    // A redirect on the same host stays pinned (names are case-insensitive).
    let upper = format!("NICKSOCK-TEST.invalid:{port}:[::1],127.0.0.1");
    let done = get(&["-L", "--resolve", &upper, &url]);
    done.assert_code(0);
    assert_eq!(done.out(), "followed");
    server.request();
    assert!(server.request().starts_with("GET /next "));
    // Bad pins are usage errors.
    for bad in ["nohost", "h:0:127.0.0.1", "h:80:not-an-ip", ":80:127.0.0.1"] {
        let done = get(&["--resolve", bad, "http://127.0.0.1:9/"]);
        done.assert_code(2);
        assert!(done.stderr.contains("--resolve"), "{bad}: {}", done.stderr);
    }
}

#[test]
fn http_get_trace_ascii_shows_the_lab_request_with_cr_and_lf() {
    let server = Scripted::start(vec![reply(ok_response("hi")), reply(ok_response("hi"))]);
    let port = server.addr.port();
    let done = get(&["--trace-ascii", "-", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "hi");
    let trace = &done.stderr;
    let sent = server.request().len();
    assert!(
        trace.contains(&format!(
            "=> Send {sent} bytes to 127.0.0.1:{port}, offset 0, at "
        )),
        "{trace}"
    );
    assert!(
        trace.contains("\nGET / HTTP/1.1\\r\\n\nHost: 127.0.0.1:"),
        "{trace}"
    );
    assert!(
        trace.contains("\nConnection: close\\r\\n\n\\r\\n\n"),
        "{trace}"
    );
    assert!(trace.contains("<= Recv "), "{trace}");
    assert!(trace.contains("\nHTTP/1.1 200 OK\\r\\n\n"), "{trace}");
    // The hex view: the same bytes, sixteen to a line, CR and LF shown as symbols.
    let dir = tempdir();
    let file = dir.path().join("trace.txt");
    let done = get(&["--trace", file.to_str().unwrap(), &server.url("/")]);
    done.assert_code(0);
    let hex = fs::read_to_string(&file).expect("the trace file");
    assert!(
        hex.contains(
            "0000: 47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a  GET / HTTP/1.1\u{240d}\u{240a}"
        ),
        "{hex}"
    );
}

/// A 200 head for `body`, with what a server that resumes says (or not).
fn head_200(len: usize, resumable: bool) -> String {
    let ranges = if resumable {
        "Accept-Ranges: bytes\r\nETag: \"v1\"\r\n"
    } else {
        ""
    };
    format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n{ranges}\r\n")
}

/// A 200 response for `body` that stops after 60 % of it; and where it stops.
fn cut_at_60_percent(body: &[u8], resumable: bool) -> (Vec<u8>, usize) {
    let cut = body.len() * 6 / 10;
    let mut response = head_200(body.len(), resumable).into_bytes();
    response.extend_from_slice(&body[..cut]);
    (response, cut)
}

/// The value of a request header (case-insensitive name).
fn request_header(request: &str, name: &str) -> Option<String> {
    request.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

#[test]
fn http_get_retry_for_waits_for_a_port_that_opens_later() {
    let (sock, port) = refusing_port();
    let url = format!("http://127.0.0.1:{port}/");
    let started = Instant::now();
    let mut client = Proc::spawn(nicksock(&[
        "http-get",
        "--retry-for",
        "5",
        "-w",
        "\n%{num_retries}",
        &url,
    ]));
    client.close_stdin();
    // The server comes up once the client has been refused and said it will try again.
    let said = client.wait_line("retry 1 in ");
    assert!(said.contains("connection refused"), "{said}");
    sock.listen(16).expect("listen");
    let listener: TcpListener = sock.into();
    let _server = Scripted::start_on(listener, vec![reply(ok_response("up"))]);
    let done = client.wait();
    done.assert_code(0);
    let out = done.out();
    let (body, retries) = out.rsplit_once('\n').expect("two lines");
    assert_eq!(body, "up");
    assert!(retries.parse::<u32>().expect("a count") >= 1, "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn http_get_retry_honours_retry_after_and_keeps_only_the_final_body() {
    let busy =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy";
    let server = Scripted::start(vec![reply(busy), reply(ok_response("fine"))]);
    let started = Instant::now();
    let done = get(&["--retry", "3", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "fine", "no trace of the 503's body");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as told"
    );
    assert!(
        done.stderr
            .contains("retry 1 in 1.0 s: the server answered 503 Service Unavailable"),
        "{}",
        done.stderr
    );
    server.request();
    server.request();
}

#[test]
fn http_get_retry_leaves_404_and_post_alone() {
    let not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
    let busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
    let server = Scripted::start(vec![
        reply(not_found),
        reply(busy),
        reply(busy),
        reply(ok_response("posted")),
    ]);
    let done = get(&["--retry", "3", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "nope");
    server.request();
    assert!(server.no_more_requests(), "a 404 is not retried");
    // A POST may not be repeated unless asked: the 503 is the answer.
    let done = get(&["--retry", "3", "-f", "-d", "x=1", &server.url("/")]);
    done.assert_code(7);
    server.request();
    assert!(server.no_more_requests(), "a POST is not retried");
    let done = get(&[
        "--retry",
        "3",
        "--retry-all-methods",
        "-s",
        "-d",
        "x=1",
        &server.url("/"),
    ]);
    done.assert_code(0);
    assert_eq!(done.out(), "posted");
}

#[test]
fn http_get_retry_resumes_a_download_cut_at_60_percent_with_range_and_if_range() {
    let body = pattern(200_000, 11);
    let (first, cut) = cut_at_60_percent(&body, true);
    let rest = body.clone();
    // The second connection's answer depends on the Range asked: whatever byte the client
    // asks from is what it gets.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for n in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            s.set_read_timeout(Some(PATIENCE)).expect("timeout");
            let request = String::from_utf8_lossy(&read_request(&mut s)).into_owned();
            let _ = tx.send(request.clone());
            if n == 0 {
                reset_after(first.clone())(s);
                continue;
            }
            let from: usize = request_header(&request, "range")
                .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
                .expect("a Range on the retry");
            let mut answer = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{}\r\n\
                 Content-Length: {}\r\nETag: \"v1\"\r\n\r\n",
                rest.len() - 1,
                rest.len(),
                rest.len() - from
            )
            .into_bytes();
            answer.extend_from_slice(&rest[from..]);
            let _ = s.write_all(&answer);
        }
    });
    let dir = tempdir();
    let file = dir.path().join("big.bin");
    let url = format!("http://{addr}/big.bin");
    let done = get(&["--retry", "2", "-o", file.to_str().unwrap(), &url]);
    done.assert_code(0);
    assert!(
        fs::read(&file).expect("the file") == body,
        "the file is exact"
    );
    let first_request = rx.recv_timeout(PATIENCE).expect("first request");
    assert_eq!(request_header(&first_request, "range"), None);
    let second = rx.recv_timeout(PATIENCE).expect("the retry");
    let from: usize = request_header(&second, "range")
        .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
        .expect("Range");
    assert!(
        from > 0 && from <= cut,
        "resumed at {from} of the {cut} sent"
    );
    assert_eq!(
        request_header(&second, "if-range").as_deref(),
        Some("\"v1\"")
    );
    assert!(
        done.stderr.contains(&format!("resuming at byte {from}")),
        "{}",
        done.stderr
    );
    assert_eq!(files_in(dir.path()), ["big.bin"], "no temporary file left");
}

#[test]
fn http_get_retry_starts_over_when_the_server_cannot_resume() {
    let body = pattern(100_000, 12);
    let (first, _) = cut_at_60_percent(&body, false);
    let mut whole = head_200(body.len(), false).into_bytes();
    whole.extend_from_slice(&body);
    let server = Scripted::start(vec![reset_after(first), reply(whole)]);
    let dir = tempdir();
    let file = dir.path().join("f.bin");
    let done = get(&[
        "--retry",
        "2",
        "-o",
        file.to_str().unwrap(),
        &server.url("/f.bin"),
    ]);
    done.assert_code(0);
    assert!(
        fs::read(&file).expect("the file") == body,
        "the file is exact"
    );
    server.request();
    assert_eq!(
        request_header(&server.request(), "range"),
        None,
        "started over"
    );
    // To stdout, bytes already written cannot be taken back: it fails rather than repeat.
    let (first, _) = cut_at_60_percent(&body, false);
    let server = Scripted::start(vec![reset_after(first)]);
    let done = get(&["--retry", "2", &server.url("/f.bin")]);
    done.assert_code(1);
    assert!(done.stderr.contains("cannot retry"), "{}", done.stderr);
}

#[test]
fn http_get_continue_at_asks_for_what_a_partial_file_lacks() {
    let body = pattern(50_000, 13);
    let have = 20_000;
    let dir = tempdir();
    let file = dir.path().join("part.bin");
    fs::write(&file, &body[..have]).expect("partial file");
    let mut answer = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {have}-{}/{}\r\nContent-Length: {}\r\n\r\n",
        body.len() - 1,
        body.len(),
        body.len() - have
    )
    .into_bytes();
    answer.extend_from_slice(&body[have..]);
    let done_already = format!(
        "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\n\r\n",
        body.len()
    );
    let server = Scripted::start(vec![reply(answer), reply(done_already)]);
    let done = get(&[
        "-C",
        "-",
        "-o",
        file.to_str().unwrap(),
        &server.url("/part.bin"),
    ]);
    done.assert_code(0);
    assert!(
        fs::read(&file).expect("file") == body,
        "the file is whole and exact"
    );
    let request = server.request();
    assert_eq!(
        request_header(&request, "range").as_deref(),
        Some("bytes=20000-")
    );
    assert_eq!(request_header(&request, "if-range"), None);
    // Run again on the whole file: the server says there is nothing left, and it stays.
    let done = get(&[
        "-C",
        "-",
        "-o",
        file.to_str().unwrap(),
        &server.url("/part.bin"),
    ]);
    done.assert_code(0);
    assert!(fs::read(&file).expect("file") == body);
    // -C takes only '-', and only with a file.
    get(&["-C", "100", "-o", file.to_str().unwrap(), &server.url("/")]).assert_code(2);
    get(&["-C", "-", &server.url("/")]).assert_code(2);
}

/// `Basic` and base64 of `user:password`, as the server sees it.
fn basic(user_password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

#[test]
fn http_get_user_authenticates_to_nginx_and_serve_gpio() {
    // nginx's auth_basic, its password file in the {PLAIN} scheme.
    let pw = tempdir();
    let htpasswd = write_file(pw.path(), "htpasswd", b"alice:{PLAIN}s3cret\n");
    let extra = format!(
        "location /private/ {{ auth_basic \"lab\"; auth_basic_user_file {}; }}",
        htpasswd.display()
    );
    let Some(nginx) = Nginx::start_with(&extra) else {
        return;
    };
    fs::create_dir_all(nginx.root().join("private")).expect("mkdir");
    fs::write(nginx.root().join("private/note.txt"), "for alice\n").expect("write");
    let url = nginx.http("/private/note.txt");
    get(&["-f", &url]).assert_code(7);
    get(&["-f", "-u", "alice:wrong", &url]).assert_code(7);
    let ok = get(&["-f", "-u", "alice:s3cret", &url]);
    ok.assert_code(0);
    assert_eq!(ok.out(), "for alice\n");
    let ok = get(&[
        "-f",
        "--cacert",
        &nginx.cert(),
        "--user",
        "alice:s3cret",
        &nginx.https("/private/note.txt"),
    ]);
    ok.assert_code(0);
    assert_eq!(ok.out(), "for alice\n");
    // The URL's user:password@ is the same credentials.
    let in_url = format!(
        "http://alice:s3cret@127.0.0.1:{}/private/note.txt",
        nginx.http
    );
    get(&["-f", &in_url]).assert_code(0);

    // Neither the password nor its base64 shows: not in -v, not in an error, not in -w.
    let token = basic("alice:s3cret");
    let token = token.trim_start_matches("Basic ");
    for args in [
        vec![
            "-v",
            "-f",
            "-u",
            "alice:s3cret",
            "-w",
            "%{url_effective}",
            &url,
        ],
        vec!["-v", "-f", "-w", "%{url_effective}", &in_url],
        vec![
            "-v",
            "-f",
            "-u",
            "alice:s3cret",
            &nginx.http("/private/missing"),
        ],
        vec!["--trace-ascii", "-", "-u", "alice:s3cret", &url],
    ] {
        let done = get(&args);
        let all = format!("{}{}", done.out(), done.stderr);
        assert!(all.contains("Authorization: Basic"), "{args:?}: {all}");
        assert!(
            !all.contains("s3cret") && !all.contains(token),
            "{args:?} shows the password: {all}"
        );
    }

    // serve-gpio --auth: the API answers the right user only.
    let s = crate::serve_gpio::Served::start(&["--pin", "13", "--auth", "pi:pw"]);
    get(&["-f", &s.url("/api/pins")]).assert_code(7);
    let pins = get(&["-f", "-u", "pi:pw", &s.url("/api/pins")]);
    pins.assert_code(0);
    assert!(pins.out().contains("\"pin\":13"), "{}", pins.out());
}

#[test]
fn http_get_user_credentials_stay_with_their_host_across_redirects() {
    // Another host: `localhost` rather than 127.0.0.1 (a name from /etc/hosts, on loopback).
    let other = Scripted::start(vec![reply(ok_response("elsewhere\n"))]);
    let other_url = format!("http://localhost:{}/there", other.addr.port());
    let origin = Scripted::start(vec![
        reply(redirect("302 Found", "/here")),
        reply(redirect("302 Found", &other_url)),
    ]);
    let done = get(&["-L", "-u", "alice:s3cret", &origin.url("/start")]);
    done.assert_code(0);
    assert_eq!(done.out(), "elsewhere\n");
    let auth = basic("alice:s3cret");
    let first = origin.request();
    assert_eq!(
        request_header(&first, "authorization").as_deref(),
        Some(auth.as_str())
    );
    // The same origin after the first redirect: still sent.
    let second = origin.request();
    assert!(second.starts_with("GET /here "), "{second}");
    assert_eq!(
        request_header(&second, "authorization").as_deref(),
        Some(auth.as_str())
    );
    // Another host: never.
    let third = other.request();
    assert_eq!(request_header(&third, "authorization"), None, "{third}");

    // The same host on another port is another origin: not sent either.
    let other_port = Scripted::start(vec![reply(ok_response("next door\n"))]);
    let origin = Scripted::start(vec![reply(redirect("302 Found", &other_port.url("/")))]);
    get(&["-L", "-u", "alice:s3cret", &origin.url("/")]).assert_code(0);
    let _ = origin.request();
    let next = other_port.request();
    assert_eq!(request_header(&next, "authorization"), None, "{next}");

    // --location-trusted: sent there too.
    let other = Scripted::start(vec![reply(ok_response("elsewhere\n"))]);
    let other_url = format!("http://localhost:{}/there", other.addr.port());
    let origin = Scripted::start(vec![reply(redirect("301 Moved Permanently", &other_url))]);
    get(&[
        "-L",
        "--location-trusted",
        "-u",
        "alice:s3cret",
        &origin.url("/"),
    ])
    .assert_code(0);
    let _ = origin.request();
    let third = other.request();
    assert_eq!(
        request_header(&third, "authorization").as_deref(),
        Some(auth.as_str())
    );
}

#[test]
fn http_get_user_without_password_asks_the_terminal_and_refuses_without_one() {
    if !have("setsid") {
        return;
    }
    // No terminal (a script, CI): a usage error naming the way out, nothing sent.
    let server = Scripted::start(vec![reply(ok_response("x"))]);
    let mut cmd = Command::new("setsid");
    cmd.args(bin_argv())
        .args(["http-get", "-u", "bob", &server.url("/")]);
    clean_env(&mut cmd);
    let mut p = Proc::spawn(cmd);
    p.close_stdin();
    let done = p.wait();
    done.assert_code(2);
    assert!(done.stderr.contains("-u bob:PASSWORD"), "{}", done.stderr);
    assert!(server.no_more_requests());

    // On a terminal (util::pty, made nicksock's controlling terminal by `setsid -c`): the
    // prompt, the password typed unechoed once it is asked for, then the request with it.
    let server = Scripted::start(vec![reply(ok_response("welcome\n"))]);
    let (follower, leader) = pty();
    let mut cmd = Command::new("setsid");
    cmd.arg("-c")
        .args(bin_argv())
        .args(["http-get", "-u", "bob", &server.url("/")]);
    clean_env(&mut cmd);
    let mut p = Proc::spawn_io(
        cmd,
        follower.try_clone().expect("dup").into(),
        Stdio::piped(),
    );
    let mut screen_out = std::fs::File::from(leader);
    let mut typing = screen_out.try_clone().expect("dup");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = screen_out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Vec::new();
    let prompt = b"Enter host password for user 'bob': ";
    while !screen.windows(prompt.len()).any(|w| w == prompt) {
        screen.extend(rx.recv_timeout(PATIENCE).expect("the password prompt"));
    }
    // Typed once the terminal stops echoing, as a person types after the prompt.
    wait_until("the terminal to stop echoing", || {
        rustix::termios::tcgetattr(&follower)
            .is_ok_and(|t| !t.local_modes.contains(rustix::termios::LocalModes::ECHO))
    });
    typing.write_all(b"tty-pw\n").expect("type");
    let done = p.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "welcome\n");
    // With the last follower closed, the leader reads the rest and then fails: the
    // reader ends, and so does this loop.
    drop(follower);
    while let Ok(more) = rx.recv_timeout(PATIENCE) {
        screen.extend(more);
    }
    let screen = String::from_utf8_lossy(&screen);
    assert!(
        !screen.contains("tty-pw"),
        "the password was echoed: {screen}"
    );
    let request = server.request();
    assert_eq!(
        request_header(&request, "authorization"),
        Some(basic("bob:tty-pw"))
    );
}

/// A server of encoded bodies: Python's http.server with Debian's brotli and zstandard
/// modules (/usr/bin/python3, where Debian's python3-* packages are), serving the file
/// `data` as `/br`, `/zstd`, `/deflate` (zlib), `/raw-deflate`, and a gzip stream with one
/// byte flipped as `/corrupt`; killed when the test lets go of it.
struct EncodingServer {
    _proc: Proc,
    port: u16,
}

const ENCODING_SERVER: &str = r#"
import sys, http.server, gzip, zlib, brotli, zstandard
data = open(sys.argv[1], 'rb').read()
corrupt = bytearray(gzip.compress(data))
corrupt[len(corrupt) // 2] ^= 0x55
raw = zlib.compressobj(6, zlib.DEFLATED, -15)
bodies = {
    '/br': ('br', brotli.compress(data)),
    '/zstd': ('zstd', zstandard.ZstdCompressor().compress(data)),
    '/deflate': ('deflate', zlib.compress(data)),
    '/raw-deflate': ('deflate', raw.compress(data) + raw.flush()),
    '/corrupt': ('gzip', bytes(corrupt)),
}
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        encoding, body = bodies[self.path]
        self.send_response(200)
        self.send_header('Content-Encoding', encoding)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print('listening on', server.server_address[1], file=sys.stderr, flush=True)
server.serve_forever()
"#;

impl EncodingServer {
    fn start(data: &Path) -> Option<EncodingServer> {
        let python = "/usr/bin/python3";
        let ok = Command::new(python)
            .args(["-c", "import brotli, zstandard"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            skip("/usr/bin/python3 with python3-brotli and python3-zstandard is not installed");
            return None;
        }
        let mut cmd = Command::new(python);
        cmd.args(["-c", ENCODING_SERVER]).arg(data);
        let mut proc = Proc::spawn(cmd);
        let line = proc.wait_line("listening on");
        let port = line.rsplit(' ').next().unwrap().parse().expect("port");
        Some(EncodingServer { _proc: proc, port })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// The gzip of `data` (flate2, as a build step would make a .gz beside a file).
fn gzipped(data: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// What `--compressed` asks for: gzip and deflate, and br and zstd when built in (the cargo
/// features `brotli` and `zstd`, on by default; the ARM packages leave them out).
fn accept_encoding() -> &'static str {
    match (cfg!(feature = "brotli"), cfg!(feature = "zstd")) {
        (true, true) => "gzip, deflate, br, zstd",
        (true, false) => "gzip, deflate, br",
        (false, true) => "gzip, deflate, zstd",
        (false, false) => "gzip, deflate",
    }
}

#[test]
fn http_get_compressed_decodes_gzip_deflate_br_and_zstd_from_real_servers() {
    // Text-like data that compresses, 3 MiB.
    let data: Vec<u8> = (0..3 << 20)
        .map(|i: u32| b"nicksock decodes every byte "[(i % 28) as usize] ^ ((i / 4099) as u8 & 1))
        .collect();
    let extra = "location /gz/ { gzip on; gzip_types *; gzip_min_length 0; }\n\
                 location /static/ { gzip_static on; }";
    let Some(nginx) = Nginx::start_with(extra) else {
        return;
    };
    for dir in ["gz", "static"] {
        fs::create_dir_all(nginx.root().join(dir)).expect("mkdir");
    }
    fs::write(nginx.root().join("gz/data.txt"), &data).expect("write");
    // gzip_static: the precompressed file beside the original is what nginx sends.
    fs::write(nginx.root().join("static/page.txt"), &data).expect("write");
    fs::write(nginx.root().join("static/page.txt.gz"), gzipped(&data)).expect("write");
    let dir = tempdir();
    for (what, url) in [
        ("nginx gzip on, HTTP", nginx.http("/gz/data.txt")),
        ("nginx gzip_static", nginx.http("/static/page.txt")),
    ] {
        let file = dir.path().join("out");
        let done = get(&["--compressed", "-v", "-o", file.to_str().unwrap(), &url]);
        done.assert_code(0);
        assert!(
            done.stderr.contains("< Content-Encoding: gzip"),
            "{what}: not gzip: {}",
            done.stderr
        );
        assert!(
            done.stderr
                .contains(&format!("> Accept-Encoding: {}\n", accept_encoding())),
            "{what}"
        );
        assert!(
            fs::read(&file).expect("out") == data,
            "{what}: decoded body differs"
        );
    }
    // Over HTTPS, to stdout.
    let done = get(&[
        "--compressed",
        "--cacert",
        &nginx.cert(),
        &nginx.https("/gz/data.txt"),
    ]);
    done.assert_code(0);
    assert!(done.stdout == data, "HTTPS gzip decoded body differs");
    // -i shows the head as received (Content-Encoding and all), then the decoded body.
    let done = get(&["--compressed", "-i", &nginx.http("/gz/data.txt")]);
    done.assert_code(0);
    let out = done.stdout;
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    assert!(String::from_utf8_lossy(&out[..head_end]).contains("Content-Encoding: gzip"));
    assert!(out[head_end..] == data[..], "-i: decoded body differs");

    // br, zstd and both kinds of deflate from Python with Debian's modules.
    let src = write_file(dir.path(), "data.txt", &data);
    let Some(py) = EncodingServer::start(&src) else {
        return;
    };
    for path in ["/br", "/zstd", "/deflate", "/raw-deflate"] {
        let done = get(&["--compressed", &py.url(path)]);
        let encoding = &path[1..];
        if encoding.contains("deflate") || accept_encoding().contains(encoding) {
            done.assert_code(0);
            assert!(done.stdout == data, "{path}: decoded body differs");
        } else {
            // Left out of this build (cargo features): a clear error, no garbage out.
            done.assert_code(1);
            assert!(
                done.stderr
                    .contains(&format!("Content-Encoding is '{encoding}'")),
                "{}",
                done.stderr
            );
            assert!(done.stdout.is_empty(), "{path}: encoded bytes written");
        }
    }
    // A body cut off mid-stream (the server closes early, no Content-Length): exit 1.
    let gz = gzipped(&data);
    let cut = Scripted::start(vec![Box::new(move |mut s: TcpStream| {
        let head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n";
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&gz[..gz.len() / 2]);
    })]);
    let file = dir.path().join("cut.txt");
    let done = get(&["--compressed", "-o", file.to_str().unwrap(), &cut.url("/")]);
    done.assert_code(1);
    assert!(done.stderr.contains("gzip"), "{}", done.stderr);
    assert!(!file.exists(), "a cut-off body was written");
    // A corrupt gzip stream: exit 1 naming the encoding, and nothing written under -o.
    let file = dir.path().join("corrupt.txt");
    let done = get(&[
        "--compressed",
        "-o",
        file.to_str().unwrap(),
        &py.url("/corrupt"),
    ]);
    done.assert_code(1);
    assert!(done.stderr.contains("gzip"), "{}", done.stderr);
    assert!(!file.exists(), "a corrupt body was written");
    assert_eq!(files_in(dir.path()).len(), 2, "{:?}", files_in(dir.path()));
}

#[test]
fn http_get_asks_for_no_encoding_without_compressed() {
    let server = Scripted::start(vec![
        reply(ok_response("plain\n")),
        reply(ok_response("plain\n")),
    ]);
    get(&[&server.url("/")]).assert_code(0);
    let request = server.request();
    assert_eq!(
        request_header(&request, "accept-encoding"),
        None,
        "{request}"
    );
    // With it: asked for; a body sent without Content-Encoding comes out as it is.
    let done = get(&["--compressed", &server.url("/")]);
    done.assert_code(0);
    assert_eq!(done.out(), "plain\n");
    let request = server.request();
    assert_eq!(
        request_header(&request, "accept-encoding").as_deref(),
        Some(accept_encoding())
    );
}

/// The distinct connections nginx served requests on since `skip` log lines.
fn connections_since(nginx: &Nginx, skip: usize) -> Vec<u64> {
    let mut seen: Vec<u64> = nginx.requests()[skip..].iter().map(|r| r.0).collect();
    seen.sort_unstable();
    seen.dedup();
    seen
}

#[test]
fn http_get_fetches_20_urls_over_one_kept_alive_connection_to_nginx() {
    let Some(nginx) = Nginx::start() else { return };
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.bin"), pattern(1000 + i * 7919, i as u64)))
        .collect();
    for (name, data) in &files {
        write_file(&nginx.root(), name, data);
    }
    for https in [false, true] {
        let out = tempdir();
        let skip = nginx.requests().len();
        let mut args: Vec<String> = vec!["-v".into(), "--cacert".into(), nginx.cert()];
        for (name, _) in &files {
            let url = if https {
                nginx.https(&format!("/{name}"))
            } else {
                nginx.http(&format!("/{name}"))
            };
            args.extend(["-o".into(), name.clone(), url]);
        }
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = get_in(out.path(), &words);
        done.assert_code(0);
        for (name, data) in &files {
            assert!(
                fs::read(out.path().join(name)).expect("download") == *data,
                "{name} differs (https: {https})"
            );
        }
        let log = &nginx.requests()[skip..];
        assert_eq!(log.len(), 20, "{log:?}");
        assert_eq!(connections_since(&nginx, skip).len(), 1, "{log:?}");
        assert_eq!(
            done.stderr
                .matches("* reusing connection to 127.0.0.1:")
                .count(),
            19,
            "{}",
            done.stderr
        );
        // Only the last request asks the server to close.
        assert_eq!(done.stderr.matches("> Connection: close").count(), 1);
    }
}

#[test]
fn http_get_pairs_outputs_with_urls_in_order_as_curl_does() {
    let Some(nginx) = Nginx::start() else { return };
    for name in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        write_file(&nginx.root(), name, name.as_bytes());
    }
    let out = tempdir();
    // The first output is the first URL's wherever it stands; the third URL has none.
    let done = get_in(
        out.path(),
        &[
            &nginx.http("/a.txt"),
            "-o",
            "first",
            &nginx.http("/b.txt"),
            "-O",
            &nginx.http("/c.txt"),
        ],
    );
    done.assert_code(0);
    assert_eq!(done.out(), "c.txt");
    assert_eq!(files_in(out.path()), ["b.txt", "first"]);
    assert_eq!(
        fs::read_to_string(out.path().join("first")).unwrap(),
        "a.txt"
    );

    let out = tempdir();
    let done = get_in(
        out.path(),
        &[
            "--remote-name-all",
            "-o",
            "x",
            &nginx.http("/a.txt"),
            &nginx.http("/d.txt"),
        ],
    );
    done.assert_code(0);
    assert_eq!(files_in(out.path()), ["d.txt", "x"]);

    let done = get_in(out.path(), &["-o", "1", "-o", "2", &nginx.http("/a.txt")]);
    done.assert_code(2);
    assert!(done.stderr.contains("2 -o/-O for 1 URL"), "{}", done.stderr);

    // -w is written after every transfer.
    let done = get(&[
        "-s",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{url_effective}\\n",
        &nginx.http("/a.txt"),
        &nginx.http("/nope"),
    ]);
    done.assert_code(0);
    assert_eq!(
        done.out(),
        format!(
            "200 {}\n404 {}\n",
            nginx.http("/a.txt"),
            nginx.http("/nope")
        )
    );
}

#[test]
fn http_get_goes_on_after_a_failed_url_and_exits_with_the_last_failure() {
    let Some(nginx) = Nginx::start() else { return };
    write_file(&nginx.root(), "one", b"1");
    write_file(&nginx.root(), "two", b"2");
    let (_held, port) = refusing_port();
    let refused = format!("http://127.0.0.1:{port}/x");
    let out = tempdir();
    let o = |n: &str| out.path().join(n).display().to_string();
    let (one, missing, gone, two) = (o("one"), o("missing"), o("gone"), o("two"));
    let urls = [
        nginx.http("/one"),
        nginx.http("/missing"),
        refused.clone(),
        nginx.http("/two"),
    ];
    let done = get(&[
        "-f", "-o", &one, &urls[0], "-o", &missing, &urls[1], "-o", &gone, &urls[2], "-o", &two,
        &urls[3],
    ]);
    // The refused URL failed last: its code (4), not the 404's (7).
    done.assert_code(4);
    assert_eq!(files_in(out.path()), ["one", "two"]);
    let errors: Vec<&str> = done.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{}", done.stderr);
    assert!(
        errors[0].contains("404") && errors[0].contains("/missing"),
        "{errors:?}"
    );
    assert!(errors[1].contains("connection refused"), "{errors:?}");

    // The 404 last: exit 7, the others written.
    let done = get(&["-f", "-o", &one, &urls[0], "-o", &missing, &urls[1]]);
    done.assert_code(7);
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
}

/// Answers the first request keeping the connection open, then reads the next request and
/// closes without answering it: a server whose keep-alive ran out just as it came.
fn closes_at_the_second_request(body: &str) -> Script {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Box::new(move |mut s: TcpStream| {
        if s.write_all(response.as_bytes()).is_ok() {
            let _ = read_request(&mut s);
        }
    })
}

#[test]
fn http_get_sends_again_on_a_new_connection_when_the_kept_one_was_closed() {
    let server = Scripted::start(vec![
        closes_at_the_second_request("first"),
        reply(ok_response("second")),
    ]);
    let done = get(&["-v", &server.url("/a"), &server.url("/b")]);
    done.assert_code(0);
    assert_eq!(done.out(), "firstsecond");
    let first = server.request();
    assert!(first.starts_with("GET /a "), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection:"),
        "{first}"
    );
    let again = server.request();
    assert!(again.starts_with("GET /b "), "{again}");
    assert!(again.contains("Connection: close"), "{again}");
    assert!(
        done.stderr.contains("was closed: connecting again"),
        "{}",
        done.stderr
    );
}

/// An nginx location that takes PUTs of any size (WebDAV), files under `www/up/`.
const DAV: &str = "location /up/ { dav_methods PUT; create_full_put_path on; \
                   client_max_body_size 0; }";

#[test]
fn http_get_uploads_64_mib_to_nginx_webdav_by_file_over_http_and_https_and_chunked_from_stdin() {
    let Some(nginx) = Nginx::start_with(DAV) else {
        return;
    };
    let dir = tempdir();
    let data = pattern(64 << 20, 7);
    let file = write_file(dir.path(), "artifact.bin", &data);
    let file = file.to_str().expect("path");
    // A URL ending in / gets the file's name.
    let done = get(&["-sf", "-T", file, &nginx.http("/up/")]);
    done.assert_code(0);
    assert!(
        file_bytes(&nginx.root().join("up/artifact.bin")) == data,
        "HTTP upload differs"
    );

    let done = get(&[
        "-sf",
        "--cacert",
        &nginx.cert(),
        "-w",
        "%{http_code}",
        "-T",
        file,
        &nginx.https("/up/tls.bin"),
    ]);
    done.assert_code(0);
    assert_eq!(done.out(), "201");
    assert!(
        file_bytes(&nginx.root().join("up/tls.bin")) == data,
        "HTTPS upload differs"
    );

    // With stderr on a terminal, a bar shows the upload (script(1) gives it one).
    if have("script") {
        let command = format!(
            "{} http-get -T '{file}' '{}' > /dev/null",
            bin_shell(),
            nginx.http("/up/tty.bin")
        );
        let terminal = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("script");
        assert!(terminal.status.success(), "{terminal:?}");
        assert!(String::from_utf8_lossy(&terminal.stdout).contains("ETA"));
        assert!(file_bytes(&nginx.root().join("up/tty.bin")) == data);
    }

    // `-T -` from a pipe that starts late: chunked, the bytes written as they come.
    let mut p = Proc::spawn(nicksock(&[
        "http-get",
        "-sf",
        "-v",
        "-T",
        "-",
        &nginx.http("/up/piped.bin"),
    ]));
    let piece = &data[..8 << 20];
    // The request is out before stdin gives its first byte.
    p.wait_line("> Transfer-Encoding: chunked");
    p.send(&piece[..1 << 20]);
    p.send(&piece[1 << 20..]);
    p.close_stdin();
    let done = p.wait();
    done.assert_code(0);
    assert!(
        done.stderr.contains("> Transfer-Encoding: chunked"),
        "{}",
        done.stderr
    );
    assert!(
        file_bytes(&nginx.root().join("up/piped.bin")) == piece,
        "chunked upload differs"
    );
}

/// One request read by hand: the head, and the body as its framing says (Content-Length or
/// chunked), with when the body's first byte came after the head.
struct Received {
    head: String,
    body: Vec<u8>,
    body_after: Option<Duration>,
}

/// Reads a request: head, then its body by Content-Length or chunked framing. `answer` may
/// write something after the head (a `100 Continue`, a final answer) before the body is read;
/// it returns false to read no body at all.
fn receive(s: &mut TcpStream, answer: impl FnOnce(&mut TcpStream, &str) -> bool) -> Received {
    let mut reader = std::io::BufReader::new(s.try_clone().expect("clone"));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).expect("head") == 0 {
            break;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let head_at = Instant::now();
    let mut body = Vec::new();
    if !answer(s, &head) {
        return Received {
            head,
            body,
            body_after: None,
        };
    }
    let lower = head.to_ascii_lowercase();
    let mut first = [0u8; 1];
    let mut got_first = |r: &mut std::io::BufReader<TcpStream>, body: &mut Vec<u8>| {
        r.read_exact(&mut first).expect("first body byte");
        body.push(first[0]);
        head_at.elapsed()
    };
    let body_after;
    if lower.contains("transfer-encoding: chunked") {
        body_after = Some(got_first(&mut reader, &mut body));
        let mut size_line = String::from_utf8(body.split_off(0)).expect("hex");
        loop {
            std::io::BufRead::read_line(&mut reader, &mut size_line).expect("chunk size");
            let size = usize::from_str_radix(size_line.trim(), 16).expect("hex size");
            size_line.clear();
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let length: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().expect("length"));
        body_after = (length > 0).then(|| got_first(&mut reader, &mut body));
        let mut rest = vec![0u8; length.saturating_sub(1)];
        reader.read_exact(&mut rest).expect("body");
        body.extend_from_slice(&rest);
    }
    Received {
        head,
        body,
        body_after,
    }
}

/// The peak memory of a running process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn http_get_streams_uploads_in_bounded_memory_and_waits_for_100_continue_as_curl_does() {
    let dir = tempdir();
    let data = pattern(64 << 20, 3);
    let file = write_file(dir.path(), "big.bin", &data);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/put", listener.local_addr().expect("addr"));
    // `http-get -T big.bin` with these flags first, and the server's end of its connection.
    let upload = |flags: &[&str]| {
        let path = file.to_str().expect("path");
        let args = [&["http-get"][..], flags, &["-T", path, &url]].concat();
        let p = Proc::spawn(nicksock(&args));
        let (s, _) = listener.accept().expect("accept");
        (p, s)
    };
    // A server that never answers Expect: the body follows after about a second, and the
    // client's memory at the end of it is far below the 64 MiB it sent.
    let (mut p, mut s) = upload(&["-s"]);
    let got = receive(&mut s, |_, _| true);
    let peak = peak_kib(p.child.id());
    s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        .expect("answer");
    p.wait().assert_code(0);
    assert!(
        got.head.starts_with("PUT /put HTTP/1.1\r\n"),
        "{}",
        got.head
    );
    assert!(
        got.head.contains("Expect: 100-continue\r\n"),
        "{}",
        got.head
    );
    assert!(
        got.head
            .contains(&format!("Content-Length: {}\r\n", data.len()))
    );
    assert!(got.body == data, "the body differs");
    let waited = got.body_after.expect("a body");
    assert!(
        waited >= Duration::from_millis(900),
        "sent after {waited:?}"
    );
    assert!(
        peak < 32 * 1024,
        "peak memory {peak} KiB for a 64 MiB upload"
    );

    // A server that says 100 Continue gets the body at once.
    let (mut p, mut s) = upload(&["-s"]);
    let got = receive(&mut s, |s, _| {
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").expect("100");
        true
    });
    s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .expect("answer");
    p.wait().assert_code(0);
    assert!(got.body == data, "the body differs");
    assert!(got.body_after.expect("a body") < Duration::from_millis(900));

    // A server that refuses at once (413): the body is never sent, -f says 7.
    let (mut p, mut s) = upload(&["-sf"]);
    receive(&mut s, |s, _| {
        s.write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
            .expect("413");
        false
    });
    let done = p.wait();
    done.assert_code(7);
    assert!(done.stderr.contains("413"), "{}", done.stderr);
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "{} body bytes sent after a 413",
        rest.len()
    );

    // -H 'Expect:' sends the body at once.
    let (mut p, mut s) = upload(&["-s", "-H", "Expect:"]);
    let got = receive(&mut s, |_, _| true);
    s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        .expect("answer");
    p.wait().assert_code(0);
    assert!(
        !got.head.to_ascii_lowercase().contains("expect"),
        "{}",
        got.head
    );
    assert!(got.body_after.expect("a body") < Duration::from_millis(900));
}

#[test]
fn http_get_sends_data_binary_urlencode_and_joined_parts_as_curl_does() {
    let dir = tempdir();
    let raw = b"line one\r\nline two\n\x00\xff end";
    let file = write_file(dir.path(), "raw.bin", raw);
    let file_arg = format!("@{}", file.display());
    let server = Scripted::start(vec![
        reply(ok_response("ok")),
        reply(ok_response("ok")),
        reply(ok_response("ok")),
    ]);
    // A lone --data-binary @FILE: the file's bytes as they are, CR and LF kept.
    get(&["--data-binary", &file_arg, &server.url("/bin")]).assert_code(0);
    let request = server.requests.recv_timeout(PATIENCE).expect("a request");
    let split = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    let head = String::from_utf8_lossy(&request[..split]);
    assert!(head.starts_with("POST /bin "), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}", raw.len())),
        "{head}"
    );
    assert!(head.contains("Content-Type: application/x-www-form-urlencoded"));
    assert_eq!(&request[split..], raw);

    let name_file = format!(
        "note@{}",
        write_file(dir.path(), "n.txt", b"a b&c").display()
    );
    get(&[
        "-d",
        "a=1",
        "--data-urlencode",
        "msg=hello world/ü",
        "--data-raw",
        "@at",
        "--data-urlencode",
        &name_file,
        "--data-urlencode",
        "=x y",
        &server.url("/form"),
    ])
    .assert_code(0);
    let request = server.request();
    let body = request.split_once("\r\n\r\n").expect("head").1;
    assert_eq!(
        body,
        "a=1&msg=hello%20world%2F%C3%BC&@at&note=a%20b%26c&x%20y"
    );

    // -T - with stdin at /dev/null: an empty chunked PUT.
    let mut p = Proc::spawn_io(
        nicksock(&["http-get", "-T", "-", &server.url("/empty")]),
        Stdio::null(),
        Stdio::piped(),
    );
    p.wait().assert_code(0);
    let request = server.request();
    assert!(request.starts_with("PUT /empty "), "{request}");
    assert!(
        request.contains("Transfer-Encoding: chunked\r\n"),
        "{request}"
    );
}

/// A server for one request per connection that answers only once `barrier` says every
/// server of the test has its request: transfers made one after another never get there.
fn answers_together(barrier: std::sync::Arc<std::sync::Barrier>, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/{body}", listener.local_addr().expect("addr"));
    thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        read_request(&mut s);
        barrier.wait();
        let _ = s.write_all(ok_response(body).as_bytes());
    });
    url
}

#[test]
fn http_get_parallel_runs_the_transfers_of_three_origins_at_once() {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let urls: Vec<String> = ["one", "two", "six"]
        .into_iter()
        .map(|b| answers_together(barrier.clone(), b))
        .collect();
    let out = tempdir();
    let done = get_in(
        out.path(),
        &["-Z", "--remote-name-all", &urls[0], &urls[1], &urls[2]],
    );
    done.assert_code(0);
    assert_eq!(files_in(out.path()), ["one", "six", "two"]);
    assert_eq!(fs::read_to_string(out.path().join("six")).unwrap(), "six");

    // Their bodies would mix on stdout.
    let done = get(&["-Z", &urls[0], &urls[1]]);
    done.assert_code(2);
    assert!(done.stderr.contains("mix on stdout"), "{}", done.stderr);
}

#[test]
fn http_get_parallel_fetches_from_two_nginx_over_http_and_https_with_a_failure() {
    let (Some(first), Some(second)) = (Nginx::start(), Nginx::start()) else {
        return;
    };
    let mut args: Vec<String> = vec![
        "-Z".into(),
        "-f".into(),
        "--cacert".into(),
        first.cert(),
        "--parallel-max".into(),
        "4".into(),
    ];
    let mut expected = Vec::new();
    for i in 0..12 {
        let data = pattern(50_000 + i * 1000, i as u64);
        let name = format!("p{i}.bin");
        let (server, url) = match i % 3 {
            0 => (&first, first.http(&format!("/{name}"))),
            1 => (&first, first.https(&format!("/{name}"))),
            _ => (&second, second.http(&format!("/{name}"))),
        };
        write_file(&server.root(), &name, &data);
        args.extend(["-o".into(), name.clone(), url]);
        expected.push((name, data));
    }
    args.extend(["-o".into(), "gone".into(), second.http("/missing")]);
    let out = tempdir();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = get_in(out.path(), &words);
    done.assert_code(7);
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(done.stderr.contains("/missing"), "{}", done.stderr);
    for (name, data) in &expected {
        assert!(
            fs::read(out.path().join(name)).expect("download") == *data,
            "{name} differs"
        );
    }
    assert!(!out.path().join("gone").exists());
    // At most four at once, and the connections were reused: fewer than one per URL.
    let connections = connections_since(&first, 0).len() + connections_since(&second, 0).len();
    assert!(connections <= 4 + 4, "{connections} connections");
}

/// A keep-alive server for `total` requests that holds each answer until `together`
/// requests wait at once (or every request has come, or [`PATIENCE`] passed), and counts the
/// connections open at once, at most: a client that keeps fewer transfers going gets its
/// answers only late, one that keeps more shows in the count.
fn holding_server(
    together: usize,
    total: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    // (requests waiting for their answer, requests come in all)
    let waiting = Arc::new((Mutex::new((0usize, 0usize)), Condvar::new()));
    let seen = most.clone();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let (open, most, waiting) = (open.clone(), most.clone(), waiting.clone());
            thread::spawn(move || {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                s.set_read_timeout(Some(PATIENCE)).expect("timeout");
                loop {
                    let request = read_request(&mut s);
                    if request.is_empty() {
                        break;
                    }
                    let (lock, turn) = &*waiting;
                    let mut counts = lock.lock().expect("lock");
                    counts.0 += 1;
                    counts.1 += 1;
                    turn.notify_all();
                    let (mut counts, _) = turn
                        .wait_timeout_while(counts, PATIENCE, |(w, all)| {
                            *w < together && *all < total
                        })
                        .expect("wait");
                    counts.0 -= 1;
                    drop(counts);
                    if s.write_all(ok_response("x").as_bytes()).is_err() {
                        break;
                    }
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (url, seen)
}

#[test]
fn http_get_parallel_max_bounds_the_connections_at_once() {
    let (url, most) = holding_server(2, 8);
    let out = tempdir();
    let mut args = vec!["-Z".to_string(), "--parallel-max".into(), "2".into()];
    for i in 0..8 {
        args.extend(["-o".into(), format!("f{i}"), format!("{url}/{i}")]);
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    get_in(out.path(), &words).assert_code(0);
    assert_eq!(files_in(out.path()).len(), 8);
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);

    // On a terminal, one line counts the transfers (script(1) gives stderr a terminal).
    if have("script") {
        let (url, _) = holding_server(3, 3);
        let command = format!(
            "cd '{}' && {} http-get -Z --remote-name-all {url}/x {url}/y {url}/z",
            out.path().display(),
            bin_shell()
        );
        let terminal = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("script");
        assert!(terminal.status.success(), "{terminal:?}");
        let shown = String::from_utf8_lossy(&terminal.stdout);
        assert!(shown.contains("/3 transfers"), "{shown}");
        assert!(!shown.contains("ETA"), "a bar per file: {shown}");
    }
}

#[test]
fn http_get_sigterm_mid_body_commits_nothing_and_stops_the_other_urls() {
    // The head and part of the body, then nothing until the client goes away.
    let partial: Script = Box::new(|mut s: TcpStream| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial");
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
    });
    let server = Scripted::start(vec![partial, reply(ok_response("second"))]);
    let out = tempdir();
    let file = out.path().join("first.bin");
    let mut p = Proc::spawn(nicksock(&[
        "http-get",
        "-o",
        file.to_str().expect("path"),
        &server.url("/first"),
        &server.url("/second"),
    ]));
    // The body has started when its temporary file beside FILE holds bytes.
    wait_until("the partial body on disk", || {
        fs::read_dir(out.path())
            .expect("dir")
            .any(|e| e.expect("entry").metadata().is_ok_and(|m| m.len() > 0))
    });
    p.signal("TERM");
    let done = p.wait();
    done.assert_code(130);
    assert!(
        files_in(out.path()).is_empty(),
        "{:?}",
        files_in(out.path())
    );
    server.request();
    assert!(server.no_more_requests(), "the second URL was fetched");
}

#[test]
fn http_get_upload_answers_417_and_early_2xx_as_curl_does() {
    let dir = tempdir();
    let data = pattern(3 << 20, 11);
    let file = write_file(dir.path(), "big.bin", &data);
    let file = file.to_str().expect("path");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/put", listener.local_addr().expect("addr"));

    // 417: the request goes again without Expect, and the body arrives.
    let mut p = Proc::spawn(nicksock(&["http-get", "-s", "-T", file, &url]));
    let (mut s, _) = listener.accept().expect("accept");
    let first = receive(&mut s, |s, _| {
        s.write_all(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope")
            .expect("417");
        false
    });
    assert!(
        first.head.contains("Expect: 100-continue"),
        "{}",
        first.head
    );
    drop(s);
    let (mut s, _) = listener.accept().expect("accept again");
    let again = receive(&mut s, |_, _| true);
    s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        .expect("201");
    let done = p.wait();
    done.assert_code(0);
    assert_eq!(done.out(), "ok");
    assert!(
        !again.head.to_ascii_lowercase().contains("expect"),
        "{}",
        again.head
    );
    assert!(again.body == data, "the body differs");

    // A 200 before the body: the whole body still goes (the server reads it all).
    let mut p = Proc::spawn(nicksock(&[
        "http-get", "-s", "-H", "Expect:", "-T", file, &url,
    ]));
    let (mut s, _) = listener.accept().expect("accept");
    let got = receive(&mut s, |s, _| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
            .expect("200");
        true
    });
    p.wait().assert_code(0);
    assert!(got.body == data, "the body differs");

    // A 200 and the close before the body is taken: not a success. (32 MiB: more than the
    // sockets' buffers hold, so the body cannot be all out before the reset.)
    let large = write_file(dir.path(), "large.bin", &pattern(32 << 20, 12));
    let large = large.to_str().expect("path");
    let mut p = Proc::spawn(nicksock(&[
        "http-get", "-s", "-H", "Expect:", "-T", large, &url,
    ]));
    let (mut s, _) = listener.accept().expect("accept");
    receive(&mut s, |s, _| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
            .expect("200");
        let _ = socket2::SockRef::from(&*s).set_linger(Some(Duration::ZERO));
        false
    });
    drop(s);
    let done = p.wait();
    assert_ne!(done.code(), 0, "{}", done.stderr);
    assert!(
        done.stderr.contains("before the whole body"),
        "{}",
        done.stderr
    );
}

#[test]
fn http_get_uploads_what_proc_files_and_fifos_hold_not_their_size() {
    let version = fs::read("/proc/version").expect("/proc/version");
    let server = Scripted::start(vec![
        reply(ok_response("1")),
        reply(ok_response("2")),
        reply(ok_response("3")),
    ]);
    let body_of = |request: Vec<u8>| {
        let at = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head")
            + 4;
        (
            String::from_utf8_lossy(&request[..at]).into_owned(),
            request[at..].to_vec(),
        )
    };
    get(&["--data-binary", "@/proc/version", &server.url("/a")]).assert_code(0);
    let (head, body) = body_of(server.requests.recv_timeout(PATIENCE).expect("request"));
    assert!(
        head.contains(&format!("Content-Length: {}", version.len())),
        "{head}"
    );
    assert_eq!(body, version);
    get(&["-T", "/proc/version", &server.url("/b")]).assert_code(0);
    let (head, body) = body_of(server.requests.recv_timeout(PATIENCE).expect("request"));
    assert!(head.starts_with("PUT /b "), "{head}");
    assert_eq!(body, version);

    // A FIFO whose writer comes later: nicksock does not hang opening it, and sends what
    // comes through it in chunks. (The test holds the FIFO open for reading and writing:
    // its writes never wait for a reader, and its close is nicksock's end of input.)
    let dir = tempdir();
    let fifo = mkfifo(dir.path(), "fifo");
    let mut writer = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the fifo");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/c", listener.local_addr().expect("addr"));
    let mut p = Proc::spawn(nicksock(&[
        "http-get",
        "-v",
        "-T",
        fifo.to_str().expect("path"),
        &url,
    ]));
    let (mut s, _) = listener.accept().expect("accept");
    p.wait_line("> PUT /c ");
    writer
        .write_all(b"through the fifo")
        .expect("write the fifo");
    drop(writer);
    let got = receive(&mut s, |s, _| {
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").expect("100");
        true
    });
    s.write_all(ok_response("4").as_bytes()).expect("answer");
    p.wait().assert_code(0);
    assert!(
        got.head.contains("Transfer-Encoding: chunked"),
        "{}",
        got.head
    );
    assert_eq!(got.body, b"through the fifo");
}

#[test]
fn http_get_a_closed_stdout_ends_only_its_own_transfer() {
    let Some(nginx) = Nginx::start() else { return };
    let big = pattern(8 << 20, 5);
    write_file(&nginx.root(), "big.bin", &big);
    write_file(&nginx.root(), "small.txt", b"small");
    let out = tempdir();
    let file = out.path().join("small.txt");
    let script = format!(
        "{} http-get -Z -o - '{}' -o '{}' '{}' | head -c 10 > /dev/null",
        bin_shell(),
        nginx.http("/big.bin"),
        file.display(),
        nginx.http("/small.txt")
    );
    let status = Command::new("bash")
        .args(["-o", "pipefail", "-c", &script])
        .status()
        .expect("bash");
    assert!(status.success(), "{status}");
    assert!(fs::read(&file).expect("the file transfer") == b"small");

    // An earlier failure keeps its code when stdout closes later (-w writes there).
    let script = format!(
        "{} http-get -f -w '%{{http_code}}\\n' -o /dev/null '{}' -o /dev/null '{}' | head -c 1 > /dev/null",
        bin_shell(),
        nginx.http("/missing"),
        nginx.http("/big.bin"),
    );
    let status = Command::new("bash")
        .args(["-o", "pipefail", "-c", &script])
        .status()
        .expect("bash");
    assert_eq!(status.code(), Some(7));
}

#[test]
fn http_get_sends_data_in_chunks_when_the_user_asks_for_them() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let mut p = Proc::spawn(nicksock(&[
        "http-get",
        "-H",
        "Transfer-Encoding: chunked",
        "-d",
        "a=1",
        &url,
    ]));
    let (mut s, _) = listener.accept().expect("accept");
    let got = receive(&mut s, |_, _| true);
    s.write_all(ok_response("ok").as_bytes()).expect("answer");
    p.wait().assert_code(0);
    assert!(!got.head.contains("Content-Length"), "{}", got.head);
    assert!(
        got.head.contains("Transfer-Encoding: chunked"),
        "{}",
        got.head
    );
    assert_eq!(got.body, b"a=1");
    let done = get(&["-H", "Content-Length: 3", "-d", "a=1", &url]);
    done.assert_code(2);
}

/// A port whose connects never complete: a listener with a full backlog that never accepts
/// (the kernel drops further SYNs), held for the test.
fn unanswered_port() -> (socket2::Socket, Vec<TcpStream>, u16) {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    sock.listen(0).expect("listen");
    let addr = sock.local_addr().expect("addr").as_socket().expect("inet");
    let mut held = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => return (sock, held, addr.port()),
        }
    }
    panic!("the backlog of {addr} never filled");
}

#[test]
fn http_get_parallel_transfers_go_on_while_another_connects() {
    let (_sock, _held, port) = unanswered_port();
    let server = Scripted::start(vec![reply(ok_response("here"))]);
    let stuck = format!("http://127.0.0.1:{port}/stuck");
    let done = get(&[
        "-Z",
        "-s",
        "--connect-timeout",
        "4",
        "-w",
        "%{url_effective} %{time_total}\\n",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        &stuck,
        &server.url("/ok"),
    ]);
    // The stuck connect times out (exit 5, the last failure); the other URL, second in
    // line, was fetched meanwhile: its -w line comes first, long before the timeout.
    done.assert_code(5);
    let out = done.out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let (url, secs) = lines[0].split_once(' ').expect("two words");
    assert_eq!(url, server.url("/ok"), "{out}");
    let secs: f64 = secs.parse().expect("seconds");
    assert!(secs < 2.0, "the free transfer took {secs} s: {out}");
    assert!(lines[1].starts_with(&stuck), "{out}");
}
