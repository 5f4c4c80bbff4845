//! The client side of HTTP/1.x for `http-get`: the request bytes to send, and a push-style
//! reader that turns the response bytes, in whatever pieces the socket hands over, into a
//! head and body bytes.

use std::fmt;

use url::Url;

use super::body::{BodyDecoder, BodyError, BodyOut, Framing, Shifted, Side, framing_from_headers};
use super::target::{basic_auth, host_header, request_target};

/// The largest response head accepted.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// The most headers a response head may have.
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// The User-Agent sent unless the user picks another.
pub const DEFAULT_USER_AGENT: &str = concat!("nicksock/", env!("CARGO_PKG_VERSION"));

/// What to ask for: everything [`encode_request`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// The method (`GET`, `HEAD`, `POST`, …).
    pub method: String,
    /// Where to send it; its userinfo becomes Basic credentials.
    pub url: Url,
    /// Headers from `-H`, in order. A name that matches a default header replaces it; an
    /// empty value removes the default (as curl does).
    pub headers: Vec<(String, String)>,
    /// The body (`-d`, `--json`): sent with a Content-Length.
    pub body: Option<Vec<u8>>,
    /// The Content-Type of the body, if any.
    pub content_type: Option<String>,
    /// Speak HTTP/1.0 instead of HTTP/1.1.
    pub http10: bool,
    /// The User-Agent header value.
    pub user_agent: String,
    /// Basic credentials (`-u`, or a URL's `user:password@`), sent only where they may go.
    pub credentials: Option<Credentials>,
    /// Another request may follow on the connection: no `Connection: close` (HTTP/1.1 only).
    pub keep_alive: bool,
    /// A body sent after the head from elsewhere (a file, stdin), in place of `body`.
    pub streamed: Option<Streamed>,
    /// Ask the server whether it wants the body before sending it (`Expect: 100-continue`).
    pub expect_continue: bool,
}

/// How a streamed body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    /// This many bytes (`Content-Length`).
    Length(u64),
    /// Chunked transfer coding, the length unknown.
    Chunked,
}

/// Basic credentials and where they may be sent: the origin (scheme, host, port) they were
/// given for, or everywhere (`--location-trusted`). curl's rule: a redirect to another host
/// or port never carries them. Debug never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (bytes: a URL's percent-encoding may give any).
    pub user: Vec<u8>,
    /// The password.
    pub password: Vec<u8>,
    /// The origin they were given for.
    pub origin: url::Origin,
    /// Send them to every origin.
    pub trusted: bool,
}

impl Credentials {
    /// The `Authorization` value for a request to `url`, if the credentials may go there.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        (self.trusted || url.origin() == self.origin).then(|| self.header())
    }

    /// `Basic` and the token.
    pub fn header(&self) -> String {
        format!("Basic {}", super::basic_token(&self.user, &self.password))
    }

    /// What they put on the wire, for `--trace` to mask.
    pub fn secrets(&self) -> Vec<Vec<u8>> {
        super::basic_secrets(&self.user, &self.password)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("password", &"***")
            .field("origin", &self.origin)
            .field("trusted", &self.trusted)
            .finish()
    }
}

impl RequestSpec {
    /// The user's own `Transfer-Encoding: chunked` (`-H`): the body goes in chunks.
    pub fn user_chunked(&self) -> bool {
        self.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding")
                && v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
        })
    }

    /// A bodiless request with the default headers.
    pub fn new(method: impl Into<String>, url: Url) -> Self {
        RequestSpec {
            method: method.into(),
            url,
            headers: Vec::new(),
            body: None,
            content_type: None,
            http10: false,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            credentials: None,
            keep_alive: false,
            streamed: None,
            expect_continue: false,
        }
    }
}

/// The bytes of the request: the request line, the headers (Host first) and the body.
pub fn encode_request(spec: &RequestSpec) -> Vec<u8> {
    encode(spec, None)
}

/// The request as an HTTP proxy takes it (RFC 9112 §3.2.2): the absolute URL as the
/// request target (without its userinfo and fragment), and the proxy's credentials
/// (`Proxy-Authorization: Basic …`) when given.
pub fn encode_proxied_request(spec: &RequestSpec, proxy_auth: Option<&str>) -> Vec<u8> {
    encode(spec, Some(proxy_auth))
}

/// `proxied`: sent to an HTTP proxy, with its credentials, if any.
fn encode(spec: &RequestSpec, proxied: Option<Option<&str>>) -> Vec<u8> {
    let mut headers: Vec<(String, String)> = vec![
        ("Host".into(), host_header(&spec.url)),
        ("User-Agent".into(), spec.user_agent.clone()),
        ("Accept".into(), "*/*".into()),
    ];
    let auth = match &spec.credentials {
        Some(credentials) => credentials.header_for(&spec.url),
        None => basic_auth(&spec.url),
    };
    if let Some(auth) = auth {
        headers.push(("Authorization".into(), auth));
    }
    if let Some(Some(auth)) = proxied {
        headers.push(("Proxy-Authorization".into(), auth.to_string()));
    }
    // `-H 'Transfer-Encoding: chunked'` asks for chunks: the body is framed so.
    let user_chunked = spec.user_chunked();
    let length = match (&spec.body, spec.streamed) {
        _ if user_chunked => None,
        (_, Some(Streamed::Chunked)) => Some(None),
        (_, Some(Streamed::Length(n))) => Some(Some(n)),
        (Some(body), None) => Some(Some(body.len() as u64)),
        (None, None) => None,
    };
    let has_body = spec.body.is_some() || spec.streamed.is_some();
    if has_body {
        if let Some(ct) = &spec.content_type {
            headers.push(("Content-Type".into(), ct.clone()));
        }
        match length {
            Some(Some(n)) => headers.push(("Content-Length".into(), n.to_string())),
            Some(None) => headers.push(("Transfer-Encoding".into(), "chunked".into())),
            None => {}
        }
        if spec.expect_continue {
            headers.push(("Expect".into(), "100-continue".into()));
        }
    }
    if !spec.keep_alive || spec.http10 {
        headers.push(("Connection".into(), "close".into()));
    }
    apply_user_headers(&mut headers, &spec.headers);

    let version = if spec.http10 { "1.0" } else { "1.1" };
    let target = match proxied {
        Some(_) => absolute_target(&spec.url),
        None => request_target(&spec.url),
    };
    let mut out = format!("{} {target} HTTP/{version}\r\n", spec.method).into_bytes();
    for (name, value) in &headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    match (&spec.body, spec.streamed) {
        (Some(body), None) if user_chunked => {
            if !body.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
        (Some(body), None) => out.extend_from_slice(body),
        _ => {}
    }
    out
}

/// The absolute form of a request target: the URL without its userinfo and fragment.
fn absolute_target(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    url.to_string()
}

/// Merges the user's headers into the defaults: the first user header of a default's name
/// takes its place, an empty value drops it, and the rest go at the end in order.
fn apply_user_headers(headers: &mut Vec<(String, String)>, user: &[(String, String)]) {
    let mut replaced = vec![false; headers.len()];
    for (name, value) in user {
        let default = headers
            .iter()
            .zip(&replaced)
            .position(|((n, _), &done)| !done && n.eq_ignore_ascii_case(name));
        match default {
            Some(i) => {
                headers[i] = (name.clone(), value.clone());
                replaced[i] = true;
            }
            None => headers.push((name.clone(), value.clone())),
        }
    }
    headers.retain(|(_, value)| !value.is_empty());
}

/// Parses `-H 'Name: value'`. The name must be an HTTP token; the value is trimmed and may not
/// hold CR, LF or other control characters (tab aside). `Name:` with no value is allowed: it
/// removes a default header.
pub fn parse_header_arg(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(format!("header `{s}` has no `:` (expected `Name: value`)"));
    };
    if name.is_empty() {
        return Err(format!("header `{s}` has an empty name"));
    }
    if let Some(bad) = name.chars().find(|&c| !is_token_char(c)) {
        return Err(format!(
            "header name `{}` contains {}",
            name.escape_debug(),
            describe_char(bad)
        ));
    }
    let value = value.trim_matches([' ', '\t']);
    if let Some(bad) = value.chars().find(|&c| c.is_control() && c != '\t') {
        return Err(format!(
            "value of header `{name}` contains {}",
            describe_char(bad)
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Whether `c` may appear in a token: a header name or a method (RFC 9110 `tchar`).
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Names a character for an error message.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        '\r' => "a carriage return".to_string(),
        '\n' => "a line feed".to_string(),
        c if c.is_control() => format!("the control character {:?}", c),
        c => format!("`{c}`"),
    }
}

/// A response's status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent.
    pub reason: String,
    /// Header names and values in the order they came.
    pub headers: Vec<(String, String)>,
    /// The head exactly as it came off the wire, blank line included (for `-i`).
    pub raw: Vec<u8>,
}

impl ResponseHead {
    /// Whether the server keeps the connection open after this response (RFC 9112 §9.3):
    /// HTTP/1.1 unless it says `Connection: close`, HTTP/1.0 only with `keep-alive`. A
    /// forward proxy's `Proxy-Connection` counts as `Connection` (curl reads it too).
    pub fn keeps_alive(&self) -> bool {
        let has = |token: &str| {
            self.headers
                .iter()
                .filter(|(n, _)| {
                    n.eq_ignore_ascii_case("connection")
                        || n.eq_ignore_ascii_case("proxy-connection")
                })
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if has("close") {
            return false;
        }
        self.version >= 1 || has("keep-alive")
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::find_header(&self.headers, name)
    }
}

/// What a [`ResponseReader`] found in the bytes it was fed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An interim 1xx response (100 Continue, 103 Early Hints…); the final one follows.
    Interim(ResponseHead),
    /// The final response head. Body bytes follow it.
    Head(ResponseHead),
    /// The body is complete; later bytes are not part of the response.
    Done,
}

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The peer does not speak HTTP (an SSH banner, a TLS alert, garbage).
    NotHttp,
    /// A head that httparse rejects.
    Malformed(String),
    /// A head over [`MAX_RESPONSE_HEAD`] bytes.
    HeadTooLarge,
    /// More than [`MAX_RESPONSE_HEADERS`] headers.
    TooManyHeaders,
    /// The headers do not say how long the body is.
    Framing(String),
    /// The body is broken or ended early.
    Body(BodyError),
    /// The connection closed before any byte came.
    Empty,
    /// The connection closed in the middle of the head.
    TruncatedHead,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::NotHttp => f.write_str("not an HTTP response"),
            ResponseError::Malformed(why) => write!(f, "malformed response head: {why}"),
            ResponseError::HeadTooLarge => write!(
                f,
                "response head larger than {} KiB",
                MAX_RESPONSE_HEAD / 1024
            ),
            ResponseError::TooManyHeaders => write!(
                f,
                "response head has more than {MAX_RESPONSE_HEADERS} headers"
            ),
            ResponseError::Framing(why) => write!(f, "response framing: {why}"),
            ResponseError::Body(e) => e.fmt(f),
            ResponseError::Empty => f.write_str("connection closed without a response"),
            ResponseError::TruncatedHead => {
                f.write_str("connection closed in the middle of the response head")
            }
        }
    }
}

impl std::error::Error for ResponseError {}

impl From<BodyError> for ResponseError {
    fn from(e: BodyError) -> Self {
        ResponseError::Body(e)
    }
}

/// Where the reader is.
#[derive(Debug, Clone)]
enum ReaderState {
    /// Collecting a head (an interim or the final one).
    Head,
    /// Decoding the body of the final response.
    Body(BodyDecoder),
    /// The response is complete.
    Done,
}

/// Reads one response from bytes pushed into it. Drive it with [`ResponseReader::feed`] for
/// every read from the socket and [`ResponseReader::finish_eof`] at EOF; it never reads a
/// socket itself.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    head_request: bool,
    state: ReaderState,
    /// The head so far, while it is incomplete.
    head: Vec<u8>,
    /// Content-Length of the final response, when the body is so delimited.
    body_length: Option<u64>,
    /// Bytes that came after the end of the response (ignored; a connection that had them
    /// is not used again).
    trailing: u64,
}

impl ResponseReader {
    /// A reader for the response to a request with this method (`HEAD` has no body).
    pub fn new(request_method: &str) -> Self {
        ResponseReader {
            head_request: request_method.eq_ignore_ascii_case("HEAD"),
            state: ReaderState::Head,
            head: Vec::new(),
            body_length: None,
            trailing: 0,
        }
    }

    /// Takes the next bytes from the connection. Body bytes go to `body` (copied into a
    /// `Vec<u8>`, or as ranges of `input`); the events (heads, and `Done` when the body ends)
    /// come back in order, all before the body bytes of this call except `Done`, which
    /// follows them. After an error, do not feed again.
    pub fn feed(
        &mut self,
        input: &[u8],
        body: &mut impl BodyOut,
    ) -> Result<Vec<Event>, ResponseError> {
        let mut events = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            match &mut self.state {
                ReaderState::Head => {
                    let Some(used) = self.read_head(rest, &mut events)? else {
                        break;
                    };
                    rest = &rest[used..];
                }
                ReaderState::Body(decoder) => {
                    let mut out = Shifted {
                        out: &mut *body,
                        whole: input,
                        base: input.len() - rest.len(),
                    };
                    let used = decoder.decode(rest, &mut out)?;
                    rest = &rest[used..];
                    if decoder.is_done() {
                        self.state = ReaderState::Done;
                        events.push(Event::Done);
                    }
                }
                ReaderState::Done => {
                    self.trailing += rest.len() as u64;
                    rest = &[];
                }
            }
        }
        Ok(events)
    }

    /// The connection reached EOF. Completes a body delimited by the close; an error when the
    /// response is not complete. Returns `Done` unless `feed` already did.
    pub fn finish_eof(&mut self) -> Result<Option<Event>, ResponseError> {
        match &mut self.state {
            ReaderState::Head if self.head.is_empty() => Err(ResponseError::Empty),
            // A head cut off by the close may already be malformed in its last, unparsed
            // piece (pieces without a line feed are not parsed): that is the better word.
            ReaderState::Head => Err(parse_response_head(&self.head)
                .err()
                .unwrap_or(ResponseError::TruncatedHead)),
            ReaderState::Body(decoder) => {
                decoder.finish_eof()?;
                self.state = ReaderState::Done;
                Ok(Some(Event::Done))
            }
            ReaderState::Done => Ok(None),
        }
    }

    /// Whether the whole response has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, ReaderState::Done)
    }

    /// The body's announced length once the final head is in (0 when there is no body); None
    /// when it is chunked or runs to EOF. For a progress bar.
    pub fn body_length(&self) -> Option<u64> {
        self.body_length
    }

    /// How many bytes of the final response's body are still to come, while it is being
    /// read and its length is known (Content-Length).
    pub fn body_remaining(&self) -> Option<u64> {
        match &self.state {
            ReaderState::Body(decoder) => decoder.remaining(),
            _ => None,
        }
    }

    /// How many bytes came after the end of the response (they are ignored).
    pub fn trailing_bytes(&self) -> u64 {
        self.trailing
    }

    /// Adds `input` to the head. Returns how many bytes of `input` belonged to heads, or None
    /// when all of it was taken and the head is still incomplete.
    fn read_head(
        &mut self,
        input: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<Option<usize>, ResponseError> {
        let before = self.head.len();
        // Take no more than could belong to an acceptable head.
        let take = input
            .len()
            .min(MAX_RESPONSE_HEAD + 1 - before.min(MAX_RESPONSE_HEAD));
        self.head.extend_from_slice(&input[..take]);
        if !looks_like_http(&self.head) {
            return Err(ResponseError::NotHttp);
        }
        // A head can only end on a line feed.
        if !input[..take].contains(&b'\n') {
            return self.still_partial().map(|()| None);
        }
        let Some(parsed) = parse_response_head(&self.head)? else {
            return self.still_partial().map(|()| None);
        };
        let used = parsed.raw.len().saturating_sub(before);
        self.head.clear();
        self.start_body(parsed, events)?;
        Ok(Some(used))
    }

    /// An incomplete head is fine unless it is already too large.
    fn still_partial(&self) -> Result<(), ResponseError> {
        if self.head.len() > MAX_RESPONSE_HEAD {
            return Err(ResponseError::HeadTooLarge);
        }
        Ok(())
    }

    /// Acts on a complete head: an interim one waits for the next; the final one picks the
    /// body's framing.
    fn start_body(
        &mut self,
        head: ResponseHead,
        events: &mut Vec<Event>,
    ) -> Result<(), ResponseError> {
        if (100..200).contains(&head.status) && head.status != 101 {
            events.push(Event::Interim(head));
            return Ok(());
        }
        let bodiless = self.head_request
            || (100..200).contains(&head.status)
            || head.status == 204
            || head.status == 304;
        let framing = if bodiless {
            Framing::Empty
        } else {
            framing_from_headers(
                head.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                Side::Response,
            )
            .map_err(|e| ResponseError::Framing(e.to_string()))?
        };
        self.body_length = match framing {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked | Framing::Close => None,
        };
        events.push(Event::Head(head));
        let decoder = BodyDecoder::new(framing);
        if decoder.is_done() {
            self.state = ReaderState::Done;
            events.push(Event::Done);
        } else {
            self.state = ReaderState::Body(decoder);
        }
        Ok(())
    }
}

/// Whether the bytes so far can be the start of a response: `HTTP/` after optional blank
/// lines (httparse skips those), or a prefix of it.
fn looks_like_http(buf: &[u8]) -> bool {
    const PREFIX: &[u8] = b"HTTP/";
    // Blank lines as httparse skips them: CRLF or a bare LF (a CR alone is not one).
    let mut rest = buf;
    loop {
        if let Some(r) = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
        {
            rest = r;
        } else if rest == b"\r" {
            return true;
        } else {
            break;
        }
    }
    let n = rest.len().min(PREFIX.len());
    rest[..n] == PREFIX[..n]
}

/// Parses a complete head at the start of `buf`; None when it is not complete yet.
fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, ResponseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let parsed = httparse::ParserConfig::default()
        .allow_spaces_after_header_name_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .parse_response(&mut response, buf);
    let len = match parsed {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(ResponseError::NotHttp),
        Err(e) => return Err(ResponseError::Malformed(e.to_string())),
    };
    if len > MAX_RESPONSE_HEAD {
        return Err(ResponseError::HeadTooLarge);
    }
    let (Some(version), Some(status)) = (response.version, response.code) else {
        return Err(ResponseError::Malformed("incomplete status line".into()));
    };
    Ok(Some(ResponseHead {
        version,
        status,
        reason: response.reason.unwrap_or("").to_string(),
        headers: response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        raw: buf[..len].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::tests::{Rng, for_every_split};
    use crate::http::target::parse_url;

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_header() {
        let head = |text: &str| {
            parse_response_head(text.as_bytes())
                .expect("valid")
                .expect("whole")
        };
        assert!(head("HTTP/1.1 200 OK\r\n\r\n").keeps_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: Upgrade, close\r\n\r\n").keeps_alive());
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keeps_alive());
        assert!(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n").keeps_alive());
        let mut spec = RequestSpec::new("GET", parse_url("http://h/").unwrap());
        assert!(
            String::from_utf8(encode_request(&spec))
                .unwrap()
                .contains("Connection: close")
        );
        spec.keep_alive = true;
        assert!(
            !String::from_utf8(encode_request(&spec))
                .unwrap()
                .contains("Connection:")
        );
        spec.http10 = true;
        assert!(
            String::from_utf8(encode_request(&spec))
                .unwrap()
                .contains("Connection: close")
        );
    }

    /// Everything a reader produced from a sequence of reads and an EOF.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        events: Vec<Event>,
        body: Vec<u8>,
        trailing: u64,
    }

    fn read_all(method: &str, pieces: &[&[u8]], eof: bool) -> Result<Outcome, ResponseError> {
        let mut reader = ResponseReader::new(method);
        let mut events = Vec::new();
        let mut body = Vec::new();
        for piece in pieces {
            // As ranges of the piece (heads before the body in it), the same body bytes.
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
            let by_range = reader.clone().feed(piece, &mut ranges).is_ok();
            let before = body.len();
            events.extend(reader.feed(piece, &mut body)?);
            let picked: Vec<u8> = ranges
                .iter()
                .flat_map(|r| piece[r.clone()].to_vec())
                .collect();
            assert!(by_range);
            assert_eq!(picked, body[before..]);
        }
        if eof {
            events.extend(reader.finish_eof()?);
        }
        Ok(Outcome {
            events,
            body,
            trailing: reader.trailing_bytes(),
        })
    }

    fn statuses(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Interim(h) => format!("interim {}", h.status),
                Event::Head(h) => format!("head {}", h.status),
                Event::Done => "done".to_string(),
            })
            .collect()
    }

    /// Checks that every split of `wire` gives the same body, events and trailing count.
    fn check_every_split(
        method: &str,
        wire: &[u8],
        eof: bool,
        body: &[u8],
        events: &[&str],
        trailing: u64,
    ) {
        for_every_split(wire, |pieces| {
            let out = read_all(method, pieces, eof).unwrap();
            assert_eq!(out.body, body, "{pieces:?}");
            assert_eq!(statuses(&out.events), events, "{pieces:?}");
            assert_eq!(out.trailing, trailing, "{pieces:?}");
        });
    }

    #[test]
    fn content_length_body() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA";
        check_every_split("GET", wire, false, b"hello", &["head 200", "done"], 5);
        let out = read_all("GET", &[wire], false).unwrap();
        let Event::Head(head) = &out.events[0] else {
            panic!("no head");
        };
        assert_eq!(head.version, 1);
        assert_eq!(head.reason, "OK");
        assert_eq!(head.header("x"), Some("y"));
        assert_eq!(head.raw, &wire[..wire.len() - 10]);
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 999\r\n\r\n3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
        check_every_split("GET", wire, false, b"abcde", &["head 200", "done"], 0);
    }

    #[test]
    fn close_delimited_body_ends_at_eof() {
        let wire = b"HTTP/1.0 200 OK\r\nServer: lab\r\n\r\nuntil the end";
        check_every_split(
            "GET",
            wire,
            true,
            b"until the end",
            &["head 200", "done"],
            0,
        );
        let mut reader = ResponseReader::new("GET");
        let events = reader.feed(wire, &mut Vec::<u8>::new()).unwrap();
        assert_eq!(statuses(&events), ["head 200"]);
        assert!(!reader.is_done());
        assert_eq!(reader.body_length(), None);
    }

    #[test]
    fn interim_responses_are_skipped() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        check_every_split(
            "POST",
            wire,
            false,
            b"ok",
            &["interim 100", "interim 103", "head 201", "done"],
            0,
        );
    }

    #[test]
    fn switching_protocols_is_final_and_bodiless() {
        let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw";
        check_every_split("GET", wire, false, b"", &["head 101", "done"], 3);
    }

    #[test]
    fn no_body_for_head_204_304() {
        let cases: [(&str, &[u8]); 3] = [
            ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
            (
                "GET",
                b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
            ),
            (
                "GET",
                b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            ),
        ];
        for (method, wire) in cases {
            check_every_split(method, wire, false, b"", &[&statuses_of(wire), "done"], 0);
            let mut reader = ResponseReader::new(method);
            reader.feed(wire, &mut Vec::<u8>::new()).unwrap();
            assert_eq!(reader.body_length(), Some(0));
            assert_eq!(reader.finish_eof(), Ok(None));
        }
    }

    fn statuses_of(wire: &[u8]) -> String {
        format!("head {}", String::from_utf8_lossy(&wire[9..12]))
    }

    #[test]
    fn a_malformed_head_cut_by_the_close_is_malformed_however_it_was_split() {
        // Found by the http_response fuzz target: the bad header's last piece had no line
        // feed, so the split read never parsed it and called it truncated.
        let head = b"HTTP/1.1 200 OK\r\nContent-\xccnheteg:llo";
        let whole = read_all("GET", &[head], true);
        let split = read_all("GET", &[&head[..20], &head[20..]], true);
        assert!(
            matches!(whole, Err(ResponseError::Malformed(_))),
            "{whole:?}"
        );
        assert_eq!(split, whole);
    }

    #[test]
    fn garbage_after_a_blank_line_is_not_http_however_it_was_split() {
        // Found by the http_response fuzz target: a CR not followed by LF passed the "looks
        // like HTTP" check when the read stopped right after it, and httparse then called
        // it malformed instead.
        let garbage = b"\n\rHT;\0\0\0.\r\n\r\n";
        let whole = read_all("GET", &[garbage], true);
        let split = read_all("GET", &[&garbage[..3], &garbage[3..]], true);
        assert_eq!(whole, Err(ResponseError::NotHttp));
        assert_eq!(split, whole);
        assert!(looks_like_http(b"\r\n\nHTTP/1.1 200"));
        assert!(looks_like_http(b"\r"));
        assert!(!looks_like_http(b"\r\rHTTP/"));
    }

    #[test]
    fn truncated_responses_are_errors() {
        let short = read_all(
            "GET",
            &[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
            true,
        );
        assert_eq!(
            short.unwrap_err().to_string(),
            "connection closed after 3 of 10 body bytes"
        );
        let chunked = read_all(
            "GET",
            &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"],
            true,
        );
        assert!(matches!(chunked, Err(ResponseError::Body(_))));
        assert_eq!(
            read_all("GET", &[b"HTTP/1.1 200 OK\r\n"], true),
            Err(ResponseError::TruncatedHead)
        );
        assert_eq!(read_all("GET", &[], true), Err(ResponseError::Empty));
    }

    #[test]
    fn non_http_replies_are_named() {
        for wire in [
            &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
            b"SSH",
            b"\x15\x03\x03\x00\x02\x02\x28",
            b"<html>",
            b"\r\nHTTX",
        ] {
            for_every_split(wire, |pieces| {
                let err = read_all("GET", pieces, true).unwrap_err();
                assert_eq!(err.to_string(), "not an HTTP response", "{wire:?}");
            });
        }
        // Leading blank lines are tolerated, as httparse does.
        let out = read_all("GET", &[b"\r\nHTTP/1.1 204 No\r\n\r\n"], false).unwrap();
        assert_eq!(statuses(&out.events), ["head 204", "done"]);
    }

    #[test]
    fn bad_heads_are_errors() {
        let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(
            read_all("GET", &[conflicting], false),
            Err(ResponseError::Framing(_))
        ));
        assert!(matches!(
            read_all("GET", &[b"HTTP/1.1 2x0 OK\r\n\r\n"], false),
            Err(ResponseError::Malformed(_))
        ));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_RESPONSE_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let err = read_all("GET", &[&many], false).unwrap_err();
        assert_eq!(err.to_string(), "response head has more than 100 headers");
    }

    #[test]
    fn head_over_the_limit_is_an_error() {
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_RESPONSE_HEAD + 10, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            read_all("GET", &[&big], false),
            Err(ResponseError::HeadTooLarge)
        );
        let pieces: Vec<&[u8]> = big.chunks(1000).collect();
        assert_eq!(
            read_all("GET", &pieces, false),
            Err(ResponseError::HeadTooLarge)
        );
        // Just under the limit is fine.
        let mut ok = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        ok.resize(MAX_RESPONSE_HEAD - 4, b'a');
        ok.extend_from_slice(b"\r\n\r\n");
        let out = read_all("GET", &[&ok, b"body"], true).unwrap();
        assert_eq!(out.body, b"body");
    }

    #[test]
    fn mangled_responses_never_panic() {
        let samples: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nbody",
            b"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
        ];
        let mut rng = Rng::new(7);
        for _ in 0..3000 {
            let mut wire = samples[rng.below(samples.len())].to_vec();
            for _ in 0..rng.below(4) {
                let i = rng.below(wire.len());
                wire[i] = b"\r\n:;0fF \xff"[rng.below(9)];
            }
            wire.truncate(rng.below(wire.len() + 1));
            let mut pieces = Vec::new();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = rng.below(rest.len()) + 1;
                pieces.push(&rest[..n]);
                rest = &rest[n..];
            }
            let _ = read_all(["GET", "HEAD"][rng.below(2)], &pieces, true);
        }
    }

    fn request_text(spec: &RequestSpec) -> String {
        String::from_utf8(encode_request(spec)).unwrap()
    }

    #[test]
    fn request_has_the_defaults_host_first() {
        let spec = RequestSpec::new("GET", parse_url("http://[::1]:8080/x?y").unwrap());
        assert_eq!(
            request_text(&spec),
            format!(
                "GET /x?y HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: nicksock/{}\r\n\
                 Accept: */*\r\nConnection: close\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn request_with_body_auth_and_user_headers() {
        let mut spec = RequestSpec::new("POST", parse_url("https://u:p@h/form").unwrap());
        spec.http10 = true;
        spec.body = Some(b"a=b".to_vec());
        spec.content_type = Some("application/x-www-form-urlencoded".into());
        spec.user_agent = "agent/1".into();
        spec.headers = vec![
            ("accept".into(), "application/json".into()),
            ("User-Agent".into(), String::new()),
            ("X-Extra".into(), "1".into()),
            ("X-Empty".into(), String::new()),
        ];
        assert_eq!(
            request_text(&spec),
            "POST /form HTTP/1.0\r\nHost: h\r\naccept: application/json\r\n\
             Authorization: Basic dTpw\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 3\r\nConnection: close\r\nX-Extra: 1\r\n\r\na=b"
        );
    }

    #[test]
    fn user_host_header_replaces_the_default() {
        let mut spec = RequestSpec::new("GET", parse_url("h:81").unwrap());
        spec.headers = vec![("HOST".into(), "other".into()), ("Host".into(), "x".into())];
        assert_eq!(
            request_text(&spec),
            format!(
                "GET / HTTP/1.1\r\nHOST: other\r\nUser-Agent: {DEFAULT_USER_AGENT}\r\n\
                 Accept: */*\r\nConnection: close\r\nHost: x\r\n\r\n"
            )
        );
    }

    #[test]
    fn header_args() {
        let ok = |s: &str| parse_header_arg(s).unwrap();
        assert_eq!(ok("X-A: b c "), ("X-A".into(), "b c".into()));
        assert_eq!(ok("X-A:b:c"), ("X-A".into(), "b:c".into()));
        assert_eq!(ok("Accept:"), ("Accept".into(), String::new()));
        assert_eq!(ok("X:\tv\t"), ("X".into(), "v".into()));
        for bad in [
            "NoColon",
            ": v",
            "X A: v",
            " X: v",
            "X\r: v",
            "X: a\r\nEvil: 1",
            "X: a\nb",
            "X: a\0",
            "Ünï: v",
        ] {
            assert!(parse_header_arg(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_header_arg("X A: v").unwrap_err(),
            "header name `X A` contains a space"
        );
    }
}
