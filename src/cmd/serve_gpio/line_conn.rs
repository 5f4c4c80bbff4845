//! One connection of the plain-TCP line protocol (lab L5): each line received is one
//! command for the [`App`], each answered with one line. A line longer than
//! [`MAX_LINE`] gets an error line and ends the connection (a client that never sends a
//! newline must not make us buffer without end).

use std::io;
use std::time::Instant;

use super::app::events::{Follower, Form};
use super::app::{App, Watch};
use crate::net::server::Outbox;
use crate::net::server::{self, Exchange, Link, Next, Phase};

/// The longest command line accepted, newline excluded.
pub const MAX_LINE: usize = 1024;
/// Received bytes held before we stop reading: several lines' worth.
const MAX_INPUT: usize = 4 * MAX_LINE;
/// Replies held for a client before we stop reading its next commands.
const MAX_OUTPUT: usize = 64 * 1024;

/// The state of one line-protocol connection.
#[derive(Debug, Default)]
pub struct LineConn {
    input: Vec<u8>,
    out: Outbox,
    /// The last reply is queued: send it and end the connection.
    closing: bool,
    peer_eof: bool,
    /// When the bytes now waiting for their newline started to arrive.
    line_started: Option<Instant>,
    /// After `watch`, it follows the log.
    follower: Follower,
}

impl LineConn {
    /// Reads, answers and writes until nothing moves.
    pub fn pump(&mut self, link: &mut Link, app: &mut App, scratch: &mut [u8]) -> io::Result<Next> {
        let next = server::exchange(link, self, app, scratch)?;
        // A heartbeat passed: the watcher is still wanted, though it was sent nothing.
        if self.follower.settle()? {
            link.touch();
        }
        if self.input.is_empty() {
            self.line_started = None;
        } else if self.line_started.is_none() {
            self.line_started = Some(link.now());
        }
        Ok(next)
    }

    /// Where the connection stands: idle between commands, receiving a line (since when),
    /// or answering.
    pub fn phase(&self) -> Phase {
        Phase::of(self.closing || !self.out.is_empty(), self.line_started)
    }

    /// Whether it follows the events.
    pub fn is_watching(&self) -> bool {
        self.follower.is_following()
    }

    /// Queues the events it has not been sent yet; says whether it queued any.
    fn catch_up(&mut self, app: &App) -> bool {
        self.follower
            .catch_up(app.events(), &mut self.out, Form::Line)
    }
}

impl Exchange for LineConn {
    type App = App;

    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn room(&self) -> usize {
        if self.closing || self.peer_eof || self.out.pending() >= MAX_OUTPUT {
            return 0;
        }
        MAX_INPUT.saturating_sub(self.input.len())
    }

    fn received(&mut self, _link: &mut Link, data: &[u8]) -> io::Result<()> {
        self.input.extend_from_slice(data);
        Ok(())
    }

    fn ended(&mut self) {
        self.peer_eof = true;
    }

    /// Answers the complete lines received (and, at the client's end of stream, a last
    /// line without a newline), while the outbox has room.
    fn answer(&mut self, app: &mut App) -> bool {
        let mut answered = self.catch_up(app);
        while !self.closing && !self.follower.fell_behind() && self.out.pending() < MAX_OUTPUT {
            let line_end = self.input.iter().position(|&b| b == b'\n');
            let line_len = line_end.unwrap_or(self.input.len());
            if line_len > MAX_LINE {
                self.out.push(
                    format!("error: line longer than {MAX_LINE} bytes; closing\n").as_bytes(),
                );
                self.closing = true;
                return true;
            }
            let consumed = match line_end {
                Some(end) => end + 1,
                None if self.peer_eof && !self.input.is_empty() => self.input.len(),
                None => break,
            };
            let line: Vec<u8> = self.input.drain(..consumed).collect();
            let (reply, watch) = app.line_reply(&String::from_utf8_lossy(&line[..line_len]));
            self.out.push(reply.as_bytes());
            match watch {
                Watch::Same => {}
                Watch::From(cursor) => self.follower.start(cursor),
                Watch::Stop => self.follower.stop(),
            }
            // The changes this line made, after its reply.
            self.catch_up(app);
            answered = true;
        }
        answered
    }

    fn is_finished(&self) -> bool {
        self.closing || self.peer_eof
    }
}
