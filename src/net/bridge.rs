//! Bytes between two connected sockets, one direction at a time, with TCP's half-close
//! (DESIGN.md §2 applied to a pair of sockets): what the source sends reaches the
//! destination; the source's end becomes the destination's write shutdown (TLS:
//! close_notify first) once every byte went out; an error on either side is the caller's to
//! turn into a reset of the other.
//!
//! Plain to plain, a bulk stream moves by `splice` through a pipe, never through our memory
//! (a direction turns to splicing once a read fills the whole buffer: for a few short
//! messages the two pipes would cost more than the copies); anything with TLS on one side
//! copies through one bounded buffer. Either way a destination that does not
//! read stops the reading of its source: memory stays bounded and only this pair stalls.

use std::io;

use super::splice::{PipeError, SocketPipe};
use super::transport::{Edge, Transport, would_block};

/// Bytes read per call when copying, and so the most a direction holds.
pub const BUFFER: usize = 64 * 1024;

/// Which side of a direction failed.
#[derive(Debug)]
pub enum Failure {
    /// Reading the source.
    Source(io::Error),
    /// Writing to (or shutting) the destination.
    Destination(io::Error),
}

/// One direction of a pair: source → destination.
#[derive(Default)]
pub struct Direction {
    /// Bytes read that the destination did not take yet (at most one read's worth).
    held: Vec<u8>,
    /// How many of `held` went out.
    start: usize,
    pipe: Option<SocketPipe>,
    /// Splicing failed once (no pipes left, say): copy from then on.
    no_splice: bool,
    /// A read filled the whole buffer: a bulk stream, worth splicing.
    bulk: bool,
    /// What the source's readiness events said ([`wake`](Self::wake)).
    edge: Edge,
    /// The source ended its stream.
    eof: bool,
    /// The destination's write side is shut (after every byte).
    shut: bool,
    /// Bytes delivered to the destination.
    bytes: u64,
}

impl Direction {
    /// A direction that first delivers `data`: bytes already read from the source (what a
    /// proxy's client sent after its request).
    pub fn holding(data: Vec<u8>) -> Direction {
        Direction {
            held: data,
            ..Direction::default()
        }
    }

    /// Moves what can move without blocking; says whether anything happened. `scratch` is
    /// a read buffer the caller shares among all its directions ([`BUFFER`] bytes is right).
    pub fn pump(
        &mut self,
        src: &mut Transport,
        dst: &mut Transport,
        scratch: &mut [u8],
    ) -> Result<bool, Failure> {
        // A trace must see the bytes, which splicing keeps from us.
        let plain = matches!((&*src, &*dst), (Transport::Plain(_), Transport::Plain(_)))
            && !super::trace::enabled();
        if plain && self.bulk && self.pipe.is_none() && !self.no_splice {
            // No pipe to be had (out of descriptors, say): copy, in this very call.
            match SocketPipe::new() {
                Ok(p) => self.pipe = Some(p),
                Err(_) => self.no_splice = true,
            }
        }
        let can_splice = plain && !self.no_splice;
        let moved = match (&*src, &*dst) {
            (Transport::Plain(s), Transport::Plain(d))
                if can_splice && self.bulk && self.held.is_empty() =>
            {
                self.splice(s, d)?
            }
            _ => self.copy(src, dst, scratch, can_splice)?,
        };
        if let Err(e) = dst.flush()
            && !would_block(&e)
        {
            return Err(Failure::Destination(e));
        }
        if self.eof && self.pending() == 0 && !self.shut {
            dst.shutdown_write().map_err(Failure::Destination)?;
            self.shut = true;
            return Ok(true);
        }
        Ok(moved)
    }

    /// The source socket reported readiness (`closed`: its side is closed): read it again.
    pub fn wake(&mut self, closed: bool) {
        self.edge.wake(closed);
    }

    /// Whether this direction is over: the source ended and the destination was shut after
    /// the last byte.
    pub fn is_done(&self) -> bool {
        self.shut
    }

    /// Bytes delivered so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes taken from the source and not yet delivered.
    pub fn pending(&self) -> usize {
        self.held.len() - self.start + self.pipe.as_ref().map_or(0, SocketPipe::pending)
    }

    fn splice(
        &mut self,
        src: &crate::sock::Stream,
        dst: &crate::sock::Stream,
    ) -> Result<bool, Failure> {
        if self.eof {
            return Ok(false);
        }
        let Some(pipe) = &mut self.pipe else {
            return Ok(false);
        };
        let moved = pipe.pump(src, dst).map_err(|e| match e {
            PipeError::Source(e) => Failure::Source(e),
            PipeError::Destination(e) => Failure::Destination(e),
        })?;
        self.bytes += moved.delivered as u64;
        self.eof = moved.eof;
        Ok(moved.delivered > 0 || moved.eof)
    }

    /// Copies: reads into the caller's `scratch` buffer, sends what the destination takes at
    /// once and keeps only the rest (so a short message costs no allocation). Returns early
    /// once nothing is held and the stream turned out to be bulk, so that the caller splices
    /// from then on (`can_splice`).
    fn copy(
        &mut self,
        src: &mut Transport,
        dst: &mut Transport,
        scratch: &mut [u8],
        can_splice: bool,
    ) -> Result<bool, Failure> {
        let mut moved = false;
        loop {
            if self.start < self.held.len() {
                let n = send(dst, &self.held[self.start..])?;
                self.start += n;
                self.bytes += n as u64;
                moved |= n > 0;
                if self.start < self.held.len() {
                    return Ok(moved);
                }
            }
            // Nothing held: an idle or fast pair keeps no buffer.
            (self.held, self.start) = (Vec::new(), 0);
            if self.eof || self.edge.is_drained() || (can_splice && self.bulk) {
                return Ok(moved);
            }
            let n = match src.read(scratch) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(true);
                }
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(moved),
                Err(e) => return Err(Failure::Source(e)),
            };
            moved = true;
            self.bulk |= n == scratch.len();
            self.edge.read(src, n, scratch.len());
            let sent = send(dst, &scratch[..n])?;
            self.bytes += sent as u64;
            if sent < n {
                self.held.extend_from_slice(&scratch[sent..n]);
                return Ok(moved);
            }
        }
    }
}

/// Writes what `dst` takes of `data` now.
fn send(dst: &mut Transport, data: &[u8]) -> Result<usize, Failure> {
    let mut done = 0;
    while done < data.len() {
        match dst.write(&data[done..]) {
            Ok(n) => done += n,
            Err(e) if would_block(&e) => break,
            Err(e) => return Err(Failure::Destination(e)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener};

    /// A connected pair of sockets: (ours as a Transport, the far end as std).
    fn pair() -> (Transport, std::net::TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (far, _) = l.accept().unwrap();
        near.set_nonblocking(true).unwrap();
        (
            Transport::Plain(mio::net::TcpStream::from_std(near).into()),
            far,
        )
    }

    fn run_until_done(d: &mut Direction, src: &mut Transport, dst: &mut Transport) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !d.is_done() {
            assert!(std::time::Instant::now() < deadline, "never done");
            // No event loop here: every turn counts as a readiness event.
            d.wake(false);
            if d.pump(src, dst, &mut [0u8; BUFFER])
                .map_err(|_| "failed")
                .unwrap()
            {
                continue;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn the_sources_end_becomes_the_destinations_shutdown_after_every_byte() {
        for copy in [false, true] {
            let (mut src, mut src_far) = pair();
            let (mut dst, mut dst_far) = pair();
            let data = vec![7u8; 300_000];
            let writer = {
                let data = data.clone();
                std::thread::spawn(move || {
                    src_far.write_all(&data).unwrap();
                    src_far.shutdown(Shutdown::Write).unwrap();
                    src_far
                })
            };
            let mut d = Direction {
                no_splice: copy,
                ..Direction::default()
            };
            let reader = std::thread::spawn(move || {
                let mut got = Vec::new();
                dst_far.read_to_end(&mut got).unwrap();
                got
            });
            run_until_done(&mut d, &mut src, &mut dst);
            let _keep = writer.join().unwrap();
            assert_eq!(reader.join().unwrap(), data, "copy: {copy}");
            assert_eq!(d.bytes(), data.len() as u64);
        }
    }
}
