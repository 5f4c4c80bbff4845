//! A real browser on the `serve-gpio` page: headless Chromium driven through chromedriver's
//! W3C WebDriver API by a tiny HTTP client (one `Connection: close`
//! request per command; chromedriver does not answer HTTP/1.0), on a phone-sized screen. It clicks pin 13's
//! "On" button (a plain HTML form POST, lab L11/L12) and checks the page and the JSON API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;

use serde_json::{Value, json};

use crate::serve_gpio::{Served, curl};
use crate::util::*;

/// The key WebDriver puts an element reference under.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// A phone's screen in CSS pixels (a Pixel 7 class device).
const PHONE: (u32, u32) = (412, 915);
/// Free ports chromedriver is started on before giving up.
const PORT_TRIES: usize = 5;
/// Tries at reading a page state that a navigation is about to change.
const READ_TRIES: usize = 50;

/// chromedriver on a free loopback port, killed by its PID when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver and waits for the line saying it is ready. The port was free a
    /// moment ago; should another test take it first, chromedriver exits and starts again
    /// on another.
    fn start() -> Driver {
        for _ in 0..PORT_TRIES {
            let port = free_port();
            let mut child = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn chromedriver");
            let out = child.stdout.take().expect("stdout");
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            let driver = Driver { child, port };
            loop {
                match rx.recv_timeout(PATIENCE) {
                    Ok(line) if line.contains("started successfully") => return driver,
                    Ok(_) => {}
                    // Its output ended: it could not start (the port was taken).
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        panic!("chromedriver never said it started")
                    }
                }
            }
        }
        panic!("chromedriver did not start on any of {PORT_TRIES} free ports");
    }

    /// One WebDriver command: METHOD path with a JSON body; returns the reply's `value`.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"))
    }

    /// [`Driver::call`], with a WebDriver error (no such element, stale element) returned.
    fn try_call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let fail = |e: std::io::Error| format!("talking to chromedriver: {e}");
        let mut sock = TcpStream::connect(("127.0.0.1", self.port)).map_err(fail)?;
        sock.set_read_timeout(Some(PATIENCE)).map_err(fail)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        sock.write_all(request.as_bytes()).map_err(fail)?;
        let mut reader = BufReader::new(sock);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(fail)? == 0 {
                return Err(format!("chromedriver closed the connection after {head:?}"));
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value
                    .trim()
                    .parse()
                    .map_err(|e| format!("Content-Length: {e}"))?;
            }
            if line.trim().is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut json = vec![0; length];
        reader.read_exact(&mut json).map_err(fail)?;
        let doc: Value = serde_json::from_slice(&json).map_err(|e| format!("not JSON: {e}"))?;
        if head.starts_with("HTTP/1.1 200") {
            Ok(doc["value"].clone())
        } else {
            Err(format!("{head}\n{doc}"))
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session, ended (and its Chromium closed) when dropped.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl<'a> Session<'a> {
    fn new(driver: &'a Driver, profile: &Path) -> Session<'a> {
        Self::with_switches(driver, profile, &[])
    }

    /// A session whose Chromium also gets `extra` switches (`--proxy-server=…`).
    fn with_switches(driver: &'a Driver, profile: &Path, extra: &[&str]) -> Session<'a> {
        let (width, height) = PHONE;
        let profile_arg = format!("--user-data-dir={}", profile.display());
        let mut args = vec![
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &profile_arg,
        ];
        args.extend_from_slice(extra);
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": args,
                "mobileEmulation": {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}},
            },
        }}});
        let value = driver.call("POST", "/session", Some(&capabilities));
        let id = value["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Session { driver, id }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.id);
        self.driver.try_call(method, &path, body)
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The reference of the element a CSS selector finds.
    fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// The text of the element a CSS selector finds; None while a navigation replaces the
    /// page under it (no such element, or a stale one).
    fn text(&self, css: &str) -> Option<String> {
        let query = json!({"using": "css selector", "value": css});
        let found = self.try_call("POST", "/element", Some(&query)).ok()?;
        let element = found[ELEMENT_KEY].as_str()?;
        let text = self
            .try_call("GET", &format!("/element/{element}/text"), None)
            .ok()?;
        text.as_str().map(str::to_string)
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        );
    }

    fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let png = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("valid base64")
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.id);
        let _ = self.driver.try_call("DELETE", &path, None);
    }
}

#[test]
fn chromium_switches_pin_13_on_from_the_page() {
    if !have("chromium") || !have("chromedriver") || !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--pin", "19"]);
    let dir = tempdir();
    let driver = Driver::start();
    let browser = Session::new(&driver, &dir.path().join("profile"));
    browser.open(&s.url("/"));
    assert_eq!(browser.text("#pin13-state").as_deref(), Some("off"));
    browser.click("#pin13-on");
    // The click posts the form; the 303 brings the browser back to the page.
    let state = (0..READ_TRIES)
        .filter_map(|_| browser.text("#pin13-state"))
        .find(|state| state == "on");
    assert_eq!(
        state.as_deref(),
        Some("on"),
        "the page never showed pin 13 on"
    );
    assert_eq!(browser.text("#pin19-state").as_deref(), Some("off"));
    let pins = curl(&[&s.url("/api/pins/13")]).json();
    assert_eq!(pins["value"], 1, "{pins}");

    let shot = dir.path().join("serve-gpio-phone.png");
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    std::fs::write(&shot, png).expect("save the screenshot");
    println!("screenshot: {}", shot.display());
    if std::env::var_os("KEEP_SCREENSHOT").is_some() {
        let _ = dir.keep();
    }
}

impl Session<'_> {
    /// Waits until the page's script, run under its Content-Security-Policy, has opened
    /// the event stream.
    fn wait_live(&self) {
        let live = (0..READ_TRIES)
            .map(|_| self.script("return document.body.getAttribute('data-live');"))
            .find(|v| v == "1");
        assert!(live.is_some(), "the page never opened its event stream");
    }

    /// Runs a script in the page and returns its result.
    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }
}

#[test]
fn the_page_follows_changes_made_elsewhere_without_a_reload() {
    if !have("chromium") || !have("chromedriver") || !have("curl") {
        return;
    }
    let s = Served::start(&["--pin", "13", "--pin", "19"]);
    let dir = tempdir();
    let driver = Driver::start();
    let browser = Session::new(&driver, &dir.path().join("profile"));
    browser.open(&s.url("/"));
    // The page's script runs under its Content-Security-Policy and opens the stream.
    browser.wait_live();
    browser.script("window.nicksockMark = 'same page';");
    let form = "Content-Type: application/x-www-form-urlencoded";
    curl(&["-H", form, "-d", "pin=13&state=on", &s.url("/")]);
    let state = (0..READ_TRIES)
        .filter_map(|_| browser.text("#pin13-state"))
        .find(|state| state == "on");
    assert_eq!(
        state.as_deref(),
        Some("on"),
        "the page never showed pin 13 on"
    );
    assert_eq!(
        browser.script("return window.nicksockMark;"),
        "same page",
        "the page was reloaded"
    );
    let class = browser.script("return document.getElementById('pin13').className;");
    assert_eq!(class, "pin on");
    assert_eq!(browser.text("#pin19-state").as_deref(), Some("off"));
    // The counter moved on in place too: the page, the stream and the change (and the
    // browser's own favicon request, whenever it came) were served.
    let count = browser.text("#count").unwrap_or_default();
    let n: u64 = count
        .strip_prefix("Hello #")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {count:?}"));
    assert!(n >= 3, "{count}");
}

#[test]
fn the_range_slider_sets_the_duty_without_leaving_the_page() {
    if !have("chromium") || !have("chromedriver") || !have("curl") {
        return;
    }
    let s = Served::start(&["--pwm", "13=LED"]);
    let dir = tempdir();
    let driver = Driver::start();
    let browser = Session::new(&driver, &dir.path().join("profile"));
    browser.open(&s.url("/"));
    browser.wait_live();
    browser.script("window.nicksockMark = 'same page';");
    // What a user's drag ends with: the value set, then `change`.
    browser.script(
        "var r = document.getElementById('pin13-duty'); r.value = 65; \
         r.dispatchEvent(new Event('input')); r.dispatchEvent(new Event('change'));",
    );
    let duty = (0..READ_TRIES)
        .map(|_| curl(&[&s.url("/api/pins/13")]).json()["duty"].clone())
        .find(|d| d == 65);
    assert!(duty.is_some(), "the slider never set the duty");
    assert_eq!(browser.text("#pin13-duty-out").as_deref(), Some("65 %"));
    assert_eq!(browser.script("return window.nicksockMark;"), "same page");
    // A change made elsewhere moves the slider.
    let json = "Content-Type: application/json";
    curl(&["-H", json, "-d", r#"{"duty":20}"#, &s.url("/api/pins/13")]);
    let moved = (0..READ_TRIES)
        .map(|_| browser.script("return document.getElementById('pin13-duty').value;"))
        .find(|v| v == "20");
    assert!(moved.is_some(), "the slider did not follow the change");
}

#[test]
fn chromium_loads_a_page_through_nicksock_proxy_over_socks5() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let Some(nginx) = crate::http_get::Nginx::start() else {
        return;
    };
    std::fs::write(
        nginx.root().join("index.html"),
        "<!doctype html><title>proxied</title><h1 id=said>through the proxy</h1>",
    )
    .expect("page");
    // The page's host is a name only the proxy knows (its own /etc/hosts, no DNS):
    // Chromium sends loopback addresses past any proxy.
    let dir = tempdir();
    let mut argv = bin_argv();
    argv.extend(["-vv", "proxy", "127.0.0.1", "0"].map(String::from));
    let Some(cmd) = crate::proxies::with_hosts_only(dir.path(), "127.0.0.1 proxied.example", &argv)
    else {
        return;
    };
    let mut proxy = Proc::spawn_io(cmd, Stdio::null(), Stdio::piped());
    let port = ready_addr(&proxy.wait_line("listening on")).port();
    let driver = Driver::start();
    let profile = tempdir();
    // A proxy script: the page through nicksock by SOCKS5, everything else Chromium asks
    // for on its own (its search engine, its updates) to a port that refuses, so nothing
    // leaves loopback and no name is looked up.
    use base64::Engine as _;
    let pac = format!(
        "function FindProxyForURL(url, host) {{ if (host == 'proxied.example') return 'SOCKS5 127.0.0.1:{port}'; return 'PROXY 127.0.0.1:1'; }}"
    );
    let pac = format!(
        "--proxy-pac-url=data:application/x-ns-proxy-autoconfig;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(pac)
    );
    let session = Session::with_switches(&driver, profile.path(), &[&pac]);
    session.open(&format!("http://proxied.example:{}/", nginx.http));
    assert_eq!(session.text("#said").as_deref(), Some("through the proxy"));
    // It came through the proxy, by SOCKS5.
    proxy.wait_line(&format!("socks5 to proxied.example:{}", nginx.http));
}
