//! Bytes waiting to be sent on one connection of a [`Server`](super::Server). A
//! service answers into it and stops reading its client while it holds too much, so a
//! client that does not read stops being read and memory stays bounded.

use std::io;

use super::link::Link;
use crate::net::transport::would_block;

/// An outbox whose buffer grew past this is freed once drained, so idle clients cost little.
const KEEP_CAPACITY: usize = 16 * 1024;

/// Bytes to send, from `sent` on.
#[derive(Debug, Default)]
pub struct Outbox {
    buf: Vec<u8>,
    sent: usize,
}

impl Outbox {
    /// Queues bytes to send.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Sends `data` straight away when nothing waits before it (no copy), and queues what
    /// the socket does not take.
    pub fn send(&mut self, link: &mut Link, data: &[u8]) -> io::Result<()> {
        if !self.is_empty() {
            self.push(data);
            return Ok(());
        }
        match link.write(data) {
            Ok(n) => self.push(&data[n..]),
            Err(e) if would_block(&e) => self.push(data),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The buffer to append to directly (an encoder writing in place).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes queued and not yet sent.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Whether everything queued has been sent.
    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Sends what the socket takes; says whether any byte went.
    pub fn write_to(&mut self, link: &mut Link) -> io::Result<bool> {
        let mut moved = false;
        while self.sent < self.buf.len() {
            match link.write(&self.buf[self.sent..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.sent += n;
                    moved = true;
                }
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.buf.len() && self.sent > 0 {
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
            self.sent = 0;
        }
        Ok(moved)
    }
}
