//! One `mio::Poll` loop for every subcommand: readiness events, deadlines and signals.
//!
//! A command implements [`Handler`]; the loop sleeps in `poll` until a socket is ready, a
//! deadline is due or a signal arrives, so an idle program spends no CPU. Deadlines sit in a
//! heap and may be stale: a handler re-checks its own deadline when a timer fires, which
//! makes "push back the idle deadline" free (no heap update per byte moved).

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use signal_hook::consts::{SIGCHLD, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::error::{Kind, fail};

/// Token of the signal source; commands use small tokens, the loop's own are at the top.
const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);
/// Token of the loop's one waker (mio allows one per poll): helper threads (the stdin pump,
/// the name resolver) wake the loop with it.
pub const WAKER_TOKEN: Token = Token(usize::MAX - 2);
/// Token of stdin when it is a pipe watched on the loop (see `stdin`).
pub const STDIN_TOKEN: Token = Token(usize::MAX - 3);
/// Readiness events taken from the kernel per `poll` call.
const EVENTS_PER_POLL: usize = 1024;

/// What a handler wants the loop to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Leave the loop successfully.
    Stop,
}

/// A signal the loop delivers to its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM: a clean stop, exit 0.
    Terminate,
    /// SIGCHLD: a child process ended (only after [`EventLoop::watch_children`]; several
    /// may have ended for one signal).
    Child,
}

/// Pending deadlines, earliest first. Entries may be stale (see the module docs); one a
/// handler knows it no longer needs (its connection closed) it can cancel, so a flood of
/// short connections does not leave a deadline behind each for minutes.
#[derive(Debug, Default)]
pub struct Timers {
    set: BTreeSet<(Instant, usize)>,
}

impl Timers {
    /// Asks for `on_timer(token)` at `at` (or soon after).
    pub fn add(&mut self, at: Instant, token: Token) {
        self.set.insert((at, token.0));
    }

    /// Takes back a deadline set with [`Timers::add`] (nothing when it is not there).
    pub fn cancel(&mut self, at: Instant, token: Token) {
        self.set.remove(&(at, token.0));
    }

    /// How many deadlines are pending.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no deadline is pending.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    fn next(&self) -> Option<Instant> {
        self.set.first().map(|(at, _)| *at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Token> {
        match self.set.first() {
            Some((at, _)) if *at <= now => self.set.pop_first().map(|(_, t)| Token(t)),
            _ => None,
        }
    }
}

/// What a handler may touch while it handles an event.
pub struct Context<'a> {
    /// Where sockets are registered.
    pub registry: &'a Registry,
    /// Where deadlines are set.
    pub timers: &'a mut Timers,
    /// When the current batch of events came in.
    pub now: Instant,
}

/// A command running on the loop.
pub trait Handler {
    /// A readiness event for one of the handler's tokens.
    fn on_event(&mut self, cx: &mut Context<'_>, event: &Event) -> Result<()>;

    /// A deadline set for `token` is due; it may be stale, so check the real deadline.
    fn on_timer(&mut self, cx: &mut Context<'_>, token: Token) -> Result<()> {
        let _ = (cx, token);
        Ok(())
    }

    /// Called before the first poll and after every batch of events and timers: move what
    /// can be moved, and say whether to go on.
    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow>;

    /// A signal arrived. By default SIGINT fails with exit 130, SIGTERM stops cleanly and
    /// SIGCHLD is ignored.
    fn on_signal(&mut self, cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        let _ = cx;
        match signal {
            Signal::Interrupt => Err(fail(Kind::Interrupted, "interrupted")),
            Signal::Terminate => Ok(Flow::Stop),
            Signal::Child => Ok(Flow::Continue),
        }
    }
}

/// The one event loop.
pub struct EventLoop {
    poll: Poll,
    events: Events,
    signals: Signals,
    timers: Timers,
    waker: Option<Arc<Waker>>,
}

impl EventLoop {
    /// Creates the poll instance and starts catching SIGINT and SIGTERM.
    pub fn new() -> Result<Self> {
        let poll = Poll::new().context("creating the event loop")?;
        let mut signals = Signals::new([SIGINT, SIGTERM]).context("catching signals")?;
        poll.registry()
            .register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)
            .context("watching signals")?;
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            signals,
            timers: Timers::default(),
            waker: None,
        })
    }

    /// The loop's waker, for a thread that hands results to the loop; events for it carry
    /// [`WAKER_TOKEN`].
    pub fn waker(&mut self) -> Result<Arc<Waker>> {
        if let Some(w) = &self.waker {
            return Ok(Arc::clone(w));
        }
        let w =
            Arc::new(Waker::new(self.poll.registry(), WAKER_TOKEN).context("creating a waker")?);
        self.waker = Some(Arc::clone(&w));
        Ok(w)
    }

    /// Delivers SIGCHLD as [`Signal::Child`] from now on: for a command that runs programs
    /// (`--exec`) and reaps them on the loop. Call it before the first child starts.
    pub fn watch_children(&mut self) -> Result<()> {
        self.signals
            .add_signal(SIGCHLD)
            .context("catching SIGCHLD")?;
        Ok(())
    }

    /// Where sockets are registered before the loop runs.
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Sets a deadline before the loop runs.
    pub fn add_timer(&mut self, at: Instant, token: Token) {
        self.timers.add(at, token);
    }

    /// Runs `handler` until it stops or fails.
    pub fn run<H: Handler>(&mut self, handler: &mut H) -> Result<()> {
        let mut now = Instant::now();
        loop {
            let mut cx = Context {
                registry: self.poll.registry(),
                timers: &mut self.timers,
                now,
            };
            if handler.after(&mut cx)? == Flow::Stop {
                return Ok(());
            }
            let timeout = self
                .timers
                .next()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(err) = self.poll.poll(&mut self.events, timeout.map(round_up_ms)) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err).context("waiting for events");
            }
            now = Instant::now();
            let mut cx = Context {
                registry: self.poll.registry(),
                timers: &mut self.timers,
                now,
            };
            for event in self.events.iter() {
                if event.token() == SIGNAL_TOKEN {
                    for signal in self.signals.pending() {
                        let signal = match signal {
                            SIGINT => Signal::Interrupt,
                            SIGCHLD => Signal::Child,
                            _ => Signal::Terminate,
                        };
                        if handler.on_signal(&mut cx, signal)? == Flow::Stop {
                            return Ok(());
                        }
                    }
                } else {
                    handler.on_event(&mut cx, event)?;
                }
            }
            while let Some(token) = cx.timers.pop_due(now) {
                handler.on_timer(&mut cx, token)?;
            }
        }
    }
}

/// epoll sleeps in whole milliseconds; rounding down would wake just before a deadline and
/// spin once more.
fn round_up_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Seconds from the command line as a Duration.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_due_in_order() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.add(now + Duration::from_secs(2), Token(2));
        t.add(now, Token(1));
        assert_eq!(t.next(), Some(now));
        assert_eq!(t.pop_due(now), Some(Token(1)));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(t.pop_due(now + Duration::from_secs(3)), Some(Token(2)));
    }

    #[test]
    fn a_cancelled_timer_never_comes_due_and_takes_no_room() {
        let mut t = Timers::default();
        let now = Instant::now();
        for i in 0..1000 {
            let at = now + Duration::from_secs(600);
            t.add(at, Token(i));
            t.cancel(at, Token(i));
        }
        assert!(t.is_empty());
        t.add(now, Token(1));
        t.add(now, Token(1));
        assert_eq!(t.len(), 1, "the same deadline twice is one");
    }

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(
            round_up_ms(Duration::from_micros(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            round_up_ms(Duration::from_millis(5)),
            Duration::from_millis(5)
        );
    }
}
