//! Stdin for the event loop. epoll refuses regular files and /dev/null, and setting
//! O_NONBLOCK on an inherited descriptor would change it for the shell too, so one thread
//! does blocking reads of large chunks and hands them to the loop through a bounded channel,
//! waking it with a `mio::Waker`. The bound gives backpressure: when the loop cannot send,
//! the thread stops reading.
//!
//! When stdin is a regular file (`nicksock connect host port < disk.iso`) no thread is
//! needed: a file never blocks, and a plain socket can take it with `sendfile(2)`, straight
//! from the page cache without passing through our memory. When stdin is a pipe or FIFO
//! (`tar c . | nicksock connect …`) and the socket is plain, no thread either: the pipe is
//! watched on the loop and its pages are spliced into the socket (`splice(2)` with
//! SPLICE_F_NONBLOCK, which never blocks on the pipe without setting O_NONBLOCK on a
//! descriptor we share with the shell).

use std::fs::File;
use std::io::{self, IsTerminal, Read, Seek};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::FileTypeExt;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

use anyhow::{Context, Result};
use mio::unix::SourceFd;
use mio::{Interest, Waker};
use rustix::io::Errno;
use rustix::pipe::{SpliceFlags, splice};

use super::event_loop::{EventLoop, STDIN_TOKEN};

/// Bytes asked for per read of stdin, at most.
pub const STDIN_CHUNK: usize = 256 * 1024;
/// Bytes asked for by the first read of stdin; each read that fills its buffer doubles it.
const FIRST_STDIN_READ: usize = 16 * 1024;
/// Bytes handed to one sendfile or splice call.
const SENDFILE_CHUNK: usize = 1 << 20;
/// The size asked for a pipe on stdin (the unprivileged limit, `/proc/sys/fs/pipe-max-size`,
/// is 1 MiB by default).
const STDIN_PIPE_SIZE: usize = 1 << 20;
/// Chunks that may wait in the channel before the reader blocks.
const CHANNEL_DEPTH: usize = 4;

/// What the stdin thread read.
#[derive(Debug)]
pub enum Input {
    /// Some bytes (never empty).
    Data(Vec<u8>),
    /// End of input.
    Eof,
}

/// Stdin, read by a thread (or straight from a regular file), with the bytes not yet
/// delivered.
pub struct StdinSource {
    /// Stdin when it is a regular file: read on the loop, or sent with sendfile.
    file: Option<File>,
    /// sendfile refused this file: fall back to reading it.
    sendfile_failed: bool,
    /// Stdin when it is a pipe spliced into a plain socket, watched on the loop.
    pipe: Option<File>,
    rx: Option<Receiver<io::Result<Input>>>,
    recycle: Option<SyncSender<Vec<u8>>>,
    /// Bytes read from stdin and not yet sent.
    pending: Vec<u8>,
    /// How many bytes of `pending` were sent.
    sent: usize,
    eof: bool,
    crlf: bool,
    /// The last byte of the previous chunk (`-C`: an LF after a CR needs no CR).
    before_chunk: u8,
    /// Stdin is a terminal: a person typing, so nothing queued can be lost.
    terminal: bool,
    /// How many bytes a regular-file stdin holds from where we start reading.
    size: Option<u64>,
    _waker: Option<Arc<Waker>>,
}

impl StdinSource {
    /// Starts reading stdin; `crlf` turns each LF into CRLF (`connect -C`); `zero_copy` says
    /// the socket is plain, so a pipe may be spliced into it.
    pub fn start(ev: &mut EventLoop, crlf: bool, zero_copy: bool) -> Result<Self> {
        let stdin = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("opening stdin")?;
        Self::from_file(ev, File::from(stdin), crlf, zero_copy)
    }

    /// Reads `stdin`, whatever it is (a file, a pipe, a terminal, a socket), as stdin.
    pub fn from_file(ev: &mut EventLoop, stdin: File, crlf: bool, zero_copy: bool) -> Result<Self> {
        if let Ok(meta) = stdin.metadata()
            && meta.file_type().is_file()
        {
            // `(head -c 10; nicksock …) < file` starts part-way through the file.
            let start = (&stdin).stream_position().unwrap_or(0);
            return Ok(StdinSource {
                file: Some(stdin),
                size: Some(meta.len().saturating_sub(start)),
                ..Self::empty(crlf, false)
            });
        }
        if zero_copy
            && !crlf
            && stdin.metadata().is_ok_and(|m| m.file_type().is_fifo())
            && ev
                .registry()
                .register(
                    &mut SourceFd(&stdin.as_raw_fd()),
                    STDIN_TOKEN,
                    Interest::READABLE,
                )
                .is_ok()
        {
            // A larger pipe lets the writer run ahead: fewer switches between it and us per
            // MiB. It only grows the pipe we share with the writer; failure changes nothing.
            let _ = rustix::pipe::fcntl_setpipe_size(&stdin, STDIN_PIPE_SIZE);
            return Ok(StdinSource {
                pipe: Some(stdin),
                _waker: Some(ev.waker()?),
                ..Self::empty(crlf, false)
            });
        }
        if is_dev_null(&stdin) {
            // A background job's usual stdin: at its end already, no reader needed.
            return Ok(Self::empty(crlf, true));
        }
        let terminal = stdin.is_terminal();
        let waker = ev.waker()?;
        let (tx, rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        let (recycle_tx, recycle_rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        let thread_waker = Arc::clone(&waker);
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || pump(stdin, &tx, &recycle_rx, &thread_waker))
            .context("starting the stdin reader")?;
        Ok(StdinSource {
            rx: Some(rx),
            recycle: Some(recycle_tx),
            terminal,
            _waker: Some(waker),
            ..Self::empty(crlf, false)
        })
    }

    /// Stdin for a session: read it, or (`--recv-only`) never touch it.
    pub fn open(ev: &mut EventLoop, recv_only: bool, crlf: bool, zero_copy: bool) -> Result<Self> {
        if recv_only {
            Ok(Self::closed())
        } else {
            // A trace must see the bytes, which sendfile and splice keep from us.
            Self::start(ev, crlf, zero_copy && !super::trace::enabled())
        }
    }

    /// A source that is already at its end (`--recv-only`): nothing is read.
    pub fn closed() -> Self {
        Self::empty(false, true)
    }

    /// A source with nothing to read from yet.
    fn empty(crlf: bool, eof: bool) -> Self {
        StdinSource {
            file: None,
            sendfile_failed: false,
            pipe: None,
            rx: None,
            recycle: None,
            pending: Vec::new(),
            sent: 0,
            eof,
            crlf,
            before_chunk: 0,
            terminal: false,
            size: None,
            _waker: None,
        }
    }

    /// Whether stdin is a terminal (a person typing).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// How many bytes stdin will give in all, where that is known: a regular file, sent as
    /// it is (not through `-C`).
    pub fn size(&self) -> Option<u64> {
        self.size.filter(|_| !self.crlf)
    }

    /// The bytes waiting to be sent, taking the next chunk from the thread when none wait.
    /// Empty when nothing is there yet or at the end.
    pub fn peek(&mut self) -> io::Result<&[u8]> {
        if self.sent == self.pending.len() && !self.eof {
            self.refill()?;
        }
        Ok(&self.pending[self.sent..])
    }

    /// Marks `n` bytes of [`peek`](Self::peek) as sent.
    pub fn consume(&mut self, n: usize) {
        self.sent += n;
    }

    /// Whether stdin ended and every byte was consumed.
    pub fn is_done(&self) -> bool {
        self.eof && self.sent == self.pending.len()
    }

    /// Whether stdin has ended (bytes may still wait).
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Sends stdin straight into the plain socket `sock` (sendfile from a file, splice from a
    /// pipe): `None` when stdin is neither (or bytes already wait in our buffer, or LFs need
    /// CRLF), else the bytes sent, 0 at the end of stdin, `WouldBlock` when the pipe is empty
    /// or the socket full.
    pub fn zero_copy_to(&mut self, sock: &impl AsFd) -> Option<io::Result<usize>> {
        if let Some(pipe) = &self.pipe {
            let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
            return match splice(pipe, None, sock, None, SENDFILE_CHUNK, flags) {
                Ok(0) => {
                    self.eof = true;
                    Some(Ok(0))
                }
                // This kernel cannot splice here: a thread reads the pipe from now on, and
                // wakes the loop when it has a chunk.
                Err(Errno::INVAL | Errno::NOSYS) => Some(
                    self.fall_back_to_thread()
                        .and_then(|()| Err(io::ErrorKind::WouldBlock.into())),
                ),
                other => Some(other.map_err(io::Error::from)),
            };
        }
        let file = self.file.as_ref()?;
        if self.crlf || self.sendfile_failed || self.sent < self.pending.len() {
            return None;
        }
        match rustix::fs::sendfile(sock, file, None, SENDFILE_CHUNK) {
            Ok(0) => {
                self.eof = true;
                Some(Ok(0))
            }
            // Some files (in /proc, say) cannot be sent this way: read them instead.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                self.sendfile_failed = true;
                None
            }
            other => Some(other.map_err(io::Error::from)),
        }
    }

    /// Moves a pipe that cannot be spliced to the reader thread.
    fn fall_back_to_thread(&mut self) -> io::Result<()> {
        let (Some(pipe), Some(waker)) = (self.pipe.take(), self._waker.clone()) else {
            return Ok(());
        };
        let (tx, rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        let (recycle_tx, recycle_rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        let thread_waker = Arc::clone(&waker);
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || pump(pipe, &tx, &recycle_rx, &thread_waker))?;
        self.rx = Some(rx);
        self.recycle = Some(recycle_tx);
        // The thread's first chunk wakes the loop; until then there is nothing to send.
        let _ = waker.wake();
        Ok(())
    }

    /// Takes the next chunk (from the file or the thread) into `pending`, with `-C`'s
    /// CRLF translation.
    fn refill(&mut self) -> io::Result<()> {
        let fresh = if self.file.is_some() {
            self.read_file()?
        } else {
            self.take_from_thread()?
        };
        if fresh && self.crlf {
            let last = self.pending.last().copied();
            self.pending = lf_to_crlf(self.before_chunk, &self.pending);
            // A CR at the end of this chunk pairs with an LF at the start of the next.
            self.before_chunk = last.unwrap_or(self.before_chunk);
        }
        Ok(())
    }

    /// Reads the next chunk of a regular-file stdin; says whether bytes came.
    fn read_file(&mut self) -> io::Result<bool> {
        let Some(file) = &mut self.file else {
            return Ok(false);
        };
        self.pending.resize(STDIN_CHUNK, 0);
        let n = loop {
            match file.read(&mut self.pending) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = n.inspect_err(|_| self.eof = true)?;
        self.pending.truncate(n);
        self.sent = 0;
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Takes a chunk the reader thread sent, if one is there; says whether bytes came.
    fn take_from_thread(&mut self) -> io::Result<bool> {
        let Some(rx) = &self.rx else {
            self.eof = true;
            return Ok(false);
        };
        match rx.try_recv() {
            Ok(Ok(Input::Data(data))) => {
                let old = std::mem::replace(&mut self.pending, data);
                self.sent = 0;
                if let Some(recycle) = &self.recycle {
                    let _ = recycle.try_send(old);
                }
                Ok(true)
            }
            Ok(Ok(Input::Eof)) | Err(TryRecvError::Disconnected) => {
                self.eof = true;
                Ok(false)
            }
            Ok(Err(err)) => {
                self.eof = true;
                Err(err)
            }
            Err(TryRecvError::Empty) => Ok(false),
        }
    }
}

fn pump(
    mut stdin: File,
    tx: &SyncSender<io::Result<Input>>,
    recycle: &Receiver<Vec<u8>>,
    waker: &Waker,
) {
    // Reads start small and grow while they come back full: a person typing or a trickle
    // never costs a large buffer, a fast pipe soon reads whole chunks.
    let mut size = FIRST_STDIN_READ;
    loop {
        let mut buf = recycle.try_recv().unwrap_or_default();
        buf.resize(size, 0);
        let msg = match stdin.read(&mut buf) {
            Ok(0) => Ok(Input::Eof),
            Ok(n) => {
                if n == size {
                    size = (size * 2).min(STDIN_CHUNK);
                }
                buf.truncate(n);
                Ok(Input::Data(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let last = !matches!(msg, Ok(Input::Data(_)));
        if tx.send(msg).is_err() {
            return;
        }
        let _ = waker.wake();
        if last {
            return;
        }
    }
}

/// Whether `f` is /dev/null (the same character device), which reads as an empty input.
fn is_dev_null(f: &File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (f.metadata(), std::fs::metadata("/dev/null")) {
        (Ok(a), Ok(b)) => a.file_type().is_char_device() && a.rdev() == b.rdev(),
        _ => false,
    }
}

/// Turns each LF not already preceded by CR into CRLF; `prev` is the byte before `data`.
fn lf_to_crlf(mut prev: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_translation_leaves_existing_crlf_alone() {
        assert_eq!(lf_to_crlf(0, b"a\nb\r\nc"), b"a\r\nb\r\nc");
        assert_eq!(lf_to_crlf(0, b"\n\n"), b"\r\n\r\n");
    }

    #[test]
    fn crlf_split_across_two_chunks_stays_one_crlf() {
        assert_eq!(lf_to_crlf(0, b"a\r"), b"a\r");
        assert_eq!(lf_to_crlf(b'\r', b"\nb"), b"\nb");
        assert_eq!(lf_to_crlf(b'x', b"\nb"), b"\r\nb");
    }
}
