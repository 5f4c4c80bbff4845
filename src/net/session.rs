//! The session of `listen` and `connect`: stdin to the peer, the peer to stdout, with the
//! session rules of DESIGN.md §2:
//!
//! - stdin's end shuts down our sending side (TLS: close_notify first) and we keep receiving;
//! - the peer's end ends only what the peer sends: we keep sending until stdin ends, and the
//!   session ends when both sides have ended and the peer acknowledged all we sent (unless
//!   stdin is a terminal or `--recv-only`: then the peer's end ends the session at once);
//! - a peer that stops taking our bytes (a reset, a TLS alert, a timeout) fails the session
//!   with how much of stdin was sent: exit 0 only when every byte went both ways;
//! - with stdin shared by the sessions of a `-k` server, the peer's end stops the session
//!   taking more of it: the session ends once what it took is delivered, and the rest of
//!   stdin waits for the next client;
//! - SIGTERM (where the command gives a grace period) stops taking stdin the same way and
//!   lets the session end within the grace; past it, or on a second SIGTERM, the session
//!   fails with what was not delivered.
//!
//! Memory is bounded: one stdin chunk waits at a time, and a full socket stops the stdin
//! reader.

use std::io;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mio::event::Event;
use mio::{Interest, Token};

use super::event_loop::{Context, Flow, Handler, Signal};
use super::splice::{Spliced, Splicer};
use super::stdin::StdinSource;
use super::stdout::Stdout;
use super::transport::{self, Transport, failure, would_block};
use crate::error::{self, Kind, fail};

/// Bytes read from the peer per call.
pub const READ_CHUNK: usize = 256 * 1024;
/// Bytes one direction moves before the other gets its turn: a peer that sends without
/// pause must not keep the session from noticing stdin's end (or the other way round).
const TURN: u64 = 1 << 20;
const SOCKET: Token = Token(0);
const QUIT_TIMER: Token = Token(1);
const IDLE_TIMER: Token = Token(2);
const DRAIN_TIMER: Token = Token(3);
const GRACE_TIMER: Token = Token(4);
/// A zero-delay timer: the session moved as much as one turn of the loop allows and comes
/// straight back, after the loop has looked at signals and deadlines.
const AGAIN_TIMER: Token = Token(5);
/// Passes of moving bytes per turn of the loop (each up to [`TURN`] a direction).
const PASSES_PER_TURN: usize = 16;
/// The most our TLS side sends after the last byte of stdin: a close_notify record (24 to
/// 31 bytes, by version and cipher) and the FIN.
const CLOSE_NOTIFY_TAIL: usize = 40;
/// The first pause between two looks at the send queue once everything is sent; each pause
/// without progress doubles, up to the longest.
const DRAIN_FIRST_PAUSE: Duration = Duration::from_millis(1);
const DRAIN_LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// How a session ends its input and output (the flags of DESIGN.md §2).
#[derive(Debug, Clone, Default)]
pub struct SessionRules {
    /// Never read stdin.
    pub recv_only: bool,
    /// Discard what the peer sends.
    pub send_only: bool,
    /// Keep our sending side open after stdin EOF.
    pub no_shutdown: bool,
    /// After stdin EOF, end the session within this long.
    pub quit_after: Option<Duration>,
    /// End the session when no byte moved for this long.
    pub idle: Option<Duration>,
    /// Say what happens on stderr.
    pub verbose: u8,
    /// Show a byte counter on stderr.
    pub progress: bool,
    /// Stdin is shared by the sessions of a `-k` server, in turn: the peer's end stops this
    /// session taking more of it (DESIGN.md §2).
    pub shared_stdin: bool,
    /// SIGTERM stops taking stdin and lets the session end within this long (a server's
    /// clean stop); `None`: SIGTERM ends the session at once.
    pub grace: Option<Duration>,
    /// The connection is an HTTP proxy's tunnel, which the proxy closes at either side's
    /// end (RFC 9110 §9.3.6): once our end went through it, the end that comes back is the
    /// proxy's, cutting off what the target would still have sent, and is a failure.
    pub tunnel_ends_with_ours: bool,
    /// The session's TLS is with the target itself (`connect --tls`): its close_notify is
    /// the target's own end, whatever the tunnel does after it.
    pub tls_to_target: bool,
}

/// A live byte counter on stderr, drawn only when stderr is a terminal.
pub fn progress_bar(enabled: bool) -> Option<ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{spinner} {bytes} moved, {binary_bytes_per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    Some(bar)
}

/// The deadlines of a session: `-q` after stdin's end, and the idle timeout.
#[derive(Debug)]
pub struct SessionClock {
    last_activity: Instant,
    quit_at: Option<Instant>,
    idle_timer_set: bool,
}

impl SessionClock {
    /// A clock whose idle time starts now.
    pub fn new() -> Self {
        SessionClock {
            last_activity: Instant::now(),
            quit_at: None,
            idle_timer_set: false,
        }
    }

    /// Bytes moved at `now`.
    pub fn moved(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// Stops when `-q` ran out after `sending_done`, fails when idle too long, and sets the
    /// timers that will wake the loop for either.
    pub fn check(
        &mut self,
        cx: &mut Context<'_>,
        rules: &SessionRules,
        sending_done: bool,
        now: Instant,
    ) -> Result<Flow> {
        if sending_done && let Some(q) = rules.quit_after {
            let at = *self.quit_at.get_or_insert_with(|| {
                cx.timers.add(now + q, QUIT_TIMER);
                now + q
            });
            if now >= at {
                return Ok(Flow::Stop);
            }
        }
        if let Some(idle) = rules.idle {
            let at = self.last_activity + idle;
            if now >= at {
                return Err(fail(
                    Kind::Timeout,
                    format!("nothing moved for {} s (idle timeout)", idle.as_secs_f64()),
                ));
            }
            if !self.idle_timer_set {
                cx.timers.add(at, IDLE_TIMER);
                self.idle_timer_set = true;
            }
        }
        Ok(Flow::Continue)
    }

    /// A timer fired: the idle timer may need setting again.
    pub fn on_timer(&mut self, token: Token) {
        if token == IDLE_TIMER {
            self.idle_timer_set = false;
        }
    }
}

impl Default for SessionClock {
    fn default() -> Self {
        Self::new()
    }
}

/// One session between stdin/stdout and a connected peer.
pub struct Session<'a> {
    rules: &'a SessionRules,
    sock: Transport,
    stdin: &'a mut StdinSource,
    out: &'a mut Stdout,
    buf: &'a mut Vec<u8>,
    /// Our sending side is over: stdin ended and (unless `--no-shutdown`) we shut it down.
    shut_down: bool,
    peer_eof: bool,
    /// The peer's end came after ours went out (see `SessionRules::tunnel_ends_with_ours`).
    eof_after_ours: bool,
    /// Bytes of stdin handed to the connection.
    sent: u64,
    /// The socket reported an error: look at it even when not reading.
    socket_error: bool,
    /// Everything is sent and our side is shut: waiting for the peer to acknowledge it.
    drain: Option<Drain>,
    clock: SessionClock,
    progress: Option<ProgressBar>,
    /// Zero-copy receiving into stdout, while stdout takes it (plain TCP only).
    splicer: Option<Splicer>,
    /// SIGTERM came: the end of the grace period.
    stopping: Option<Instant>,
    /// A second SIGTERM came: end now.
    stop_now: bool,
    /// SIGTERM cut the session short: it ends with a reset.
    cut: bool,
}

impl<'a> Session<'a> {
    /// Registers the peer's socket and prepares the session.
    pub fn new(
        registry: &mio::Registry,
        mut sock: Transport,
        rules: &'a SessionRules,
        stdin: &'a mut StdinSource,
        out: &'a mut Stdout,
        buf: &'a mut Vec<u8>,
    ) -> Result<Self> {
        registry
            .register(
                sock.socket(),
                SOCKET,
                Interest::READABLE | Interest::WRITABLE,
            )
            .context("watching the connection")?;
        let splicer = match sock {
            // A trace must see the bytes, which splicing keeps from us.
            Transport::Plain(_) if !rules.send_only && !super::trace::enabled() => {
                Splicer::new().ok()
            }
            _ => None,
        };
        Ok(Session {
            splicer,
            rules,
            sock,
            stdin,
            out,
            buf,
            shut_down: false,
            peer_eof: false,
            eof_after_ours: false,
            sent: 0,
            socket_error: false,
            drain: None,
            clock: SessionClock::new(),
            progress: progress_bar(rules.progress),
            stopping: None,
            stop_now: false,
            cut: false,
        })
    }

    /// Bytes of stdin handed to the connection.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether SIGTERM asked the program to stop during this session.
    pub fn terminated(&self) -> bool {
        self.stopping.is_some()
    }

    /// Whether the session takes bytes from stdin now. Not while a TLS handshake runs
    /// (bytes handed to it then would be lost with a client that never completes it); and
    /// with stdin shared by a `-k` server's clients, not once the peer ended (the rest is
    /// the next client's) nor once SIGTERM came (there is no next client). A session of its
    /// own keeps sending stdin after SIGTERM, within the grace period: ending our side
    /// early would make a cut transfer look complete to the peer.
    fn taking_stdin(&self) -> bool {
        let shared_over = self.rules.shared_stdin && (self.peer_eof || self.stopping.is_some());
        !shared_over && !self.sock.is_handshaking()
    }

    /// Whether stdin's part for this session is over: it ended, or a shared stdin's turn
    /// is (see [`Session::taking_stdin`]).
    fn stdin_over(&self) -> bool {
        self.stdin.is_done()
            || (self.rules.shared_stdin && (self.peer_eof || self.stopping.is_some()))
    }

    /// Gives the socket back (to deregister it) once the session is over.
    pub fn finish(mut self, registry: &mio::Registry) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let _ = registry.deregister(self.sock.socket());
        if self.cut {
            // Cut by SIGTERM: a reset, so the peer cannot take it for a complete transfer.
            transport::reset(self.sock);
        } else if !self.shut_down && !self.rules.no_shutdown {
            let _ = self.sock.shutdown_write();
        }
    }

    /// Moves what can be moved without blocking; returns whether anything moved.
    fn pump(&mut self, now: Instant) -> Result<bool> {
        let mut moved = false;
        if !self.peer_eof {
            moved |= self.receive()?;
        }
        if !self.rules.recv_only && !self.shut_down {
            moved |= self.send()?;
        }
        match self.sock.flush() {
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(self.said_before_reset(e, "sending")),
        }
        if moved {
            self.clock.moved(now);
        }
        Ok(moved)
    }

    fn receive(&mut self) -> Result<bool> {
        if let Some(moved) = self.splice()? {
            return Ok(moved);
        }
        // Made only when needed: plain TCP into a file or pipe never reads through it.
        if self.buf.is_empty() {
            self.buf.resize(READ_CHUNK, 0);
        }
        let mut moved = false;
        let mut got = 0u64;
        loop {
            if got >= TURN {
                return Ok(true);
            }
            match self.sock.read(self.buf) {
                Ok(0) => {
                    if self.sock.truncated() && self.rules.verbose > 0 {
                        eprintln!("the peer closed without TLS close_notify (possible truncation)");
                    }
                    self.on_peer_eof();
                    return Ok(true);
                }
                Ok(n) => {
                    moved = true;
                    got += n as u64;
                    if !self.rules.send_only {
                        self.out.write_all(&self.buf[..n])?;
                    }
                    if let Some(bar) = &self.progress {
                        bar.inc(n as u64);
                    }
                }
                Err(e) if would_block(&e) => return Ok(moved),
                Err(e) => return Err(failure(e, "receiving")),
            }
        }
    }

    fn send(&mut self) -> Result<bool> {
        let taking = self.taking_stdin();
        let mut moved = false;
        if taking {
            moved = match self.zero_copy()? {
                Some(moved) => moved,
                None => self.write_stdin()?,
            };
        }
        if self.stdin_over() && !self.shut_down {
            if !self.rules.no_shutdown {
                if let Err(e) = self.sock.shutdown_write() {
                    return Err(self.said_before_reset(e, "closing our side"));
                }
                if self.rules.verbose > 1 {
                    let why = if self.stdin.is_done() {
                        "stdin ended"
                    } else if self.stopping.is_some() {
                        "stopping (SIGTERM)"
                    } else {
                        "the client ended; the rest of stdin is for the next one"
                    };
                    eprintln!("{why}: shut down our sending side");
                }
            }
            self.shut_down = true;
            moved = true;
        }
        Ok(moved)
    }

    /// A failure to send, or to close our side: when the peer reset the connection, what it
    /// said before its reset (a TLS alert: "a client certificate is required") explains the
    /// failure better, and the kernel still has it to read.
    fn said_before_reset(&mut self, e: io::Error, doing: &str) -> anyhow::Error {
        if e.kind() == io::ErrorKind::ConnectionReset && matches!(self.sock, Transport::Tls(_)) {
            let mut buf = [0u8; 512];
            for _ in 0..64 {
                match self.sock.read(&mut buf) {
                    Ok(n) if n > 0 => {}
                    Err(read)
                        if read
                            .get_ref()
                            .is_some_and(|i| i.is::<crate::tls::TlsError>()) =>
                    {
                        return failure(read, "receiving");
                    }
                    _ => break,
                }
            }
        }
        failure(e, doing)
    }

    /// The peer ended its side: nothing more will arrive.
    fn on_peer_eof(&mut self) {
        self.peer_eof = true;
        self.eof_after_ours = self.shut_down && !self.rules.no_shutdown;
        if self.rules.verbose > 1 {
            eprintln!("the peer ended its sending side");
        }
    }

    /// Receives with splice while stdout takes it; `None` when reading must take over.
    fn splice(&mut self) -> Result<Option<bool>> {
        let (Transport::Plain(sock), Some(splicer)) = (&self.sock, &mut self.splicer) else {
            return Ok(None);
        };
        let mut moved = false;
        let mut got = 0u64;
        loop {
            if got >= TURN {
                return Ok(Some(true));
            }
            match splicer.pump(sock, &*self.out) {
                Ok(Spliced::Moved(n)) => {
                    moved = true;
                    got += n as u64;
                    if let Some(bar) = &self.progress {
                        bar.inc(n as u64);
                    }
                }
                Ok(Spliced::WouldBlock) => return Ok(Some(moved)),
                Ok(Spliced::Eof) => {
                    self.on_peer_eof();
                    return Ok(Some(true));
                }
                Ok(Spliced::Unsupported) => {
                    self.splicer = None;
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    return Err(crate::error::StdoutClosed.into());
                }
                Err(e) => return Err(failure(e, "receiving")),
            }
        }
    }

    /// Copies stdin's bytes into the transport until it refuses more.
    fn write_stdin(&mut self) -> Result<bool> {
        let mut moved = false;
        let start = self.sent;
        loop {
            if self.sent - start >= TURN {
                return Ok(true);
            }
            let data = self.stdin.peek().context("reading stdin")?;
            if data.is_empty() {
                return Ok(moved);
            }
            match self.sock.write(data) {
                Ok(n) => {
                    self.stdin.consume(n);
                    self.sent += n as u64;
                    moved = true;
                    if let Some(bar) = &self.progress {
                        bar.inc(n as u64);
                    }
                }
                Err(e) if would_block(&e) => return Ok(moved),
                Err(e) => return Err(self.said_before_reset(e, "sending")),
            }
        }
    }

    /// Sends stdin without copying it through our memory (sendfile from a file, splice from
    /// a pipe) while the socket is plain; `None` when that does not apply.
    fn zero_copy(&mut self) -> Result<Option<bool>> {
        let Transport::Plain(sock) = &self.sock else {
            return Ok(None);
        };
        // A trace must see the bytes, which sendfile and splice keep from us.
        if super::trace::enabled() {
            return Ok(None);
        }
        let mut moved = false;
        let start = self.sent;
        loop {
            if self.sent - start >= TURN {
                return Ok(Some(true));
            }
            let Some(sent) = self.stdin.zero_copy_to(sock) else {
                return Ok(moved.then_some(true));
            };
            match sent {
                Ok(0) => return Ok(Some(true)),
                Ok(n) => {
                    self.sent += n as u64;
                    moved = true;
                    if let Some(bar) = &self.progress {
                        bar.inc(n as u64);
                    }
                }
                Err(e) if would_block(&e) => return Ok(Some(moved)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(failure(e, "sending")),
            }
        }
    }
}

/// The wait, once everything is sent, for the peer to acknowledge it.
#[derive(Debug)]
struct Drain {
    /// Bytes not acknowledged at the last look.
    unacked: usize,
    /// The pause before the next look.
    pause: Duration,
    timer_set: bool,
}

impl Session<'_> {
    /// One turn of the session: move what can move, then decide whether it is over.
    fn step(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        let now = Instant::now();
        if self.stop_now {
            self.cut = true;
            return Err(fail(
                Kind::Runtime,
                "stopped by a second SIGTERM before the session ended",
            ));
        }
        if let Some(at) = self.stopping
            && now >= at
        {
            self.cut = true;
            return Err(fail(
                Kind::Runtime,
                "stopped by SIGTERM: the session had not ended within the grace period",
            ));
        }
        // Everything this session will send is handed to the connection.
        let all_handed_over = self.shut_down;
        if std::mem::take(&mut self.socket_error) && self.peer_eof && !all_handed_over {
            // We no longer read, so a reset would go unseen until the next write. (Once all
            // is handed over, `acknowledged` looks at it, with what was delivered.)
            if let Some(e) = self.sock.take_error().context("checking the connection")? {
                return Err(failure(e, "sending"));
            }
        }
        let mut passes = 0;
        while self.pump(now)? {
            passes += 1;
            if passes == PASSES_PER_TURN {
                // Still moving: back at once, once the loop has seen signals and deadlines.
                cx.timers.add(now, AGAIN_TIMER);
                return Ok(Flow::Continue);
            }
        }
        if self.peer_eof && (self.rules.recv_only || self.stdin.is_terminal()) {
            // Nothing of ours can be lost: there is nothing to send, or a person is typing.
            return Ok(Flow::Stop);
        }
        let sending_done = self.rules.recv_only || self.shut_down;
        if sending_done
            && (self.peer_eof || self.rules.send_only)
            && !self.sock.wants_write()
            && self.acknowledged(cx, now)?
        {
            let targets_own_end = self.rules.tls_to_target && !self.sock.truncated();
            if self.rules.tunnel_ends_with_ours
                && self.eof_after_ours
                && !self.rules.send_only
                && !targets_own_end
            {
                // What we sent went through (the proxy forwards it before it closes), but
                // the end that came back is the proxy's, not the target's: a reply sent
                // after our end was cut, and nothing says whether there was one.
                return Err(fail(
                    Kind::Runtime,
                    "the HTTP proxy closed the tunnel at our end of stdin, so the target's \
                     own end never came and a reply it sent after ours was lost \
                     (--no-shutdown waits for the target's end; --send-only when no reply \
                     is expected)",
                ));
            }
            return Ok(Flow::Stop);
        }
        self.clock.check(cx, self.rules, sending_done, now)
    }

    /// Whether the peer acknowledged every byte we sent, our FIN included; when not, a timer
    /// to look again. A peer that closed with our bytes unread answers them with a reset,
    /// which fails the session here.
    fn acknowledged(&mut self, cx: &mut Context<'_>, now: Instant) -> Result<bool> {
        // Read before the error: after a reset the count still says what never got there.
        let unacked = self.sock.unacknowledged();
        if let Some(e) = self.sock.take_error().context("checking the connection")? {
            // A TLS peer that took every byte of ours and closed (curl after a response's
            // Content-Length) answers our late close_notify with a reset: only that record
            // and our FIN were still unacknowledged. Nothing of stdin was lost. A Unix
            // socket's count is of no help here: the peer's close throws its queue away
            // (the count drops to 0), so there a reset is always a failure.
            if matches!(self.sock, Transport::Tls(_))
                && !self.sock.is_unix()
                && unacked.as_ref().is_ok_and(|&n| n <= CLOSE_NOTIFY_TAIL)
            {
                return Ok(true);
            }
            if let (Ok(n), None) = (&unacked, &self.drain) {
                self.drain = Some(Drain {
                    unacked: *n,
                    pause: DRAIN_FIRST_PAUSE,
                    timer_set: false,
                });
            }
            return Err(failure(e, "sending"));
        }
        let unacked = unacked.context("reading the send queue")?;
        let drain = self.drain.get_or_insert(Drain {
            unacked,
            pause: DRAIN_FIRST_PAUSE,
            timer_set: false,
        });
        if unacked < drain.unacked {
            self.clock.moved(now);
            drain.pause = DRAIN_FIRST_PAUSE;
        }
        drain.unacked = unacked;
        if unacked == 0 {
            return Ok(true);
        }
        if !drain.timer_set {
            cx.timers.add(now + drain.pause, DRAIN_TIMER);
            drain.timer_set = true;
            drain.pause = (drain.pause * 2).min(DRAIN_LONGEST_PAUSE);
        }
        Ok(false)
    }

    /// Adds to a failure how much of stdin went out, when not all of it did: the line a
    /// user reads to know that the transfer is incomplete.
    fn with_loss(&self, err: anyhow::Error) -> anyhow::Error {
        if self.rules.recv_only || error::is_broken_stdout(&err) {
            return err;
        }
        let unacked = self.drain.as_ref().map_or(0, |d| d.unacked) as u64;
        let summary = if !self.stdin.is_done() && !self.shut_down {
            match self.stdin.size() {
                Some(total) => format!("sent {} of {total} bytes", self.sent),
                None => format!("sent {} bytes, and stdin had not ended", self.sent),
            }
        } else if unacked > 0 && self.sock.is_unix() {
            // The count is the kernel's buffer space, not bytes.
            "the peer had not read everything sent".to_string()
        } else if unacked > 0 {
            let total = self.stdin.size().unwrap_or(self.sent);
            format!(
                "the peer acknowledged about {} of {total} bytes sent",
                self.sent.saturating_sub(unacked)
            )
        } else {
            return err;
        };
        fail(error::kind(&err), format!("{err:#}: {summary}"))
    }
}

impl Handler for Session<'_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, event: &Event) -> Result<()> {
        self.socket_error |= event.token() == SOCKET && event.is_error();
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        self.step(cx).map_err(|e| self.with_loss(e))
    }

    fn on_signal(&mut self, cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        match (signal, self.rules.grace) {
            (Signal::Terminate, Some(grace)) => {
                if self.stopping.is_some() {
                    self.stop_now = true;
                } else {
                    let at = cx.now + grace;
                    self.stopping = Some(at);
                    cx.timers.add(at, GRACE_TIMER);
                    if self.rules.verbose > 0 {
                        eprintln!(
                            "stopping (SIGTERM): the session may finish within {} s",
                            grace.as_secs_f64()
                        );
                    }
                }
                Ok(Flow::Continue)
            }
            (Signal::Terminate, None) => Ok(Flow::Stop),
            (Signal::Interrupt, _) => Err(fail(Kind::Interrupted, "interrupted")),
            (Signal::Child, _) => Ok(Flow::Continue),
        }
    }

    fn on_timer(&mut self, _cx: &mut Context<'_>, token: Token) -> Result<()> {
        self.clock.on_timer(token);
        if token == DRAIN_TIMER
            && let Some(drain) = &mut self.drain
        {
            drain.timer_set = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::EventLoop;
    use std::fs::File;
    use std::io::{Read, Seek, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    /// Longest any session here may stay quiet: a hang fails the test as an idle timeout.
    const LIMIT: Duration = Duration::from_secs(10);

    fn rules() -> SessionRules {
        SessionRules {
            idle: Some(LIMIT),
            ..SessionRules::default()
        }
    }

    /// A pipe as stdin: (the reading end for the session, the writing end for the test).
    fn pipe() -> (File, File) {
        let (r, w) = rustix::pipe::pipe().unwrap();
        (File::from(r), File::from(w))
    }

    /// A regular file holding `data`, positioned at its start.
    fn file(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        f.rewind().unwrap();
        f
    }

    /// Runs one session of `rules` with `stdin` against a peer that `far` plays on the
    /// other end of a loopback connection; returns the session's result, what it wrote to
    /// stdout, and what `far` returned.
    fn session<T: Send + 'static>(
        rules: &SessionRules,
        stdin: Option<File>,
        far: impl FnOnce(TcpStream) -> T + Send + 'static,
    ) -> (Result<()>, Vec<u8>, T) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (far_end, _) = l.accept().unwrap();
        near.set_nonblocking(true).unwrap();
        let far = thread::spawn(move || far(far_end));
        let mut ev = EventLoop::new().unwrap();
        let mut stdin = match stdin {
            Some(f) => StdinSource::from_file(&mut ev, f, false, true).unwrap(),
            None => StdinSource::closed(),
        };
        let out_file = tempfile::tempfile().unwrap();
        let mut out = Stdout::to_file(out_file.try_clone().unwrap());
        let mut buf = Vec::new();
        let sock = Transport::Plain(mio::net::TcpStream::from_std(near).into());
        let mut session =
            Session::new(ev.registry(), sock, rules, &mut stdin, &mut out, &mut buf).unwrap();
        let result = ev.run(&mut session);
        session.finish(ev.registry());
        let mut got = Vec::new();
        let mut out_file = out_file;
        out_file.rewind().unwrap();
        out_file.read_to_end(&mut got).unwrap();
        (result, got, far.join().unwrap())
    }

    #[test]
    fn the_peers_end_does_not_end_our_sending() {
        let (r, mut w) = pipe();
        let (closed_tx, closed_rx) = mpsc::channel();
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
        let to_send = data.clone();
        let writer = thread::spawn(move || {
            // stdin's bytes come only after the peer has ended its side.
            closed_rx.recv().unwrap();
            w.write_all(&to_send).unwrap();
        });
        let (result, stdout, got) = session(&rules(), Some(r), move |mut far| {
            far.write_all(b"hi").unwrap();
            far.shutdown(Shutdown::Write).unwrap();
            closed_tx.send(()).unwrap();
            let mut got = Vec::new();
            far.read_to_end(&mut got).unwrap();
            got
        });
        writer.join().unwrap();
        result.unwrap();
        assert_eq!(stdout, b"hi");
        assert!(
            got == data,
            "the peer got {} of {} bytes",
            got.len(),
            data.len()
        );
    }

    #[test]
    fn recv_only_ends_at_the_peers_end() {
        let rules = SessionRules {
            recv_only: true,
            ..rules()
        };
        let (result, stdout, rest) = session(&rules, None, |mut far| {
            far.write_all(b"data").unwrap();
            far.shutdown(Shutdown::Write).unwrap();
            // Our side ends when the session does: nothing is sent to us.
            let mut rest = Vec::new();
            far.read_to_end(&mut rest).unwrap();
            rest
        });
        result.unwrap();
        assert_eq!(stdout, b"data");
        assert!(rest.is_empty());
    }

    #[test]
    fn a_peer_that_leaves_with_our_bytes_unread_is_a_loss_with_the_amount() {
        let data = vec![b'z'; 8 << 20];
        let (result, _, ()) = session(&rules(), Some(file(&data)), |mut far| {
            let mut some = vec![0u8; 65_536];
            far.read_exact(&mut some).unwrap();
            // Closing with bytes unread resets the connection.
        });
        let err = result.expect_err("a loss must not succeed");
        let said = format!("{err:#}");
        assert!(said.contains("of 8388608 bytes"), "{said}");
    }

    #[test]
    fn nothing_moving_for_the_idle_time_is_a_timeout() {
        let (r, w) = pipe();
        let rules = SessionRules {
            idle: Some(Duration::from_millis(150)),
            ..rules()
        };
        let start = Instant::now();
        let (result, _, ()) = session(&rules, Some(r), |mut far| {
            let mut rest = Vec::new();
            let _ = far.read_to_end(&mut rest);
        });
        drop(w);
        let err = result.expect_err("an idle session must time out");
        assert_eq!(error::kind(&err), Kind::Timeout, "{err:#}");
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn quit_after_ends_the_session_that_the_peer_keeps_open() {
        let rules = SessionRules {
            quit_after: Some(Duration::from_millis(100)),
            ..rules()
        };
        let start = Instant::now();
        let (result, _, (got, _open)) = session(&rules, Some(file(b"last words")), |mut far| {
            let mut got = Vec::new();
            far.read_to_end(&mut got).unwrap();
            // The connection stays open: only -q can end the session.
            (got, far)
        });
        result.unwrap();
        assert_eq!(got, b"last words");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < LIMIT,
            "{took:?}"
        );
    }
}
