//! A request body sent from a file or stdin as the socket takes it (`-T FILE`, `-T -`,
//! `--data-binary @FILE`), never held whole in memory: a regular file of [`STREAM_FROM`] or
//! more goes with its length (by `sendfile` into a plain socket), a smaller one is read first
//! (so a `/proc` or `/sys` file, whose size says nothing, goes as it reads), and anything
//! else (a pipe, a FIFO, a terminal) with chunked encoding, and only once: it cannot be read
//! again for a retry or a redirect. The reading is `StdinSource`'s, the one stdin of the
//! sessions: a file read on the loop, a pipe read by its thread.

use std::fs::File;
use std::io::{self, IsTerminal as _, Read as _};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};

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
    /// A file (`-T FILE`, `--data-binary @FILE`): a regular file is opened again for every
    /// request that sends it (a retry, a 307 or 308 redirect).
    File(PathBuf),
    /// Stdin (`-T -`).
    Stdin,
}

/// Regular files this large or larger are streamed; smaller ones are read whole first.
pub const STREAM_FROM: u64 = 1 << 20;

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
    /// Opens the body for one request. `spent` says a body that can be read only once (a
    /// pipe, stdin that is not a regular file) was read by an earlier request of this run.
    /// `chunked`: the user asked for chunked encoding (`-H 'Transfer-Encoding: chunked'`);
    /// `http10`: the request is HTTP/1.0, which has no chunked encoding.
    pub fn open(
        ev: &mut EventLoop,
        from: &From,
        spent: &mut bool,
        quiet: bool,
        chunked: bool,
        http10: bool,
    ) -> Result<Self> {
        let (file, name) = match from {
            From::File(path) => (open_file(path)?, path.display().to_string()),
            From::Stdin => {
                let stdin = std::io::stdin()
                    .as_fd()
                    .try_clone_to_owned()
                    .tag(Kind::File, "reading the upload from stdin")?;
                (File::from(stdin), "stdin".to_string())
            }
        };
        let reading = |e: io::Error| {
            anyhow::Error::from(e).context(crate::error::Tagged::new(
                Kind::File,
                format!("reading the upload {name}"),
            ))
        };
        let meta = file.metadata().map_err(reading)?;
        let regular = meta.file_type().is_file();
        // Stdin shares its offset with whoever else reads it: once, even from a file.
        let once = !regular || *from == From::Stdin;
        if once && std::mem::replace(spent, true) {
            return Err(fail(
                Kind::Runtime,
                format!(
                    "cannot send the upload {name} again (a retry or a 307/308 redirect needs \
                     it twice, and it can be read once): upload a regular file"
                ),
            ));
        }
        if regular && meta.len() < STREAM_FROM && !chunked {
            // Small: read whole, so that the length sent is the bytes read.
            let mut data = Vec::new();
            let mut file = file;
            file.read_to_end(&mut data).map_err(reading)?;
            return Ok(Self::in_memory(data, name));
        }
        // A pipe is read by the source's thread: its splice would leave no bytes to frame
        // as chunks. (A regular file may go by sendfile: `zero_copy_into`.)
        let source = StdinSource::from_file(ev, file, false, false)?;
        let length = match source.size() {
            Some(n) if !chunked => Streamed::Length(n),
            _ => Streamed::Chunked,
        };
        if length == Streamed::Chunked && http10 {
            return Err(fail(
                Kind::Usage,
                format!(
                    "the upload {name} has no length known in advance, and HTTP/1.0 has no \
                     chunked encoding: drop --http1.0 or upload a regular file"
                ),
            ));
        }
        let progress = (!quiet && io::stderr().is_terminal()).then(|| {
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

    /// A body read whole already: sent as it is, with its length.
    fn in_memory(data: Vec<u8>, name: String) -> Upload {
        let n = data.len() as u64;
        Upload {
            source: StdinSource::closed(),
            name,
            length: Streamed::Length(n),
            sent: n,
            frame: data,
            frame_sent: 0,
            last_framed: false,
            zero_copy: false,
            progress: None,
        }
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
                    Ok(n) => {
                        self.frame_sent += n;
                        if let Some(bar) = &self.progress {
                            bar.inc(n as u64);
                        }
                    }
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
                            Ok(n) => {
                                self.advance(n);
                                if let Some(bar) = &self.progress {
                                    bar.inc(n as u64);
                                }
                            }
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

/// Opens an upload's file without waiting: a FIFO with no writer yet would block the loop's
/// thread in `open` (SIGINT included); its reads then block again, on the reader thread.
fn open_file(path: &Path) -> Result<File> {
    use rustix::fs::{Mode, OFlags};
    let what = || format!("reading the upload {}", path.display());
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
    .tag(Kind::File, what())?;
    rustix::fs::fcntl_setfl(&fd, OFlags::empty())
        .map_err(io::Error::from)
        .tag(Kind::File, what())?;
    Ok(File::from(fd))
}
