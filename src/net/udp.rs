//! The datagram session of `listen -u` and `connect -u`: each stdin read goes out as one
//! datagram, every datagram received goes to stdout. No probe bytes are ever sent.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context as _, Result};
use mio::event::Event;
use mio::net::UdpSocket;
use mio::{Interest, Token};

use super::event_loop::{Context, Flow, Handler};
use super::session::{SessionClock, SessionRules};
use super::stdin::StdinSource;
use super::stdout::Stdout;
use super::transport::would_block;
use crate::error::{Kind, fail};

/// Largest UDP payload over IPv4; longer stdin reads are split.
const MAX_DATAGRAM: usize = 65_507;
/// Receive buffer: the largest datagram that can arrive.
const RECV_BUFFER: usize = 65_536;
const SOCKET: Token = Token(0);

/// Whom the session talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A connected socket (`connect -u`, or `listen -u` after its first datagram).
    Connected(SocketAddr),
    /// `listen -u`: lock onto the first sender.
    FirstSender,
    /// `listen -u -k`: hear everyone, reply to the sender of the last datagram.
    LastSender(Option<SocketAddr>),
    /// `connect -u` to a multicast group or with `-b`: send there, hear everyone (nobody
    /// answers from a group or broadcast address).
    Group(SocketAddr),
}

/// Senders `-v` remembers having named; past this many it names no new one.
const SENDERS_NAMED: usize = 4096;

/// A UDP session between stdin/stdout and a peer.
pub struct Datagrams<'a> {
    sock: UdpSocket,
    peer: Peer,
    /// An ICMP "port unreachable" ends the session (the client side).
    refused_is_fatal: bool,
    rules: &'a SessionRules,
    stdin: &'a mut StdinSource,
    out: &'a mut Stdout,
    buf: Vec<u8>,
    clock: SessionClock,
    /// Senders named by `-v` so far (each once).
    named: std::collections::HashSet<SocketAddr>,
    /// `--allow`/`--deny`: datagrams from others are dropped.
    access: Option<super::access::Access>,
}

impl<'a> Datagrams<'a> {
    /// Registers the socket and prepares the session.
    pub fn new(
        registry: &mio::Registry,
        mut sock: UdpSocket,
        peer: Peer,
        rules: &'a SessionRules,
        stdin: &'a mut StdinSource,
        out: &'a mut Stdout,
    ) -> Result<Self> {
        registry
            .register(&mut sock, SOCKET, Interest::READABLE | Interest::WRITABLE)
            .context("watching the socket")?;
        Ok(Datagrams {
            sock,
            refused_is_fatal: matches!(peer, Peer::Connected(_)),
            peer,
            rules,
            stdin,
            out,
            buf: vec![0; RECV_BUFFER],
            clock: SessionClock::new(),
            named: std::collections::HashSet::new(),
            access: None,
        })
    }

    /// Drops datagrams from senders `access` does not permit (`--allow`, `--deny`).
    #[must_use]
    pub fn with_access(mut self, access: Option<super::access::Access>) -> Self {
        self.access = access;
        self
    }

    fn receive(&mut self) -> Result<bool> {
        let mut moved = false;
        loop {
            let got = match self.peer {
                Peer::Connected(from) => self.sock.recv(&mut self.buf).map(|n| (n, from)),
                _ => self.sock.recv_from(&mut self.buf),
            };
            let (n, from) = match got {
                Ok(got) => got,
                Err(e) if would_block(&e) => return Ok(moved),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.refused()?;
                    continue;
                }
                Err(e) => return Err(e).context("receiving a datagram"),
            };
            if self
                .access
                .as_ref()
                .is_some_and(|a| !a.permits_ip(from.ip()))
            {
                continue;
            }
            match self.peer {
                Peer::FirstSender => {
                    self.sock
                        .connect(from)
                        .context("locking onto the first sender")?;
                    self.peer = Peer::Connected(from);
                    if self.rules.verbose > 0 {
                        eprintln!("datagram from {from}");
                    }
                }
                Peer::LastSender(_) => {
                    self.peer = Peer::LastSender(Some(from));
                    self.name_sender(from);
                }
                Peer::Group(_) => self.name_sender(from),
                Peer::Connected(_) => {}
            }
            moved = true;
            if !self.rules.send_only {
                self.out.write_all(&self.buf[..n])?;
            }
        }
    }

    /// `-v`: says who sent a datagram, once per sender.
    fn name_sender(&mut self, from: SocketAddr) {
        if self.rules.verbose > 0 && self.named.len() < SENDERS_NAMED && self.named.insert(from) {
            eprintln!("datagram from {from}");
        }
    }

    /// An ICMP "port unreachable" came back: the end for a client, a lost datagram for a
    /// server.
    fn refused(&self) -> Result<()> {
        if self.refused_is_fatal {
            return Err(fail(
                Kind::Refused,
                "sending: connection refused (nothing listens on that UDP port)",
            ));
        }
        Ok(())
    }

    fn send(&mut self) -> Result<bool> {
        let mut moved = false;
        loop {
            let data = self.stdin.peek().context("reading stdin")?;
            if data.is_empty() {
                return Ok(moved);
            }
            let data = &data[..data.len().min(MAX_DATAGRAM)];
            let sent = match self.peer {
                Peer::Connected(_) => self.sock.send(data),
                Peer::LastSender(Some(to)) | Peer::Group(to) => self.sock.send_to(data, to),
                // Nobody to answer yet: stdin waits until somebody speaks.
                Peer::FirstSender | Peer::LastSender(None) => return Ok(moved),
            };
            match sent {
                Ok(n) => {
                    self.stdin.consume(n);
                    moved = true;
                }
                Err(e) if would_block(&e) => return Ok(moved),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => self.refused()?,
                Err(e) => return Err(e).context("sending a datagram"),
            }
        }
    }
}

impl Handler for Datagrams<'_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        let now = Instant::now();
        loop {
            let mut moved = self.receive()?;
            if !self.rules.recv_only {
                moved |= self.send()?;
            }
            if !moved {
                break;
            }
            self.clock.moved(now);
        }
        let sending_done = self.stdin.is_done();
        if sending_done && self.rules.send_only {
            return Ok(Flow::Stop);
        }
        self.clock.check(cx, self.rules, sending_done, now)
    }

    fn on_timer(&mut self, _cx: &mut Context<'_>, token: Token) -> Result<()> {
        self.clock.on_timer(token);
        Ok(())
    }
}
