//! The server side of the proxy protocols (`nicksock proxy`), without I/O: what a client
//! asks on one port — SOCKS4, SOCKS4a, SOCKS5 (RFC 1928, with RFC 1929's user name and
//! password) or HTTP (`CONNECT host:port`, or a request in absolute form to forward) — told
//! apart by its first byte, and the replies that tell it what happened.
//!
//! The caller reads what the client sends into [`Handshake::input`], sends what
//! [`Step::Reply`] says, dials what [`Step::Connect`] asks for and then sends
//! [`connected`] or [`failed`]. Everything is bounded: a SOCKS request is at most a few
//! hundred bytes, an HTTP head [`MAX_HEAD`]; a client that sends more, or garbage, gets a
//! [`Step::Refuse`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The largest HTTP request head a client may send.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header lines of an HTTP request head.
const MAX_HEADERS: usize = 100;
/// SOCKS4's user id and SOCKS4a's host name: at most this long each.
const MAX_SOCKS4_FIELD: usize = 255;
/// The value of `Via` we add to forwarded requests.
const VIA: &str = "1.1 nicksock";

/// What the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Socks4,
    Socks4a,
    Socks5,
    /// `CONNECT host:port`.
    HttpConnect,
    /// A request in absolute form (`GET http://host/path`), forwarded.
    HttpForward,
}

impl Protocol {
    /// Its name in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Socks4 => "socks4",
            Protocol::Socks4a => "socks4a",
            Protocol::Socks5 => "socks5",
            Protocol::HttpConnect => "http-connect",
            Protocol::HttpForward => "http",
        }
    }
}

/// Where the client wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Addr(SocketAddr),
    /// A name for us to resolve, and the port.
    Name(String, u16),
}

impl Dest {
    pub fn port(&self) -> u16 {
        match self {
            Dest::Addr(a) => a.port(),
            Dest::Name(_, p) => *p,
        }
    }

    /// The host part, as a name or an address.
    pub fn host(&self) -> String {
        match self {
            Dest::Addr(a) => a.ip().to_string(),
            Dest::Name(n, _) => n.clone(),
        }
    }
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Addr(a) => a.fmt(f),
            Dest::Name(n, p) => write!(f, "{n}:{p}"),
        }
    }
}

/// A request to open a tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub protocol: Protocol,
    pub dest: Dest,
    /// Who asked, when the client gave a user name.
    pub user: Option<String>,
    /// HTTP forward: the request head rewritten for the origin, to send it first.
    pub forward_head: Option<Vec<u8>>,
}

/// Why a tunnel could not be opened, for the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The destination refused the connection.
    Refused,
    /// No route to the network or host.
    Unreachable,
    /// The destination did not answer in time.
    TimedOut,
    /// The name was not found.
    NameNotFound,
    /// Our rules forbid it (`--to-port`).
    NotAllowed,
    /// Anything else.
    General,
}

impl Failure {
    /// In words, for the log and HTTP reply bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Refused => "connection refused",
            Failure::Unreachable => "unreachable",
            Failure::TimedOut => "timed out",
            Failure::NameNotFound => "name not found",
            Failure::NotAllowed => "not allowed by the proxy's rules",
            Failure::General => "failed",
        }
    }
}

/// A step of the handshake, as the protocol parsers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Send these bytes to the client, then read on.
    Reply(Vec<u8>),
    /// Open the tunnel.
    Connect(Request),
    /// Send these bytes (maybe none), then close; the words say why, for the log.
    Refuse(Vec<u8>, String),
}

/// What to do after [`Handshake::input`] (once its bytes are sent to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Read more.
    More,
    /// Open the tunnel (dial), then send [`connected`] or [`failed`]. The bytes are what
    /// the client sent after its request: its first bytes for the destination.
    Connect(Request, Vec<u8>),
    /// Close once the bytes are out; the words say why, for the log.
    Close(String),
}

/// The user names and passwords the proxy accepts (`--auth`).
#[derive(Debug, Clone, Default)]
pub struct Users(Vec<(String, String)>);

impl Users {
    pub fn new(pairs: Vec<(String, String)>) -> Users {
        Users(pairs)
    }

    /// Whether any are set: then every client must authenticate.
    pub fn required(&self) -> bool {
        !self.0.is_empty()
    }

    fn check(&self, user: &[u8], password: &[u8]) -> bool {
        // Every pair is compared whole, whichever matches: no early exit that a timing
        // could tell apart by the length of the common start.
        let mut ok = false;
        for (u, p) in &self.0 {
            ok |= constant_eq(u.as_bytes(), user) & constant_eq(p.as_bytes(), password);
        }
        ok
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where the handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing yet: the first byte says the protocol.
    Start,
    Socks4,
    Socks5Greeting,
    Socks5Auth,
    Socks5Request,
    Http,
    /// A step that ends the handshake was given.
    Done,
}

/// One client's handshake.
#[derive(Debug)]
pub struct Handshake {
    state: State,
    buf: Vec<u8>,
    /// The SOCKS5 user, once authenticated.
    user: Option<String>,
}

impl Default for Handshake {
    fn default() -> Self {
        Self::new()
    }
}

impl Handshake {
    pub fn new() -> Handshake {
        Handshake {
            state: State::Start,
            buf: Vec::new(),
            user: None,
        }
    }

    /// Whether bytes have come (a handshake under way, for the server's room-making).
    pub fn started(&self) -> bool {
        self.state != State::Start || !self.buf.is_empty()
    }

    /// Takes what the client sent; returns the bytes to send it now and what comes next.
    pub fn input(&mut self, data: &[u8], users: &Users) -> (Vec<u8>, Next) {
        let mut out = Vec::new();
        if self.state == State::Done {
            return (out, Next::More);
        }
        self.buf.extend_from_slice(data);
        loop {
            let step = match self.state {
                State::Start => match self.buf.first() {
                    None => None,
                    Some(4) => {
                        self.state = State::Socks4;
                        continue;
                    }
                    Some(5) => {
                        self.state = State::Socks5Greeting;
                        continue;
                    }
                    Some(b) if b.is_ascii_uppercase() => {
                        self.state = State::Http;
                        continue;
                    }
                    Some(_) => Some(Step::Refuse(
                        Vec::new(),
                        "not SOCKS4, SOCKS5 or HTTP".into(),
                    )),
                },
                State::Socks4 => self.socks4(users),
                State::Socks5Greeting => self.socks5_greeting(users),
                State::Socks5Auth => self.socks5_auth(users),
                State::Socks5Request => self.socks5_request(),
                State::Http => self.http(users),
                State::Done => None,
            };
            match step {
                None => return (out, Next::More),
                // More of the handshake may be here already (a client that does not wait).
                Some(Step::Reply(bytes)) => out.extend_from_slice(&bytes),
                Some(Step::Connect(req)) => {
                    self.state = State::Done;
                    return (out, Next::Connect(req, std::mem::take(&mut self.buf)));
                }
                Some(Step::Refuse(bytes, why)) => {
                    self.state = State::Done;
                    self.buf.clear();
                    out.extend_from_slice(&bytes);
                    return (out, Next::Close(why));
                }
            }
        }
    }

    /// SOCKS4: VN=4 CD DSTPORT DSTIP USERID NUL [HOST NUL]. Each refusal is decided by
    /// the bytes it needs and no others, so it is the same however the request arrives.
    fn socks4(&mut self, users: &Users) -> Option<Step> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        if b[1] != 1 {
            return Some(Step::Refuse(
                socks4_reply(false),
                format!("SOCKS4 command {} is not supported (only CONNECT)", b[1]),
            ));
        }
        if users.required() {
            return Some(Step::Refuse(
                socks4_reply(false),
                "SOCKS4 has no passwords, and --auth wants one".into(),
            ));
        }
        if b.len() < 9 {
            return None;
        }
        let user_end = match nul_within(&b[8..]) {
            Field::Ends(i) => 8 + i,
            Field::TooLong => {
                return Some(Step::Refuse(
                    socks4_reply(false),
                    "SOCKS4 user id too long".into(),
                ));
            }
            Field::More => return None,
        };
        let port = u16::from_be_bytes([b[2], b[3]]);
        let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
        let user = printable(&b[8..user_end]);
        // 0.0.0.x with x != 0: SOCKS4a, a host name follows.
        let (protocol, dest, end) = if ip.octets()[..3] == [0, 0, 0] && ip.octets()[3] != 0 {
            let start = user_end + 1;
            match nul_within(&b[start..]) {
                Field::Ends(i) => {
                    let name = String::from_utf8_lossy(&b[start..start + i]).into_owned();
                    (Protocol::Socks4a, Dest::Name(name, port), start + i + 1)
                }
                Field::TooLong => {
                    return Some(Step::Refuse(
                        socks4_reply(false),
                        "SOCKS4a host too long".into(),
                    ));
                }
                Field::More => return None,
            }
        } else {
            (
                Protocol::Socks4,
                Dest::Addr(SocketAddr::new(ip.into(), port)),
                user_end + 1,
            )
        };
        if let Dest::Name(name, _) = &dest
            && !valid_name(name)
        {
            return Some(Step::Refuse(socks4_reply(false), "not a host name".into()));
        }
        self.buf.drain(..end);
        Some(Step::Connect(Request {
            protocol,
            dest,
            user: (!user.is_empty()).then_some(user),
            forward_head: None,
        }))
    }

    /// SOCKS5's greeting: VER NMETHODS METHODS.
    fn socks5_greeting(&mut self, users: &Users) -> Option<Step> {
        let b = &self.buf;
        if b.len() < 2 || b.len() < 2 + usize::from(b[1]) {
            return None;
        }
        let methods = &b[2..2 + usize::from(b[1])];
        let wanted = if users.required() { 2 } else { 0 };
        let offered = methods.contains(&wanted);
        self.buf.drain(..2 + usize::from(self.buf[1]));
        if !offered {
            let why = if wanted == 2 {
                "the client offers no user name and password (--auth wants them)"
            } else {
                "the client offers no method without authentication"
            };
            return Some(Step::Refuse(vec![5, 0xff], why.into()));
        }
        self.state = if wanted == 2 {
            State::Socks5Auth
        } else {
            State::Socks5Request
        };
        Some(Step::Reply(vec![5, wanted]))
    }

    /// RFC 1929: VER=1 ULEN UNAME PLEN PASSWD.
    fn socks5_auth(&mut self, users: &Users) -> Option<Step> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        let ulen = usize::from(b[1]);
        if b.len() < 3 + ulen {
            return None;
        }
        let plen = usize::from(b[2 + ulen]);
        if b.len() < 3 + ulen + plen {
            return None;
        }
        if b[0] != 1 {
            return Some(Step::Refuse(
                vec![1, 1],
                "bad SOCKS5 authentication version".into(),
            ));
        }
        let (user, password) = (&b[2..2 + ulen], &b[3 + ulen..3 + ulen + plen]);
        if !users.check(user, password) {
            let who = printable(user);
            return Some(Step::Refuse(
                vec![1, 1],
                format!("wrong password for user '{who}'"),
            ));
        }
        self.user = Some(printable(user));
        self.buf.drain(..3 + ulen + plen);
        self.state = State::Socks5Request;
        Some(Step::Reply(vec![1, 0]))
    }

    /// SOCKS5's request: VER CMD RSV ATYP DST.ADDR DST.PORT.
    fn socks5_request(&mut self) -> Option<Step> {
        let b = &self.buf;
        if b.len() < 5 {
            return None;
        }
        let (addr_len, start) = match b[3] {
            1 => (4, 4),
            4 => (16, 4),
            3 => (usize::from(b[4]), 5),
            atyp => {
                return Some(Step::Refuse(
                    socks5_reply(8, None),
                    format!("SOCKS5 address type {atyp} is not supported"),
                ));
            }
        };
        let end = start + addr_len + 2;
        if b.len() < end {
            return None;
        }
        if b[0] != 5 {
            return Some(Step::Refuse(
                socks5_reply(1, None),
                "bad SOCKS5 request".into(),
            ));
        }
        if b[1] != 1 {
            return Some(Step::Refuse(
                socks5_reply(7, None),
                format!("SOCKS5 command {} is not supported (only CONNECT)", b[1]),
            ));
        }
        let port = u16::from_be_bytes([b[end - 2], b[end - 1]]);
        let raw = &b[start..start + addr_len];
        let dest = match b[3] {
            1 => Dest::Addr(SocketAddr::new(
                Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]).into(),
                port,
            )),
            4 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(raw);
                Dest::Addr(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
            }
            _ => {
                let name = String::from_utf8_lossy(raw).into_owned();
                if !valid_name(&name) {
                    return Some(Step::Refuse(
                        socks5_reply(1, None),
                        "not a host name".into(),
                    ));
                }
                match name.parse::<IpAddr>() {
                    Ok(ip) => Dest::Addr(SocketAddr::new(ip, port)),
                    Err(_) => Dest::Name(name, port),
                }
            }
        };
        self.buf.drain(..end);
        Some(Step::Connect(Request {
            protocol: Protocol::Socks5,
            dest,
            user: self.user.clone(),
            forward_head: None,
        }))
    }

    /// An HTTP request head: CONNECT, or a request in absolute form.
    fn http(&mut self, users: &Users) -> Option<Step> {
        let Some(end) = find_head_end(&self.buf) else {
            if self.buf.len() > MAX_HEAD {
                return Some(Step::Refuse(
                    http_reply(
                        431,
                        "Request Header Fields Too Large",
                        "the request head is too long",
                    ),
                    "request head too long".into(),
                ));
            }
            return None;
        };
        if end > MAX_HEAD {
            return Some(Step::Refuse(
                http_reply(
                    431,
                    "Request Header Fields Too Large",
                    "the request head is too long",
                ),
                "request head too long".into(),
            ));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let bad = |why: &str| {
            Some(Step::Refuse(
                http_reply(400, "Bad Request", why),
                why.to_string(),
            ))
        };
        match req.parse(&self.buf[..end]) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return bad("not an HTTP request"),
        }
        let (Some(method), Some(target)) = (req.method, req.path) else {
            return bad("not an HTTP request");
        };
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        let user = match authorized(header("proxy-authorization"), users) {
            Ok(user) => user,
            Err(why) => {
                let reply = format!(
                    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"nicksock\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}\n",
                    why.len() + 1
                );
                return Some(Step::Refuse(reply.into_bytes(), why));
            }
        };
        let (protocol, dest, forward_head) = if method == "CONNECT" {
            let Some((host, port)) = split_authority(target) else {
                return bad("CONNECT wants host:port");
            };
            (Protocol::HttpConnect, dest_of(host, port), None)
        } else {
            let Some((host, port, path)) = split_http_url(target) else {
                return bad("a proxy wants an absolute http:// URL (or CONNECT host:port)");
            };
            let head = forward_head(
                method,
                path,
                req.version.unwrap_or(1),
                req.headers,
                &host,
                port,
            );
            (Protocol::HttpForward, dest_of(&host, port), Some(head))
        };
        if let Dest::Name(name, _) = &dest
            && !valid_name(name)
        {
            return bad("not a host name");
        }
        self.buf.drain(..end);
        Some(Step::Connect(Request {
            protocol,
            dest,
            user,
            forward_head,
        }))
    }
}

/// The reply that opens the tunnel: SOCKS's success with the address we connected from,
/// HTTP CONNECT's 200; a forwarded request has none (the origin's response is the reply).
pub fn connected(protocol: Protocol, bound: SocketAddr) -> Vec<u8> {
    match protocol {
        Protocol::Socks4 | Protocol::Socks4a => socks4_reply(true),
        Protocol::Socks5 => socks5_reply(0, Some(bound)),
        Protocol::HttpConnect => b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
        Protocol::HttpForward => Vec::new(),
    }
}

/// The reply that says why the tunnel could not be opened: SOCKS5 replies 1–5 and 2 for
/// our rules, SOCKS4's "rejected", HTTP 502 (504 for a timeout, 403 for our rules) with a
/// one-line body naming the failure and `detail`.
pub fn failed(protocol: Protocol, failure: Failure, detail: &str) -> Vec<u8> {
    match protocol {
        Protocol::Socks4 | Protocol::Socks4a => socks4_reply(false),
        Protocol::Socks5 => socks5_reply(
            match failure {
                Failure::General => 1,
                Failure::NotAllowed => 2,
                Failure::Unreachable => 3,
                Failure::NameNotFound => 4,
                Failure::Refused => 5,
                Failure::TimedOut => 6,
            },
            None,
        ),
        Protocol::HttpConnect | Protocol::HttpForward => {
            let (code, reason) = match failure {
                Failure::TimedOut => (504, "Gateway Timeout"),
                Failure::NotAllowed => (403, "Forbidden"),
                _ => (502, "Bad Gateway"),
            };
            http_reply(code, reason, &format!("{}: {detail}", failure.as_str()))
        }
    }
}

/// A user name a client sent, as it may be shown in a log line or a reply: control
/// characters escaped (no line of ours can be forged), at most 64 characters.
fn printable(name: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(name).escape_debug().collect();
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Where a NUL-terminated SOCKS4 field ends, looking at no more than its longest.
enum Field {
    Ends(usize),
    TooLong,
    More,
}

fn nul_within(b: &[u8]) -> Field {
    match b.iter().take(MAX_SOCKS4_FIELD + 1).position(|&c| c == 0) {
        Some(i) => Field::Ends(i),
        None if b.len() > MAX_SOCKS4_FIELD => Field::TooLong,
        None => Field::More,
    }
}

fn socks4_reply(granted: bool) -> Vec<u8> {
    vec![0, if granted { 90 } else { 91 }, 0, 0, 0, 0, 0, 0]
}

/// VER REP RSV ATYP BND.ADDR BND.PORT (0.0.0.0:0 when there is no address to give).
fn socks5_reply(rep: u8, bound: Option<SocketAddr>) -> Vec<u8> {
    let mut r = vec![5, rep, 0];
    match bound.map(|b| (b.ip().to_canonical(), b.port())) {
        Some((IpAddr::V6(ip), port)) => {
            r.push(4);
            r.extend_from_slice(&ip.octets());
            r.extend_from_slice(&port.to_be_bytes());
        }
        Some((IpAddr::V4(ip), port)) => {
            r.push(1);
            r.extend_from_slice(&ip.octets());
            r.extend_from_slice(&port.to_be_bytes());
        }
        None => r.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0]),
    }
    r
}

/// A short HTTP answer that closes the connection, its body one line.
fn http_reply(code: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}\n",
        body.len() + 1
    )
    .into_bytes()
}

/// The end of an HTTP head (after its empty line), if it is all here.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Checks `Proxy-Authorization` against `users`: the user name when they are required and
/// match, `None` when none are required, else why not.
fn authorized(value: Option<&[u8]>, users: &Users) -> Result<Option<String>, String> {
    if !users.required() {
        return Ok(None);
    }
    let Some(value) = value else {
        return Err("proxy authentication required".into());
    };
    let value = String::from_utf8_lossy(value);
    let token = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .map(str::trim)
        .ok_or("only Basic proxy authentication is supported")?;
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| "bad Basic credentials")?;
    let colon = decoded
        .iter()
        .position(|&c| c == b':')
        .ok_or("bad Basic credentials")?;
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    if users.check(user, password) {
        Ok(Some(printable(user)))
    } else {
        Err(format!("wrong password for user '{}'", printable(user)))
    }
}

/// `host:port` or `[v6]:port` (CONNECT's authority form).
fn split_authority(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|&p| p != 0)?;
    let host = crate::names::unbracket(host);
    (!host.is_empty()).then_some((host, port))
}

/// `http://host[:port][/path]`: the host, the port (80 by default) and the path with its
/// query (`/` when empty).
fn split_http_url(target: &str) -> Option<(String, u16, &str)> {
    let scheme_len = "http://".len();
    // Bytes, not a str slice: a client's target may have a multi-byte character anywhere.
    if !target
        .as_bytes()
        .get(..scheme_len)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"http://"))
    {
        return None;
    }
    let rest = &target[scheme_len..];
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    // user:password@ in a URL sent to a proxy is dropped, as browsers do.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if authority.ends_with(']') || !authority.contains(':') {
        (authority, 80)
    } else if let Some((h, p)) = authority.rsplit_once(':') {
        if p.is_empty() {
            (h, 80)
        } else {
            (h, p.parse::<u16>().ok().filter(|&p| p != 0)?)
        }
    } else {
        (authority, 80)
    };
    let host = crate::names::unbracket(host);
    if host.is_empty() {
        return None;
    }
    let path = if path.is_empty() { "/" } else { path };
    Some((host.to_string(), port, path))
}

/// The destination for a host (a literal address or a name) and a port.
fn dest_of(host: &str, port: u16) -> Dest {
    match crate::names::parse_ip(host) {
        Some(ip) => Dest::Addr(SocketAddr::new(ip, port)),
        None => Dest::Name(host.to_string(), port),
    }
}

/// Whether a name a client sent is one we would look up.
fn valid_name(name: &str) -> bool {
    crate::names::parse_ip(name).is_some() || crate::names::host_name_problem(name).is_none()
}

/// Headers that concern one connection only (RFC 9110 §7.6.1), not passed on; the body's
/// framing (`Transfer-Encoding`, `Content-Length`) is passed on whole, since the body is.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "upgrade",
];

/// The request head for the origin: origin form, the hop-by-hop headers (and those named by
/// `Connection`) left out, `Host` kept or added, our `Via`, and `Connection: close` (one
/// exchange per connection: the origin's close ends the response).
fn forward_head(
    method: &str,
    path: &str,
    minor: u8,
    headers: &[httparse::Header<'_>],
    host: &str,
    port: u16,
) -> Vec<u8> {
    let named: Vec<String> = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| {
            String::from_utf8_lossy(h.value)
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = format!("{method} {path} HTTP/1.{minor}\r\n").into_bytes();
    let mut has_host = false;
    let mut via = String::new();
    for h in headers {
        let name = h.name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&name.as_str()) || named.contains(&name) {
            continue;
        }
        if name == "via" {
            via = format!("{}, ", String::from_utf8_lossy(h.value));
            continue;
        }
        has_host |= name == "host";
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    if !has_host {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let host = if port == 80 {
            host
        } else {
            format!("{host}:{port}")
        };
        out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Via: {via}{VIA}\r\nConnection: close\r\n\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users::new(vec![("pi".into(), "raspberry".into())])
    }

    fn connect_of(next: Next) -> (Request, Vec<u8>) {
        match next {
            Next::Connect(r, rest) => (r, rest),
            other => panic!("expected Connect, got {other:?}"),
        }
    }

    #[test]
    fn socks4_and_4a_requests() {
        let mut h = Handshake::new();
        let (out, next) = h.input(
            &[4, 1, 0, 80, 10, 0, 0, 1, b'u', 0, b'x'],
            &Users::default(),
        );
        assert!(out.is_empty());
        let (req, rest) = connect_of(next);
        assert_eq!(req.protocol, Protocol::Socks4);
        assert_eq!(req.dest, Dest::Addr("10.0.0.1:80".parse().unwrap()));
        assert_eq!(req.user.as_deref(), Some("u"));
        assert_eq!(rest, b"x");
        // 4a, a byte at a time.
        let mut h = Handshake::new();
        let msg = [&[4u8, 1, 1, 187, 0, 0, 0, 9, 0][..], b"example.org\0"].concat();
        for (i, b) in msg.iter().enumerate() {
            let (_, next) = h.input(&[*b], &Users::default());
            if i + 1 < msg.len() {
                assert_eq!(next, Next::More, "byte {i}");
            } else {
                let (req, _) = connect_of(next);
                assert_eq!(req.dest, Dest::Name("example.org".into(), 443));
                assert_eq!(req.protocol, Protocol::Socks4a);
            }
        }
        // With --auth, SOCKS4 is refused (reply 91).
        let (out, next) = Handshake::new().input(&[4, 1, 0, 80, 10, 0, 0, 1, 0], &users());
        assert_eq!(out, [0, 91, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(next, Next::Close(_)));
    }

    #[test]
    fn socks5_with_and_without_a_password() {
        let mut h = Handshake::new();
        let (out, next) = h.input(&[5, 1, 0], &Users::default());
        assert_eq!((out, next), (vec![5, 0], Next::More));
        let (_, next) = h.input(
            &[5, 1, 0, 3, 4, b'h', b'o', b's', b't', 0, 22],
            &Users::default(),
        );
        let (req, _) = connect_of(next);
        assert_eq!(req.dest, Dest::Name("host".into(), 22));
        // A client that does not wait: greeting, auth and request in one read.
        let mut h = Handshake::new();
        let msg = [
            &[5u8, 2, 0, 2][..],
            &[1, 2, b'p', b'i', 9][..],
            b"raspberry",
            &[5, 1, 0, 4][..],
            &Ipv6Addr::LOCALHOST.octets(),
            &[0x1f, 0x90],
        ]
        .concat();
        let (out, next) = h.input(&msg, &users());
        assert_eq!(out, [5, 2, 1, 0]);
        let (req, _) = connect_of(next);
        assert_eq!(req.dest, Dest::Addr("[::1]:8080".parse().unwrap()));
        assert_eq!(req.user.as_deref(), Some("pi"));
        // A wrong password, and a client offering no password at all.
        let (out, next) = Handshake::new().input(&[5, 1, 2, 1, 2, b'p', b'i', 1, b'x'], &users());
        assert_eq!(out, [5, 2, 1, 1]);
        assert!(matches!(next, Next::Close(why) if why.contains("wrong password")));
        let (out, next) = Handshake::new().input(&[5, 1, 0], &users());
        assert_eq!(out, [5, 0xff]);
        assert!(matches!(next, Next::Close(_)));
        // BIND is not supported: reply 7.
        let mut h = Handshake::new();
        h.input(&[5, 1, 0], &Users::default());
        let (out, _) = h.input(&[5, 2, 0, 1, 127, 0, 0, 1, 0, 80], &Users::default());
        assert_eq!(out[..2], [5, 7]);
    }

    #[test]
    fn http_connect_and_forward() {
        let (out, next) = Handshake::new().input(
            b"CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\nhello",
            &Users::default(),
        );
        assert!(out.is_empty());
        let (req, rest) = connect_of(next);
        assert_eq!(req.protocol, Protocol::HttpConnect);
        assert_eq!(req.dest, Dest::Addr("[::1]:443".parse().unwrap()));
        assert_eq!(rest, b"hello");
        let ask = b"GET http://lab.example:8080/a?b=1 HTTP/1.1\r\nHost: lab.example:8080\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nAccept: */*\r\n\r\n";
        let (_, next) = Handshake::new().input(ask, &Users::default());
        let (req, _) = connect_of(next);
        assert_eq!(req.protocol, Protocol::HttpForward);
        assert_eq!(req.dest, Dest::Name("lab.example".into(), 8080));
        let head = String::from_utf8(req.forward_head.unwrap()).unwrap();
        assert_eq!(
            head,
            "GET /a?b=1 HTTP/1.1\r\nHost: lab.example:8080\r\nAccept: */*\r\nVia: 1.1 nicksock\r\nConnection: close\r\n\r\n"
        );
        // Origin form is for servers, not proxies.
        let (out, next) = Handshake::new().input(b"GET / HTTP/1.1\r\n\r\n", &Users::default());
        assert!(out.starts_with(b"HTTP/1.1 400"));
        assert!(matches!(next, Next::Close(_)));
    }

    #[test]
    fn a_target_with_a_multi_byte_character_is_refused_not_a_panic() {
        let (out, next) = Handshake::new().input(
            "GET httѓ://x/ HTTP/1.1\r\n\r\n".as_bytes(),
            &Users::default(),
        );
        assert!(out.starts_with(b"HTTP/1.1 400"));
        assert!(matches!(next, Next::Close(_)));
    }

    #[test]
    fn a_user_name_cannot_forge_a_log_line() {
        let (_, next) =
            Handshake::new().input(&[5, 1, 2, 1, 3, b'a', b'\n', b'b', 1, b'x'], &users());
        assert!(matches!(next, Next::Close(why) if why.contains("a\\nb") && !why.contains('\n')));
    }

    #[test]
    fn http_auth_and_limits() {
        let (out, next) = Handshake::new().input(b"CONNECT h:1 HTTP/1.1\r\n\r\n", &users());
        assert!(out.starts_with(b"HTTP/1.1 407"));
        assert!(String::from_utf8_lossy(&out).contains("Proxy-Authenticate: Basic"));
        assert!(matches!(next, Next::Close(_)));
        let ok = b"CONNECT h:1 HTTP/1.1\r\nProxy-Authorization: Basic cGk6cmFzcGJlcnJ5\r\n\r\n";
        let (_, next) = Handshake::new().input(ok, &users());
        assert_eq!(connect_of(next).0.user.as_deref(), Some("pi"));
        let mut h = Handshake::new();
        let (out, next) = h.input(&vec![b'A'; MAX_HEAD + 10], &Users::default());
        assert!(out.starts_with(b"HTTP/1.1 431"));
        assert!(matches!(next, Next::Close(_)));
        let (out, next) = Handshake::new().input(&[0x16, 3, 1], &Users::default());
        assert!(out.is_empty());
        assert!(matches!(next, Next::Close(_)));
    }

    #[test]
    fn replies_name_the_failure() {
        assert_eq!(failed(Protocol::Socks5, Failure::Refused, "")[1], 5);
        assert_eq!(failed(Protocol::Socks5, Failure::NotAllowed, "")[1], 2);
        assert_eq!(failed(Protocol::Socks4, Failure::Refused, "")[1], 91);
        let r = failed(Protocol::HttpConnect, Failure::TimedOut, "10.0.0.1:22");
        assert!(r.starts_with(b"HTTP/1.1 504"));
        assert!(String::from_utf8_lossy(&r).ends_with("timed out: 10.0.0.1:22\n"));
        let ok = connected(Protocol::Socks5, "[::1]:7".parse().unwrap());
        assert_eq!(ok[..4], [5, 0, 0, 4]);
    }
}
