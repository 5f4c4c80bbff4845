//! A program on a socket (`--exec`, `--sh-exec`): the peer's bytes are the program's stdin,
//! its stdout goes to the peer, its stderr stays ours. The session rules of DESIGN.md §2
//! hold across it: the peer's end closes the program's stdin and nothing more; the
//! program's end of its stdout shuts our sending side once every byte is out; the session
//! is over when both have ended and the program has exited.
//!
//! The program's stdin and stdout are each one end of a Unix socket pair (as socat's and
//! ncat's are): our ends are plain [`Transport`]s, so the two directions are the relay's
//! [`Direction`]s — a bounded buffer, half-close by `shutdown`, `splice` for a bulk stream
//! between a plain peer and the program. Nothing here blocks and there is no thread per
//! program: the loop watches our two ends and learns of the program's exit by SIGCHLD
//! ([`EventLoop::watch_children`](super::EventLoop::watch_children)), then reaps it.
//!
//! Children never outlive us: they are told to die with us (`PR_SET_PDEATHSIG`), SIGINT
//! and SIGTERM are passed on to them, and a [`Child`] dropped while its program runs kills
//! and reaps it.

use std::ffi::OsString;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::{Interest, Registry, Token};

use super::bridge::{self, Direction, Failure};
use super::event_loop::{Context, Flow, Handler, Signal};
use super::transport::{self, Transport, describe, would_block};
use crate::error::{self, Kind, fail};
use crate::sock::{Remote, Stream};

/// The shell of `--sh-exec`, as ncat and socat's `SYSTEM:` use it.
const SHELL: &str = "/bin/sh";
/// How long a program whose connection was cut gets, after SIGTERM, before SIGKILL.
pub const KILL_AFTER: Duration = Duration::from_secs(2);

/// What to run for a connection.
#[derive(Debug, Clone)]
pub struct Program {
    argv: Vec<OsString>,
    /// As the user wrote it, for messages.
    shown: String,
}

impl Program {
    /// `--exec LINE`: a program and its arguments split at spaces, as ncat splits them (no
    /// quoting: `--sh-exec` is for shell syntax). `None` when the line is blank.
    pub fn exec(line: &str) -> Option<Program> {
        let words: Vec<&str> = line.split_whitespace().collect();
        (!words.is_empty()).then(|| Program {
            argv: words.iter().map(OsString::from).collect(),
            shown: words.join(" "),
        })
    }

    /// `--sh-exec COMMAND`: `/bin/sh -c COMMAND`.
    pub fn shell(command: &str) -> Program {
        Program {
            argv: vec![SHELL.into(), "-c".into(), command.into()],
            shown: command.to_string(),
        }
    }

    /// The program as the user wrote it.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The connection a program serves, for its environment (ncat's `NCAT_*` variables under
/// our name).
#[derive(Debug, Clone, Copy)]
pub struct Ends {
    /// Who is at the other end.
    pub remote: Remote,
    /// Our address on a TCP connection.
    pub local: Option<SocketAddr>,
}

impl Ends {
    /// The ends of a connected socket.
    pub fn of(sock: &Stream, remote: Remote) -> Ends {
        Ends {
            remote,
            local: match sock {
                Stream::Tcp(s) => s.local_addr().ok(),
                Stream::Unix(_) => None,
            },
        }
    }

    /// The variables a program is given: `NICKSOCK_PROTO` (`TCP` or `UNIX`),
    /// `NICKSOCK_REMOTE_ADDR`, `NICKSOCK_REMOTE_PORT`, `NICKSOCK_LOCAL_ADDR`,
    /// `NICKSOCK_LOCAL_PORT` over TCP; `NICKSOCK_REMOTE_PID` and `NICKSOCK_REMOTE_UID` over a
    /// Unix socket when the kernel says who the peer is.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        match self.remote {
            Remote::Ip(addr) => {
                vars.push(("NICKSOCK_PROTO", "TCP".to_string()));
                vars.push(("NICKSOCK_REMOTE_ADDR", addr.ip().to_string()));
                vars.push(("NICKSOCK_REMOTE_PORT", addr.port().to_string()));
            }
            Remote::Local(who) => {
                vars.push(("NICKSOCK_PROTO", "UNIX".to_string()));
                if let Some((pid, uid)) = who {
                    if pid != 0 {
                        vars.push(("NICKSOCK_REMOTE_PID", pid.to_string()));
                    }
                    vars.push(("NICKSOCK_REMOTE_UID", uid.to_string()));
                }
            }
        }
        if let Some(local) = self.local {
            vars.push(("NICKSOCK_LOCAL_ADDR", local.ip().to_string()));
            vars.push(("NICKSOCK_LOCAL_PORT", local.port().to_string()));
        }
        vars
    }
}

/// A program could not be started: exit 127 when it was not found, 126 otherwise, as a
/// shell says.
pub fn start_failure(program: &Program, err: &io::Error) -> anyhow::Error {
    let code = if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    anyhow::Error::new(error::Status {
        code,
        message: Some(format!("cannot run '{}': {}", program.shown, describe(err))),
    })
}

/// The exit code a program's status passes on: its own, or 128 + the signal that ended it.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + (sig & 0x7f)).unwrap_or(255),
        (None, None) => 1,
    }
}

/// How a program ended, in words: "exited with status 3", "killed by signal 9 (SIGKILL)".
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match signal_name(sig) {
            Some(name) => format!("killed by signal {sig} ({name})"),
            None => format!("killed by signal {sig}"),
        },
        (None, None) => "ended".to_string(),
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

/// The error a session with a program ends in when the bytes got through: none when the
/// program exited with 0, else its status passed on as ours (said in a line only when a
/// signal killed it, as a shell says).
pub fn outcome(program: &Program, status: ExitStatus) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let message = status
        .signal()
        .map(|_| format!("'{}' {}", program.shown, describe_status(status)));
    Err(anyhow::Error::new(error::Status {
        code: exit_code(status),
        message,
    }))
}

/// Which side of a session with a program failed.
#[derive(Debug)]
pub enum Broke {
    /// The connection to the peer (reading or sending).
    Peer(io::Error),
    /// Our ends of the program's stdin or stdout.
    Program(io::Error),
}

/// A running program and the two directions between it and one peer.
pub struct Child {
    /// The process, until it is reaped or handed to a [`Reaper`].
    process: Option<std::process::Child>,
    /// Its process group (its pid), whose members left when the session ends are killed;
    /// `None` once handed to a [`Reaper`].
    group: Option<u32>,
    /// Our end of the program's stdin.
    to_child: Transport,
    /// Our end of the program's stdout.
    from_child: Transport,
    /// Peer → program.
    up: Direction,
    /// Program → peer.
    down: Direction,
    /// The program closed its stdin (or exited) before taking all the peer sent: what the
    /// peer sends from then on is read and dropped.
    stdin_closed: bool,
    /// Bytes of the peer dropped so.
    dropped: u64,
    /// The peer ended its stream.
    peer_ended: bool,
    status: Option<ExitStatus>,
    started: Instant,
}

impl Child {
    /// Starts `program` for a peer at `ends`.
    pub fn spawn(program: &Program, ends: &Ends) -> Result<Child> {
        let (ours_in, theirs_in) = UnixStream::pair().context("making the program's stdin")?;
        let (ours_out, theirs_out) = UnixStream::pair().context("making the program's stdout")?;
        // Our end of its stdin is only written, of its stdout only read.
        let _ = ours_in.shutdown(Shutdown::Read);
        let _ = ours_out.shutdown(Shutdown::Write);
        let mut command = Command::new(&program.argv[0]);
        command
            .args(&program.argv[1..])
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs_in)))
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)))
            .stderr(Stdio::inherit())
            .envs(ends.environment());
        // A group of its own: signals reach the program's own children too (a pipeline of
        // --sh-exec), and none is left behind when it is killed.
        command.process_group(0);
        die_with_parent(&mut command);
        let mut process = command.spawn().map_err(|e| start_failure(program, &e))?;
        let ours = |s: UnixStream| -> io::Result<Transport> {
            s.set_nonblocking(true)?;
            Ok(Transport::Plain(Stream::Unix(
                mio::net::UnixStream::from_std(s),
            )))
        };
        let ends = ours(ours_in).and_then(|to| Ok((to, ours(ours_out)?)));
        let (to_child, from_child) = match ends {
            Ok(ends) => ends,
            Err(e) => {
                kill_group(process.id());
                let _ = process.wait();
                return Err(e).context("setting up the program's stdin and stdout");
            }
        };
        Ok(Child {
            group: Some(process.id()),
            process: Some(process),
            to_child,
            from_child,
            up: Direction::default(),
            down: Direction::default(),
            stdin_closed: false,
            dropped: 0,
            peer_ended: false,
            status: None,
            started: Instant::now(),
        })
    }

    /// Watches our ends of its stdin (`to`) and stdout (`from`) on the loop.
    pub fn register(&mut self, registry: &Registry, to: Token, from: Token) -> io::Result<()> {
        registry.register(self.to_child.socket(), to, Interest::WRITABLE)?;
        registry.register(self.from_child.socket(), from, Interest::READABLE)
    }

    /// Stops watching our ends (before the child is dropped or handed to a [`Reaper`]).
    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(self.to_child.socket());
        let _ = registry.deregister(self.from_child.socket());
    }

    /// The peer's socket reported readiness (`closed`: its side is closed).
    pub fn peer_woke(&mut self, closed: bool) {
        self.up.wake(closed);
    }

    /// Our end of the program's stdout reported readiness.
    pub fn output_woke(&mut self, event: &Event) {
        self.down.wake(event.is_read_closed() || event.is_error());
    }

    /// Moves what can move both ways without blocking; true when anything did.
    pub fn pump(&mut self, peer: &mut Transport, scratch: &mut [u8]) -> Result<bool, Broke> {
        let mut moved = false;
        if self.stdin_closed {
            moved |= self.drop_input(peer, scratch)?;
        } else {
            match self.up.pump(peer, &mut self.to_child, scratch) {
                Ok(m) => moved |= m,
                // The program stopped reading (closed its stdin, or exited): like a shell
                // pipeline's reader that is done, its choice; the rest is dropped.
                Err(Failure::Destination(e)) if gone(&e) => {
                    self.drop_further_input();
                    moved = true;
                    moved |= self.drop_input(peer, scratch)?;
                }
                Err(Failure::Destination(e)) => return Err(Broke::Program(e)),
                Err(Failure::Source(e)) => return Err(Broke::Peer(e)),
            }
            self.peer_ended |= self.up.is_done();
        }
        match self.down.pump(&mut self.from_child, peer, scratch) {
            Ok(m) => moved |= m,
            Err(Failure::Source(e)) => return Err(Broke::Program(e)),
            Err(Failure::Destination(e)) => return Err(Broke::Peer(e)),
        }
        Ok(moved)
    }

    /// Reads and drops what the peer sends to a program that takes no more.
    fn drop_input(&mut self, peer: &mut Transport, scratch: &mut [u8]) -> Result<bool, Broke> {
        let mut moved = false;
        while !self.peer_ended {
            match peer.read(scratch) {
                Ok(0) => self.peer_ended = true,
                Ok(n) => self.dropped += n as u64,
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(Broke::Peer(e)),
            }
            moved = true;
        }
        Ok(moved)
    }

    /// Reaps the program if it has exited; true when it just did.
    pub fn reap(&mut self) -> bool {
        let Some(process) = &mut self.process else {
            return false;
        };
        let status = match process.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return false,
            // Reaped elsewhere, or no such child: it is gone all the same.
            Err(_) => ExitStatus::from_raw(0),
        };
        self.status = Some(status);
        self.process = None;
        true
    }

    /// Sends `signal` to the program (and its process group) while it runs.
    pub fn signal(&self, signal: i32) {
        if let Some(process) = &self.process {
            send_signal(process.id(), signal);
        }
    }

    /// What the peer sent before the program started (during a TLS handshake): the
    /// program's first input.
    pub fn hold_input(&mut self, early: Vec<u8>) {
        if !early.is_empty() {
            self.up = Direction::holding(early);
        }
    }

    /// The session is over: the program's output ended and went out whole (our sending side
    /// shut after it), and the program exited.
    pub fn is_finished(&self) -> bool {
        self.down.is_done() && self.status.is_some()
    }

    /// How the program ended, once it has.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Bytes the program took from the peer, and sent to it.
    pub fn bytes(&self) -> (u64, u64) {
        (self.up.bytes(), self.down.bytes())
    }

    /// Bytes of the peer the program did not take (it closed its stdin first).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// When the program started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The program has finished: what the peer still sends is read and dropped (until its
    /// end, for a close that is no reset).
    pub fn drop_further_input(&mut self) {
        if !self.stdin_closed {
            self.stdin_closed = true;
            self.dropped += self.up.pending() as u64;
        }
    }

    /// The peer's end has come (read, or dropped after the program stopped reading).
    pub fn peer_ended(&self) -> bool {
        self.peer_ended
    }

    /// A program still running becomes an [`Orphan`]: told to stop (SIGTERM), killed at
    /// `kill_at` if it has not. Our ends of its stdin and stdout close with the child.
    pub fn orphan(mut self, kill_at: Instant) -> Option<Orphan> {
        self.reap();
        // An ended program's leftovers are killed as `self` drops; a running one's whole
        // group is the orphan's.
        let process = self.process.take()?;
        self.group = None;
        send_signal(process.id(), libc::SIGTERM);
        Some(Orphan { process, kill_at })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Children never outlive us: a program still running when its session is dropped
        // (SIGINT, an error) is killed and reaped.
        if let Some(process) = &mut self.process {
            kill_group(process.id());
            let _ = process.wait();
        } else if let Some(group) = self.group {
            // The program ended, but what it started in the background may not have (a
            // job that ignores SIGINT): nothing of it outlives the session.
            kill_group(group);
        }
    }
}

/// Whether a write to the program's stdin failed because it takes no more.
fn gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// Sends `signal` to the process group `pid` leads (the program and what it started); to
/// the program alone should the group be gone.
fn send_signal(pid: u32, signal: i32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let Some(signal) = rustix::process::Signal::from_named_raw(signal) else {
        return;
    };
    if rustix::process::kill_process_group(pid, signal).is_err() {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// SIGKILL to the program's whole group.
fn kill_group(pid: u32) {
    send_signal(pid, libc::SIGKILL);
}

/// Asks the kernel to send SIGTERM to the program when we die, however we die (SIGKILL
/// included): no program is left serving a socket nobody watches.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec and calls only prctl(2) and
    // getppid(2), which are async-signal-safe; it reads a copied pid and nothing else of
    // the parent's memory.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))?;
            // Died before the request was made: nobody would send the signal.
            if rustix::process::getppid() != Some(parent) {
                return Err(io::Error::other(
                    "nicksock ended before the program started",
                ));
            }
            Ok(())
        });
    }
}

/// A program whose connection was cut while it ran: told to stop, killed when its time is
/// up, reaped either way.
pub struct Orphan {
    process: std::process::Child,
    kill_at: Instant,
}

/// The orphans of a server, reaped on SIGCHLD and killed when their time is up; those left
/// when the server ends are killed and reaped then.
#[derive(Default)]
pub struct Reaper {
    orphans: Vec<Orphan>,
}

impl Reaper {
    /// Takes in a child whose connection closed; a program that has exited is reaped now.
    pub fn adopt(&mut self, child: Child, now: Instant) {
        if let Some(orphan) = child.orphan(now + KILL_AFTER) {
            self.orphans.push(orphan);
        }
    }

    /// Reaps those that exited.
    pub fn reap(&mut self) {
        self.orphans.retain_mut(|o| {
            if matches!(o.process.try_wait(), Ok(None)) {
                return true;
            }
            kill_group(o.process.id());
            false
        });
    }

    /// When the next one is to be killed.
    pub fn due(&self) -> Option<Instant> {
        self.orphans.iter().map(|o| o.kill_at).min()
    }

    /// Whether any is left.
    pub fn is_empty(&self) -> bool {
        self.orphans.is_empty()
    }

    /// How many are left.
    pub fn len(&self) -> usize {
        self.orphans.len()
    }

    /// Kills (and reaps) those whose time is up.
    pub fn on_due(&mut self, now: Instant) {
        self.orphans.retain_mut(|o| {
            if o.kill_at > now {
                return true;
            }
            kill_group(o.process.id());
            let _ = o.process.wait();
            false
        });
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for o in &mut self.orphans {
            kill_group(o.process.id());
            let _ = o.process.wait();
        }
    }
}

/// After the program's last byte and exit, how long the peer gets to end its side (what it
/// sends meanwhile is dropped) before we close: a close with unread bytes would be a reset,
/// which can destroy our last bytes on their way.
pub const LINGER: Duration = Duration::from_secs(2);

const PEER: Token = Token(0);
const TO_CHILD: Token = Token(1);
const FROM_CHILD: Token = Token(2);
const IDLE_TIMER: Token = Token(3);
const GRACE_TIMER: Token = Token(4);
const LINGER_TIMER: Token = Token(5);
const AGAIN_TIMER: Token = Token(6);
/// Passes of moving bytes before the loop looks at signals and deadlines.
const PASSES_PER_TURN: usize = 16;

/// How a session with a program runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `-i`: end the session when no byte moved for this long (exit 5).
    pub idle: Option<Duration>,
    /// After SIGTERM (passed on to the program), how long the session may go on.
    pub grace: Duration,
    pub verbose: u8,
}

/// One peer and one program on the loop (`connect --exec`): [`run`] it.
struct Session<'a> {
    peer: Transport,
    child: Child,
    program: &'a Program,
    settings: Settings,
    scratch: Vec<u8>,
    last_activity: Instant,
    idle_timer: Option<Instant>,
    stopping: Option<Instant>,
    linger_until: Option<Instant>,
    again: bool,
    /// An error of the loop's own that ends the session (a timeout).
    ended: Option<anyhow::Error>,
    /// SIGINT came (passed on): the program has until then to end.
    interrupted: Option<Instant>,
    /// The next pause before looking again whether the peer took our last bytes.
    drain_pause: Duration,
}

/// First and longest pause between looks at whether the peer acknowledged our last bytes.
const DRAIN_FIRST_PAUSE: Duration = Duration::from_millis(1);
const DRAIN_LONGEST_PAUSE: Duration = Duration::from_millis(100);
const DRAIN_TIMER: Token = Token(7);
/// A TLS peer that took everything and closed answers our late close_notify with a reset:
/// at most this much (that record and our FIN) unacknowledged is no loss.
const CLOSE_NOTIFY_TAIL: usize = 40;

/// Moves `peer`'s TLS handshake on without blocking, keeping what the peer sends right
/// after it (the program's first input) in `early`: `Ok(true)` once it is done. A peer
/// that leaves before is `UnexpectedEof`.
pub fn handshake_step(peer: &mut Transport, early: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    while peer.is_handshaking() {
        match peer.read(&mut buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed during the TLS handshake",
                ));
            }
            Ok(n) => early.extend_from_slice(&buf[..n]),
            Err(e) if would_block(&e) => break,
            Err(e) => return Err(e),
        }
    }
    if let Err(e) = peer.flush()
        && !would_block(&e)
    {
        return Err(e);
    }
    Ok(!peer.is_handshaking())
}

/// Drives `peer`'s TLS handshake, if it has one, to its end on the loop;
/// returns what the peer sent right after it (the program's first input).
fn finish_handshake(ev: &mut super::EventLoop, peer: &mut Transport) -> Result<Vec<u8>> {
    struct Handshaking<'a> {
        peer: &'a mut Transport,
        early: Vec<u8>,
    }
    impl Handler for Handshaking<'_> {
        fn on_event(&mut self, _cx: &mut Context<'_>, _event: &Event) -> Result<()> {
            Ok(())
        }
        fn after(&mut self, _cx: &mut Context<'_>) -> Result<Flow> {
            match handshake_step(self.peer, &mut self.early) {
                Ok(true) => Ok(Flow::Stop),
                Ok(false) => Ok(Flow::Continue),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Err(fail(Kind::Tls, "the peer closed during the TLS handshake"))
                }
                Err(e) => Err(transport::failure(e, "the TLS handshake")),
            }
        }
    }
    if !peer.is_handshaking() {
        return Ok(Vec::new());
    }
    let mut h = Handshaking {
        peer,
        early: Vec::new(),
    };
    ev.run(&mut h)?;
    Ok(h.early)
}

/// Runs `program` with `peer` (connected, not yet registered) on the loop until the session
/// is over; the program's exit status becomes ours ([`outcome`]).
pub fn run(
    ev: &mut super::EventLoop,
    mut peer: Transport,
    remote: Remote,
    program: &Program,
    settings: Settings,
) -> Result<()> {
    ev.watch_children()?;
    ev.registry()
        .register(peer.socket(), PEER, Interest::READABLE | Interest::WRITABLE)
        .context("watching the connection")?;
    // The program starts once the peer is who it should be: its certificate checked.
    let early = finish_handshake(ev, &mut peer)?;
    let ends = Ends::of(peer.socket(), remote);
    let mut child = Child::spawn(program, &ends)?;
    child.hold_input(early);
    child
        .register(ev.registry(), TO_CHILD, FROM_CHILD)
        .context("watching the program")?;
    if settings.verbose > 0 {
        eprintln!("running '{}' for {remote}", program.shown);
    }
    let now = Instant::now();
    let mut session = Session {
        peer,
        child,
        program,
        settings,
        scratch: vec![0; bridge::BUFFER],
        last_activity: now,
        idle_timer: None,
        stopping: None,
        linger_until: None,
        again: false,
        ended: None,
        interrupted: None,
        drain_pause: DRAIN_FIRST_PAUSE,
    };
    let result = ev.run(&mut session);
    let _ = ev.registry().deregister(session.peer.socket());
    session.child.deregister(ev.registry());
    let Session { peer, child, .. } = session;
    if let Err(err) = result {
        transport::reset(peer);
        // Dropping the child kills a program still running and reaps it.
        drop(child);
        return Err(err);
    }
    drop(peer);
    let status = child.status().unwrap_or_else(|| ExitStatus::from_raw(0));
    if settings.verbose > 0 {
        let (up, down) = child.bytes();
        eprintln!(
            "'{}' {} ({up} bytes in, {down} out{}, {:.3} s)",
            program.shown,
            describe_status(status),
            match child.dropped() {
                0 => String::new(),
                n => format!(", {n} not read by it"),
            },
            child.started().elapsed().as_secs_f64()
        );
    }
    outcome(program, status)
}

impl Session<'_> {
    /// Whether the peer acknowledged every byte we sent (our FIN included); when not, a
    /// timer to look again. A reset instead is a failure that says how much got there.
    fn acknowledged(&mut self, cx: &mut Context<'_>) -> Result<bool> {
        if self.peer.is_unix() {
            // A Unix socket counts buffer space, not bytes: nothing to learn here.
            return Ok(true);
        }
        let unacked = self.peer.unacknowledged();
        if let Some(e) = self.peer.take_error().context("checking the connection")? {
            if matches!(self.peer, Transport::Tls(_))
                && unacked.as_ref().is_ok_and(|&n| n <= CLOSE_NOTIFY_TAIL)
            {
                return Ok(true);
            }
            let sent = self.child.bytes().1;
            let got = sent.saturating_sub(unacked.unwrap_or(0) as u64);
            return Err(fail(
                crate::error::Kind::Runtime,
                format!(
                    "{:#}: the peer acknowledged about {got} of {sent} bytes of the program's output",
                    transport::failure(e, "sending")
                ),
            ));
        }
        match unacked {
            Ok(0) | Err(_) => Ok(true),
            Ok(_) => {
                cx.timers.add(cx.now + self.drain_pause, DRAIN_TIMER);
                self.drain_pause = (self.drain_pause * 2).min(DRAIN_LONGEST_PAUSE);
                Ok(false)
            }
        }
    }

    fn arm_idle(&mut self, cx: &mut Context<'_>) {
        let Some(idle) = self.settings.idle else {
            return;
        };
        let at = self.last_activity + idle;
        if self.idle_timer.is_none_or(|t| t > at) {
            self.idle_timer = Some(at);
            cx.timers.add(at, IDLE_TIMER);
        }
    }
}

impl Handler for Session<'_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, event: &Event) -> Result<()> {
        match event.token() {
            PEER => self
                .child
                .peer_woke(event.is_read_closed() || event.is_error()),
            FROM_CHILD => self.child.output_woke(event),
            _ => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        match token {
            IDLE_TIMER => {
                self.idle_timer = None;
                if let Some(idle) = self.settings.idle {
                    if cx.now >= self.last_activity + idle {
                        self.ended = Some(fail(
                            Kind::Timeout,
                            format!("idle for {} s", idle.as_secs_f64()),
                        ));
                    } else {
                        self.arm_idle(cx);
                    }
                }
            }
            GRACE_TIMER if self.stopping.is_some_and(|at| at <= cx.now) => {
                self.ended = Some(fail(
                    Kind::Runtime,
                    format!(
                        "the {} s grace period after SIGTERM ran out",
                        self.settings.grace.as_secs_f64()
                    ),
                ));
            }
            AGAIN_TIMER => self.again = false,
            _ => {}
        }
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        if let Some(err) = self.ended.take() {
            return Err(err);
        }

        for pass in 0.. {
            // A handshake finishing is progress too: bytes held back for it can go now.
            let handshaking = self.peer.is_handshaking();
            let moved = match self.child.pump(&mut self.peer, &mut self.scratch) {
                Ok(m) => m || handshaking != self.peer.is_handshaking(),
                Err(Broke::Peer(e)) => return Err(transport::failure(e, "relaying")),
                Err(Broke::Program(e)) => {
                    return Err(anyhow::Error::new(e).context("moving the program's bytes"));
                }
            };
            if !moved {
                break;
            }
            self.last_activity = cx.now;
            if pass + 1 == PASSES_PER_TURN {
                if !self.again {
                    self.again = true;
                    cx.timers.add(cx.now, AGAIN_TIMER);
                }
                break;
            }
        }
        self.arm_idle(cx);
        // After SIGINT: once the program ended and what it said on its way out went to the
        // peer, or its time is up.
        if let Some(until) = self.interrupted
            && ((self.child.is_finished() && !self.peer.wants_write()) || cx.now >= until)
        {
            return Err(fail(Kind::Interrupted, "interrupted"));
        }
        if self.child.is_finished() && !self.peer.wants_write() {
            // Every byte of the program's is out: the peer must have taken it, or the exit
            // says it did not.
            if !self.acknowledged(cx)? {
                return Ok(Flow::Continue);
            }
            if self.child.peer_ended() {
                return Ok(Flow::Stop);
            }
            match self.linger_until {
                Some(at) if at <= cx.now => return Ok(Flow::Stop),
                Some(_) => {}
                None => {
                    self.child.drop_further_input();
                    let at = cx.now + LINGER;
                    self.linger_until = Some(at);
                    cx.timers.add(at, LINGER_TIMER);
                    cx.timers.add(cx.now, AGAIN_TIMER);
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn on_signal(&mut self, cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        match signal {
            Signal::Child => {
                self.child.reap();
            }
            Signal::Interrupt if self.interrupted.is_some() => {
                return Err(fail(Kind::Interrupted, "interrupted"));
            }
            Signal::Interrupt => {
                // Passed on; the program gets a moment to end (a trap, its clean-up), then
                // whatever is left is killed as we exit.
                self.child.signal(libc::SIGINT);
                let until = cx.now + KILL_AFTER;
                self.interrupted = Some(until);
                cx.timers.add(until, GRACE_TIMER);
            }
            Signal::Terminate if self.stopping.is_some() => {
                return Err(fail(Kind::Runtime, "a second SIGTERM"));
            }
            Signal::Terminate => {
                self.child.signal(libc::SIGTERM);
                let at = cx.now + self.settings.grace;
                self.stopping = Some(at);
                cx.timers.add(at, GRACE_TIMER);
                if self.settings.verbose > 0 {
                    eprintln!(
                        "stopping (SIGTERM): passed on to '{}'; it may finish within {} s",
                        self.program.shown,
                        self.settings.grace.as_secs_f64()
                    );
                }
            }
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_splits_at_spaces_and_sh_exec_hands_the_line_to_the_shell() {
        let p = Program::exec("  /bin/cat   -n ").expect("program");
        assert_eq!(p.argv, ["/bin/cat", "-n"]);
        assert_eq!(p.shown(), "/bin/cat -n");
        assert!(Program::exec("   ").is_none());
        let p = Program::shell("tr a-z A-Z | cat");
        assert_eq!(p.argv, ["/bin/sh", "-c", "tr a-z A-Z | cat"]);
    }

    #[test]
    fn the_environment_names_both_ends() {
        let ends = Ends {
            remote: Remote::Ip("[::1]:4000".parse().unwrap()),
            local: Some("[::1]:80".parse().unwrap()),
        };
        let vars = ends.environment();
        let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("NICKSOCK_PROTO"), Some("TCP"));
        assert_eq!(get("NICKSOCK_REMOTE_ADDR"), Some("::1"));
        assert_eq!(get("NICKSOCK_REMOTE_PORT"), Some("4000"));
        assert_eq!(get("NICKSOCK_LOCAL_PORT"), Some("80"));
        // A peer in another pid namespace (pid 0) has no pid to give.
        let ends = Ends {
            remote: Remote::Local(Some((0, 1000))),
            local: None,
        };
        let vars = ends.environment();
        assert!(vars.iter().all(|(n, _)| *n != "NICKSOCK_REMOTE_PID"));
        assert!(vars.contains(&("NICKSOCK_REMOTE_UID", "1000".to_string())));
    }

    #[test]
    fn a_status_passes_on_as_a_shell_passes_it() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
        assert_eq!(
            describe_status(ExitStatus::from_raw(libc::SIGTERM)),
            "killed by signal 15 (SIGTERM)"
        );
        let program = Program::shell("x");
        let not_found = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(error::exit_code(&start_failure(&program, &not_found)), 127);
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(error::exit_code(&start_failure(&program, &denied)), 126);
    }
}
