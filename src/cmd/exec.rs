//! `listen --exec` / `--sh-exec`: a program for each client, on the server core. Each
//! connection is a client and its own program ([`exec::Child`]); with `-k` many run at once
//! (up to `--max-children`), without it the first client is the only one and its program's
//! exit status is ours.

use std::time::Instant;

use anyhow::Result;
use mio::event::Event;

use crate::net::EventLoop;
use crate::net::event_loop::{Context, Signal};
use crate::net::exec::{self, Broke, Child, Ends, Program, Reaper};
use crate::net::listener::Listener;
use crate::net::server::{Closed, Group, Link, Next, Server, Service};

/// Token slots of a connection's own sources: our ends of its program's stdin and stdout.
const TO_CHILD_SLOT: usize = 1;
const FROM_CHILD_SLOT: usize = 2;
/// A slot whose timer brings the connection back at once (it was still moving bytes).
const AGAIN_SLOT: usize = 3;
/// Passes of moving bytes a connection makes before the loop looks at the others.
const PASSES_PER_TURN: usize = 16;

/// How the server runs its programs.
pub struct Settings {
    pub program: Program,
    /// Serve this many clients in all, then stop (`listen` without `-k`: 1; `--max-conns`).
    pub clients: Option<u32>,
    /// Most programs at once.
    pub max_children: usize,
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    pub idle: Option<std::time::Duration>,
    pub grace: std::time::Duration,
    pub access: Option<crate::net::access::Access>,
    pub verbose: u8,
}

/// Runs the server until it served its clients, SIGTERM (exit 0) or SIGINT (130). Without
/// `-k` the one client's program's exit status is ours.
pub fn run(mut ev: EventLoop, listeners: Vec<Listener>, settings: Settings) -> Result<()> {
    ev.watch_children()?;
    let group = Group {
        listeners,
        tls: settings.tls.clone(),
        idle: settings.idle,
        max_conns: settings.max_children,
    };
    let (verbose, grace) = (settings.verbose, settings.grace);
    let access = settings.access.clone();
    let only_one = settings.clients == Some(1);
    let mut outcome = None;
    let service = Exec {
        settings,
        stopping: false,
        served: 0,
        reaper: Reaper::default(),
        scratch: vec![0; crate::net::bridge::BUFFER],
        outcome: &mut outcome,
    };
    Server::new(service, vec![group], verbose)
        .with_access(access)
        .with_grace(grace)
        .run(ev)?;
    match outcome {
        Some(result) if only_one => result,
        _ => Ok(()),
    }
}

/// The service: a program per connection.
struct Exec<'a> {
    settings: Settings,
    /// SIGTERM came: a program started from now on gets it at once.
    stopping: bool,
    /// Clients taken in so far.
    served: u32,
    /// Programs of closed connections that still run.
    reaper: Reaper,
    scratch: Vec<u8>,
    /// How the last connection ended: its program's status passed on, or its failure.
    outcome: &'a mut Option<Result<()>>,
}

/// One client and its program.
#[derive(Default)]
struct Conn {
    child: Option<Child>,
    /// What a TLS client sent right after its handshake, before its program started.
    early: Vec<u8>,
    /// Why it failed, once it has (logged when it closes).
    failed: Option<anyhow::Error>,
    /// A zero-delay timer is set to bring it back.
    again: bool,
}

impl Exec<'_> {
    /// Starts the program for the client of `link`.
    fn start(&mut self, cx: &mut Context<'_>, link: &mut Link) -> Result<Child> {
        let peer = *link.peer();
        let ends = Ends::of(link.transport().socket(), peer);
        let mut child = Child::spawn(&self.settings.program, &ends)?;
        let (to, from) = (link.token(TO_CHILD_SLOT), link.token(FROM_CHILD_SLOT));
        child.register(cx.registry, to, from)?;
        if self.settings.verbose > 0 {
            eprintln!("{peer}: running '{}'", self.settings.program.shown());
        }
        Ok(child)
    }
}

impl Service for Exec<'_> {
    type Conn = Conn;
    const DOING: &'static str = "running the program";
    const SAYS_CLOSE: bool = true;
    // A connection cut by a deadline or an error is reset: the client must not take it for
    // the program's clean end.
    const RESET_ON_FAILURE: bool = true;

    fn open(&mut self, _group: usize, _now: Instant) -> Conn {
        self.served = self.served.saturating_add(1);
        Conn::default()
    }

    fn pump(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut Link,
        conn: &mut Conn,
    ) -> std::io::Result<Next> {
        conn.again = false;
        if conn.child.is_none() {
            // A TLS client's program starts once its handshake is done (its certificate
            // checked, with --cacert): nobody runs a program by merely connecting.
            match exec::handshake_step(link.transport(), &mut conn.early) {
                Ok(true) => link.touch(),
                Ok(false) => return Ok(Next::Keep),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Next::Close),
                Err(e) => return Err(e),
            }
            match self.start(cx, link) {
                Ok(mut child) => {
                    child.hold_input(std::mem::take(&mut conn.early));
                    if self.stopping {
                        child.signal(libc::SIGTERM);
                    }
                    conn.child = Some(child);
                }
                Err(err) => {
                    conn.failed = Some(err);
                    return Ok(Next::Close);
                }
            }
        }
        let Some(child) = &mut conn.child else {
            return Ok(Next::Close);
        };
        if let Some(closed) = link.take_wake() {
            child.peer_woke(closed);
        }
        let mut moved_any = false;
        for pass in 1..=PASSES_PER_TURN {
            let handshaking = link.transport().is_handshaking();
            match child.pump(link.transport(), &mut self.scratch) {
                Ok(moved) if moved || handshaking != link.transport().is_handshaking() => {
                    moved_any = true;
                }
                Ok(_) => break,
                Err(Broke::Peer(e)) => return Err(e),
                Err(Broke::Program(e)) => {
                    let err = anyhow::Error::new(e).context("moving the program's bytes");
                    conn.failed = Some(err);
                    return Ok(Next::Reset);
                }
            }
            if pass == PASSES_PER_TURN && !conn.again {
                conn.again = true;
                cx.timers.add(cx.now, link.token(AGAIN_SLOT));
            }
        }
        if moved_any {
            link.touch();
        }
        if child.is_finished() && !link.transport().wants_write() {
            // Our side is shut after the program's last byte: the lingering close lets the
            // client end its side before we close (a reset could destroy those bytes).
            return Ok(Next::Finish);
        }
        Ok(Next::Keep)
    }

    fn on_ready(&mut self, conn: &mut Conn, slot: usize, event: &Event) {
        match (slot, &mut conn.child) {
            (FROM_CHILD_SLOT, Some(child)) => child.output_woke(event),
            (AGAIN_SLOT, _) => conn.again = false,
            _ => {}
        }
    }

    fn pass_signal(&mut self, conn: &mut Conn, signal: Signal) {
        self.stopping |= signal == Signal::Terminate;
        if let Some(child) = &conn.child {
            child.signal(match signal {
                Signal::Interrupt => libc::SIGINT,
                _ => libc::SIGTERM,
            });
        }
    }

    fn child_ended(&mut self, conn: &mut Conn) -> bool {
        conn.child.as_mut().is_some_and(Child::reap)
    }

    fn reap(&mut self) {
        self.reaper.reap();
    }

    fn due(&self) -> Option<Instant> {
        self.reaper.due()
    }

    fn on_due(&mut self, cx: &mut Context<'_>) {
        self.reaper.on_due(cx.now);
    }

    fn held(&self) -> usize {
        self.reaper.len()
    }

    fn done(&self) -> bool {
        self.settings.clients.is_some_and(|n| self.served >= n)
    }

    fn closed(&mut self, conn: Conn, end: &Closed<'_>) {
        let program = &self.settings.program;
        let (failed, why) = match (&conn.failed, end.why) {
            (Some(err), _) => (true, format!("{err:#}")),
            (None, Some(why)) => (end.reset, why.to_string()),
            (None, None) => (end.reset, String::new()),
        };
        let Some(mut child) = conn.child else {
            eprintln!("nicksock: client {}: {why}", end.peer);
            *self.outcome = Some(Err(conn.failed.unwrap_or_else(|| anyhow::anyhow!(why))));
            return;
        };
        child.reap();
        let (up, down) = child.bytes();
        let status = child.status();
        let ended = status.map_or_else(
            || "still running: stopped".to_string(),
            exec::describe_status,
        );
        let line = format!(
            "{}: '{}' {ended} ({up} bytes in, {down} out{}, {:.3} s){}",
            end.peer,
            program.shown(),
            match child.dropped() {
                0 => String::new(),
                n => format!(", {n} not read by it"),
            },
            child.started().elapsed().as_secs_f64(),
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        );
        if failed {
            eprintln!("nicksock: {line}");
        } else if self.settings.verbose > 0 {
            eprintln!("{line}");
        }
        *self.outcome = Some(match (failed, status) {
            (false, Some(status)) => exec::outcome(program, status),
            _ => Err(crate::error::fail(crate::error::Kind::Runtime, line)),
        });
        self.reaper.adopt(child, Instant::now());
    }
}
