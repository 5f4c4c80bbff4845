//! `connect -z HOST PORTS…`: many ports probed at once on the event loop, each its own
//! [`Dialer`] (Happy Eyeballs over HOST's addresses, `-w` per port), at most a bounded
//! number in flight, results handed over in port order whatever order they finish in.
//! With TLS, a port counts as open once a TLS handshake completes on it. `-u -z` is
//! [`scan_udp`]: an empty datagram per port, closed only when "port unreachable" comes back.
//!
//! The port list (`22`, `20-25`, `22,80,443`, `ssh`) is [`parse_ports`]'s.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::event::Event;
use mio::{Interest, Token};

use super::connector::{Addr, ConnectOptions, DialTokens, Dialer};
use super::event_loop::{Context, EventLoop, Flow, Handler, Signal};
use super::transport::{self, Transport, describe};
use crate::error::{Kind, fail};

/// First token of the probes; probe slot `k` has [`STRIDE`] tokens from `BASE + k·STRIDE`.
const BASE: usize = 1 << 16;
/// Tokens per probe slot: its attempts (one per address, at most `STRIDE - 2`), the
/// connection during a TLS handshake, and its timer.
const STRIDE: usize = 16;
/// How long a TLS handshake may take when `-w` does not say.
const TLS_WAIT: Duration = Duration::from_secs(10);
/// Probes in flight when the command line does not say.
pub const DEFAULT_PROBES: usize = 256;
/// The most ports one scan takes (every TCP port once).
const MAX_PORTS: usize = 65_535;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A connection was made (and, with TLS, its handshake completed).
    Open,
    /// Every address refused.
    Refused,
    /// No answer within `-w`.
    TimedOut,
    /// Another failure, in the user's words.
    Failed(String),
}

/// How to scan.
pub struct ScanOptions<'a> {
    pub connect: &'a ConnectOptions,
    /// Probes in flight at once.
    pub probes: usize,
    /// TLS: a port is open once a handshake completes.
    pub tls: Option<(
        &'a Arc<rustls::ClientConfig>,
        &'a rustls::pki_types::ServerName<'static>,
    )>,
}

/// Parses the ports of `connect -z`: each word a port, a range `20-25`, a service name
/// (`ssh`, from the system's services database), or a comma-separated list of those.
/// Repeats are dropped; the order is the words'. An error names the word.
pub fn parse_ports(words: &[String]) -> Result<Vec<u16>, String> {
    let mut seen = vec![false; usize::from(u16::MAX) + 1];
    let mut ports = Vec::new();
    for item in words.iter().flat_map(|w| w.split(',')) {
        let item = item.trim();
        let (low, high) = match item.split_once('-') {
            Some((a, b)) => (one_port(a)?, one_port(b)?),
            None => {
                let p = one_port(item)?;
                (p, p)
            }
        };
        if low > high {
            return Err(format!(
                "invalid port range '{item}': {low} is above {high}"
            ));
        }
        for p in low..=high {
            if !std::mem::replace(&mut seen[usize::from(p)], true) {
                ports.push(p);
            }
        }
        if ports.len() > MAX_PORTS {
            return Err("too many ports".into());
        }
    }
    if ports.is_empty() {
        return Err("no port given".into());
    }
    Ok(ports)
}

/// One port: a number from 1 to 65535, or a TCP service's name.
fn one_port(text: &str) -> Result<u16, String> {
    let text = text.trim();
    if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        return match text.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!(
                "invalid port '{text}': expected a number from 1 to 65535"
            )),
        };
    }
    crate::sock::service_port(text, "tcp").ok_or_else(|| {
        format!("invalid port '{text}': not a number, a range or a known service name")
    })
}

/// The name of a port of `proto` (`"tcp"`, `"udp"`) in the services database, `*` when it
/// has none (as nc writes it).
pub fn service_name(port: u16, proto: &str) -> String {
    crate::sock::service_name(port, proto).unwrap_or_else(|| "*".into())
}

/// How long a UDP probe waits for a "port unreachable" when `-w` does not say.
pub const UDP_WAIT: Duration = Duration::from_secs(1);

/// `-u -z`: probes each of `ports` on `addr` with an empty datagram, as nc's `-uz` does
/// with its bytes: a port is closed when an ICMP "port unreachable" comes back within
/// `wait`, open otherwise (or when it answers). Unreliable by nature: a firewall that drops
/// quietly makes every port look open. `report` as for [`scan`].
pub fn scan_udp(
    ev: &mut EventLoop,
    addr: IpAddr,
    ports: &[u16],
    probes: usize,
    wait: Duration,
    report: &mut dyn FnMut(u16, &Outcome),
) -> Result<Vec<Outcome>> {
    let mut scan = UdpScan {
        addr,
        ports,
        wait,
        slots: (0..probes.max(1).min(ports.len())).map(|_| None).collect(),
        next: 0,
        results: vec![None; ports.len()],
        reported: 0,
        report,
    };
    let result = ev.run(&mut scan);
    for (_, mut sock, _) in scan.slots.iter_mut().filter_map(Option::take) {
        let _ = ev.registry().deregister(&mut sock);
    }
    result?;
    if scan.reported < ports.len() {
        return Err(fail(Kind::Interrupted, "stopped while scanning"));
    }
    Ok(scan.results.into_iter().flatten().collect())
}

/// The loop handler of [`scan_udp`]: a slot is (the port's place, its socket, when it is
/// taken for open).
struct UdpScan<'a, 'r> {
    addr: IpAddr,
    ports: &'a [u16],
    wait: Duration,
    slots: Vec<Option<(usize, mio::net::UdpSocket, Instant)>>,
    next: usize,
    results: Vec<Option<Outcome>>,
    reported: usize,
    report: &'r mut dyn FnMut(u16, &Outcome),
}

impl UdpScan<'_, '_> {
    /// Sends the probe of the next port from `slot`; its outcome when known at once.
    fn start(&mut self, cx: &mut Context<'_>, slot: usize) -> Option<Outcome> {
        let port = self.ports[self.next];
        let to = SocketAddr::new(self.addr, port);
        let any: SocketAddr = if to.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sent = std::net::UdpSocket::bind(any).and_then(|s| {
            s.set_nonblocking(true)?;
            s.connect(to)?;
            s.send(&[])?;
            Ok(s)
        });
        let mut sock = match sent {
            Ok(s) => mio::net::UdpSocket::from_std(s),
            Err(e) => return Some(udp_outcome(&e)),
        };
        let token = Token(BASE + slot);
        if let Err(e) = cx.registry.register(&mut sock, token, Interest::READABLE) {
            return Some(Outcome::Failed(describe(&e)));
        }
        let until = cx.now + self.wait;
        cx.timers.add(until, token);
        self.slots[slot] = Some((self.next, sock, until));
        None
    }
}

/// What a UDP probe's error says.
fn udp_outcome(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::Refused,
        _ => Outcome::Failed(describe(e)),
    }
}

impl Handler for UdpScan<'_, '_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, _event: &Event) -> Result<()> {
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        let mut buf = [0u8; 512];
        for slot in 0..self.slots.len() {
            while self.slots[slot].is_none() && self.next < self.ports.len() {
                let index = self.next;
                if let Some(outcome) = self.start(cx, slot) {
                    self.results[index] = Some(outcome);
                }
                self.next += 1;
            }
            let Some((index, sock, until)) = &mut self.slots[slot] else {
                continue;
            };
            let outcome = match sock.recv(&mut buf) {
                // An answer: something is there.
                Ok(_) => Some(Outcome::Open),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    (cx.now >= *until).then_some(Outcome::Open)
                }
                Err(e) => Some(udp_outcome(&e)),
            };
            if let Some(outcome) = outcome {
                self.results[*index] = Some(outcome);
                if let Some((_, mut sock, _)) = self.slots[slot].take() {
                    let _ = cx.registry.deregister(&mut sock);
                }
            }
        }
        while let Some(Some(outcome)) = self.results.get(self.reported) {
            (self.report)(self.ports[self.reported], outcome);
            self.reported += 1;
        }
        if self.reported == self.ports.len() {
            return Ok(Flow::Stop);
        }
        // A slot that finished this round starts its next port at once.
        if self.slots.iter().any(Option::is_none) && self.next < self.ports.len() {
            cx.timers.add(cx.now, Token(BASE + self.slots.len()));
        }
        Ok(Flow::Continue)
    }

    fn on_signal(&mut self, _cx: &mut Context<'_>, _signal: Signal) -> Result<Flow> {
        Err(fail(Kind::Interrupted, "interrupted while scanning"))
    }
}

/// Probes `ports` on `addrs` (HOST's addresses, `shown` in messages), calling `report` for
/// each port in the order given as soon as it and every port before it are known. The
/// outcomes, in that order.
pub fn scan(
    ev: &mut EventLoop,
    addrs: &[IpAddr],
    ports: &[u16],
    opts: &ScanOptions<'_>,
    report: &mut dyn FnMut(u16, &Outcome),
) -> Result<Vec<Outcome>> {
    let slots = opts.probes.max(1).min(ports.len());
    let mut scan = Scan {
        addrs,
        ports,
        opts,
        // One port's probe says what it tries (`-v`, as a plain connect); a scan's say
        // nothing themselves: the scan reports.
        quiet: ConnectOptions {
            verbose: if ports.len() == 1 {
                opts.connect.verbose
            } else {
                0
            },
            ..opts.connect.clone()
        },
        slots: (0..slots).map(|_| None).collect(),
        next: 0,
        results: vec![None; ports.len()],
        reported: 0,
        report,
    };
    let result = ev.run(&mut scan);
    for slot in scan.slots.iter_mut().filter_map(Option::take) {
        slot.cancel(ev.registry());
    }
    result?;
    if scan.reported < ports.len() {
        return Err(fail(Kind::Interrupted, "stopped while scanning"));
    }
    Ok(scan.results.into_iter().flatten().collect())
}

/// One port being probed.
struct Probe {
    /// Its place in the port list.
    index: usize,
    stage: Stage,
}

enum Stage {
    Dialing(Dialer),
    /// Connected; the TLS handshake under way until `until`.
    Tls {
        t: Transport,
        until: Instant,
    },
}

impl Probe {
    fn cancel(self, registry: &mio::Registry) {
        match self.stage {
            Stage::Dialing(mut d) => d.cancel(registry),
            Stage::Tls { mut t, .. } => {
                let _ = registry.deregister(t.socket());
            }
        }
    }
}

/// The loop handler of [`scan`].
struct Scan<'a, 'r> {
    addrs: &'a [IpAddr],
    ports: &'a [u16],
    opts: &'a ScanOptions<'a>,
    quiet: ConnectOptions,
    slots: Vec<Option<Probe>>,
    next: usize,
    results: Vec<Option<Outcome>>,
    reported: usize,
    report: &'r mut dyn FnMut(u16, &Outcome),
}

impl Scan<'_, '_> {
    fn tokens(slot: usize) -> DialTokens {
        let first = BASE + slot * STRIDE;
        DialTokens {
            attempts: first,
            max_attempts: STRIDE - 2,
            timer: Token(first + STRIDE - 1),
        }
    }

    fn conn_token(slot: usize) -> Token {
        Token(BASE + slot * STRIDE + STRIDE - 2)
    }

    /// Moves the probe in `slot` on: its outcome once known.
    fn step(&mut self, cx: &mut Context<'_>, slot: usize) -> Option<Outcome> {
        let probe = self.slots[slot].as_mut()?;
        match &mut probe.stage {
            Stage::Dialing(d) => match d.poll(cx, &self.quiet) {
                Ok(None) => None,
                Ok(Some((mut sock, _))) => {
                    // A probe of a loopback port the kernel also picked as its source port
                    // connects to itself (TCP's simultaneous open): no server is there.
                    if let crate::sock::Stream::Tcp(tcp) = &sock
                        && tcp.local_addr().ok() == tcp.peer_addr().ok()
                    {
                        let _ = cx.registry.deregister(&mut sock);
                        return Some(Outcome::Refused);
                    }
                    let Some((config, name)) = self.opts.tls else {
                        let _ = cx.registry.deregister(&mut sock);
                        return Some(Outcome::Open);
                    };
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) =
                        cx.registry
                            .reregister(&mut sock, Self::conn_token(slot), interest)
                    {
                        return Some(Outcome::Failed(describe(&e)));
                    }
                    match transport::tls_over(Transport::Plain(sock), config, name) {
                        Ok(t) => {
                            let until = cx.now + self.quiet.timeout.unwrap_or(TLS_WAIT);
                            cx.timers.add(until, Self::tokens(slot).timer);
                            probe.stage = Stage::Tls { t, until };
                            self.step(cx, slot)
                        }
                        Err(e) => Some(Outcome::Failed(describe(&e))),
                    }
                }
                Err(e) => Some(match e.kind() {
                    io::ErrorKind::ConnectionRefused => Outcome::Refused,
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Outcome::TimedOut,
                    _ => Outcome::Failed(describe(&e)),
                }),
            },
            Stage::Tls { t, until } => match handshake_step(t) {
                Ok(true) => Some(Outcome::Open),
                Ok(false) if cx.now >= *until => Some(Outcome::TimedOut),
                Ok(false) => None,
                Err(e) => Some(Outcome::Failed(describe(&e))),
            },
        }
    }
}

/// Drives a TLS handshake on: `Ok(true)` once it is complete.
pub fn handshake_step(t: &mut Transport) -> io::Result<bool> {
    let mut buf = [0u8; 512];
    while t.is_handshaking() {
        match t.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        match t.read(&mut buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the TLS handshake",
                ));
            }
            // Bytes after the handshake (a server that speaks first): it is complete.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(!t.is_handshaking()),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl Handler for Scan<'_, '_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, event: &Event) -> Result<()> {
        let Some(slot) = event.token().0.checked_sub(BASE).map(|t| t / STRIDE) else {
            return Ok(());
        };
        if let Some(Some(Probe {
            stage: Stage::Dialing(d),
            ..
        })) = self.slots.get_mut(slot)
        {
            d.on_ready(event.token());
        }
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        loop {
            let mut changed = false;
            for slot in 0..self.slots.len() {
                if self.slots[slot].is_none() && self.next < self.ports.len() {
                    let port = self.ports[self.next];
                    let addrs = self
                        .addrs
                        .iter()
                        .map(|ip| Addr::Ip(SocketAddr::new(*ip, port)))
                        .collect();
                    let dialer = Dialer::new(addrs, &self.quiet, Self::tokens(slot));
                    self.slots[slot] = Some(Probe {
                        index: self.next,
                        stage: Stage::Dialing(dialer),
                    });
                    self.next += 1;
                }
                if let Some(outcome) = self.step(cx, slot) {
                    if let Some(probe) = self.slots[slot].take() {
                        self.results[probe.index] = Some(outcome);
                        probe.cancel(cx.registry);
                    }
                    changed = true;
                }
            }
            while let Some(Some(outcome)) = self.results.get(self.reported) {
                (self.report)(self.ports[self.reported], outcome);
                self.reported += 1;
            }
            if self.reported == self.ports.len() {
                return Ok(Flow::Stop);
            }
            // Finished probes make room: start the next ports at once.
            if !changed || self.next >= self.ports.len() {
                return Ok(Flow::Continue);
            }
        }
    }

    fn on_signal(&mut self, _cx: &mut Context<'_>, _signal: Signal) -> Result<Flow> {
        Err(fail(Kind::Interrupted, "interrupted while scanning"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_string()).collect()
    }

    #[test]
    fn ports_ranges_lists_and_names() {
        assert_eq!(
            parse_ports(&words(&["20-22", "80,443", "21"])),
            Ok(vec![20, 21, 22, 80, 443])
        );
        assert_eq!(
            parse_ports(&words(&["1-65535"])).map(|p| p.len()),
            Ok(65_535)
        );
        assert!(parse_ports(&words(&["0"])).unwrap_err().contains("'0'"));
        assert!(
            parse_ports(&words(&["25-20"]))
                .unwrap_err()
                .contains("above")
        );
        assert!(parse_ports(&words(&["70000"])).is_err());
        assert!(parse_ports(&words(&["no-such-service-here"])).is_err());
        assert!(parse_ports(&words(&[""])).is_err());
    }
}
