//! One request and its response on the event loop: send the request bytes, push every read
//! into the sans-I/O [`ResponseReader`], and hand the head and body to the [`Output`] in large
//! pieces. It stops early, without reading the body, at a redirect it will follow or a
//! status that `-f` fails on.

use std::io;
use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::Token;

use super::output::Output;
use super::retry;
use super::upload::Upload;
use crate::error::{Kind, Tag as _, fail};
use crate::http::client::{Event as HttpEvent, ResponseHead, ResponseReader};
use crate::http::decode::{Decoder, PushError, Unsupported};
use crate::net::event_loop::Context;
use crate::net::transport::failure;
use crate::net::transport::{Transport, would_block};

/// Tokens an exchange takes from its base: the connection, the `--max-time` deadline and
/// the wait for `100 Continue`.
pub const TOKENS: usize = 3;
/// Bytes read from the connection per call.
pub const READ_CHUNK: usize = 256 * 1024;
/// Body bytes gathered before they are written out: TLS hands over at most a record
/// (16 KiB) per read, and one large write beats many small ones.
pub const WRITE_CHUNK: usize = 256 * 1024;
/// A download is fast when, over a window of at least this long, bytes came at a rate that
/// fills [`LOW_WATER`] within the window (25.6 MiB/s): from then on the socket reports
/// itself readable only once [`LOW_WATER`] bytes wait (SO_RCVLOWAT), not at every segment.
/// On loopback the sender pays for each wake-up of ours: nginx spent a third less CPU per
/// GiB serving us, and sent HTTP 1.6× as fast (issue 29).
const PACE_WINDOW: Duration = Duration::from_millis(10);
/// The low-water mark of a fast download.
const LOW_WATER: usize = 256 * 1024;
/// Body bytes the mark never reaches into: the low-water mark is at most what is left of
/// the body less this, so the body's last bytes (or a TLS record half read) never wait for
/// bytes that will not come.
const LOW_WATER_SLACK: usize = 64 * 1024;
/// With a low-water mark set, the socket is read at least this often anyway, so a download
/// that slows down hands over what came without waiting for the mark.
const LOW_WATER_PATIENCE: Duration = Duration::from_millis(50);
/// A body piece at least this large is written from the read buffer without being staged
/// (a copy saved: issue 29's profile had it at 3.7 % of a TLS download's CPU).
const DIRECT_WRITE: usize = 16 * 1024;

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

/// The buffers every exchange of a run uses in turn: nothing is left in them between two
/// steps, so the exchanges running at once share one set.
#[derive(Debug, Default)]
pub struct Scratch {
    read: Vec<u8>,
    staged: Vec<u8>,
    /// The body's pieces in the last read, as ranges of `read`.
    pieces: Vec<Range<usize>>,
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
    /// A `417` refused the request's `Expect: 100-continue`: it goes again without.
    pub expectation_failed: bool,
    /// What a retry needs from the final head: the validator (ETag or Last-Modified) for
    /// `If-Range`, when the server takes ranges.
    pub validator: Option<String>,
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
#[derive(Debug, Clone)]
pub struct Request {
    /// Its method: the response to `HEAD` has no body.
    pub method: String,
    /// The URL asked for, for messages.
    pub url: String,
    /// The bytes to send.
    pub bytes: Vec<u8>,
    /// What `--trace` records of them, when not the same bytes: the credentials masked.
    pub shown: Option<Vec<u8>>,
    /// It asked to keep the connection open for another request.
    pub keep_alive: bool,
    /// It says `Expect: 100-continue`: the bytes after the head (`head_len`) and the
    /// streamed body wait for `100 Continue`, a final answer, or this long.
    pub expect: Option<Duration>,
    /// How many of `bytes` are the head.
    pub head_len: usize,
}

/// One request/response on one connection.
pub struct Exchange {
    sock: Transport,
    /// The connection's token; the deadlines' follow it.
    token: usize,
    /// For messages: the URL asked for.
    url: String,
    request: Vec<u8>,
    /// The request as `--trace` shows it (see [`Request::shown`]).
    shown: Option<Vec<u8>>,
    sent: usize,
    send_error: Option<io::Error>,
    /// The body streamed after `request` (`-T`), if any.
    upload: Option<Upload>,
    /// The streamed body is all out.
    uploaded: bool,
    /// The wait for `100 Continue`: how long, and until when once the head is out.
    expect: Option<(Duration, Option<Instant>)>,
    head_len: usize,
    /// A final answer of 300 or more came before the body went: the rest is not sent.
    abandoned: bool,
    /// The request said `Expect: 100-continue`.
    expected: bool,
    reader: ResponseReader,
    /// The bytes of the heads so far (`--raw`).
    raw_head: Vec<u8>,
    out: Output,
    plan: Plan,
    stage: Stage,
    /// The body's decoder (`--compressed` and a Content-Encoding), or the encoding it
    /// cannot decode: an error only once a body byte comes (a HEAD, 204, 304 or redirect
    /// has none).
    decoder: Option<Result<Decoder, Unsupported>>,
    /// The request asked to keep the connection open.
    keep_alive: bool,
    /// The first step was taken (the deadline's timer set).
    started: bool,
    /// It was a CONNECT: what follows its answer is a tunnel.
    method_connect: bool,
    /// The final response ended where its framing said (not at the close), its body
    /// delivered whole.
    whole: bool,
    /// Since when, and how many bytes were read, in the window of the rate being measured;
    /// whether the last whole window's rate was a fast download's.
    window: Option<(Instant, u64)>,
    fast: bool,
    /// The socket's low-water mark (1: every byte wakes us), and until when the timer that
    /// reads it anyway is set.
    low_water: usize,
    patience: Option<Instant>,
    /// What came of it.
    pub ending: Ending,
}

impl Exchange {
    /// An exchange on `sock`, which is registered under `token` for reading and writing
    /// (the next [`TOKENS`] are its deadlines'); the request goes out at the first
    /// [`step`](Self::step). The output comes back from [`finish`](Self::finish), however
    /// the exchange ended.
    pub fn new(
        sock: Transport,
        token: usize,
        request: Request,
        upload: Option<Upload>,
        out: Output,
        plan: Plan,
    ) -> Self {
        Exchange {
            sock,
            token,
            url: request.url,
            request: request.bytes,
            shown: request.shown,
            sent: 0,
            send_error: None,
            uploaded: upload.is_none(),
            upload,
            expect: request.expect.map(|wait| (wait, None)),
            expected: request.expect.is_some(),
            head_len: request.head_len,
            abandoned: false,
            reader: ResponseReader::new(&request.method),
            raw_head: Vec::new(),
            out,
            plan,
            stage: Stage::Waiting,
            decoder: None,
            keep_alive: request.keep_alive,
            started: false,
            method_connect: request.method.eq_ignore_ascii_case("CONNECT"),
            whole: false,
            window: None,
            fast: false,
            low_water: 1,
            patience: None,
            ending: Ending::default(),
        }
    }

    /// Takes the connection off the loop once the exchange is over; hands back the output,
    /// and the connection when it can carry another request (see [`Exchange::reusable`]).
    pub fn finish(mut self, registry: &mio::Registry) -> (Ending, Option<Transport>, Output) {
        let _ = registry.deregister(self.sock.socket());
        // A pooled connection's next response may be shorter than a low-water mark left
        // set (an exchange that failed while the mark was up): it goes back at 1, or not at
        // all.
        let reusable =
            self.reusable() && (self.low_water == 1 || self.sock.set_read_low_water(1).is_ok());
        (self.ending, reusable.then_some(self.sock), self.out)
    }

    /// Body bytes are still to be sent.
    fn body_left(&self) -> bool {
        self.sent < self.request.len() || !self.uploaded
    }

    /// Moves what can move: the deadline checked, the request sent, the response read.
    /// True once the exchange is over: the response read (or stopped at its head), and the
    /// body sent unless the server refused it. A response of less than 300 that came
    /// before the whole body went is an error if the rest can no longer be sent.
    pub fn step(&mut self, cx: &mut Context<'_>, scratch: &mut Scratch) -> Result<bool> {
        let now = Instant::now();
        if !self.started {
            self.started = true;
            if let Some((at, _)) = self.plan.deadline {
                cx.timers.add(at, Token(self.token + 1));
            }
        }
        self.check_deadline(now)?;
        self.send(cx)?;
        let waiting = self.expect.is_some();
        let got = self.receive(now, scratch)?;
        self.pace(cx, now, got);
        // A `100 Continue` just read lets the body go now, not at the next event.
        if waiting && self.expect.is_none() {
            self.send(cx)?;
        }
        if self.stage != Stage::Finished {
            return Ok(false);
        }
        let stopped = self.ending.redirect.is_some()
            || self.ending.stopped_for_retry
            || self.ending.expectation_failed
            || self.ending.head.as_ref().is_none_or(|h| h.status >= 300);
        if self.abandoned || stopped || !self.body_left() {
            return Ok(true);
        }
        match self.send_error.take() {
            Some(e) => Err(self
                .io_error(e, "sending the body")
                .context("the server answered before the whole body was sent")),
            None => Ok(false),
        }
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
            && !self.method_connect
            // After a 101 the connection speaks another protocol.
            && self
                .ending
                .head
                .as_ref()
                .is_some_and(|h| h.status != 101 && h.keeps_alive())
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
                let shown = self.shown.as_deref().unwrap_or(&self.request);
                let (data, shown) = (&self.request[self.sent..limit], &shown[self.sent..limit]);
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
                    // The wait starts once the head is out, past the TLS handshake.
                    None if self.sock.is_handshaking() || self.sock.wants_write() => break,
                    None => {
                        cx.timers.add(now + wait, Token(self.token + 2));
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

    /// Sets the socket's low-water mark for what comes next, given the bytes the last
    /// [`receive`](Self::receive) read: [`LOW_WATER`] while a body of known length arrives
    /// fast (see [`PACE_WINDOW`]) and much of it is left, else 1; with a mark set, a timer
    /// reads the socket anyway every [`LOW_WATER_PATIENCE`]. A connection goes back to the
    /// pool with the mark at 1.
    fn pace(&mut self, cx: &mut Context<'_>, now: Instant, got: usize) {
        let (since, bytes) = self.window.get_or_insert((now, 0));
        *bytes += got as u64;
        let elapsed = now.saturating_duration_since(*since);
        if elapsed >= PACE_WINDOW {
            self.fast = u128::from(*bytes) * PACE_WINDOW.as_nanos()
                >= LOW_WATER as u128 * elapsed.as_nanos();
            self.window = Some((now, 0));
        }
        let left = match self.stage {
            Stage::Delivering if self.fast => self.reader.body_remaining(),
            _ => None,
        };
        let want = left
            .map(|left| usize::try_from(left).unwrap_or(usize::MAX))
            .map(|left| left.saturating_sub(LOW_WATER_SLACK).min(LOW_WATER))
            .filter(|&mark| mark >= LOW_WATER_SLACK)
            .unwrap_or(1);
        // A failure leaves the mark where it was: every byte still wakes us, or the timer
        // reads them.
        if want != self.low_water && self.sock.set_read_low_water(want).is_ok() {
            self.low_water = want;
        }
        if self.low_water > 1 && self.patience.is_none_or(|at| at <= now) {
            let at = now + LOW_WATER_PATIENCE;
            // Any of an exchange's timers just steps it: the deadline's token serves.
            cx.timers.add(at, Token(self.token + 1));
            self.patience = Some(at);
        }
    }

    /// Reads until the socket has nothing more, the response ends or the exchange stops;
    /// returns how many bytes it read.
    fn receive(&mut self, now: Instant, scratch: &mut Scratch) -> Result<usize> {
        scratch.read.resize(READ_CHUNK, 0);
        scratch.staged.clear();
        let mut got = 0;
        while self.stage != Stage::Finished {
            let n = match self.sock.read(&mut scratch.read) {
                Ok(0) => return self.at_eof(scratch).map(|()| got),
                Ok(n) => n,
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(self.io_error(e, "receiving the response")),
            };
            got += n;
            self.ending.first_byte.get_or_insert(now);
            self.take(n, scratch)?;
            if scratch.staged.len() >= WRITE_CHUNK {
                self.flush_staged(scratch)?;
            }
        }
        self.flush_staged(scratch)?;
        Ok(got)
    }

    /// Feeds `n` bytes of the read buffer to the reader and acts on what it found.
    fn take(&mut self, n: usize, bufs: &mut Scratch) -> Result<()> {
        let chunk = &bufs.read[..n];
        bufs.pieces.clear();
        let events = self.reader.feed(chunk, &mut bufs.pieces).tag(
            Kind::Runtime,
            format!("reading the response from {}", self.url),
        )?;
        let body_bytes = bufs.pieces.iter().map(|r| r.len() as u64).sum();
        if self.plan.raw {
            // The output is the bytes as they came, not the body.
            bufs.pieces.clear();
            match self.stage {
                Stage::Waiting => self.raw_head.extend_from_slice(chunk),
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
                    // An answer before the body went out: one of 300 or more (a 401, 413,
                    // 417…) decided without it, so it is not sent (curl does the same); a
                    // 2xx takes the rest of it as 100 Continue would.
                    if self.body_left() {
                        if head.status >= 300 {
                            self.abandoned = true;
                        } else {
                            self.expect = None;
                        }
                    }
                    self.on_head(head, body_bytes, bufs)?;
                }
                HttpEvent::Done => {
                    if self.stage == Stage::Delivering {
                        self.stage = Stage::Finished;
                        self.whole = true;
                    }
                }
            }
        }
        // The body bytes of this read, unless the exchange stopped at the head before them.
        if self.stage == Stage::Delivering || self.whole {
            self.stage_body(bufs)?;
        }
        Ok(())
    }

    /// Passes on the body pieces of the last read: one large piece, with nothing staged
    /// before it, is written straight from the read buffer (a download's every read, over
    /// TLS too, as its reads gather whole records); others are staged to go out together.
    fn stage_body(&mut self, bufs: &mut Scratch) -> Result<()> {
        if let [piece] = bufs.pieces.as_slice()
            && bufs.staged.is_empty()
            && piece.len() >= DIRECT_WRITE
        {
            return self.emit(&bufs.read[piece.clone()]);
        }
        for piece in &bufs.pieces {
            bufs.staged.extend_from_slice(&bufs.read[piece.clone()]);
        }
        Ok(())
    }

    /// The final head is in: stop here (retry, redirect, `-f`) or start delivering.
    fn on_head(&mut self, head: ResponseHead, body_bytes: u64, bufs: &mut Scratch) -> Result<()> {
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
        if status == 417 && self.expected {
            self.ending.expectation_failed = true;
            return self.stop_at(head, bufs);
        }
        if self.plan.stop_for_retry && retry::RETRY_STATUSES.contains(&status) {
            self.ending.stopped_for_retry = true;
            return self.stop_at(head, bufs);
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
                    return self.stop_at(head, bufs);
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
            self.ending.validator = retry::validator(&head).filter(|_| self.decoder.is_none());
        }
        let location = head.header("location").map(str::to_string);
        let stop = if self.plan.follow && is_followed_redirect(head.status) && location.is_some() {
            self.ending.redirect = location;
            true
        } else {
            self.plan.fail && head.status >= 400
        };
        if stop {
            return self.stop_at(head, bufs);
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
            self.out.write_body(&self.raw_head)?;
            self.raw_head.clear();
        }
        self.ending.head = Some(head);
        Ok(())
    }

    /// Ends the exchange at this head, its body unread.
    fn stop_at(&mut self, head: ResponseHead, bufs: &mut Scratch) -> Result<()> {
        self.stage = Stage::Finished;
        bufs.staged.clear();
        self.ending.head = Some(head);
        Ok(())
    }

    fn flush_staged(&mut self, bufs: &mut Scratch) -> Result<()> {
        self.emit(&bufs.staged)?;
        bufs.staged.clear();
        Ok(())
    }

    /// Writes body bytes out, through the decoder of `--compressed` when there is one; the
    /// decoder is finished once the body is whole.
    fn emit(&mut self, body: &[u8]) -> Result<()> {
        let url = self.url.as_str();
        let out = &mut self.out;
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
            None if !body.is_empty() => emit(body)?,
            Some(Err(unsupported)) if !body.is_empty() => {
                return Err(unsupported.clone()).tag(Kind::Runtime, url);
            }
            Some(Ok(decoder)) => {
                decoder.push(body, &mut emit).map_err(undecodable)?;
                // The body is whole: so must the encoded stream be.
                if self.stage == Stage::Finished {
                    decoder.finish(&mut emit).map_err(undecodable)?;
                    self.decoder = None;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The peer closed: the response must be complete by now.
    fn at_eof(&mut self, bufs: &mut Scratch) -> Result<()> {
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
        self.flush_staged(bufs)
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
                Err(MaxTimeExpired(limit)).tag(Kind::Timeout, &self.url)
            }
            _ => Ok(()),
        }
    }
}

/// The redirects `-L` follows.
pub fn is_followed_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}
