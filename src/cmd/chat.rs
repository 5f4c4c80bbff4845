//! `listen --chat PORT` and `listen --broker PORT` (ncat's `--chat` and `--broker`): many
//! clients on the shared server, each one's words passed to all the others.
//!
//! - Chat is line by line: each line a client sends reaches every other client as
//!   `<user3> the line`, or under the name it chose with `/nick NAME`; joins, leaves and
//!   new names are announced with `* …` lines. A line longer than [`MAX_LINE`] is cut there,
//!   and its sender is told.
//! - The broker passes raw bytes, as they come, with no names or notices.
//!
//! What is said goes once into a bounded log; each client is a cursor into it, sent what it
//! has not seen (never its own words) while its outbox holds less than [`BACKLOG`]. A
//! client that stops reading falls behind the log and is dropped: it never slows anyone
//! else, and memory stays bounded.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::net::EventLoop;
use crate::net::outbox::Outbox;
use crate::net::server::{self, Exchange, Group, Link, Next, Phase, Server, Service};

/// The longest chat line passed on whole; longer ones are cut.
pub const MAX_LINE: usize = 4096;
/// Messages kept for clients that are behind.
const LOG_LEN: usize = 4096;
/// Bytes waiting for one client before its cursor stops.
const BACKLOG: usize = 64 * 1024;
/// Bytes read from one client before what it said is passed on.
const READ_ROOM: usize = 16 * 1024;
/// The kernel's send buffer of a member: a few dozen lines. Left to itself it grows to
/// megabytes for a client that does not read, which would hide that it fell behind.
const SEND_BUFFER: usize = 64 * 1024;
/// Longest name `/nick` takes.
const MAX_NAME: usize = 32;

/// Chat or broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Chat,
    Broker,
}

/// One thing said: by whom (not sent back to them) and the bytes everyone else gets.
struct Said {
    from: u64,
    bytes: Box<[u8]>,
}

/// The room: the log of what was said.
pub struct Room {
    mode: Mode,
    log: VecDeque<Said>,
    /// The sequence number of `log[0]`.
    first: u64,
    news: bool,
    next_id: u64,
    scratch: Vec<u8>,
}

impl Room {
    fn head(&self) -> u64 {
        self.first + self.log.len() as u64
    }

    fn say(&mut self, from: u64, bytes: Vec<u8>) {
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
            self.first += 1;
        }
        self.log.push_back(Said {
            from,
            bytes: bytes.into_boxed_slice(),
        });
        self.news = true;
    }

    fn notice(&mut self, from: u64, text: String) {
        if self.mode == Mode::Chat {
            self.say(from, format!("* {text}\n").into_bytes());
        }
    }
}

/// One client.
pub struct Member {
    id: u64,
    name: String,
    input: Vec<u8>,
    out: Outbox,
    cursor: u64,
    /// The rest of a line that was cut is being dropped, up to its newline.
    cutting: bool,
    eof: bool,
    fell_behind: bool,
    /// Its kernel send buffer is capped ([`SEND_BUFFER`]).
    capped: bool,
}

impl Member {
    /// Queues what it has not been sent (what others said), up to the backlog.
    fn catch_up(&mut self, room: &Room) -> bool {
        let Some(from) = self.cursor.checked_sub(room.first) else {
            self.fell_behind = true;
            return false;
        };
        let before = self.cursor;
        for said in room
            .log
            .iter()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
        {
            if self.out.pending() >= BACKLOG {
                break;
            }
            if said.from != self.id {
                self.out.push(&said.bytes);
            }
            self.cursor += 1;
        }
        self.cursor != before
    }

    /// Passes on each complete line (chat), or everything (broker).
    fn speak(&mut self, room: &mut Room) -> bool {
        if self.input.is_empty() {
            return false;
        }
        if room.mode == Mode::Broker {
            let bytes = std::mem::take(&mut self.input);
            room.say(self.id, bytes);
            return true;
        }
        let mut spoke = false;
        loop {
            let (line, complete) = match self.input.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let line: Vec<u8> = self.input.drain(..=end).collect();
                    (line[..end].to_vec(), true)
                }
                // No newline within the limit, or the client's last words: take it all.
                None if self.input.len() > MAX_LINE || self.eof => {
                    (std::mem::take(&mut self.input), false)
                }
                None => break,
            };
            if std::mem::replace(&mut self.cutting, !complete && !self.eof) {
                continue; // the rest of a line already cut
            }
            if line.is_empty() && !complete {
                break;
            }
            let mut text = &line[..];
            if text.len() > MAX_LINE {
                text = &text[..MAX_LINE];
                self.out
                    .push(format!("* your line was cut at {MAX_LINE} bytes\n").as_bytes());
            }
            let text = String::from_utf8_lossy(text);
            self.say_line(room, text.trim_end_matches('\r'));
            spoke = true;
        }
        spoke
    }

    fn say_line(&mut self, room: &mut Room, text: &str) {
        if let Some(rest) = text.strip_prefix("/nick") {
            let name = rest.trim();
            let ok = !name.is_empty()
                && name.len() <= MAX_NAME
                && name.chars().all(|c| c.is_ascii_graphic());
            if ok {
                room.notice(self.id, format!("{} is now {name}", self.name));
                self.out.push(format!("* you are now {name}\n").as_bytes());
                self.name = name.to_string();
            } else {
                self.out.push(
                    format!("* /nick NAME: 1 to {MAX_NAME} printable characters, no spaces\n")
                        .as_bytes(),
                );
            }
            return;
        }
        room.say(self.id, format!("<{}> {text}\n", self.name).into_bytes());
    }
}

impl Exchange for Member {
    type App = Room;

    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn room(&self) -> usize {
        if self.eof || self.fell_behind {
            return 0;
        }
        // A chat line may run to its limit before it is passed on.
        (READ_ROOM + MAX_LINE + 1).saturating_sub(self.input.len())
    }

    fn received(&mut self, _link: &mut Link, data: &[u8]) -> io::Result<()> {
        self.input.extend_from_slice(data);
        Ok(())
    }

    fn ended(&mut self) {
        self.eof = true;
    }

    fn answer(&mut self, room: &mut Room) -> bool {
        let spoke = self.speak(room);
        self.catch_up(room) || spoke
    }

    fn is_finished(&self) -> bool {
        self.eof
    }
}

impl Service for Room {
    type Conn = Member;
    const DOING: &'static str = "chatting";

    fn open(&mut self, _group: usize, _now: Instant) -> Member {
        self.next_id += 1;
        let id = self.next_id;
        let name = format!("user{id}");
        let mut out = Outbox::default();
        if self.mode == Mode::Chat {
            out.push(
                format!("* welcome, {name}: /nick NAME to change it; lines go to everyone\n")
                    .as_bytes(),
            );
        }
        self.notice(id, format!("{name} joined"));
        Member {
            id,
            name,
            input: Vec::new(),
            out,
            cursor: self.head(),
            cutting: false,
            eof: false,
            fell_behind: false,
            capped: false,
        }
    }

    fn pump(&mut self, link: &mut Link, member: &mut Member) -> io::Result<Next> {
        if !member.capped {
            link.cap_send_buffer(SEND_BUFFER)?;
            member.capped = true;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let next = server::exchange(link, member, self, &mut scratch);
        self.scratch = scratch;
        if member.fell_behind {
            return Err(io::Error::other(format!(
                "dropped: read too slowly to keep up with the room ({LOG_LEN} messages behind)"
            )));
        }
        next
    }

    fn phase(&self, member: &Member) -> Phase {
        Phase::of(!member.out.is_empty(), None)
    }

    fn take_news(&mut self) -> bool {
        std::mem::take(&mut self.news)
    }

    fn wants_news(&self, _member: &Member) -> bool {
        true
    }

    fn closed(&mut self, member: Member) {
        self.notice(member.id, format!("{} left", member.name));
    }
}

/// Serves the room on these listeners until SIGINT or SIGTERM (`ev` made before binding:
/// it catches the signals).
pub fn run(
    mode: Mode,
    ev: EventLoop,
    listeners: Vec<crate::net::listener::Listener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    idle: Option<Duration>,
    verbose: u8,
) -> Result<()> {
    let room = Room {
        mode,
        log: VecDeque::new(),
        first: 0,
        news: false,
        next_id: 0,
        scratch: vec![0; READ_ROOM],
    };
    let group = Group {
        listeners,
        tls,
        idle,
        max_conns: 10_000,
    };
    Server::new(room, vec![group], verbose).run(ev)
}
