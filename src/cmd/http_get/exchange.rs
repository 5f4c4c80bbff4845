//! One request and its response on the event loop: send the request bytes, push every read
//! into the sans-I/O [`ResponseReader`], and hand the head and body to the [`Output`] in large
//! pieces. It stops early, without reading the body, at a redirect it will follow or a
//! status that `-f` fails on.

use std::io;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::event::Event;
use mio::{Interest, Token};

use super::output::Output;
use super::retry;
use super::upload::Upload;
use crate::error::{Kind, Tag as _, fail};
use crate::http::client::{Event as HttpEvent, ResponseHead, ResponseReader};
use crate::http::decode::{Decoder, PushError, Unsupported};
use crate::net::event_loop::{Context, Flow, Handler};
use crate::net::transport::failure;
use crate::net::transport::{Transport, would_block};

/// Token of the connection.
const SOCKET: Token = Token(0);
/// Token of the `--max-time` deadline.
pub const MAX_TIME: Token = Token(1);
/// Token of the wait for `100 Continue`.
const EXPECT: Token = Token(3);
/// Bytes read from the connection per call.
pub const READ_CHUNK: usize = 256 * 1024;
/// Body bytes gathered before they are written out: TLS hands over at most a record
/// (16 KiB) per read, and one large write beats many small ones.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// What to do with the response, from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plan {
    /// Write the head before the body (`-i`, `-I`).
    pub include: bool,
    /// Write the bytes exactly as they came (`--raw`).
    pub raw: bool,
    /// Stop at a status of 400 or more without writing anything (`-f`).
    pub fail: bool,
    /// Stop at a redirect with a Location (`-L`).
    pub follow: bool,
    /// Show the heads on stderr.
    pub verbose: u8,
    /// Decode the body by its Content-Encoding (`--compressed`).
    pub decode: bool,
    /// `--max-time`, as a deadline and the seconds the user gave.
    pub deadline: Option<(Instant, Duration)>,
    /// Stop at a status a retry may cure (a retry is left): its body is not the answer.
    pub stop_for_retry: bool,
    /// The request asks for the body from this byte on (`Range`): a `206` must start
    /// there, a `200` replaces what the output holds.
    pub resume_from: Option<u64>,
    /// The request went to an HTTP proxy as it is (absolute form), `Some(with credentials)`:
    /// its 407 is the proxy's refusal (exit 11), never the origin's answer.
    pub proxy_answers: Option<bool>,
}

/// The `--max-time` deadline passed (the seconds the user gave): no retry cures that. The
/// cause under a [`Kind::Timeout`] tag naming the URL.
#[derive(Debug)]
pub struct MaxTimeExpired(pub Duration);

impl std::fmt::Display for MaxTimeExpired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no complete response within {} s (--max-time)",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for MaxTimeExpired {}

/// The buffers one exchange after another reuses.
#[derive(Debug, Default)]
pub struct Buffers {
    read: Vec<u8>,
    staged: Vec<u8>,
    scratch: Vec<u8>,
    raw_head: Vec<u8>,
    /// What a retry needs from the last final head, kept even when the exchange fails:
    /// the validator (ETag or Last-Modified) for `If-Range`, when the server takes ranges.
    pub validator: Option<String>,
}

/// How an exchange ended.
#[derive(Debug, Default)]
pub struct Ending {
    /// The final head, when one came.
    pub head: Option<ResponseHead>,
    /// The Location of a redirect to follow (the body was not read).
    pub redirect: Option<String>,
    /// Body bytes of the final response.
    pub body_bytes: u64,
    /// Head bytes of every response read (interim ones included).
    pub head_bytes: u64,
    /// When the first byte of the response came.
    pub first_byte: Option<Instant>,
    /// It stopped at the head of a status a retry may cure.
    pub stopped_for_retry: bool,
    /// A `416` said the body the output holds is already whole.
    pub already_complete: bool,
}

/// What the exchange does with the response once its head is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No final head yet.
    Waiting,
    /// Writing the response to the output.
    Delivering,
    /// Done (complete, or stopped at a head).
    Finished,
}

/// The request of an exchange.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its method: the response to `HEAD` has no body.
    pub method: &'a str,
    /// The URL asked for, for messages.
    pub url: &'a str,
    /// The bytes to send.
    pub bytes: &'a [u8],
    /// What `--trace` records of them: the same bytes, the proxy's credentials masked.
    pub shown: &'a [u8],
    /// It asked to keep the connection open for another request.
    pub keep_alive: bool,
    /// It says `Expect: 100-continue`: the bytes after the head (`head_len`) and the
    /// streamed body wait for `100 Continue`, a final answer, or this long.
    pub expect: Option<Duration>,
    /// How many of `bytes` are the head.
    pub head_len: usize,
}

/// One request/response on one connection.
pub struct Exchange<'a> {
    sock: Transport,
    /// For messages: the URL asked for.
    url: &'a str,
    request: &'a [u8],
    /// The request as `--trace` shows it (see [`Request::shown`]).
    shown: &'a [u8],
    sent: usize,
    send_error: Option<io::Error>,
    /// The body streamed after `request` (`-T`), if any.
    upload: Option<Upload>,
    /// The streamed body is all out.
    uploaded: bool,
    /// The wait for `100 Continue`: how long, and until when once the head is out.
    expect: Option<(Duration, Option<Instant>)>,
    head_len: usize,
    /// A final answer came before the body went: the rest of it is not sent.
    abandoned: bool,
    reader: ResponseReader,
    bufs: &'a mut Buffers,
    out: &'a mut Output,
    plan: Plan,
    stage: Stage,
    /// The body's decoder (`--compressed` and a Content-Encoding), or the encoding it
    /// cannot decode: an error only once a body byte comes (a HEAD, 204, 304 or redirect
    /// has none).
    decoder: Option<Result<Decoder, Unsupported>>,
    /// The request asked to keep the connection open.
    keep_alive: bool,
    /// The final response ended where its framing said (not at the close), its body
    /// delivered whole.
    whole: bool,
    /// What came of it.
    pub ending: Ending,
}

impl<'a> Exchange<'a> {
    /// Registers the connection; the request goes out once the loop runs.
    pub fn new(
        registry: &mio::Registry,
        mut sock: Transport,
        request: Request<'a>,
        upload: Option<Upload>,
        bufs: &'a mut Buffers,
        out: &'a mut Output,
        plan: Plan,
    ) -> Result<Self> {
        registry
            .register(
                sock.socket(),
                SOCKET,
                Interest::READABLE | Interest::WRITABLE,
            )
            .tag(Kind::Runtime, "watching the connection")?;
        bufs.read.resize(READ_CHUNK, 0);
        bufs.staged.clear();
        bufs.raw_head.clear();
        Ok(Exchange {
            sock,
            url: request.url,
            request: request.bytes,
            shown: request.shown,
            sent: 0,
            send_error: None,
            uploaded: upload.is_none(),
            upload,
            expect: request.expect.map(|wait| (wait, None)),
            head_len: request.head_len,
            abandoned: false,
            reader: ResponseReader::new(request.method),
            bufs,
            out,
            plan,
            stage: Stage::Waiting,
            decoder: None,
            keep_alive: request.keep_alive,
            whole: false,
            ending: Ending::default(),
        })
    }

    /// Takes the connection off the loop once the exchange is over; hands it back when it
    /// can carry another request (see [`Exchange::reusable`]).
    pub fn finish(mut self, registry: &mio::Registry) -> (Ending, Option<Transport>) {
        let _ = registry.deregister(self.sock.socket());
        let reusable = self.reusable();
        (self.ending, reusable.then_some(self.sock))
    }

    /// Whether another request may go over this connection: both ends said keep-alive, the
    /// request went out whole, the response ended where its framing said and nothing came
    /// after it. A response stopped at its head (a redirect, `-f`, a retry) leaves its body
    /// unread on the connection, so it is not used again.
    fn reusable(&self) -> bool {
        self.keep_alive
            && self.whole
            && self.send_error.is_none()
            && self.sent == self.request.len()
            && self.uploaded
            && !self.abandoned
            && self.reader.trailing_bytes() == 0
            && self
                .ending
                .head
                .as_ref()
                .is_some_and(ResponseHead::keeps_alive)
    }

    /// Sends what it can of the request and its streamed body. A failed send is kept, not
    /// raised: the server may have answered (413, 401…) and closed before reading
    /// everything. With `Expect: 100-continue` the body waits after the head.
    fn send(&mut self, cx: &mut Context<'_>) -> Result<()> {
        while self.send_error.is_none() && !self.abandoned {
            let limit = match self.expect {
                Some(_) => self.head_len,
                None => self.request.len(),
            };
            if self.sent < limit {
                let (data, shown) = (
                    &self.request[self.sent..limit],
                    &self.shown[self.sent..limit],
                );
                match self.sock.write_masked(data, shown) {
                    Ok(n) => self.sent += n,
                    Err(e) if would_block(&e) => break,
                    Err(e) => self.send_error = Some(e),
                }
                continue;
            }
            if let Some((wait, until)) = self.expect {
                let now = Instant::now();
                match until {
                    None => {
                        cx.timers.add(now + wait, EXPECT);
                        self.expect = Some((wait, Some(now + wait)));
                        break;
                    }
                    Some(at) if now < at => break,
                    Some(_) => {
                        if self.plan.verbose > 0 {
                            eprintln!(
                                "* no 100 Continue within {} s: sending the body",
                                wait.as_secs_f64()
                            );
                        }
                        self.expect = None;
                        continue;
                    }
                }
            }
            match &mut self.upload {
                Some(upload) if !self.uploaded => match upload.send(&mut self.sock)? {
                    Ok(true) => self.uploaded = true,
                    Ok(false) => break,
                    Err(e) => self.send_error = Some(e),
                },
                _ => break,
            }
        }
        match self.sock.flush() {
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            Err(e) => {
                self.send_error.get_or_insert(e);
            }
        }
        Ok(())
    }

    /// Reads until the socket has nothing more, the response ends or the exchange stops.
    fn receive(&mut self, now: Instant) -> Result<()> {
        while self.stage != Stage::Finished {
            let n = match self.sock.read(&mut self.bufs.read) {
                Ok(0) => return self.at_eof(),
                Ok(n) => n,
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(self.io_error(e, "receiving the response")),
            };
            self.ending.first_byte.get_or_insert(now);
            self.take(n)?;
            if self.bufs.staged.len() >= WRITE_CHUNK {
                self.flush_staged()?;
            }
        }
        self.flush_staged()
    }

    /// Feeds `n` bytes of the read buffer to the reader and acts on what it found.
    fn take(&mut self, n: usize) -> Result<()> {
        let bufs = &mut *self.bufs;
        let chunk = &bufs.read[..n];
        let body = if self.plan.raw {
            &mut bufs.scratch
        } else {
            &mut bufs.staged
        };
        let before = body.len();
        let events = self.reader.feed(chunk, body).tag(
            Kind::Runtime,
            format!("reading the response from {}", self.url),
        )?;
        let body_bytes = (body.len() - before) as u64;
        if self.plan.raw {
            bufs.scratch.clear();
            match self.stage {
                Stage::Waiting => bufs.raw_head.extend_from_slice(chunk),
                Stage::Delivering => bufs.staged.extend_from_slice(chunk),
                Stage::Finished => {}
            }
        }
        if self.stage == Stage::Delivering {
            self.ending.body_bytes += body_bytes;
        }
        for event in events {
            match event {
                HttpEvent::Interim(head) => {
                    self.ending.head_bytes += head.raw.len() as u64;
                    self.show_head(&head);
                    if head.status == 100 {
                        self.expect = None;
                    }
                }
                HttpEvent::Head(head) => {
                    self.ending.head_bytes += head.raw.len() as u64;
                    self.show_head(&head);
                    // An answer before the body went out (a 401, 413, 417…): the server
                    // has decided without it, so it is not sent (curl does the same).
                    let body_left = self.sent < self.request.len() || !self.uploaded;
                    if body_left && (self.expect.is_some() || head.status >= 300) {
                        self.abandoned = true;
                    }
                    self.on_head(head, body_bytes)?;
                }
                HttpEvent::Done => {
                    if self.stage == Stage::Delivering {
                        self.stage = Stage::Finished;
                        self.whole = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// The final head is in: stop here (retry, redirect, `-f`) or start delivering.
    fn on_head(&mut self, head: ResponseHead, body_bytes: u64) -> Result<()> {
        let status = head.status;
        if let (Some(sent_credentials), 407) = (self.plan.proxy_answers, status) {
            let what = if sent_credentials {
                "the proxy rejected the credentials"
            } else {
                "the proxy wants credentials"
            };
            return Err(fail(
                Kind::Denied,
                format!("{what} (HTTP 407 {})", head.reason)
                    .trim_end()
                    .to_string(),
            ));
        }
        if self.plan.stop_for_retry && retry::RETRY_STATUSES.contains(&status) {
            self.ending.stopped_for_retry = true;
            return self.stop_at(head);
        }
        if let Some(from) = self.plan.resume_from {
            match status {
                206 if retry::content_range_start(&head) == Some(from) => {}
                206 => {
                    return Err(fail(
                        Kind::Runtime,
                        format!(
                            "{}: asked for the body from byte {from}, the server sent {}",
                            self.url,
                            head.header("content-range").unwrap_or("no Content-Range")
                        ),
                    ));
                }
                416 if retry::unsatisfied_length(&head) == Some(from) => {
                    self.ending.already_complete = true;
                    return self.stop_at(head);
                }
                200..=299 if !self.out.restart()? => {
                    return Err(fail(
                        Kind::Runtime,
                        format!(
                            "{}: the server sent the whole body again, and {from} bytes of it \
                             have already been written",
                            self.url
                        ),
                    ));
                }
                _ => {}
            }
        }
        self.decoder = None;
        if self.plan.decode
            && let Some(encoding) = head.header("content-encoding")
        {
            self.decoder = Decoder::for_encoding(encoding).transpose();
        }
        // A resumed body continues the bytes of the file, and a decoded body's file bytes
        // are not the server's: it starts over instead.
        if matches!(status, 200 | 206) {
            self.bufs.validator = retry::validator(&head).filter(|_| self.decoder.is_none());
        }
        let location = head.header("location").map(str::to_string);
        let stop = if self.plan.follow && is_followed_redirect(head.status) && location.is_some() {
            self.ending.redirect = location;
            true
        } else {
            self.plan.fail && head.status >= 400
        };
        if stop {
            return self.stop_at(head);
        }
        self.stage = Stage::Delivering;
        self.ending.body_bytes = body_bytes;
        if self.plan.include {
            self.out.write_head(&head.raw)?;
        }
        // Decoded bytes are not the Content-Length's: a spinner, not a bar.
        let length = self.reader.body_length().filter(|_| self.decoder.is_none());
        self.out.start_body(length);
        if self.plan.raw {
            let raw = std::mem::take(&mut self.bufs.raw_head);
            self.out.write_body(&raw)?;
            self.bufs.raw_head = raw;
            self.bufs.raw_head.clear();
        }
        self.ending.head = Some(head);
        Ok(())
    }

    /// Ends the exchange at this head, its body unread.
    fn stop_at(&mut self, head: ResponseHead) -> Result<()> {
        self.stage = Stage::Finished;
        self.bufs.staged.clear();
        self.ending.head = Some(head);
        Ok(())
    }

    fn flush_staged(&mut self) -> Result<()> {
        let (staged, url) = (&self.bufs.staged, self.url);
        let out = &mut *self.out;
        let mut emit = |bytes: &[u8]| out.write_body(bytes);
        // A decoding failure is the body's (exit 1, naming the URL); a failed write keeps
        // its own kind.
        let undecodable = |e: PushError<anyhow::Error>| match e {
            PushError::Decode(e) => {
                anyhow::Error::new(e).context(crate::error::Tagged::new(Kind::Runtime, url))
            }
            PushError::Emit(e) => e,
        };
        match &mut self.decoder {
            None if !staged.is_empty() => emit(staged)?,
            Some(Err(unsupported)) if !staged.is_empty() => {
                return Err(unsupported.clone()).tag(Kind::Runtime, url);
            }
            Some(Ok(decoder)) => {
                decoder.push(staged, &mut emit).map_err(undecodable)?;
                // The body is whole: so must the encoded stream be.
                if self.stage == Stage::Finished {
                    decoder.finish(&mut emit).map_err(undecodable)?;
                    self.decoder = None;
                }
            }
            _ => {}
        }
        self.bufs.staged.clear();
        Ok(())
    }

    /// The peer closed: the response must be complete by now.
    fn at_eof(&mut self) -> Result<()> {
        let close_delimited =
            self.stage == Stage::Delivering && self.reader.body_length().is_none();
        if let Err(e) = self.reader.finish_eof() {
            if self.ending.head.is_none()
                && let Some(send) = self.send_error.take()
            {
                return Err(self.io_error(send, "sending the request"));
            }
            return Err(e).tag(
                Kind::Runtime,
                format!("reading the response from {}", self.url),
            );
        }
        if close_delimited && self.sock.truncated() {
            return Err(fail(
                Kind::Runtime,
                format!(
                    "reading the response from {}: the server closed without TLS close_notify, \
                     so the body may be cut short",
                    self.url
                ),
            ));
        }
        self.stage = Stage::Finished;
        self.flush_staged()
    }

    /// The user's words for a socket error; a TLS failure says why the handshake failed.
    fn io_error(&self, e: io::Error, doing: &str) -> anyhow::Error {
        if self.sock.is_handshaking() {
            return failure(e, &format!("handshake with {}", self.url));
        }
        failure(e, &format!("{doing} from {}", self.url))
    }

    fn show_head(&self, head: &ResponseHead) {
        if self.plan.verbose == 0 {
            return;
        }
        for line in String::from_utf8_lossy(&head.raw).lines() {
            if !line.is_empty() {
                eprintln!("< {line}");
            }
        }
    }

    fn check_deadline(&self, now: Instant) -> Result<()> {
        match self.plan.deadline {
            Some((at, limit)) if now >= at => {
                Err(MaxTimeExpired(limit)).tag(Kind::Timeout, self.url)
            }
            _ => Ok(()),
        }
    }
}

/// The redirects `-L` follows.
pub fn is_followed_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

impl Handler for Exchange<'_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn on_timer(&mut self, _cx: &mut Context<'_>, _token: Token) -> Result<()> {
        self.check_deadline(Instant::now())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        let now = Instant::now();
        self.check_deadline(now)?;
        self.send(cx)?;
        let waiting = self.expect.is_some();
        self.receive(now)?;
        // A `100 Continue` just read lets the body go now, not at the next event.
        if waiting && self.expect.is_none() {
            self.send(cx)?;
        }
        Ok(match self.stage {
            Stage::Finished => Flow::Stop,
            Stage::Waiting | Stage::Delivering => Flow::Continue,
        })
    }
}
