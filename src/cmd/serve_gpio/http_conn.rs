//! One HTTP connection of `serve-gpio`: bytes in through the shared [`RequestReader`],
//! requests answered by the [`App`] in the order they came (pipelining), responses out
//! through a bounded [`Outbox`]. A client that does not read its responses stops being
//! read; one that sends half a request and stalls is cut off after [`REQUEST_TIMEOUT`]; a
//! request the reader refuses is answered with its status, then the connection ends.

use std::io;
use std::time::{Duration, Instant};

use super::app::App;
use super::app::events::{Follower, Form};
use crate::http::server::{
    CONTINUE_RESPONSE, Incoming, MAX_REQUEST_BODY, MAX_REQUEST_HEAD, RequestError, Response,
    reason_phrase,
};
use crate::net::server::Outbox;
use crate::net::server::{self, Exchange, Link, Next, Phase};

/// Time a client has to send a whole request once it has started one.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The kernel's send buffer of an event stream: a few dozen events. What it does not take
/// waits in the stream's own bounded backlog (`events::BACKLOG`).
const SUBSCRIBER_SEND_BUFFER: usize = 8 * 1024;
/// Responses held for a client before we stop reading its next requests.
const MAX_OUTPUT: usize = 256 * 1024;
/// Received bytes held unparsed before we stop reading: room for a whole request of the
/// largest size, so a request is never stuck waiting for bytes we refuse to read.
const MAX_INPUT: usize = 2 * (MAX_REQUEST_HEAD + MAX_REQUEST_BODY);

/// The state of one HTTP connection.
#[derive(Debug, Default)]
pub struct HttpConn {
    reader: crate::http::server::RequestReader,
    out: Outbox,
    /// The last response is queued: send it and end the connection.
    closing: bool,
    peer_eof: bool,
    /// When the request now being received started (None between requests).
    request_started: Option<Instant>,
    /// An event stream follows the log; nothing more is read as requests.
    follower: Follower,
    /// Its kernel send buffer is capped (see [`SUBSCRIBER_SEND_BUFFER`]).
    capped: bool,
}

impl HttpConn {
    /// Reads, answers and writes until nothing moves.
    pub fn pump(&mut self, link: &mut Link, app: &mut App, scratch: &mut [u8]) -> io::Result<Next> {
        let next = server::exchange(link, self, app, scratch)?;
        self.follower.settle()?;
        if self.follower.is_following() && !self.capped {
            link.cap_send_buffer(SUBSCRIBER_SEND_BUFFER)?;
            self.capped = true;
        }
        if self.reader.is_idle() || self.follower.is_following() {
            self.request_started = None;
        } else if self.request_started.is_none() {
            self.request_started = Some(link.now());
        }
        Ok(next)
    }

    /// Where the connection stands: idle between requests, receiving one (since when), or
    /// answering.
    pub fn phase(&self) -> Phase {
        Phase::of(self.closing || !self.out.is_empty(), self.request_started)
    }

    /// Whether it is an event stream.
    pub fn is_subscribed(&self) -> bool {
        self.follower.is_following()
    }

    /// When the request being received must be complete. It does not run while responses
    /// wait to be read: then it is the client that is slow to read, and the idle timeout
    /// applies.
    pub fn deadline(&self) -> Option<(Instant, &'static str)> {
        if self.closing || !self.out.is_empty() || self.follower.is_following() {
            return None;
        }
        self.request_started
            .map(|at| (at + REQUEST_TIMEOUT, "request timed out"))
    }
}

impl Exchange for HttpConn {
    type App = App;

    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn room(&self) -> usize {
        if self.follower.is_following() {
            // Read on only to see the client leave; what it sends is dropped.
            return if self.peer_eof { 0 } else { usize::MAX };
        }
        if self.closing || self.peer_eof || self.out.pending() >= MAX_OUTPUT {
            return 0;
        }
        MAX_INPUT.saturating_sub(self.reader.buffered())
    }

    fn received(&mut self, _link: &mut Link, data: &[u8]) -> io::Result<()> {
        if !self.follower.is_following() {
            self.reader.feed(data);
        }
        Ok(())
    }

    fn ended(&mut self) {
        self.peer_eof = true;
    }

    /// Answers the complete requests received, while the outbox has room. With room in the
    /// outbox and nothing queued, every complete request is answered.
    fn answer(&mut self, app: &mut App) -> bool {
        if self.follower.is_following() {
            return self
                .follower
                .catch_up(app.events(), &mut self.out, Form::Sse);
        }
        let mut answered = false;
        while !self.closing && self.out.pending() < MAX_OUTPUT {
            match self.reader.next_request() {
                Ok(None) => break,
                Ok(Some(Incoming::Continue)) => self.out.push(CONTINUE_RESPONSE),
                Ok(Some(Incoming::Request(req))) => {
                    self.request_started = None;
                    let keep_alive = req.keep_alive();
                    let response = app.handle(&req);
                    let head_only = req.is_head();
                    response.encode_into(self.out.buffer(), req.version, keep_alive, head_only);
                    if response.stream && !head_only {
                        // From here on the connection is the stream.
                        self.follower.start(app.stream_cursor());
                        return true;
                    }
                    self.closing = !keep_alive || response.stream;
                }
                Err(e) => {
                    refusal(&e).encode_into(self.out.buffer(), 1, false, false);
                    self.closing = true;
                }
            }
            answered = true;
        }
        answered
    }

    fn is_finished(&self) -> bool {
        self.closing || self.peer_eof
    }
}

/// The answer to a request the reader could not take: its status and why, in plain text.
fn refusal(e: &RequestError) -> Response {
    let status = e.status();
    Response::new(status)
        .header("Cache-Control", "no-store")
        .body(
            "text/plain; charset=utf-8",
            format!("{status} {}: {e}\n", reason_phrase(status)),
        )
}
