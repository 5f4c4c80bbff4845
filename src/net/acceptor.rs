//! The accepting side of the server core ([`Server`](crate::net::server::Server)) on the
//! event loop: the listening sockets (each in a group that decides how its
//! clients are served), accepting until the backlog is empty, and what happens when
//! accepting fails (out of file descriptors, say): the pending clients wait in the backlog,
//! a timer tries again, and the log says so once, not once per client.

use std::io;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mio::{Interest, Registry, Token};

use crate::net::event_loop::Context;
use crate::net::listener::Listener;
use crate::sock::{Remote, Stream};

/// Most listening sockets across all groups; their tokens are `0..MAX_LISTENERS`.
pub const MAX_LISTENERS: usize = 64;
/// Token of the timer that retries accepting.
pub const RETRY_TOKEN: Token = Token(MAX_LISTENERS);
/// The first token the server may use for its own sockets and timers.
pub const FIRST_FREE_TOKEN: usize = MAX_LISTENERS + 1;
/// Pause before accepting again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(100);
/// Time between two log lines about the same kind of failure.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Listeners, each with its group's index; a listener's index here is its token.
pub struct Acceptor {
    listeners: Vec<(Listener, usize)>,
    retry_pending: bool,
    /// The last failure was running out of file descriptors.
    short_of_fds: bool,
    /// What the server does, for the failure line ("relay: accepting a connection: …").
    prefix: &'static str,
    log: Throttle,
}

/// A client just accepted.
pub struct Accepted {
    /// Its socket.
    pub stream: Stream,
    /// Who it is.
    pub peer: Remote,
    /// The group of the listener it came in on.
    pub group: usize,
}

impl Acceptor {
    /// Listeners in groups: `groups[g]` are the listeners of group `g`. At most
    /// [`MAX_LISTENERS`] are kept.
    pub fn new(groups: Vec<Vec<Listener>>, prefix: &'static str) -> Self {
        let mut listeners: Vec<(Listener, usize)> = groups
            .into_iter()
            .enumerate()
            .flat_map(|(g, ls)| ls.into_iter().map(move |l| (l, g)))
            .collect();
        listeners.truncate(MAX_LISTENERS);
        Acceptor {
            listeners,
            retry_pending: false,
            short_of_fds: false,
            prefix,
            log: Throttle::new(LOG_EVERY),
        }
    }

    /// Starts watching the listeners.
    pub fn register(&mut self, registry: &Registry) -> Result<()> {
        for (i, (l, _)) in self.listeners.iter_mut().enumerate() {
            registry
                .register(l, Token(i), Interest::READABLE)
                .context("watching a listening socket")?;
        }
        Ok(())
    }

    /// Stops accepting: the listeners are closed, new clients are refused by the kernel.
    pub fn close(&mut self, registry: &Registry) {
        for (l, _) in &mut self.listeners {
            let _ = registry.deregister(l);
        }
        self.listeners.clear();
    }

    /// The listener a readiness token belongs to, if it is one.
    pub fn listener(&self, token: Token) -> Option<usize> {
        (token.0 < self.listeners.len()).then_some(token.0)
    }

    /// The listeners to try again when `token` is the retry timer's (every one of them).
    pub fn retry(&mut self, token: Token) -> Option<std::ops::Range<usize>> {
        (token == RETRY_TOKEN).then(|| {
            self.retry_pending = false;
            0..self.listeners.len()
        })
    }

    /// The next client waiting on listener `index`; `None` when no one waits, or when
    /// accepting failed (then a retry is set up and the failure logged, rate-limited).
    pub fn next(&mut self, cx: &mut Context<'_>, index: usize) -> Option<Accepted> {
        let (listener, group) = self.listeners.get(index)?;
        match listener.accept() {
            Ok(Some((stream, peer))) => Some(Accepted {
                stream,
                peer,
                group: *group,
            }),
            Ok(None) => None,
            Err(e) => {
                self.failed(cx, &e);
                None
            }
        }
    }

    /// Whether accepting last failed for want of file descriptors (the flag is cleared):
    /// closing an idle connection would let the next client in.
    pub fn take_fd_shortage(&mut self) -> bool {
        std::mem::take(&mut self.short_of_fds)
    }

    fn failed(&mut self, cx: &mut Context<'_>, e: &io::Error) {
        self.short_of_fds = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
        if let Some(more) = self.log.allow(cx.now) {
            eprintln!(
                "nicksock: {}accepting a connection: {e}{}",
                self.prefix,
                Throttle::since(more)
            );
        }
        if !self.retry_pending {
            self.retry_pending = true;
            cx.timers.add(cx.now + RETRY_AFTER, RETRY_TOKEN);
        }
    }
}

/// At most one log line per period for a repeated failure; the lines that were held back
/// are counted in the next one.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    held: u64,
}

impl Throttle {
    /// A throttle letting one line through per `every`.
    pub fn new(every: Duration) -> Self {
        Throttle {
            every,
            last: None,
            held: 0,
        }
    }

    /// `Some(n)` when a line may be written now, `n` being the lines held back since the
    /// last one; `None` when this one is held back.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|at| now < at + self.every) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }

    /// The tail of a line after `n` were held back: "" or " (and 12 more since the last
    /// report)".
    pub fn since(n: u64) -> String {
        if n == 0 {
            String::new()
        } else {
            format!(" (and {n} more since the last report)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_failure_is_logged_once_per_period_with_a_count() {
        let mut t = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(t.allow(start), Some(0));
        for i in 1..=300 {
            assert_eq!(t.allow(start + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(t.allow(start + Duration::from_secs(10)), Some(300));
        assert_eq!(t.allow(start + Duration::from_secs(11)), None);
        assert_eq!(Throttle::since(0), "");
        assert_eq!(Throttle::since(2), " (and 2 more since the last report)");
    }

    #[test]
    fn listeners_keep_their_groups_and_tokens() {
        let bind =
            || Listener::Tcp(mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap());
        let a = Acceptor::new(vec![vec![bind(), bind()], vec![bind()]], "");
        let groups: Vec<usize> = a.listeners.iter().map(|(_, g)| *g).collect();
        assert_eq!(groups, [0, 0, 1]);
        assert_eq!(a.listener(Token(2)), Some(2));
        assert_eq!(a.listener(Token(3)), None);
        assert_eq!(a.listener(RETRY_TOKEN), None);
    }
}
