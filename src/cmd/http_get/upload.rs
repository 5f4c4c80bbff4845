//! A request body sent from a file or stdin as the socket takes it (`-T FILE`, `-T -`,
//! `--data-binary @FILE`), never held whole in memory: a regular file goes with its length
//! (by `sendfile` into a plain socket), anything else (stdin from a pipe or a terminal) with
//! chunked encoding. The reading is `StdinSource`'s, the one stdin of the sessions: a file
//! read on the loop, a pipe spliced or read by its thread.

use std::fs::File;
use std::io::{self, IsTerminal as _};
use std::path::PathBuf;

use anyhow::Result;
use indicatif::ProgressBar;

use crate::error::{Kind, Tag as _, fail};
use crate::http::client::Streamed;
use crate::net::EventLoop;
use crate::net::stdin::StdinSource;
use crate::net::transport::{Transport, would_block};

/// Where a streamed body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// A file (`-T FILE`, `--data-binary @FILE`): opened again for every request that sends
    /// it (a retry, a 307 or 308 redirect).
    File(PathBuf),
    /// Stdin (`-T -`): it can be sent only once.
    Stdin,
}

/// Bytes sent into a plain socket by one `sendfile`, at most; below this much left of a
/// known length the bytes are read and written, so that not one byte past it goes out.
const SENDFILE_AT_LEAST: u64 = 1 << 20;

/// A body being sent.
pub struct Upload {
    source: StdinSource,
    /// What it is called in messages.
    name: String,
    length: Streamed,
    sent: u64,
    /// A chunk with its framing (chunked), or the bytes of the last read, being written.
    frame: Vec<u8>,
    frame_sent: usize,
    /// The last chunk (`0\r\n\r\n`) is in `frame`.
    last_framed: bool,
    /// Whether `sendfile` or `splice` may be used: a plain socket and no trace.
    zero_copy: bool,
    progress: Option<ProgressBar>,
}

impl Upload {
    /// Opens the body for one request. `stdin_used` says stdin was already sent by an
    /// earlier request of this run: it cannot be read again.
    pub fn open(
        ev: &mut EventLoop,
        from: &From,
        stdin_used: &mut bool,
        silent: bool,
    ) -> Result<Self> {
        // A pipe is read by the source's thread: its splice would leave no bytes to frame
        // as chunks. (A regular file may go by sendfile: `zero_copy_into`.)
        let (source, name) = match from {
            From::File(path) => {
                let file = File::open(path)
                    .tag(Kind::File, format!("reading the upload {}", path.display()))?;
                let source = StdinSource::from_file(ev, file, false, false)?;
                (source, path.display().to_string())
            }
            From::Stdin if *stdin_used => {
                return Err(fail(
                    Kind::Runtime,
                    "cannot send the body from stdin again (a retry or a 307/308 redirect \
                     needs it twice): upload from a file with -T FILE",
                ));
            }
            From::Stdin => {
                *stdin_used = true;
                (StdinSource::start(ev, false, false)?, "stdin".to_string())
            }
        };
        let length = match source.size() {
            Some(n) => Streamed::Length(n),
            None => Streamed::Chunked,
        };
        let progress = (!silent && io::stderr().is_terminal()).then(|| {
            super::output::bar(match length {
                Streamed::Length(n) => Some(n),
                Streamed::Chunked => None,
            })
        });
        Ok(Upload {
            source,
            name,
            length,
            sent: 0,
            frame: Vec::new(),
            frame_sent: 0,
            last_framed: false,
            zero_copy: false,
            progress,
        })
    }

    /// Sends a regular file with sendfile when `sock` is a plain socket (and no trace
    /// wants to see the bytes).
    pub fn zero_copy_into(&mut self, sock: &Transport) {
        self.zero_copy = matches!(sock, Transport::Plain(_)) && !crate::net::trace::enabled();
    }

    /// How the request announces the body.
    pub fn length(&self) -> Streamed {
        self.length
    }

    /// Sends what the socket takes and the source has: `Ok(true)` once the whole body is
    /// out, `Ok(false)` when the socket or the source must wait. The outer error is the
    /// source's (a file that cannot be read, or shrank), the inner one the socket's.
    pub fn send(&mut self, sock: &mut Transport) -> Result<io::Result<bool>> {
        loop {
            if self.frame_sent < self.frame.len() {
                match sock.write(&self.frame[self.frame_sent..]) {
                    Ok(n) => self.frame_sent += n,
                    Err(e) if would_block(&e) => return Ok(Ok(false)),
                    Err(e) => return Ok(Err(e)),
                }
                continue;
            }
            if self.last_framed {
                self.done();
                return Ok(Ok(true));
            }
            match self.length {
                Streamed::Length(total) if self.sent == total => {
                    self.done();
                    return Ok(Ok(true));
                }
                Streamed::Length(total)
                    if self.zero_copy && total - self.sent >= SENDFILE_AT_LEAST =>
                {
                    if let Some(r) = self.source.zero_copy_to(sock.socket()) {
                        match r {
                            Ok(0) => return Err(self.shrank(total)),
                            Ok(n) => self.advance(n),
                            Err(e) if would_block(&e) => return Ok(Ok(false)),
                            Err(e) => return Ok(Err(e)),
                        }
                        continue;
                    }
                }
                _ => {}
            }
            let data = self
                .source
                .peek()
                .tag(Kind::File, format!("reading the upload {}", self.name))?;
            if data.is_empty() {
                if !self.source.is_done() {
                    // Stdin has nothing yet: its thread wakes the loop.
                    return Ok(Ok(false));
                }
                match self.length {
                    Streamed::Length(total) => return Err(self.shrank(total)),
                    Streamed::Chunked => {
                        self.frame.clear();
                        self.frame.extend_from_slice(b"0\r\n\r\n");
                        self.frame_sent = 0;
                        self.last_framed = true;
                        continue;
                    }
                }
            }
            let take = match self.length {
                Streamed::Length(total) => data.len().min((total - self.sent) as usize),
                Streamed::Chunked => data.len(),
            };
            self.frame.clear();
            if self.length == Streamed::Chunked {
                self.frame
                    .extend_from_slice(format!("{take:x}\r\n").as_bytes());
            }
            self.frame.extend_from_slice(&data[..take]);
            if self.length == Streamed::Chunked {
                self.frame.extend_from_slice(b"\r\n");
            }
            self.frame_sent = 0;
            self.source.consume(take);
            self.advance(take);
        }
    }

    fn advance(&mut self, n: usize) {
        self.sent += n as u64;
        if let Some(bar) = &self.progress {
            bar.inc(n as u64);
        }
    }

    fn done(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
    }

    /// The file ended before the length the request announced.
    fn shrank(&self, total: u64) -> anyhow::Error {
        fail(
            Kind::File,
            format!(
                "the upload {} ended after {} of its {total} bytes: it changed while being sent",
                self.name, self.sent
            ),
        )
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.done();
    }
}
