//! Every change of a pin is an event, kept in one bounded log and shown three ways: a
//! server-sent event on `GET /api/events`, a line on a `watch`ing line-protocol connection,
//! and (through the page's script, which subscribes) the page itself. Each event is
//! rendered once, when it happens; a subscriber is a cursor into the log, so a thousand
//! subscribers cost a thousand cursors, not a thousand copies.
//!
//! A subscriber that does not read falls behind: what it is sent waits in its outbox up to
//! [`BACKLOG`] bytes, after which its cursor stops; once the log has moved on past the
//! cursor ([`LOG_LEN`] events later) the subscriber is dropped. Memory stays bounded and a
//! slow reader slows no one else.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crate::net::server::Outbox;

/// A comment line goes to every event-stream subscriber this often, so proxies and the
/// idle timeout see a live connection.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Events kept for subscribers that are behind.
pub const LOG_LEN: usize = 1024;
/// Bytes of events a subscriber may have waiting to be sent before its cursor stops.
pub const BACKLOG: usize = 4 * 1024;
/// The event-stream comment sent as a heartbeat.
const HEARTBEAT_SSE: &[u8] = b": heartbeat\n\n";

/// What made a pin change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Not a change: the state a new subscriber starts from.
    Initial,
    /// The page's forms (POST `/` or the lab's `GET /?pin=…`).
    Form,
    /// The JSON API.
    Api,
    /// The line protocol.
    Line,
    /// A timer set with `for` ran out.
    Timer,
    /// An input line changed (an edge from the kernel, or a simulated button).
    Edge,
    /// A command on MQTT (`--mqtt`).
    Mqtt,
}

impl Cause {
    /// The cause as events name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Initial => "initial",
            Cause::Form => "form",
            Cause::Api => "api",
            Cause::Line => "line",
            Cause::Timer => "timer",
            Cause::Edge => "edge",
            Cause::Mqtt => "mqtt",
        }
    }
}

/// How a subscriber is shown events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `text/event-stream`: `data: {json}` and a blank line; heartbeats as comments.
    Sse,
    /// The line protocol: `13 on`; heartbeats are not shown.
    Line,
}

/// One event, rendered for each form.
#[derive(Debug)]
struct Rendered {
    /// The whole server-sent event, blank line included.
    sse: Box<[u8]>,
    /// The whole line, newline included; empty for a heartbeat.
    line: Box<[u8]>,
}

/// A subscriber's cursor fell out of the log: it read too slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FellBehind;

impl From<FellBehind> for io::Error {
    fn from(_: FellBehind) -> io::Error {
        io::Error::other(format!(
            "dropped: read too slowly to keep up with the events ({LOG_LEN} behind)"
        ))
    }
}

/// The event log.
#[derive(Debug)]
pub struct Events {
    log: VecDeque<Rendered>,
    /// The sequence number of `log[0]`.
    first: u64,
    /// Something was published since [`Events::take_news`] was last called.
    news: bool,
    next_heartbeat: Instant,
}

impl Events {
    /// An empty log whose first heartbeat is due one period after `now`.
    pub fn new(now: Instant) -> Events {
        Events {
            log: VecDeque::new(),
            first: 0,
            news: false,
            next_heartbeat: now + HEARTBEAT,
        }
    }

    /// The cursor of a subscriber that starts now: it is sent what is published from here.
    pub fn head(&self) -> u64 {
        self.first + self.log.len() as u64
    }

    /// Publishes an event: `json` is its data, `line` its line-protocol form (no newline).
    /// Its `id:` is the number of events published through it, so a client that
    /// reconnects with `Last-Event-ID: N` is owed the events from cursor N on.
    pub fn publish(&mut self, json: &str, line: &str) {
        let id = self.head() + 1;
        self.push(Rendered {
            sse: sse_event(json, id).into_bytes().into_boxed_slice(),
            line: format!("{line}\n").into_bytes().into_boxed_slice(),
        });
    }

    fn push(&mut self, event: Rendered) {
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
            self.first += 1;
        }
        self.log.push_back(event);
        self.news = true;
    }

    /// Whether a client that last saw event `id` can be sent just what it missed: those
    /// events are still in the log.
    pub fn can_resume(&self, id: u64) -> bool {
        (self.first..=self.head()).contains(&id)
    }

    /// Whether anything was published since the last call.
    pub fn take_news(&mut self) -> bool {
        std::mem::take(&mut self.news)
    }

    /// When the next heartbeat is due.
    pub fn heartbeat_due(&self) -> Instant {
        self.next_heartbeat
    }

    /// Publishes a heartbeat if one is due at `now`.
    pub fn beat(&mut self, now: Instant) {
        if now >= self.next_heartbeat {
            self.push(Rendered {
                sse: HEARTBEAT_SSE.into(),
                line: Box::default(),
            });
            self.next_heartbeat = now + HEARTBEAT;
        }
    }

    /// Queues the events from `cursor` on in `out`, in `form`, until `out` holds
    /// [`BACKLOG`] bytes; moves the cursor past what it queued. Returns whether a
    /// heartbeat was among them.
    pub fn deliver(
        &self,
        cursor: &mut u64,
        out: &mut Outbox,
        form: Form,
    ) -> Result<bool, FellBehind> {
        let Some(from) = cursor.checked_sub(self.first) else {
            return Err(FellBehind);
        };
        let mut beat = false;
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        for event in self.log.iter().skip(from) {
            if out.pending() >= BACKLOG {
                break;
            }
            let bytes = match form {
                Form::Sse => &event.sse,
                Form::Line => &event.line,
            };
            beat |= event.line.is_empty();
            out.push(bytes);
            *cursor += 1;
        }
        Ok(beat)
    }
}

/// A subscriber's place in the log (when it follows it) and what catching up found.
#[derive(Debug, Default)]
pub struct Follower {
    cursor: Option<u64>,
    fell_behind: bool,
    beat: bool,
}

impl Follower {
    /// Follows the log from `cursor` on (see [`Events::head`]).
    pub fn start(&mut self, cursor: u64) {
        self.cursor = Some(cursor);
    }

    /// Stops following.
    pub fn stop(&mut self) {
        self.cursor = None;
    }

    /// Whether it follows the log.
    pub fn is_following(&self) -> bool {
        self.cursor.is_some()
    }

    /// Queues in `out` what it has not been sent yet, in `form`; says whether it queued
    /// anything.
    pub fn catch_up(&mut self, events: &Events, out: &mut Outbox, form: Form) -> bool {
        let Some(cursor) = self.cursor.as_mut() else {
            return false;
        };
        let before = *cursor;
        match events.deliver(cursor, out, form) {
            Ok(beat) => self.beat |= beat,
            Err(FellBehind) => self.fell_behind = true,
        }
        *cursor != before
    }

    /// Whether it fell behind (it is to be dropped).
    pub fn fell_behind(&self) -> bool {
        self.fell_behind
    }

    /// After a round: `Err` when it fell behind; else whether a heartbeat passed since the
    /// last call (the connection is still wanted, though it may have been sent nothing).
    pub fn settle(&mut self) -> Result<bool, FellBehind> {
        if self.fell_behind {
            return Err(FellBehind);
        }
        Ok(std::mem::take(&mut self.beat))
    }
}

/// A server-sent event carrying `json` (one line: JSON never holds a raw newline) with
/// this `id`.
pub fn sse_event(json: &str, id: u64) -> String {
    format!("id: {id}\ndata: {json}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut Outbox) -> String {
        let text = String::from_utf8(out.buffer().clone()).unwrap();
        out.buffer().clear();
        text
    }

    #[test]
    fn a_subscriber_gets_what_was_published_after_it_came_in_each_form() {
        let mut events = Events::new(Instant::now());
        events.publish(r#"{"pin":13}"#, "13 on");
        let (mut sse, mut line) = (events.head(), events.head());
        events.publish(r#"{"pin":19}"#, "19 off");
        assert!(events.take_news());
        assert!(!events.take_news(), "news is taken once");
        let mut out = Outbox::default();
        events.deliver(&mut sse, &mut out, Form::Sse).unwrap();
        assert_eq!(drain(&mut out), "id: 2\ndata: {\"pin\":19}\n\n");
        events.deliver(&mut line, &mut out, Form::Line).unwrap();
        assert_eq!(drain(&mut out), "19 off\n");
        events.deliver(&mut line, &mut out, Form::Line).unwrap();
        assert_eq!(drain(&mut out), "", "nothing twice");
    }

    #[test]
    fn heartbeats_are_comments_in_the_stream_and_silent_on_the_line() {
        let start = Instant::now();
        let mut events = Events::new(start);
        let (mut sse, mut line) = (0, 0);
        events.beat(start + HEARTBEAT / 2);
        assert_eq!(events.head(), 0, "not due yet");
        events.beat(start + HEARTBEAT);
        assert_eq!(events.heartbeat_due(), start + 2 * HEARTBEAT);
        let mut out = Outbox::default();
        assert!(events.deliver(&mut sse, &mut out, Form::Sse).unwrap());
        assert_eq!(drain(&mut out), ": heartbeat\n\n");
        assert!(events.deliver(&mut line, &mut out, Form::Line).unwrap());
        assert_eq!(drain(&mut out), "");
    }

    #[test]
    fn a_subscriber_that_does_not_read_is_bounded_then_dropped() {
        let mut events = Events::new(Instant::now());
        let mut cursor = events.head();
        let mut out = Outbox::default();
        let json = format!("{{\"pad\":\"{}\"}}", "x".repeat(100));
        for _ in 0..LOG_LEN {
            events.publish(&json, "13 on");
        }
        events.deliver(&mut cursor, &mut out, Form::Sse).unwrap();
        assert!(out.pending() >= BACKLOG && out.pending() < BACKLOG + 200);
        assert!(cursor < events.head(), "the cursor stopped at the backlog");
        for _ in 0..LOG_LEN {
            events.publish(&json, "13 on");
        }
        assert_eq!(
            events.deliver(&mut cursor, &mut out, Form::Sse),
            Err(FellBehind)
        );
    }
}
