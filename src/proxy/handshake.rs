//! The handshakes that open a tunnel through a proxy: HTTP CONNECT (for http and https
//! proxies; the TLS to an https proxy is the caller's), SOCKS4 and SOCKS4a, and SOCKS5
//! (RFC 1928) with username/password authentication (RFC 1929).
//!
//! Sans-I/O, like `http::client`: the caller sends [`Handshake::output`], reads at most
//! [`Handshake::read_limit`] bytes and pushes them into [`Handshake::input`], until it says
//! [`Status::Done`]. The read limit is what keeps the target's first bytes (an SSH server
//! speaks first) out of our hands: it never reaches past the end of the proxy's reply. For
//! SOCKS every part of a reply has a known length; an HTTP reply is read a few bytes at a
//! time, no more than could still complete its empty line.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Error;
use super::url::{Credentials, ProxyUrl, Scheme, host_port};

/// The largest HTTP reply head accepted from a proxy, interim (1xx) heads included.
pub const MAX_HTTP_REPLY_HEAD: usize = 16 * 1024;

/// The most header lines an HTTP reply head may have.
const MAX_REPLY_HEADERS: usize = 100;

/// The shortest head an HTTP reply can have (`HTTP/1.1 200\n\n`): this much is read at once.
const MIN_HTTP_HEAD: usize = 14;

/// The value of a `Proxy-Authorization` (or `Authorization`) header for these credentials:
/// `Basic ` and the base64 of `user:password`.
pub fn basic_auth(c: &Credentials) -> String {
    format!(
        "Basic {}",
        crate::http::basic_token(c.user.as_bytes(), c.password.as_bytes())
    )
}

/// What the proxy's answer so far means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Send [`Handshake::output`], then read up to [`Handshake::read_limit`] bytes.
    Continue,
    /// The tunnel is open: every later byte is the target's.
    Done,
}

/// The part of the proxy's answer being read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An HTTP reply head, up to its empty line.
    HttpHead,
    /// SOCKS4's reply: VN CD DSTPORT DSTIP, 8 bytes.
    Socks4Reply,
    /// SOCKS5's method selection: VER METHOD.
    Socks5Method,
    /// RFC 1929's answer to the user name and password: VER STATUS.
    Socks5Auth,
    /// The start of SOCKS5's reply: VER REP RSV ATYP.
    Socks5Reply,
    /// The length of the bound name, when the reply's address type is 3.
    Socks5NameLen,
    /// The bound address (of address type `atyp`) and port: `need` bytes in all.
    Socks5Bound { atyp: u8, need: usize },
    /// The tunnel is open.
    Done,
    /// The handshake failed; every later call says so again.
    Failed(Error),
}

/// One handshake with a proxy for one target. Its `Debug` shows neither the bytes it sends
/// nor the credentials.
pub struct Handshake {
    /// The protocol's name for notes and messages: "HTTP CONNECT", "SOCKS4", "SOCKS4a" or
    /// "SOCKS5".
    label: &'static str,
    /// The target as `host:port`, IPv6 bracketed, for messages.
    target: String,
    /// The message being sent, and how much of it went.
    out: Vec<u8>,
    sent: usize,
    step: Step,
    /// The part of the reply read so far (the current SOCKS part, or the HTTP head).
    buf: Vec<u8>,
    /// Bytes of the interim (1xx) HTTP heads already read.
    head_total: usize,
    /// Where the current HTTP head starts, once a byte other than CR or LF came (httparse
    /// skips empty lines before a status line).
    http_start: Option<usize>,
    /// Whether the current HTTP head has been seen to start with `HTTP/`.
    http_checked: bool,
    /// Whether credentials were sent or offered.
    with_credentials: bool,
    /// SOCKS5: RFC 1929's user name and password message, when we have credentials.
    auth: Option<Vec<u8>>,
    /// SOCKS5: the connect request, sent once the authentication is through.
    request: Vec<u8>,
    /// SOCKS5: the address type of the request (for reply 8's hint).
    request_atyp: u8,
    /// SOCKS5: the note to make when the request is sent.
    request_note: String,
    /// The user name, for notes (never the password).
    user: String,
    notes: Vec<String>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("protocol", &self.label)
            .field("target", &self.target)
            .field("step", &self.step)
            .field("unsent", &self.output().len())
            .field("read", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// A handshake with `proxy` (its scheme picks the protocol; Https is HTTP CONNECT too —
    /// TLS to the proxy is the caller's job) for the target `host`:`port`.
    ///
    /// `address` is the target's address when the client resolved it: required for Socks4
    /// (an IPv4 one) and Socks5 when `host` is a name, ignored when the scheme has the proxy
    /// resolve names. `host` may be an IP literal (brackets allowed): SOCKS then sends it as
    /// an address, and HTTP brackets an IPv6 one in CONNECT's authority. `user_agent` is the
    /// User-Agent of CONNECT (none when empty).
    pub fn new(
        proxy: &ProxyUrl,
        host: &str,
        port: u16,
        address: Option<IpAddr>,
        user_agent: &str,
    ) -> Result<Handshake, Error> {
        let host = crate::names::unbracket(host);
        if host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::Unsupported(format!(
                "the target host `{}` is empty or has a space or control character",
                host.escape_debug()
            )));
        }
        if user_agent.chars().any(char::is_control) {
            return Err(Error::Unsupported(format!(
                "the User-Agent `{}` has a control character",
                user_agent.escape_debug()
            )));
        }
        let mut h = Handshake {
            label: "",
            target: host_port(host, port),
            out: Vec::new(),
            sent: 0,
            step: Step::Done,
            buf: Vec::new(),
            head_total: 0,
            http_start: None,
            http_checked: false,
            with_credentials: proxy.credentials.is_some(),
            auth: None,
            request: Vec::new(),
            request_atyp: 0,
            request_note: String::new(),
            user: proxy
                .credentials
                .as_ref()
                .map(|c| c.user.clone())
                .unwrap_or_default(),
            notes: Vec::new(),
        };
        let literal = host.parse::<IpAddr>().ok();
        match proxy.scheme {
            Scheme::Http | Scheme::Https => h.start_http(proxy.credentials.as_ref(), user_agent),
            Scheme::Socks4 | Scheme::Socks4a => {
                h.start_socks4(proxy, host, port, literal, address)?
            }
            Scheme::Socks5 | Scheme::Socks5h => {
                h.start_socks5(proxy, host, port, literal, address)?
            }
        }
        Ok(h)
    }

    /// Bytes to send now (may be empty).
    pub fn output(&self) -> &[u8] {
        self.out.get(self.sent..).unwrap_or_default()
    }

    /// `n` bytes of [`Handshake::output`] were sent.
    pub fn sent(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.out.len());
        if self.sent == self.out.len() {
            // The message may hold a password: keep no copy of it once it is sent.
            self.out.fill(0);
            self.out.clear();
            self.sent = 0;
        }
    }

    /// How many bytes may be read now without reading past the proxy's reply: the caller
    /// reads at most this many, so no byte of the target is ever taken here. 0 while output
    /// remains, when done and after a failure. For SOCKS: exactly the rest of the current
    /// fixed part (a SOCKS5 reply is 4 bytes, then by address type 4+2, 16+2, or 1 and then
    /// the name's length+2). For HTTP: 14 bytes at first (the shortest possible head), then
    /// 1 when the head so far ends with a line feed, or a line feed and a carriage return,
    /// and 2 otherwise: the fewest bytes that could still end the head (an empty line, with
    /// or without its carriage return, since httparse takes both).
    pub fn read_limit(&self) -> usize {
        if !self.output().is_empty() {
            return 0;
        }
        let fixed = |n: usize| n.saturating_sub(self.buf.len());
        match &self.step {
            Step::HttpHead => {
                let head = &self.buf;
                let limit = if head.len() < MIN_HTTP_HEAD {
                    MIN_HTTP_HEAD - head.len()
                } else if head.ends_with(b"\n") || head.ends_with(b"\n\r") {
                    1
                } else {
                    2
                };
                limit.min(MAX_HTTP_REPLY_HEAD.saturating_sub(self.head_total + head.len()))
            }
            Step::Socks4Reply => fixed(8),
            Step::Socks5Method | Step::Socks5Auth => fixed(2),
            Step::Socks5Reply => fixed(4),
            Step::Socks5NameLen => fixed(1),
            Step::Socks5Bound { need, .. } => fixed(*need),
            Step::Done | Step::Failed(_) => 0,
        }
    }

    /// Takes bytes read from the proxy, never more than [`Handshake::read_limit`] (more is
    /// an error: those bytes could be the target's). An error ends the handshake; later
    /// calls return it again.
    pub fn input(&mut self, data: &[u8]) -> Result<Status, Error> {
        if let Step::Failed(e) = &self.step {
            return Err(e.clone());
        }
        if data.is_empty() {
            return Ok(self.status());
        }
        let limit = self.read_limit();
        let result = if data.len() > limit {
            Err(Error::Malformed(format!(
                "{} bytes were read from the proxy where at most {limit} were wanted (bytes \
                 past its reply would be lost)",
                data.len()
            )))
        } else {
            let before = self.buf.len();
            self.buf.extend_from_slice(data);
            self.advance(before)
        };
        match result {
            Ok(()) => Ok(self.status()),
            Err(e) => {
                self.step = Step::Failed(e.clone());
                self.out.fill(0);
                self.out.clear();
                self.sent = 0;
                Err(e)
            }
        }
    }

    /// The error to report when the proxy closed the connection before the handshake was
    /// done.
    pub fn closed(&self) -> Error {
        let label = self.label;
        let what = match &self.step {
            Step::Failed(e) => return e.clone(),
            Step::HttpHead => return self.http_closed(),
            Step::Socks4Reply if self.buf.is_empty() => {
                format!("before answering the {label} request (is it a SOCKS4 proxy?)")
            }
            Step::Socks4Reply => format!("in the middle of its {label} reply"),
            Step::Socks5Method if self.buf.is_empty() => {
                "before choosing a SOCKS5 authentication method (is it a SOCKS5 proxy?)".into()
            }
            Step::Socks5Method => "in the middle of its SOCKS5 method selection".into(),
            Step::Socks5Auth => {
                "after we sent the user name and password (SOCKS5; it may have rejected them)"
                    .into()
            }
            Step::Socks5Reply if self.buf.is_empty() => {
                "before answering the SOCKS5 connect request".into()
            }
            Step::Socks5Reply | Step::Socks5NameLen | Step::Socks5Bound { .. } => {
                "in the middle of its SOCKS5 reply".into()
            }
            Step::Done => "after the tunnel was opened".into(),
        };
        Error::Malformed(format!("the proxy closed the connection {what}"))
    }

    /// Lines for `-v`, each given once: what was asked and what the proxy answered. Never a
    /// password.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Done once the tunnel is open.
    fn status(&self) -> Status {
        if self.step == Step::Done {
            Status::Done
        } else {
            Status::Continue
        }
    }

    /// Queues `message` to send and waits for `step`.
    fn send(&mut self, message: Vec<u8>, step: Step) {
        self.out = message;
        self.sent = 0;
        self.buf.clear();
        self.step = step;
    }

    /// Builds the CONNECT request.
    fn start_http(&mut self, credentials: Option<&Credentials>, user_agent: &str) {
        self.label = "HTTP CONNECT";
        let target = &self.target;
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if !user_agent.is_empty() {
            request.push_str(&format!("User-Agent: {user_agent}\r\n"));
        }
        if let Some(c) = credentials {
            request.push_str(&format!("Proxy-Authorization: {}\r\n", basic_auth(c)));
        }
        request.push_str("Proxy-Connection: Keep-Alive\r\n\r\n");
        self.notes.push(match credentials {
            Some(c) => format!(
                "HTTP CONNECT {target} (with Basic credentials for the user `{}`)",
                c.user.escape_debug()
            ),
            None => format!("HTTP CONNECT {target}"),
        });
        self.send(request.into_bytes(), Step::HttpHead);
    }

    /// Builds the SOCKS4 or SOCKS4a request.
    fn start_socks4(
        &mut self,
        proxy: &ProxyUrl,
        host: &str,
        port: u16,
        literal: Option<IpAddr>,
        address: Option<IpAddr>,
    ) -> Result<(), Error> {
        let socks4a = proxy.scheme == Scheme::Socks4a;
        self.label = if socks4a { "SOCKS4a" } else { "SOCKS4" };
        let label = self.label;
        let v4 = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        };
        // The address to send, and the name after the user id (SOCKS4a's 0.0.0.1 form).
        let (ip, name) = if let Some(literal) = literal {
            match v4(literal) {
                Some(ip) => (ip, None),
                None => {
                    return Err(Error::Unsupported(format!(
                        "{label} cannot carry the IPv6 address {literal}: use a socks5:// proxy"
                    )));
                }
            }
        } else if socks4a {
            (Ipv4Addr::new(0, 0, 0, 1), Some(host))
        } else {
            match address {
                Some(a) => {
                    let ip = v4(a).ok_or_else(|| {
                        Error::Unsupported(format!(
                            "SOCKS4 cannot carry the IPv6 address {a} of {host}: use a \
                             socks4a:// or socks5:// proxy"
                        ))
                    })?;
                    (ip, None)
                }
                None => {
                    return Err(Error::Unsupported(format!(
                        "SOCKS4 sends an IPv4 address and {host} was not resolved: resolve it \
                         first, or use a socks4a:// proxy"
                    )));
                }
            }
        };
        let user = proxy
            .credentials
            .as_ref()
            .map(|c| c.user.as_str())
            .unwrap_or("");
        if user.contains('\0') {
            return Err(Error::Unsupported(format!(
                "the {label} user id may not contain a NUL byte"
            )));
        }
        let mut request = vec![4, 1];
        request.extend_from_slice(&port.to_be_bytes());
        request.extend_from_slice(&ip.octets());
        request.extend_from_slice(user.as_bytes());
        request.push(0);
        if let Some(name) = name {
            request.extend_from_slice(name.as_bytes());
            request.push(0);
        }
        self.notes.push(match name {
            Some(_) => format!(
                "{label}: asking for a connection to {} (the proxy resolves the name)",
                self.target
            ),
            None if literal.is_none() => {
                format!("{label}: asking for a connection to {ip}:{port} ({host})")
            }
            None => format!("{label}: asking for a connection to {}", self.target),
        });
        if proxy
            .credentials
            .as_ref()
            .is_some_and(|c| !c.password.is_empty())
        {
            self.notes.push(format!(
                "{label}: the protocol has no password; only the user id `{}` is sent",
                user.escape_debug()
            ));
        }
        self.send(request, Step::Socks4Reply);
        Ok(())
    }

    /// Builds the SOCKS5 greeting, the authentication and the connect request.
    fn start_socks5(
        &mut self,
        proxy: &ProxyUrl,
        host: &str,
        port: u16,
        literal: Option<IpAddr>,
        address: Option<IpAddr>,
    ) -> Result<(), Error> {
        self.label = "SOCKS5";
        if let Some(c) = &proxy.credentials {
            if c.user.len() > 255 {
                return Err(Error::Unsupported(
                    "the user name is longer than 255 bytes, too long for SOCKS5".to_string(),
                ));
            }
            if c.password.len() > 255 {
                return Err(Error::Unsupported(
                    "the password is longer than 255 bytes, too long for SOCKS5".to_string(),
                ));
            }
            // RFC 1929: VER ULEN UNAME PLEN PASSWD; the lengths fit a byte, checked above.
            let mut auth = vec![1, c.user.len() as u8];
            auth.extend_from_slice(c.user.as_bytes());
            auth.push(c.password.len() as u8);
            auth.extend_from_slice(c.password.as_bytes());
            self.auth = Some(auth);
        }
        let mut request = vec![5, 1, 0];
        let sent_ip = match (literal, address) {
            (Some(ip), _) => Some(ip),
            (None, _) if proxy.scheme == Scheme::Socks5h => None,
            (None, Some(ip)) => Some(ip),
            (None, None) => {
                return Err(Error::Unsupported(format!(
                    "socks5:// sends an address and {host} was not resolved: resolve it first, \
                     or use a socks5h:// proxy"
                )));
            }
        };
        match sent_ip {
            Some(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Some(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            None => {
                let len = u8::try_from(host.len()).map_err(|_| {
                    Error::Unsupported(format!(
                        "the name {host} is longer than 255 bytes, too long for SOCKS5"
                    ))
                })?;
                request.push(3);
                request.push(len);
                request.extend_from_slice(host.as_bytes());
            }
        }
        self.request_atyp = request[3];
        request.extend_from_slice(&port.to_be_bytes());
        self.request = request;
        self.request_note = match sent_ip {
            None => format!(
                "SOCKS5: asking for a connection to {} (the proxy resolves the name)",
                self.target
            ),
            Some(ip) if literal.is_none() => format!(
                "SOCKS5: asking for a connection to {} ({host})",
                host_port(&ip.to_string(), port)
            ),
            Some(_) => format!("SOCKS5: asking for a connection to {}", self.target),
        };
        let greeting = if self.auth.is_some() {
            self.notes
                .push("SOCKS5: offering no authentication or username/password".to_string());
            vec![5, 2, 0, 2]
        } else {
            self.notes
                .push("SOCKS5: offering no authentication".to_string());
            vec![5, 1, 0]
        };
        self.send(greeting, Step::Socks5Method);
        Ok(())
    }

    /// Acts on the bytes read so far, of which those from `before` on are new.
    fn advance(&mut self, before: usize) -> Result<(), Error> {
        match self.step {
            Step::HttpHead => self.advance_http(before),
            Step::Socks4Reply => self.advance_socks4(),
            Step::Socks5Method => self.advance_method(),
            Step::Socks5Auth => self.advance_auth(),
            Step::Socks5Reply => self.advance_reply(),
            Step::Socks5NameLen => {
                if let Some(&len) = self.buf.first() {
                    self.buf.clear();
                    self.step = Step::Socks5Bound {
                        atyp: 3,
                        need: usize::from(len) + 2,
                    };
                }
                Ok(())
            }
            Step::Socks5Bound { atyp, need } => {
                if self.buf.len() == need {
                    let bound = bound_address(atyp, &self.buf);
                    self.notes.push(format!(
                        "SOCKS5: connected to {} (the proxy's end: {bound})",
                        self.target
                    ));
                    self.buf.clear();
                    self.step = Step::Done;
                }
                Ok(())
            }
            Step::Done | Step::Failed(_) => Ok(()),
        }
    }

    /// SOCKS4's reply: VN (0, or 4 from some servers) and CD, judged as soon as they come.
    fn advance_socks4(&mut self) -> Result<(), Error> {
        let label = self.label;
        let target = &self.target;
        if let Some(&vn) = self.buf.first()
            && vn != 0
            && vn != 4
        {
            return Err(not_socks(label, vn));
        }
        match self.buf.get(1) {
            None | Some(90) => {}
            Some(91) => {
                return Err(Error::Unreachable(format!(
                    "the proxy could not connect to {target}: request rejected or failed \
                     ({label} reply 91)"
                )));
            }
            Some(92) => {
                return Err(Error::Denied(format!(
                    "the proxy refused the connection to {target}: it could not reach our \
                     identd ({label} reply 92)"
                )));
            }
            Some(93) => {
                return Err(Error::Denied(format!(
                    "the proxy refused the connection to {target}: identd reported another \
                     user id ({label} reply 93)"
                )));
            }
            Some(code) => {
                return Err(Error::Malformed(format!(
                    "the proxy's {label} reply has the unknown code {code}"
                )));
            }
        }
        if self.buf.len() == 8 {
            self.notes.push(format!(
                "{label}: the proxy granted the connection to {target}"
            ));
            self.buf.clear();
            self.step = Step::Done;
        }
        Ok(())
    }

    /// SOCKS5's method selection.
    fn advance_method(&mut self) -> Result<(), Error> {
        if let Some(&ver) = self.buf.first()
            && ver != 5
        {
            return Err(not_socks("SOCKS5", ver));
        }
        let Some(&method) = self.buf.get(1) else {
            return Ok(());
        };
        match (method, self.auth.take()) {
            (0, _) => {
                self.notes
                    .push("SOCKS5: the proxy wants no authentication".to_string());
                self.send_request();
                Ok(())
            }
            (2, Some(auth)) => {
                self.notes.push(format!(
                    "SOCKS5: sending the user name `{}` and its password",
                    self.user.escape_debug()
                ));
                self.send(auth, Step::Socks5Auth);
                Ok(())
            }
            (0xFF, _) if self.with_credentials => Err(Error::Denied(
                "the proxy accepts none of our authentication methods (SOCKS5)".to_string(),
            )),
            (0xFF, _) => Err(Error::Denied(
                "the proxy accepts none of our authentication methods (SOCKS5; it may want a \
                 user name and password)"
                    .to_string(),
            )),
            (m, _) => Err(Error::Malformed(format!(
                "the proxy chose the SOCKS5 authentication method {m} ({}), which we did not \
                 offer",
                method_name(m)
            ))),
        }
    }

    /// RFC 1929's answer to the user name and password.
    fn advance_auth(&mut self) -> Result<(), Error> {
        // RFC 1929 says version 1; some servers answer with SOCKS's 5, which is as clear.
        if let Some(&ver) = self.buf.first()
            && ver != 1
            && ver != 5
        {
            return Err(Error::Malformed(format!(
                "the proxy's answer to our user name and password is not RFC 1929 (version \
                 byte {ver})"
            )));
        }
        match self.buf.get(1) {
            None => Ok(()),
            Some(0) => {
                self.notes
                    .push("SOCKS5: username/password accepted".to_string());
                self.send_request();
                Ok(())
            }
            Some(_) => Err(Error::Denied(
                "the proxy rejected the user name or password (SOCKS5 authentication failed)"
                    .to_string(),
            )),
        }
    }

    /// Sends SOCKS5's connect request.
    fn send_request(&mut self) {
        let request = std::mem::take(&mut self.request);
        self.notes.push(std::mem::take(&mut self.request_note));
        self.send(request, Step::Socks5Reply);
    }

    /// The start of SOCKS5's reply: a failure is judged as soon as its code comes (the
    /// address that follows says nothing useful then); success goes on to the address.
    fn advance_reply(&mut self) -> Result<(), Error> {
        if let Some(&ver) = self.buf.first()
            && ver != 5
        {
            return Err(not_socks("SOCKS5", ver));
        }
        if let Some(&rep) = self.buf.get(1)
            && rep != 0
        {
            return Err(self.socks5_failure(rep));
        }
        let Some(&atyp) = self.buf.get(3) else {
            return Ok(());
        };
        self.buf.clear();
        self.step = match atyp {
            1 => Step::Socks5Bound { atyp, need: 4 + 2 },
            4 => Step::Socks5Bound { atyp, need: 16 + 2 },
            3 => Step::Socks5NameLen,
            _ => {
                return Err(Error::Malformed(format!(
                    "the proxy's SOCKS5 reply has the unknown address type {atyp}"
                )));
            }
        };
        Ok(())
    }

    /// The error of a SOCKS5 reply code other than 0.
    fn socks5_failure(&self, rep: u8) -> Error {
        let target = &self.target;
        match rep {
            2 => Error::Denied(format!(
                "the proxy refused the connection to {target}: not allowed by the proxy's rules \
                 (SOCKS5 reply 2)"
            )),
            // Every SOCKS5 server must support CONNECT, the one command we send: one that
            // says it does not is broken, and no other address would do better.
            7 => Error::Malformed(format!(
                "the proxy could not connect to {target}: command not supported (SOCKS5 reply \
                 7: it does not do CONNECT)"
            )),
            // The proxy cannot take this kind of address: another address of the target (an
            // IPv4 one after an IPv6 one) may still work, so it counts as unreachable.
            8 => Error::Unreachable(format!(
                "the proxy could not connect to {target}: address type not supported (SOCKS5 \
                 reply 8{})",
                match self.request_atyp {
                    3 => "; use socks5:// to send an address instead of the name",
                    4 => "; the proxy may not do IPv6",
                    _ => "",
                }
            )),
            _ => {
                let what = match rep {
                    1 => "general failure",
                    3 => "network unreachable",
                    4 => "host unreachable",
                    5 => "connection refused",
                    6 => "TTL expired",
                    _ => "unknown failure",
                };
                Error::Unreachable(format!(
                    "the proxy could not connect to {target}: {what} (SOCKS5 reply {rep})"
                ))
            }
        }
    }

    /// Judges the HTTP head read so far (new from `before` on): not HTTP at all, complete,
    /// or too large.
    fn advance_http(&mut self, before: usize) -> Result<(), Error> {
        // A reply that does not start as HTTP is told at its first wrong byte. Only the new
        // bytes are looked at, so a head costs time in proportion to its length.
        if self.http_start.is_none() {
            self.http_start = self.buf[before..]
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .map(|i| before + i);
        }
        if let Some(start) = self.http_start
            && !self.http_checked
        {
            let seen = &self.buf[start..];
            if let Some(wrong) = seen
                .iter()
                .zip(b"HTTP/")
                .position(|(got, want)| got != want)
            {
                let begins = &self.buf[..=start + wrong];
                return Err(Error::Malformed(format!(
                    "the proxy's reply is not HTTP (it begins \"{}\"{})",
                    begins.escape_ascii(),
                    if begins.last() == Some(&5) {
                        ", as SOCKS5's does: is it a SOCKS proxy?"
                    } else {
                        ""
                    }
                )));
            }
            self.http_checked = seen.len() >= 5;
        }
        // The read limit makes every point where the head could end the end of a read.
        let total = self.head_total + self.buf.len();
        let ends = self.buf.ends_with(b"\n\n") || self.buf.ends_with(b"\n\r\n");
        if self.http_start.is_some() && self.buf.len() >= MIN_HTTP_HEAD && ends {
            let mut headers = [httparse::EMPTY_HEADER; MAX_REPLY_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) if n == self.buf.len() => {
                    let code = response.code.unwrap_or(0);
                    let status = status_text(code, response.reason.unwrap_or(""));
                    let challenge = response
                        .headers
                        .iter()
                        .filter(|h| h.name.eq_ignore_ascii_case("proxy-authenticate"))
                        .map(|h| shorten(&String::from_utf8_lossy(h.value)))
                        .collect::<Vec<_>>();
                    return self.http_status(code, &status, &challenge);
                }
                Ok(httparse::Status::Complete(_)) => {
                    return Err(Error::Malformed(
                        "the proxy's reply to CONNECT has bytes after its head".to_string(),
                    ));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => {
                    return Err(Error::Malformed(format!(
                        "the proxy's reply to CONNECT is not valid HTTP ({e})"
                    )));
                }
            }
        }
        if total >= MAX_HTTP_REPLY_HEAD {
            return Err(Error::Malformed(format!(
                "the proxy's reply to CONNECT has a head larger than {} KiB",
                MAX_HTTP_REPLY_HEAD / 1024
            )));
        }
        Ok(())
    }

    /// Acts on a complete HTTP head of status `code` (`status` is the code and reason).
    fn http_status(&mut self, code: u16, status: &str, challenge: &[String]) -> Result<(), Error> {
        let target = &self.target;
        let mut note = format!("HTTP CONNECT {target}: {status}");
        for c in challenge {
            note.push_str(&format!(" (Proxy-Authenticate: {c})"));
        }
        if (100..200).contains(&code) && code != 101 {
            self.notes
                .push(format!("{note} (interim: the answer follows)"));
            self.head_total += self.buf.len();
            self.buf.clear();
            self.http_start = None;
            self.http_checked = false;
            if self.head_total >= MAX_HTTP_REPLY_HEAD {
                return Err(Error::Malformed(format!(
                    "the proxy's reply to CONNECT has a head larger than {} KiB",
                    MAX_HTTP_REPLY_HEAD / 1024
                )));
            }
            return Ok(());
        }
        self.notes.push(note);
        self.buf.clear();
        if (200..300).contains(&code) {
            self.step = Step::Done;
            return Ok(());
        }
        Err(self.http_failure(code, status))
    }

    /// The error of a final HTTP status that is not a success.
    fn http_failure(&self, code: u16, status: &str) -> Error {
        let target = &self.target;
        match code {
            // tinyproxy answers a CONNECT with wrong BasicAuth credentials 401, not 407.
            401 | 407 if self.with_credentials => Error::Denied(format!(
                "the proxy rejected the credentials (HTTP {status})"
            )),
            401 | 407 => Error::Denied(format!("the proxy wants credentials (HTTP {status})")),
            403 => Error::Denied(format!(
                "the proxy refused the connection to {target} (HTTP {status})"
            )),
            502..=504 => Error::Unreachable(format!(
                "the proxy could not connect to {target} (HTTP {status})"
            )),
            _ => Error::Unreachable(format!(
                "the proxy did not open a tunnel to {target} (HTTP {status})"
            )),
        }
    }

    /// The error when the proxy closed the connection in the middle of an HTTP reply: the
    /// status's own, when its line came whole and was not a success.
    fn http_closed(&self) -> Error {
        if self.head_total == 0 && self.buf.is_empty() {
            return Error::Malformed(
                "the proxy closed the connection without answering the CONNECT request".to_string(),
            );
        }
        let start = self
            .buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(self.buf.len());
        let rest = &self.buf[start..];
        if let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let mut line = rest[..=end].to_vec();
            line.extend_from_slice(b"\r\n");
            let mut response = httparse::Response::new(&mut []);
            if let Ok(httparse::Status::Complete(_)) = response.parse(&line)
                && let Some(code) = response.code
                && code >= 300
            {
                return self.http_failure(code, &status_text(code, response.reason.unwrap_or("")));
            }
        }
        Error::Malformed(
            "the proxy closed the connection in the middle of its reply to CONNECT".to_string(),
        )
    }
}

/// The error for a SOCKS reply whose version byte is wrong.
fn not_socks(label: &str, byte: u8) -> Error {
    Error::Malformed(if byte == b'H' {
        format!(
            "the proxy's reply is not {label} (it begins with 'H', as HTTP's does: is it an \
             HTTP proxy?)"
        )
    } else {
        format!("the proxy's reply is not {label} (version byte {byte})")
    })
}

/// The name of a SOCKS5 authentication method.
fn method_name(m: u8) -> &'static str {
    match m {
        0 => "no authentication",
        1 => "GSSAPI",
        2 => "username/password",
        3..=0x7F => "assigned by IANA",
        _ => "private",
    }
}

/// The bound address of a SOCKS5 reply (`bytes` is the address and the port) as
/// `address:port`.
fn bound_address(atyp: u8, bytes: &[u8]) -> String {
    let (addr, port) = bytes.split_at(bytes.len().saturating_sub(2));
    let port = match port {
        [hi, lo] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    };
    let host = match (atyp, addr) {
        (1, &[a, b, c, d]) => Ipv4Addr::new(a, b, c, d).to_string(),
        (4, _) => match <[u8; 16]>::try_from(addr) {
            Ok(octets) => Ipv6Addr::from(octets).to_string(),
            Err(_) => "?".to_string(),
        },
        (3, _) => shorten(&String::from_utf8_lossy(addr.get(1..).unwrap_or_default())),
        _ => "?".to_string(),
    };
    host_port(&host, port)
}

/// An HTTP status as messages show it: the code and the proxy's reason, or the standard
/// reason of the code when the proxy sent none.
fn status_text(code: u16, reason: &str) -> String {
    let reason = if reason.trim().is_empty() {
        match code {
            200 => "Connection established",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            407 => "Proxy Authentication Required",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "",
        }
        .to_string()
    } else {
        shorten(reason.trim())
    };
    if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code} {reason}")
    }
}

/// `text` on one line and at most 100 characters, for messages.
fn shorten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 100 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "nicksock/0.1.0";
    /// What the target says first, after the proxy's reply: it must never be read here.
    const BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n";

    fn proxy(text: &str) -> ProxyUrl {
        ProxyUrl::parse(text).unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    /// The outcome of driving `h` against a proxy whose answers are `replies` (one per
    /// message we send), followed by the target's banner: the messages sent, the outcome,
    /// and what is left unread on the connection. Reads are capped by `read_limit` and by
    /// `chunk` (None: as much as allowed).
    fn drive(
        h: &mut Handshake,
        replies: &[&[u8]],
        chunk: Option<usize>,
    ) -> (Vec<Vec<u8>>, Result<Status, Error>, Vec<u8>) {
        let mut stream: Vec<u8> = Vec::new();
        let mut sent = Vec::new();
        let mut next = 0;
        let mut outcome = Ok(Status::Continue);
        loop {
            let out = h.output().to_vec();
            if !out.is_empty() {
                assert_eq!(h.read_limit(), 0, "reading while output remains");
                // Send it in two pieces, to check partial sends.
                let half = out.len() / 2;
                h.sent(half);
                assert_eq!(h.output(), &out[half..]);
                h.sent(out.len() - half);
                assert!(h.output().is_empty());
                sent.push(out);
                if let Some(reply) = replies.get(next) {
                    stream.extend_from_slice(reply);
                    next += 1;
                    if next == replies.len() {
                        stream.extend_from_slice(BANNER);
                    }
                }
            }
            let limit = h.read_limit();
            if limit == 0 || stream.is_empty() {
                break;
            }
            let take = limit.min(chunk.unwrap_or(limit)).min(stream.len());
            let piece: Vec<u8> = stream.drain(..take).collect();
            outcome = h.input(&piece);
            if !matches!(outcome, Ok(Status::Continue)) {
                break;
            }
        }
        (sent, outcome, stream)
    }

    /// Drives `h` whole and byte by byte (two fresh handshakes from `make`), checks that
    /// both end alike with nothing of the target read, and returns that outcome.
    fn both_ways(
        make: impl Fn() -> Handshake,
        replies: &[&[u8]],
    ) -> (Vec<Vec<u8>>, Result<Status, Error>) {
        let (sent, whole, rest) = drive(&mut make(), replies, None);
        let (sent1, bytewise, rest1) = drive(&mut make(), replies, Some(1));
        assert_eq!(sent, sent1);
        assert_eq!(whole, bytewise);
        if whole == Ok(Status::Done) {
            assert_eq!(rest, BANNER, "a byte past the proxy's reply was read");
            assert_eq!(rest1, BANNER, "a byte past the proxy's reply was read");
        }
        (sent, whole)
    }

    fn kind(result: Result<Status, Error>) -> Error {
        result.expect_err("the handshake should fail")
    }

    #[test]
    fn socks4_sends_the_address_and_user_id() {
        let p = proxy("socks4://bob:pw@p");
        let make = || Handshake::new(&p, "example.org", 22, ip("93.184.216.34"), UA).unwrap();
        let reply: &[u8] = &[0, 90, 0, 0, 0, 0, 0, 0];
        let (sent, outcome) = both_ways(make, &[reply]);
        assert_eq!(
            sent,
            [vec![4, 1, 0, 22, 93, 184, 216, 34, b'b', b'o', b'b', 0]]
        );
        assert_eq!(outcome, Ok(Status::Done));
        // Version 4 in the reply is taken too (some servers send it).
        let (_, outcome) = both_ways(make, &[&[4, 90, 1, 2, 3, 4, 5, 6]]);
        assert_eq!(outcome, Ok(Status::Done));
        let mut h = make();
        let notes = h.take_notes();
        assert_eq!(
            notes[0],
            "SOCKS4: asking for a connection to 93.184.216.34:22 (example.org)"
        );
        assert!(notes.iter().all(|n| !n.contains("pw")), "{notes:?}");
        assert!(h.take_notes().is_empty());
    }

    #[test]
    fn socks4a_sends_the_name_after_the_user_id() {
        let p = proxy("socks4a://p");
        let make = || Handshake::new(&p, "example.org", 443, None, UA).unwrap();
        let (sent, outcome) = both_ways(make, &[&[0, 90, 0, 0, 0, 0, 0, 0]]);
        let mut want = vec![4, 1, 1, 187, 0, 0, 0, 1, 0];
        want.extend_from_slice(b"example.org\0");
        assert_eq!(sent, [want]);
        assert_eq!(outcome, Ok(Status::Done));
        // An IPv4 literal is sent as the address, with no name.
        let mut h = Handshake::new(&p, "10.1.2.3", 80, None, UA).unwrap();
        assert_eq!(h.output(), [4, 1, 0, 80, 10, 1, 2, 3, 0]);
        assert!(h.take_notes()[0].ends_with("10.1.2.3:80"));
    }

    #[test]
    fn socks4_cannot_carry_ipv6() {
        for (url, host, addr) in [
            ("socks4://p", "::1", None),
            ("socks4://p", "[::1]", None),
            ("socks4a://p", "::1", None),
            ("socks4://p", "example.org", ip("2001:db8::1")),
            ("socks4://p", "example.org", None),
        ] {
            let err = Handshake::new(&proxy(url), host, 22, addr, UA).unwrap_err();
            assert!(
                matches!(err, Error::Unsupported(_)),
                "{url} {host}: {err:?}"
            );
            assert_eq!(err.kind().code(), 2);
        }
        // An IPv4-mapped IPv6 address is an IPv4 address.
        let h = Handshake::new(&proxy("socks4://p"), "h", 1, ip("::ffff:1.2.3.4"), UA).unwrap();
        assert_eq!(&h.output()[4..8], [1, 2, 3, 4]);
    }

    #[test]
    fn socks4_reply_codes() {
        let p = proxy("socks4://p");
        let make = || Handshake::new(&p, "1.2.3.4", 22, None, UA).unwrap();
        for (code, want) in [(91u8, 4u8), (92, 11), (93, 11), (17, 1)] {
            let (_, outcome) = both_ways(make, &[&[0, code, 0, 0, 0, 0, 0, 0]]);
            let err = kind(outcome);
            assert_eq!(err.kind().code(), want, "{code}: {err}");
        }
        let err = kind(both_ways(make, &[&[0, 91, 0, 0, 0, 0, 0, 0]]).1);
        assert_eq!(
            err.to_string(),
            "the proxy could not connect to 1.2.3.4:22: request rejected or failed (SOCKS4 \
             reply 91)"
        );
        let err = kind(both_ways(make, &[b"HTTP/1.1 400 Bad Request\r\n\r\n"]).1);
        assert!(matches!(err, Error::Malformed(_)) && err.to_string().contains("HTTP"));
        // A failure is judged at its code: the server may close without the rest.
        let mut h = make();
        h.sent(h.output().len());
        assert_eq!(h.read_limit(), 8);
        assert!(matches!(h.input(&[0, 91]), Err(Error::Unreachable(_))));
        assert_eq!(h.read_limit(), 0);
    }

    #[test]
    fn socks5_without_credentials() {
        let p = proxy("socks5h://p");
        let make = || Handshake::new(&p, "example.org", 22, None, UA).unwrap();
        let reply: &[u8] = &[5, 0, 0, 1, 10, 0, 0, 1, 0x1F, 0x90];
        let (sent, outcome) = both_ways(make, &[&[5, 0], reply]);
        let mut request = vec![5, 1, 0, 3, 11];
        request.extend_from_slice(b"example.org");
        request.extend_from_slice(&[0, 22]);
        assert_eq!(sent, [vec![5, 1, 0], request]);
        assert_eq!(outcome, Ok(Status::Done));
        let mut h = make();
        assert_eq!(
            drive(&mut h, &[&[5, 0], reply], Some(3)).1,
            Ok(Status::Done)
        );
        assert_eq!(
            h.take_notes(),
            [
                "SOCKS5: offering no authentication",
                "SOCKS5: the proxy wants no authentication",
                "SOCKS5: asking for a connection to example.org:22 (the proxy resolves the name)",
                "SOCKS5: connected to example.org:22 (the proxy's end: 10.0.0.1:8080)",
            ]
        );
    }

    #[test]
    fn socks5_with_credentials() {
        let p = proxy("socks5://bob:s3cret@p");
        let make = || Handshake::new(&p, "example.org", 22, ip("2001:db8::1"), UA).unwrap();
        let mut reply = vec![5, 0, 0, 4];
        reply.extend_from_slice(&[0; 16]);
        reply.extend_from_slice(&[0, 0]);
        let (sent, outcome) = both_ways(make, &[&[5, 2], &[1, 0], &reply]);
        let mut request = vec![5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8];
        request.extend_from_slice(&[0; 11]);
        request.extend_from_slice(&[1, 0, 22]);
        assert_eq!(
            sent,
            [vec![5, 2, 0, 2], b"\x01\x03bob\x06s3cret".to_vec(), request]
        );
        assert_eq!(outcome, Ok(Status::Done));
        let mut h = make();
        assert_eq!(
            drive(&mut h, &[&[5, 2], &[1, 0], &reply], None).1,
            Ok(Status::Done)
        );
        let notes = h.take_notes();
        assert!(notes.contains(&"SOCKS5: username/password accepted".to_string()));
        assert!(notes.iter().all(|n| !n.contains("s3cret")), "{notes:?}");
        assert!(!format!("{h:?}").contains("s3cret"));
        // The server may choose no authentication even though we offered it.
        let (sent, outcome) = both_ways(make, &[&[5, 0], &reply]);
        assert_eq!(sent.len(), 2);
        assert_eq!(outcome, Ok(Status::Done));
        // A bound name: its length, then the name and the port.
        let named: &[u8] = b"\x05\x00\x00\x03\x05proxy\x00\x50";
        let (_, outcome) = both_ways(make, &[&[5, 0], named]);
        assert_eq!(outcome, Ok(Status::Done));
    }

    #[test]
    fn socks5_read_limits_follow_the_reply() {
        let p = proxy("socks5h://p");
        let mut h = Handshake::new(&p, "example.org", 22, None, UA).unwrap();
        assert_eq!(h.read_limit(), 0);
        h.sent(3);
        assert_eq!(h.read_limit(), 2);
        assert_eq!(h.input(&[5]), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 1);
        assert_eq!(h.input(&[0]), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 0);
        h.sent(h.output().len());
        assert_eq!(h.read_limit(), 4);
        assert_eq!(h.input(&[5, 0, 0, 3]), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 1);
        assert_eq!(h.input(&[4]), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 6);
        assert_eq!(h.input(b"host\0"), Ok(Status::Continue));
        assert_eq!(h.input(b"\x01"), Ok(Status::Done));
        assert_eq!(h.read_limit(), 0);
        // More than the limit is refused: those bytes would be the target's.
        assert!(matches!(h.input(b"x"), Err(Error::Malformed(_))));
        assert_eq!(h.input(b""), h.input(b"y"));
    }

    #[test]
    fn socks5_sends_addresses_unless_the_proxy_resolves() {
        // socks5 sends the resolved address; an IP literal goes as an address either way.
        let h = Handshake::new(&proxy("socks5://p"), "h.example", 80, ip("1.2.3.4"), UA).unwrap();
        assert!(h.request == [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]);
        let h = Handshake::new(&proxy("socks5h://p"), "1.2.3.4", 80, None, UA).unwrap();
        assert!(h.request == [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]);
        let h = Handshake::new(&proxy("socks5h://p"), "h.example", 80, ip("1.2.3.4"), UA).unwrap();
        assert_eq!(h.request[3], 3);
        let err = Handshake::new(&proxy("socks5://p"), "h.example", 80, None, UA).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)));
    }

    #[test]
    fn socks5_limits_are_usage_errors() {
        let long = "a".repeat(256);
        let name = format!("{}.example", "a".repeat(250));
        for (url, host) in [
            (format!("socks5h://{long}:pw@p"), "h".to_string()),
            (format!("socks5h://u:{long}@p"), "h".to_string()),
            ("socks5h://p".to_string(), name),
        ] {
            let err = Handshake::new(&proxy(&url), &host, 1, None, UA).unwrap_err();
            assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
            assert!(!err.to_string().contains(&long), "{err}");
        }
        let ok = format!("socks5h://{}:{}@p", "u".repeat(255), "p".repeat(255));
        assert!(Handshake::new(&proxy(&ok), "h", 1, None, UA).is_ok());
    }

    #[test]
    fn socks5_reply_codes() {
        let p = proxy("socks5h://u:pw@p");
        let make = || Handshake::new(&p, "example.org", 22, None, UA).unwrap();
        for (rep, code) in [
            (1u8, 4u8),
            (2, 11),
            (3, 4),
            (4, 4),
            (5, 4),
            (6, 4),
            (7, 1),
            (8, 4),
            (9, 4),
        ] {
            let reply = [5, rep, 0, 1, 0, 0, 0, 0, 0, 0];
            let err = kind(both_ways(make, &[&[5, 0], &reply]).1);
            assert_eq!(err.kind().code(), code, "reply {rep}: {err}");
            assert!(
                err.to_string().contains(&format!("SOCKS5 reply {rep}")),
                "{err}"
            );
        }
        let err = kind(both_ways(make, &[&[5, 0], &[5, 5, 0, 1]]).1);
        assert_eq!(
            err.to_string(),
            "the proxy could not connect to example.org:22: connection refused (SOCKS5 reply 5)"
        );
        let err = kind(both_ways(make, &[&[5, 0], &[5, 2, 0, 1]]).1);
        assert!(err.to_string().contains("not allowed by the proxy's rules"));
        let cases: [(&[&[u8]], u8, &str); 7] = [
            (
                &[&[5, 0xFF]],
                11,
                "the proxy accepts none of our authentication methods (SOCKS5)",
            ),
            (
                &[&[5, 2], &[1, 1]],
                11,
                "the proxy rejected the user name or password (SOCKS5 authentication failed)",
            ),
            (&[&[5, 1]], 1, "GSSAPI"),
            (&[&[4, 0]], 1, "version byte 4"),
            (&[&[5, 2], &[2, 0]], 1, "not RFC 1929"),
            (&[&[5, 0], &[5, 0, 0, 2]], 1, "unknown address type 2"),
            (&[&[5, 0], &[6, 0, 0, 1]], 1, "not SOCKS5"),
        ];
        for (replies, code, words) in cases {
            let err = kind(both_ways(make, replies).1);
            assert_eq!(err.kind().code(), code, "{replies:?}: {err}");
            assert!(err.to_string().contains(words), "{err}");
        }
        // Some servers answer the user name and password with version 5.
        let (_, outcome) = both_ways(make, &[&[5, 2], &[5, 0], &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]]);
        assert_eq!(outcome, Ok(Status::Done));
        // Method 2 is not ours to take when we offered no credentials.
        let bare = proxy("socks5h://p");
        let err = kind(
            both_ways(
                || Handshake::new(&bare, "h", 1, None, UA).unwrap(),
                &[&[5, 2]],
            )
            .1,
        );
        assert!(matches!(err, Error::Malformed(_)), "{err:?}");
        let err = kind(
            both_ways(
                || Handshake::new(&bare, "h", 1, None, UA).unwrap(),
                &[&[5, 0xFF]],
            )
            .1,
        );
        assert!(err.to_string().contains("may want a user name"), "{err}");
    }

    #[test]
    fn connect_request_text() {
        let p = proxy("http://Aladdin:open%20sesame@p:3128");
        let h = Handshake::new(&p, "example.org", 443, None, UA).unwrap();
        assert_eq!(
            String::from_utf8_lossy(h.output()),
            "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\nUser-Agent: \
             nicksock/0.1.0\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\
             Proxy-Connection: Keep-Alive\r\n\r\n"
        );
        assert!(!format!("{h:?}").contains("QWxh"));
        let h = Handshake::new(&proxy("https://p"), "2001:db8::1", 22, None, "").unwrap();
        assert_eq!(
            String::from_utf8_lossy(h.output()),
            "CONNECT [2001:db8::1]:22 HTTP/1.1\r\nHost: [2001:db8::1]:22\r\n\
             Proxy-Connection: Keep-Alive\r\n\r\n"
        );
        // Brackets given by the caller are taken off, and put back once.
        let h = Handshake::new(&proxy("http://p"), "[::1]", 22, None, UA).unwrap();
        assert!(h.output().starts_with(b"CONNECT [::1]:22 HTTP/1.1\r\n"));
        for (host, ua) in [
            ("a\r\nX: y", UA),
            ("a b", UA),
            ("", UA),
            ("h", "ua\r\nX: y"),
        ] {
            let err = Handshake::new(&proxy("http://p"), host, 1, None, ua).unwrap_err();
            assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
            assert!(!err.to_string().contains('\n'));
        }
        assert_eq!(
            basic_auth(&Credentials::parse("a:b:c")),
            format!("Basic {}", crate::http::basic_token(b"a", b"b:c"))
        );
    }

    #[test]
    fn connect_replies_stop_at_the_empty_line() {
        let p = proxy("http://p");
        let make = || Handshake::new(&p, "example.org", 22, None, UA).unwrap();
        for reply in [
            &b"HTTP/1.1 200 Connection established\r\n\r\n"[..],
            b"HTTP/1.0 200 OK\r\nVia: 1.1 squid\r\nX-A: b\r\n\r\n",
            b"HTTP/1.1 200\n\n",
            b"HTTP/1.1 200 OK\nVia: x\n\n",
            b"HTTP/1.1 200 OK\r\nVia: x\n\r\n",
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        ] {
            let (_, outcome) = both_ways(make, &[reply]);
            assert_eq!(outcome, Ok(Status::Done), "{}", reply.escape_ascii());
            for chunk in [2, 3, 5, 7] {
                let (_, outcome, rest) = drive(&mut make(), &[reply], Some(chunk));
                assert_eq!((outcome, rest.as_slice()), (Ok(Status::Done), BANNER));
            }
        }
        let mut h = make();
        let reply: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
        assert_eq!(drive(&mut h, &[reply], None).1, Ok(Status::Done));
        assert_eq!(
            h.take_notes(),
            [
                "HTTP CONNECT example.org:22",
                "HTTP CONNECT example.org:22: 200 Connection established"
            ]
        );
    }

    #[test]
    fn connect_read_limits() {
        let mut h = Handshake::new(&proxy("http://p"), "h", 1, None, UA).unwrap();
        h.sent(h.output().len());
        assert_eq!(h.read_limit(), 14);
        assert_eq!(h.input(b"HTTP/1.1 200 O"), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 2);
        assert_eq!(h.input(b"K\r"), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 2);
        assert_eq!(h.input(b"\n"), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 1);
        assert_eq!(h.input(b"\r"), Ok(Status::Continue));
        assert_eq!(h.read_limit(), 1);
        assert_eq!(h.input(b"\n"), Ok(Status::Done));
        assert_eq!(h.read_limit(), 0);
    }

    #[test]
    fn connect_status_codes() {
        let p = proxy("http://p");
        let make = || Handshake::new(&p, "example.org", 22, None, UA).unwrap();
        let run = |reply: &str| kind(both_ways(make, &[reply.as_bytes()]).1);
        let err = run(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic \
                       realm=\"x\"\r\n\r\n",
        );
        assert_eq!(
            err,
            Error::Denied(
                "the proxy wants credentials (HTTP 407 Proxy Authentication Required)".into()
            )
        );
        assert!(matches!(
            run("HTTP/1.1 401 Unauthorized\r\n\r\n"),
            Error::Denied(_)
        ));
        let err = run("HTTP/1.1 403 Forbidden\r\n\r\n");
        assert_eq!(
            err,
            Error::Denied(
                "the proxy refused the connection to example.org:22 (HTTP 403 \
                           Forbidden)"
                    .into()
            )
        );
        let err = run("HTTP/1.1 502\r\n\r\n");
        assert_eq!(
            err,
            Error::Unreachable(
                "the proxy could not connect to example.org:22 (HTTP 502 Bad Gateway)".into()
            )
        );
        for (reply, code) in [
            ("HTTP/1.1 503 Service Unavailable\r\n\r\n", 4),
            ("HTTP/1.1 504 Gateway Timeout\r\n\r\n", 4),
            ("HTTP/1.1 405 Not Here\r\n\r\n", 4),
            ("HTTP/1.1 101 Switching Protocols\r\n\r\n", 4),
            ("HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", 4),
            ("HTTP/1.1 2000 OK\r\n\r\n", 1),
            ("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", 1),
            ("HTTP/2 200\r\n\r\n", 1),
            ("SSH-2.0-OpenSSH\r\n", 1),
            ("\x05\x00", 1),
        ] {
            let err = run(reply);
            assert_eq!(err.kind().code(), code, "{reply:?}: {err}");
        }
        assert_eq!(
            run("SSH-2.0-x\r\n").to_string(),
            "the proxy's reply is not HTTP (it begins \"S\")"
        );
        assert!(run("\x05\x00").to_string().contains("SOCKS"));
        // With credentials sent, a 407 says they were rejected.
        let p = proxy("http://u:secret@p");
        let err = kind(
            both_ways(
                || Handshake::new(&p, "h", 1, None, UA).unwrap(),
                &[b"HTTP/1.1 407 Nope\r\n\r\n"],
            )
            .1,
        );
        assert_eq!(
            err,
            Error::Denied("the proxy rejected the credentials (HTTP 407 Nope)".into())
        );
    }

    #[test]
    fn connect_heads_stop_at_16_kib() {
        let p = proxy("http://p");
        let make = || Handshake::new(&p, "h", 1, None, UA).unwrap();
        // A head of exactly 16 KiB, in fewer than 100 header lines.
        let mut exact = b"HTTP/1.1 200 OK\r\n".to_vec();
        let filler = format!("X-Filler: {}\r\n", "a".repeat(188));
        while exact.len() + filler.len() + 7 < MAX_HTTP_REPLY_HEAD {
            exact.extend_from_slice(filler.as_bytes());
        }
        let pad = MAX_HTTP_REPLY_HEAD - 7 - exact.len();
        exact.extend_from_slice(format!("Y: {}\r\n\r\n", "b".repeat(pad)).as_bytes());
        assert_eq!(exact.len(), MAX_HTTP_REPLY_HEAD);
        let (_, outcome) = both_ways(make, &[&exact]);
        assert_eq!(outcome, Ok(Status::Done));
        let mut over = exact[..exact.len() - 2].to_vec();
        over.extend_from_slice(b"Z: z\r\n\r\n");
        let err = kind(both_ways(make, &[&over]).1);
        assert_eq!(
            err,
            Error::Malformed("the proxy's reply to CONNECT has a head larger than 16 KiB".into())
        );
        // An endless stream of interim heads is bounded too.
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000);
        let err = kind(both_ways(make, &[&interim]).1);
        assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    }

    #[test]
    fn closing_early_says_where() {
        let mut h = Handshake::new(&proxy("socks5h://p"), "h", 1, None, UA).unwrap();
        h.sent(3);
        assert!(matches!(h.closed(), Error::Malformed(m) if m.contains("SOCKS5")));
        let mut h = Handshake::new(&proxy("http://p"), "h", 1, None, UA).unwrap();
        h.sent(h.output().len());
        assert_eq!(
            h.closed(),
            Error::Malformed(
                "the proxy closed the connection without answering the CONNECT request".into()
            )
        );
        h.input(b"HTTP/1.1 407 P").unwrap();
        assert!(matches!(h.closed(), Error::Malformed(_)));
        h.input(b"ro").unwrap();
        h.input(b"xy").unwrap();
        h.input(b"\r\n").unwrap();
        assert_eq!(
            h.closed(),
            Error::Denied("the proxy wants credentials (HTTP 407 Proxy)".into())
        );
        let mut h = Handshake::new(&proxy("socks4://p"), "1.2.3.4", 1, None, UA).unwrap();
        h.sent(9);
        h.input(&[0]).unwrap();
        assert!(matches!(h.closed(), Error::Malformed(m) if m.contains("SOCKS4")));
    }
}
