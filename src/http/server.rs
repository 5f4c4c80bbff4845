//! The server side of HTTP/1.x for `serve-gpio`: a push-style reader that turns the bytes of
//! one connection into requests (keep-alive and pipelining included), and the response bytes
//! to write back.

use std::fmt;

use time::OffsetDateTime;
use url::form_urlencoded;

use super::body::{BodyDecoder, BodyError, Framing, FramingError, Side, framing_from_headers};
use crate::dates::http_date;

/// The largest request head accepted; larger is answered with 431.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// The most headers a request may have; more is answered with 431.
pub const MAX_REQUEST_HEADERS: usize = 64;

/// The largest request body accepted; larger is answered with 413.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// What to write when [`Incoming::Continue`] comes out of the reader.
pub const CONTINUE_RESPONSE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A complete request, head and body, as a server received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: String,
    /// The request target as sent: path and query (`/?pin=13&state=on`).
    pub target: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Header names and values in the order they came.
    pub headers: Vec<(String, String)>,
    /// The body, exactly Content-Length bytes (or the de-chunked body).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::find_header(&self.headers, name)
    }

    /// The path of the target, without the query (`/api/pins`). An absolute-form target
    /// (`http://host/path`, as proxies send) gives its path.
    pub fn path(&self) -> &str {
        let target = strip_authority(&self.target);
        match target.split(['?', '#']).next() {
            Some("") | None => "/",
            Some(path) => path,
        }
    }

    /// The query of the target, without the `?`; None when there is none.
    pub fn query(&self) -> Option<&str> {
        let target = strip_authority(&self.target);
        let target = target.split('#').next().unwrap_or(target);
        target.split_once('?').map(|(_, query)| query)
    }

    /// The query's parameters, decoded as a form (`+` is a space, `%41` is `A`).
    pub fn query_params(&self) -> Vec<(String, String)> {
        decode_form(self.query().unwrap_or("").as_bytes())
    }

    /// The body's parameters, decoded as `application/x-www-form-urlencoded` (what an HTML
    /// form posts). The Content-Type is not checked.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_form(&self.body)
    }

    /// Whether the client wants the connection kept open after the response: by default in
    /// HTTP/1.1 unless it says `Connection: close`; in HTTP/1.0 only with `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        if self.has_connection_option("close") {
            return false;
        }
        self.version >= 1 || self.has_connection_option("keep-alive")
    }

    /// Whether the method is HEAD (answer with the head only).
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }

    /// Whether any Connection header lists this option.
    fn has_connection_option(&self, option: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|o| o.trim().eq_ignore_ascii_case(option))
    }
}

/// Decodes `application/x-www-form-urlencoded` bytes; invalid escapes stay as they are.
fn decode_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// The target with any `scheme://authority` in front removed.
fn strip_authority(target: &str) -> &str {
    let Some((scheme, rest)) = target.split_once("://") else {
        return target;
    };
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return target;
    }
    rest.find(['/', '?']).map_or("", |i| &rest[i..])
}

/// A response a server writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names and values (Content-Length, Date and Connection are added on writing);
    /// most are constants, which cost no allocation.
    pub headers: Vec<(HeaderText, HeaderText)>,
    /// The body.
    pub body: Vec<u8>,
    /// The body is only the start of a stream that goes on until the connection closes
    /// (server-sent events): written with no Content-Length and `Connection: close`.
    pub stream: bool,
}

/// A header's name or value in a response: a constant or a string made for it.
pub type HeaderText = std::borrow::Cow<'static, str>;

/// Headers [`Response::encode`] writes itself; copies in `headers` are left out.
const MANAGED_HEADERS: [&str; 4] = ["content-length", "connection", "date", "transfer-encoding"];

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stream: false,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<HeaderText>, value: impl Into<HeaderText>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and its Content-Type (replacing any Content-Type set before).
    pub fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".into(), content_type.into()));
        self.body = body.into();
        self
    }

    /// The bytes to write: status line, headers, blank line and body. `version_minor` is the
    /// request's (0 or 1); `keep_alive` whether the connection stays open; `head_only` leaves
    /// the body out (HEAD) but keeps the Content-Length the body would have.
    pub fn encode(&self, version_minor: u8, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut out = Vec::new(); // encode_into reserves the room
        self.encode_into(&mut out, version_minor, keep_alive, head_only);
        out
    }

    /// [`Response::encode`], appended to `out` (a connection's outbox: no second copy).
    pub fn encode_into(
        &self,
        out: &mut Vec<u8>,
        version_minor: u8,
        keep_alive: bool,
        head_only: bool,
    ) {
        let now = OffsetDateTime::now_utc();
        DATE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != now.unix_timestamp() || cache.1.is_empty() {
                *cache = (now.unix_timestamp(), http_date(now));
            }
            self.encode_dated(out, version_minor, keep_alive, head_only, &cache.1);
        });
    }

    /// [`Response::encode`] with the Date given.
    #[cfg(test)]
    fn encode_at(
        &self,
        version_minor: u8,
        keep_alive: bool,
        head_only: bool,
        now: OffsetDateTime,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_dated(
            &mut out,
            version_minor,
            keep_alive,
            head_only,
            &http_date(now),
        );
        out
    }

    /// [`Response::encode_into`] with the Date header's value given.
    fn encode_dated(
        &self,
        out: &mut Vec<u8>,
        version_minor: u8,
        keep_alive: bool,
        head_only: bool,
        date: &str,
    ) {
        // Pieces appended as bytes: this runs for every response, and `write!`'s formatting
        // machinery costs more than the copying.
        let minor = version_minor.min(1);
        let mut number = itoa::Buffer::new();
        out.reserve(HEAD_CAPACITY + self.body.len());
        out.extend_from_slice(if minor == 0 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        out.extend_from_slice(number.format(self.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date.as_bytes());
        out.extend_from_slice(b"\r\n");
        // 1xx and 204 must not carry a Content-Length; 304's would describe another body.
        let bodiless = self.status < 200 || self.status == 204 || self.status == 304;
        if !bodiless && !self.stream {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(number.format(self.body.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if keep_alive && !self.stream {
            b"Connection: keep-alive\r\n"
        } else {
            b"Connection: close\r\n"
        });
        for (name, value) in &self.headers {
            if !MANAGED_HEADERS.iter().any(|m| name.eq_ignore_ascii_case(m)) {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        if !head_only && !bodiless {
            out.extend_from_slice(&self.body);
        }
    }
}

/// Room reserved for a response head (most are a few hundred bytes).
const HEAD_CAPACITY: usize = 512;

thread_local! {
    /// The Date header of the current second: formatted once a second, not per response.
    static DATE: std::cell::RefCell<(i64, String)> = const {
        std::cell::RefCell::new((0, String::new()))
    };
}

/// The standard reason phrase for a status code (empty for codes it does not know).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Why a request could not be read. Answer with [`RequestError::status`] and close the
/// connection: the reader cannot find the next request after an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// A head over [`MAX_REQUEST_HEAD`] bytes (431).
    HeadTooLarge,
    /// More than [`MAX_REQUEST_HEADERS`] headers (431).
    TooManyHeaders,
    /// A body over [`MAX_REQUEST_BODY`] bytes (413).
    BodyTooLarge,
    /// A head httparse rejects (400).
    Malformed(String),
    /// Headers that do not say how long the body is (400, or 501 for unknown codings).
    Framing(FramingError),
    /// A broken chunked body (400).
    Body(BodyError),
}

impl RequestError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::BodyTooLarge => 413,
            RequestError::Framing(FramingError::UnsupportedTransferEncoding(_)) => 501,
            RequestError::Malformed(_) | RequestError::Framing(_) | RequestError::Body(_) => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::HeadTooLarge => write!(
                f,
                "request head larger than {} KiB",
                MAX_REQUEST_HEAD / 1024
            ),
            RequestError::TooManyHeaders => {
                write!(f, "request has more than {MAX_REQUEST_HEADERS} headers")
            }
            RequestError::BodyTooLarge => write!(
                f,
                "request body larger than {} KiB",
                MAX_REQUEST_BODY / 1024
            ),
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
            RequestError::Framing(e) => write!(f, "request framing: {e}"),
            RequestError::Body(e) => write!(f, "request body: {e}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// What a [`RequestReader`] has for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The client sent `Expect: 100-continue` and waits: write [`CONTINUE_RESPONSE`].
    Continue,
    /// A complete request.
    Request(Request),
}

/// Where the reader is in the current request.
#[derive(Debug, Clone)]
enum ReaderState {
    /// Waiting for (the rest of) a head.
    Head,
    /// Reading the body of this request.
    Body(Request, BodyDecoder),
    /// An error was returned; it is returned again.
    Failed(RequestError),
}

/// Reads the requests of one connection from bytes pushed into it. For every read from the
/// socket call [`RequestReader::feed`], then [`RequestReader::next_request`] until it returns
/// `Ok(None)`: one read may hold several pipelined requests, and what is left of an
/// incomplete one is kept for the next read.
#[derive(Debug, Clone)]
pub struct RequestReader {
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts.
    pos: usize,
    state: ReaderState,
}

impl Default for RequestReader {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestReader {
    /// A reader at the start of a connection.
    pub fn new() -> Self {
        RequestReader {
            buf: Vec::new(),
            pos: 0,
            state: ReaderState::Head,
        }
    }

    /// Takes the next bytes from the connection.
    pub fn feed(&mut self, input: &[u8]) {
        self.buf.extend_from_slice(input);
    }

    /// Bytes fed but not yet turned into requests: stop reading the socket while this grows
    /// (a client pipelining faster than its responses are written).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether the reader is between requests with nothing pending: EOF now is a clean close,
    /// not a truncated request.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, ReaderState::Head) && self.buffered() == 0
    }

    /// The next thing for the caller: `Continue`, a complete request, or None when more bytes
    /// are needed. After an error, answer with its status and close.
    pub fn next_request(&mut self) -> Result<Option<Incoming>, RequestError> {
        let result = self.step();
        if let Err(e) = &result {
            self.state = ReaderState::Failed(e.clone());
        }
        if !matches!(result, Ok(Some(_))) {
            self.compact();
        }
        result
    }

    fn step(&mut self) -> Result<Option<Incoming>, RequestError> {
        loop {
            match &mut self.state {
                ReaderState::Failed(e) => return Err(e.clone()),
                ReaderState::Head => {
                    let Some((request, used)) = parse_request_head(&self.buf[self.pos..])? else {
                        return Ok(None);
                    };
                    self.pos += used;
                    let decoder = BodyDecoder::new(request_framing(&request)?);
                    let waits =
                        expects_continue(&request) && !decoder.is_done() && self.buffered() == 0;
                    self.state = ReaderState::Body(request, decoder);
                    if waits {
                        return Ok(Some(Incoming::Continue));
                    }
                }
                ReaderState::Body(request, decoder) => {
                    let input = &self.buf[self.pos..];
                    let used = decoder
                        .decode(input, &mut request.body)
                        .map_err(RequestError::Body)?;
                    self.pos += used;
                    if request.body.len() > MAX_REQUEST_BODY {
                        return Err(RequestError::BodyTooLarge);
                    }
                    if !decoder.is_done() {
                        return Ok(None);
                    }
                    let request = std::mem::take(request);
                    self.state = ReaderState::Head;
                    return Ok(Some(Incoming::Request(request)));
                }
            }
        }
    }

    /// Drops the bytes already read, so the buffer holds only what is pending.
    fn compact(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
    }
}

/// Whether the client waits for `100 Continue` before sending the body.
fn expects_continue(request: &Request) -> bool {
    request.version >= 1
        && request
            .header("expect")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// The body's framing, with a declared length over the limit refused before it arrives.
fn request_framing(request: &Request) -> Result<Framing, RequestError> {
    let framing = framing_from_headers(
        request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
        Side::Request,
    )
    .map_err(RequestError::Framing)?;
    match framing {
        Framing::Length(n) if n > MAX_REQUEST_BODY as u64 => Err(RequestError::BodyTooLarge),
        framing => Ok(framing),
    }
}

/// Parses a request head at the start of `buf`: the request (body still empty) and the head's
/// length, or None when it is not complete yet.
fn parse_request_head(buf: &[u8]) -> Result<Option<(Request, usize)>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_HEAD => {
            return Err(RequestError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(e) => return Err(RequestError::Malformed(e.to_string())),
    };
    if len > MAX_REQUEST_HEAD {
        return Err(RequestError::HeadTooLarge);
    }
    let (Some(method), Some(path), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(RequestError::Malformed("incomplete request line".into()));
    };
    let request = Request {
        method: method.to_string(),
        target: path.to_string(),
        version,
        // Values are bytes; the rare non-UTF-8 one (Latin-1 from old clients) is kept lossily.
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_string(), value)
            })
            .collect(),
        body: Vec::new(),
    };
    Ok(Some((request, len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::tests::{Rng, for_every_split};

    /// Feeds the pieces and collects everything the reader yields, stopping at an error.
    fn read_all(pieces: &[&[u8]]) -> (Vec<Incoming>, Option<RequestError>, RequestReader) {
        let mut reader = RequestReader::new();
        let mut out = Vec::new();
        for piece in pieces {
            reader.feed(piece);
            loop {
                match reader.next_request() {
                    Ok(Some(item)) => out.push(item),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e), reader),
                }
            }
        }
        (out, None, reader)
    }

    fn requests(items: Vec<Incoming>) -> Vec<Request> {
        items
            .into_iter()
            .filter_map(|i| match i {
                Incoming::Request(r) => Some(r),
                Incoming::Continue => None,
            })
            .collect()
    }

    #[test]
    fn pipelined_requests_in_every_split() {
        let wire = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n\
            POST /form HTTP/1.1\r\nContent-Length: 11\r\n\r\na=b+c&d=%41\
            PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nhi\r\n0\r\nT: v\r\n\r\n\
            GET /partial HTTP/1.1\r\n";
        for_every_split(wire, |pieces| {
            let (items, err, reader) = read_all(pieces);
            assert_eq!(err, None);
            let reqs = requests(items);
            assert_eq!(reqs.len(), 3, "{pieces:?}");
            assert_eq!(reqs[0].method, "GET");
            assert_eq!(reqs[0].path(), "/a");
            assert_eq!(reqs[0].query(), Some("x=1"));
            assert_eq!(reqs[0].header("HOST"), Some("h"));
            assert!(reqs[0].body.is_empty());
            assert_eq!(reqs[1].body, b"a=b+c&d=%41");
            assert_eq!(reqs[2].body, b"hi");
            assert_eq!(reader.buffered(), 23);
            assert!(!reader.is_idle());
        });
    }

    #[test]
    fn reader_is_idle_between_requests() {
        let (items, err, reader) = read_all(&[b"GET / HTTP/1.0\r\n\r\n"]);
        assert_eq!((items.len(), err), (1, None));
        assert!(reader.is_idle());
        assert!(RequestReader::new().is_idle());
    }

    #[test]
    fn expect_continue_is_reported_when_the_body_is_not_here() {
        let head = b"POST /p HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        let mut reader = RequestReader::new();
        reader.feed(head);
        assert_eq!(reader.next_request(), Ok(Some(Incoming::Continue)));
        assert_eq!(reader.next_request(), Ok(None));
        reader.feed(b"abc");
        let Ok(Some(Incoming::Request(req))) = reader.next_request() else {
            panic!("no request");
        };
        assert_eq!(req.body, b"abc");
        // With the body already here there is no need to ask for it.
        let (items, _, _) = read_all(&[&[&head[..], b"abc"].concat()]);
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Incoming::Request(_)));
    }

    #[test]
    fn limits_map_to_statuses() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST_HEAD + 1, b'a');
        let (_, err, _) = read_all(&[&big]);
        assert_eq!(err.map(|e| e.status()), Some(431));
        let pieces: Vec<&[u8]> = big.chunks(100).collect();
        let (_, err, _) = read_all(&pieces);
        assert_eq!(err.map(|e| e.status()), Some(431));

        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_REQUEST_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let (_, err, _) = read_all(&[&many]);
        assert_eq!(err, Some(RequestError::TooManyHeaders));

        let declared = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_REQUEST_BODY + 1
        );
        let (_, err, _) = read_all(&[declared.as_bytes()]);
        assert_eq!(err.map(|e| e.status()), Some(413));

        let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..=MAX_REQUEST_BODY / 4096 {
            chunked.extend_from_slice(b"1000\r\n");
            chunked.extend_from_slice(&[b'x'; 4096]);
            chunked.extend_from_slice(b"\r\n");
        }
        let (_, err, _) = read_all(&[&chunked]);
        assert_eq!(err.map(|e| e.status()), Some(413));
    }

    #[test]
    fn malformed_requests_are_400() {
        for bad in [
            &b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"G@T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header: v\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET /\xff HTTP/1.1\r\n\r\n",
        ] {
            let (_, err, mut reader) = read_all(&[bad]);
            assert_eq!(
                err.as_ref().map(RequestError::status),
                Some(400),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            // The reader stays failed.
            assert_eq!(reader.next_request(), Err(err.unwrap()));
        }
        let (_, err, _) = read_all(&[b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"]);
        assert_eq!(err.map(|e| e.status()), Some(501));
    }

    #[test]
    fn mangled_requests_never_panic() {
        let wire: &[u8] =
            b"POST /a?b=c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc\
            PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nhi\r\n0\r\n\r\n";
        let mut rng = Rng::new(11);
        for _ in 0..3000 {
            let mut wire = wire.to_vec();
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
            let (items, _, _) = read_all(&pieces);
            for req in requests(items) {
                let _ = (req.path(), req.query(), req.form(), req.keep_alive());
            }
        }
    }

    fn request(version: u8, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            target: "/".into(),
            version,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn keep_alive_rules() {
        assert!(request(1, &[]).keep_alive());
        assert!(!request(1, &[("Connection", "Close")]).keep_alive());
        assert!(!request(1, &[("connection", "TE, close")]).keep_alive());
        assert!(!request(0, &[]).keep_alive());
        assert!(request(0, &[("Connection", "Keep-Alive")]).keep_alive());
    }

    #[test]
    fn form_and_query_decoding() {
        let mut req = request(1, &[]);
        req.target = "/set?pin=13&state=on+now&bad=%zz#frag".into();
        req.body = b"a=b+c&d=%41%2B&e&=f&g=%".to_vec();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            req.form(),
            pairs(&[("a", "b c"), ("d", "A+"), ("e", ""), ("", "f"), ("g", "%")])
        );
        assert_eq!(
            req.query_params(),
            pairs(&[("pin", "13"), ("state", "on now"), ("bad", "%zz")])
        );
        assert_eq!(req.path(), "/set");
        req.target = "http://host:8080/abs?q".into();
        assert_eq!((req.path(), req.query()), ("/abs", Some("q")));
        req.target = "http://host".into();
        assert_eq!((req.path(), req.query()), ("/", None));
        req.target = "*".into();
        assert_eq!((req.path(), req.query()), ("*", None));
    }

    fn date() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(784_111_777).unwrap()
    }

    #[test]
    fn responses_encode_with_length_and_connection() {
        let resp = Response::new(200)
            .header("Content-Length", "999")
            .header("X-Pin", "13")
            .body("text/plain", "on\n");
        let text = |minor, keep, head| {
            String::from_utf8(resp.encode_at(minor, keep, head, date())).unwrap()
        };
        let head = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 3\r\n";
        assert_eq!(
            text(1, true, false),
            format!(
                "HTTP/1.1 200 OK\r\n{head}Connection: keep-alive\r\nX-Pin: 13\r\n\
                 Content-Type: text/plain\r\n\r\non\n"
            )
        );
        assert_eq!(
            text(0, false, true),
            format!(
                "HTTP/1.0 200 OK\r\n{head}Connection: close\r\nX-Pin: 13\r\n\
                 Content-Type: text/plain\r\n\r\n"
            )
        );
        let empty = Response::new(204).body("text/plain", "ignored");
        let out = String::from_utf8(empty.encode_at(1, true, false, date())).unwrap();
        assert!(out.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(!out.contains("Content-Length"));
        assert!(out.ends_with("\r\n\r\n"));
        let odd = String::from_utf8(Response::new(599).encode(1, false, false)).unwrap();
        assert!(odd.starts_with("HTTP/1.1 599 \r\n"));
        assert!(odd.contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn a_response_round_trips_through_the_client_reader() {
        use crate::http::client::{Event, ResponseReader};
        let resp = Response::new(404).body("application/json", r#"{"error":"no pin"}"#);
        let wire = resp.encode(1, true, false);
        let mut reader = ResponseReader::new("GET");
        let mut body: Vec<u8> = Vec::new();
        let events = reader.feed(&wire, &mut body).unwrap();
        assert!(matches!(&events[0], Event::Head(h) if h.status == 404));
        assert_eq!(events.last(), Some(&Event::Done));
        assert_eq!(body, resp.body);
    }
}
