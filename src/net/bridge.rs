//! Bytes between two connected sockets, one direction at a time, with TCP's half-close
//! (DESIGN.md §2 applied to a pair of sockets): what the source sends reaches the
//! destination; the source's end becomes the destination's write shutdown (TLS:
//! close_notify first) once every byte went out; an error on either side is the caller's to
//! turn into a reset of the other.
//!
//! Plain to plain moves by `splice` through a pipe, never through our memory; anything with
//! TLS on one side copies through one bounded buffer. Either way a destination that does not
//! read stops the reading of its source: memory stays bounded and only this pair stalls.

use std::io;

use super::splice::{PipeError, SocketPipe};
use super::transport::{Transport, would_block};

/// Bytes a direction holds between its two sockets when it copies.
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
    /// The copy buffer (allocated while bytes flow, released when idle).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pipe: Option<SocketPipe>,
    /// Splicing failed once (no pipes left, say): copy from then on.
    no_splice: bool,
    /// The source ended its stream.
    eof: bool,
    /// The destination's write side is shut (after every byte).
    shut: bool,
    /// Bytes delivered to the destination.
    bytes: u64,
}

impl Direction {
    /// Moves what can move without blocking; says whether anything happened.
    pub fn pump(&mut self, src: &mut Transport, dst: &mut Transport) -> Result<bool, Failure> {
        let moved = match (&*src, &*dst) {
            (Transport::Plain(s), Transport::Plain(d)) if !self.no_splice => self.splice(s, d)?,
            _ => self.copy(src, dst)?,
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
        self.end - self.start + self.pipe.as_ref().map_or(0, SocketPipe::pending)
    }

    fn splice(
        &mut self,
        src: &mio::net::TcpStream,
        dst: &mio::net::TcpStream,
    ) -> Result<bool, Failure> {
        if self.eof {
            return Ok(false);
        }
        if self.pipe.is_none() {
            match SocketPipe::new() {
                Ok(p) => self.pipe = Some(p),
                Err(_) => {
                    self.no_splice = true;
                    return Ok(false);
                }
            }
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

    fn copy(&mut self, src: &mut Transport, dst: &mut Transport) -> Result<bool, Failure> {
        let mut moved = false;
        loop {
            while self.start < self.end {
                match dst.write(&self.buf[self.start..self.end]) {
                    Ok(n) => {
                        self.start += n;
                        self.bytes += n as u64;
                        moved = true;
                    }
                    Err(e) if would_block(&e) => return Ok(moved),
                    Err(e) => return Err(Failure::Destination(e)),
                }
            }
            if self.eof {
                return Ok(moved);
            }
            if self.buf.is_empty() {
                self.buf.resize(BUFFER, 0);
            }
            match src.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    self.buf = Vec::new();
                    return Ok(true);
                }
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                    moved = true;
                }
                Err(e) if would_block(&e) => {
                    // Idle: an idle pair holds no buffer.
                    self.start = 0;
                    self.end = 0;
                    self.buf = Vec::new();
                    return Ok(moved);
                }
                Err(e) => return Err(Failure::Source(e)),
            }
        }
    }
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
        (Transport::Plain(mio::net::TcpStream::from_std(near)), far)
    }

    fn run_until_done(d: &mut Direction, src: &mut Transport, dst: &mut Transport) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !d.is_done() {
            assert!(std::time::Instant::now() < deadline, "never done");
            if d.pump(src, dst).map_err(|_| "failed").unwrap() {
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
