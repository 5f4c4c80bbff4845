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
//! message leaves the log once every member has been sent it. When the log is full, the
//! room stops taking what its members say (they are not read, and the kernel's flow
//! control slows them) until the member furthest behind catches up: a slow reader slows the
//! senders and loses nothing. Only a member that makes no progress at all for
//! [`STALL_LIMIT`] while the room waits for it is dropped, and then the room goes on at once.
//! Memory stays bounded.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::net::EventLoop;
use crate::net::event_loop::Context;
use crate::net::server::{
    self, Closed, Exchange, Group, Link, Next, Outbox, Phase, Server, Service,
};

/// The longest chat line passed on whole; longer ones are cut.
pub const MAX_LINE: usize = 4096;
/// Messages kept for clients that are behind; when that many wait for the member furthest
/// behind, the room stops taking new ones.
const LOG_LEN: usize = 4096;
/// How long the room waits for a member that takes nothing at all while the others wait
/// for it (the log is full of what it has not read); then it is dropped.
pub const STALL_LIMIT: Duration = Duration::from_secs(5);
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

/// The room: the log of what was said, and how far each member has read it.
pub struct Room {
    mode: Mode,
    log: VecDeque<Said>,
    /// The sequence number of `log[0]`.
    first: u64,
    news: bool,
    next_id: u64,
    scratch: Vec<u8>,
    /// Each member's cursor and when it last moved.
    readers: HashMap<u64, Reader>,
    /// The members by cursor, the one furthest behind first.
    by_cursor: BTreeSet<(u64, u64)>,
    /// A speaker found the log full and waits: wake everyone once there is room.
    paused: bool,
    /// Members that stalled the room for too long: dropped at their next turn.
    to_drop: HashSet<u64>,
    /// When the current batch of events came in.
    now: Instant,
}

/// Where one member is in the log.
#[derive(Debug, Clone, Copy)]
struct Reader {
    cursor: u64,
    /// When its cursor last moved (or it joined).
    moved_at: Instant,
    /// Its outbox is full: it waits for its client to read.
    blocked: bool,
}

impl Room {
    fn new(mode: Mode, now: Instant) -> Self {
        Room {
            mode,
            log: VecDeque::new(),
            first: 0,
            news: false,
            next_id: 0,
            scratch: vec![0; READ_ROOM],
            readers: HashMap::new(),
            by_cursor: BTreeSet::new(),
            paused: false,
            to_drop: HashSet::new(),
            now,
        }
    }

    fn head(&self) -> u64 {
        self.first + self.log.len() as u64
    }

    /// Whether the log holds as much as it may: speakers wait.
    fn is_full(&self) -> bool {
        self.log.len() >= LOG_LEN
    }

    fn say(&mut self, from: u64, bytes: Vec<u8>) {
        self.log.push_back(Said {
            from,
            bytes: bytes.into_boxed_slice(),
        });
        self.news = true;
        self.trim();
    }

    fn notice(&mut self, from: u64, text: String) {
        if self.mode == Mode::Chat {
            self.say(from, format!("* {text}\n").into_bytes());
        }
    }

    /// Drops from the log what every member has been sent; wakes the waiting speakers when
    /// that made room.
    fn trim(&mut self) {
        let oldest_needed = self
            .by_cursor
            .first()
            .map_or(self.head(), |&(cursor, _)| cursor);
        while self.first < oldest_needed && !self.log.is_empty() {
            self.log.pop_front();
            self.first += 1;
        }
        if self.paused && !self.is_full() {
            self.paused = false;
            self.news = true;
        }
    }

    /// A member joined at the head of the log.
    fn join(&mut self, id: u64) -> u64 {
        let cursor = self.head();
        self.readers.insert(
            id,
            Reader {
                cursor,
                moved_at: self.now,
                blocked: false,
            },
        );
        self.by_cursor.insert((cursor, id));
        cursor
    }

    /// A member's cursor moved to `cursor`.
    fn advanced(&mut self, id: u64, cursor: u64) {
        if let Some(r) = self.readers.get_mut(&id) {
            self.by_cursor.remove(&(r.cursor, id));
            r.cursor = cursor;
            r.moved_at = self.now;
            self.by_cursor.insert((cursor, id));
        }
        self.trim();
    }

    /// Whether a member's outbox is full (it waits for its client to read).
    fn blocked(&mut self, id: u64, blocked: bool) {
        if let Some(r) = self.readers.get_mut(&id) {
            r.blocked = blocked;
        }
    }

    /// A member left.
    fn leave(&mut self, id: u64) {
        if let Some(r) = self.readers.remove(&id) {
            self.by_cursor.remove(&(r.cursor, id));
        }
        self.to_drop.remove(&id);
        self.trim();
    }

    /// The members the full room is waiting for: those at the oldest message whose client
    /// is not reading what they were sent (their outbox is full), not yet marked to be
    /// dropped. (A full room is held up whether or not a speaker waits: notices of clients
    /// coming and going fill it too.)
    fn holding_up(&self) -> impl Iterator<Item = (u64, Reader)> + '_ {
        let full = self.is_full();
        self.by_cursor
            .iter()
            .take_while(move |&&(cursor, _)| full && cursor <= self.first)
            .filter(|(_, id)| !self.to_drop.contains(id))
            .filter_map(|&(_, id)| Some((id, *self.readers.get(&id)?)))
            .filter(|(_, r)| r.blocked)
    }

    /// Marks for dropping each member that has held up the full room without taking a
    /// message for [`STALL_LIMIT`].
    fn drop_stalled(&mut self, now: Instant) {
        let stalled: Vec<u64> = self
            .holding_up()
            .filter(|(_, r)| now.saturating_duration_since(r.moved_at) >= STALL_LIMIT)
            .map(|(id, _)| id)
            .collect();
        if !stalled.is_empty() {
            self.to_drop.extend(stalled);
            self.news = true;
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
    /// Its kernel send buffer is capped ([`SEND_BUFFER`]).
    capped: bool,
}

impl Member {
    /// Queues what it has not been sent (what others said), up to the backlog.
    fn catch_up(&mut self, room: &mut Room) -> bool {
        // Never behind the log: a message leaves it only once every member was sent it.
        let from = self.cursor.saturating_sub(room.first);
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
        room.blocked(self.id, self.out.pending() >= BACKLOG);
        if self.cursor == before {
            return false;
        }
        room.advanced(self.id, self.cursor);
        true
    }

    /// Passes on each complete line (chat), or everything (broker).
    fn speak(&mut self, room: &mut Room) -> bool {
        if self.input.is_empty() {
            return false;
        }
        if room.is_full() {
            // What it said waits (and it is not read) until the others have caught up.
            room.paused = true;
            return false;
        }
        if room.mode == Mode::Broker {
            let bytes = std::mem::take(&mut self.input);
            room.say(self.id, bytes);
            return true;
        }
        let mut spoke = false;
        loop {
            if room.is_full() {
                room.paused = true;
                break;
            }
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
        if self.eof {
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

    fn open(&mut self, _group: usize, now: Instant) -> Member {
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
        self.now = now;
        self.notice(id, format!("{name} joined"));
        let cursor = self.join(id);
        Member {
            id,
            name,
            input: Vec::new(),
            out,
            cursor,
            cutting: false,
            eof: false,
            capped: false,
        }
    }

    fn pump(
        &mut self,
        _cx: &mut Context<'_>,
        link: &mut Link,
        member: &mut Member,
    ) -> io::Result<Next> {
        if !member.capped {
            link.cap_send_buffer(SEND_BUFFER)?;
            member.capped = true;
        }
        if self.to_drop.contains(&member.id) {
            return Err(io::Error::other(format!(
                "dropped: read nothing for {} s while the room waited for it",
                STALL_LIMIT.as_secs()
            )));
        }
        self.now = link.now();
        let mut scratch = std::mem::take(&mut self.scratch);
        let next = server::exchange(link, member, self, &mut scratch);
        self.scratch = scratch;
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

    fn due(&self) -> Option<Instant> {
        self.holding_up()
            .map(|(_, r)| r.moved_at + STALL_LIMIT)
            .min()
    }

    fn on_due(&mut self, cx: &mut Context<'_>) {
        self.drop_stalled(cx.now);
    }

    fn closed(&mut self, member: Member, _end: &Closed<'_>) {
        self.leave(member.id);
        self.notice(member.id, format!("{} left", member.name));
    }
}

/// How the room's server runs.
pub struct Settings {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Close a member that moved no byte for this long.
    pub idle: Option<Duration>,
    /// After SIGTERM, how long members may still be sent what they have not read.
    pub grace: Duration,
    /// `--allow`/`--deny`.
    pub access: Option<crate::net::access::Access>,
    pub verbose: u8,
}

/// Serves the room on these listeners until SIGINT or SIGTERM (`ev` made before binding:
/// it catches the signals).
pub fn run(
    mode: Mode,
    ev: EventLoop,
    listeners: Vec<crate::net::listener::Listener>,
    settings: Settings,
) -> Result<()> {
    let room = Room::new(mode, Instant::now());
    let group = Group {
        listeners,
        tls: settings.tls,
        idle: settings.idle,
        max_conns: 10_000,
    };
    Server::new(room, vec![group], settings.verbose)
        .with_access(settings.access)
        .with_grace(settings.grace)
        .run(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room whose log is full of what member 1 said, with members 2 and 3 at its start
    /// and a speaker waiting.
    fn full_room(t0: Instant) -> Room {
        let mut room = Room::new(Mode::Chat, t0);
        for id in 1..=3 {
            room.join(id);
        }
        for _ in 0..LOG_LEN {
            room.say(1, b"<user1> flood\n".to_vec());
        }
        let head = room.head();
        room.advanced(1, head);
        assert!(room.is_full(), "2 and 3 have read nothing");
        // Their outboxes are full: their clients have not read what they were sent.
        room.blocked(2, true);
        room.blocked(3, true);
        room.paused = true;
        room
    }

    #[test]
    fn a_slow_reader_is_waited_for_and_a_stalled_one_dropped_after_the_limit() {
        let t0 = Instant::now();
        let secs = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut room = full_room(t0);
        assert_eq!(room.due(), Some(t0 + STALL_LIMIT));
        // Member 2 reads a little now and then; member 3 never does.
        room.now = secs(3.0);
        room.advanced(2, 10);
        room.drop_stalled(secs(4.9));
        assert!(
            room.to_drop.is_empty(),
            "no one is dropped before the limit"
        );
        room.drop_stalled(secs(5.0));
        assert_eq!(room.to_drop, HashSet::from([3]), "only the stalled one");
        room.leave(3);
        // Its place freed the messages member 2 has read: the speakers go on at once.
        assert!(!room.is_full() && !room.paused && room.news);
        assert_eq!(room.first, 10);
        // Member 2 is not dropped while it keeps moving, however slowly.
        room.paused = true;
        for step in 1..=40u64 {
            room.now = secs(3.0 + step as f64);
            room.advanced(2, 10 + step);
            room.say(1, b"<user1> more\n".to_vec());
            room.paused = room.is_full();
            room.drop_stalled(room.now);
        }
        assert!(room.to_drop.is_empty(), "a slow reader is never dropped");
        assert!(room.log.len() <= LOG_LEN, "memory stays bounded");
    }

    #[test]
    fn a_member_not_waiting_on_its_client_is_never_dropped() {
        // Its outbox is empty: the room has only not pumped it yet (a turn is coming).
        let t0 = Instant::now();
        let mut room = full_room(t0);
        room.blocked(3, false);
        room.drop_stalled(t0 + STALL_LIMIT * 3);
        assert_eq!(room.to_drop, HashSet::from([2]));
    }

    #[test]
    fn notices_alone_fill_the_room_and_a_stalled_member_is_dropped_then() {
        // Nobody speaks; clients come and go while member 2 reads nothing.
        let t0 = Instant::now();
        let mut room = Room::new(Mode::Chat, t0);
        room.join(1);
        room.join(2);
        room.blocked(2, true);
        for id in 10..10 + LOG_LEN as u64 {
            room.notice(id, format!("user{id} joined"));
        }
        assert!(room.is_full() && !room.paused);
        assert_eq!(room.due(), Some(t0 + STALL_LIMIT));
        room.drop_stalled(t0 + STALL_LIMIT);
        assert!(room.to_drop.contains(&2));
    }

    #[test]
    fn messages_leave_the_log_once_every_member_was_sent_them() {
        let t0 = Instant::now();
        let mut room = Room::new(Mode::Broker, t0);
        room.join(1);
        room.join(2);
        for _ in 0..100 {
            room.say(1, b"x".to_vec());
        }
        assert_eq!(room.log.len(), 100);
        room.advanced(1, 100);
        assert_eq!(room.log.len(), 100, "member 2 has read none");
        room.advanced(2, 60);
        assert_eq!((room.first, room.log.len()), (60, 40));
        room.leave(2);
        assert!(room.log.is_empty());
        assert_eq!(room.due(), None, "nothing waits");
    }
}
