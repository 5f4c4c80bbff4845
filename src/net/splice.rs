//! Zero-copy receiving for plain TCP: the kernel moves received pages from the socket into a
//! pipe and from the pipe into stdout (a file, a pipe or /dev/null) with `splice(2)`, so a
//! large transfer never passes through our memory. Where stdout cannot take a splice (a
//! terminal, say), the first attempt says so and the caller reads as usual.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags, pipe_with, splice};

/// Bytes asked for per splice from the socket (the pipe holds what it holds).
const SPLICE_CHUNK: usize = 1 << 20;

/// A pipe between the socket and stdout.
pub struct Splicer {
    read_end: OwnedFd,
    write_end: OwnedFd,
}

/// What one attempt moved.
pub enum Spliced {
    /// Bytes moved to stdout.
    Moved(usize),
    /// The socket has nothing now.
    WouldBlock,
    /// The peer's end of stream.
    Eof,
    /// Stdout takes no splice: read instead (nothing was taken from the socket).
    Unsupported,
}

impl Splicer {
    /// Makes the pipe.
    pub fn new() -> io::Result<Self> {
        let (read_end, write_end) = pipe_with(PipeFlags::CLOEXEC)?;
        Ok(Splicer {
            read_end,
            write_end,
        })
    }

    /// Moves what the socket has into `out`, one pipeful at a time.
    pub fn pump(&mut self, sock: &impl AsFd, out: &impl AsFd) -> io::Result<Spliced> {
        let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
        let n = match splice(sock, None, &self.write_end, None, SPLICE_CHUNK, flags) {
            Ok(0) => return Ok(Spliced::Eof),
            Ok(n) => n,
            Err(Errno::AGAIN) => return Ok(Spliced::WouldBlock),
            Err(Errno::INTR) => return Ok(Spliced::Moved(0)),
            Err(Errno::INVAL | Errno::NOSYS) => return Ok(Spliced::Unsupported),
            Err(e) => return Err(e.into()),
        };
        let mut left = n;
        while left > 0 {
            match splice(&self.read_end, None, out, None, left, SpliceFlags::MOVE) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => left -= m,
                Err(Errno::INTR) => {}
                Err(Errno::INVAL | Errno::NOSYS) if left == n => {
                    // Stdout refused the very first splice: hand the bytes over by hand.
                    self.drain_into(out, left)?;
                    return Ok(Spliced::Unsupported);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Spliced::Moved(n))
    }

    /// Copies `left` bytes from the pipe to `out` with read and write.
    fn drain_into(&mut self, out: &impl AsFd, mut left: usize) -> io::Result<()> {
        let mut buf = vec![0u8; left.min(1 << 16)];
        while left > 0 {
            let want = left.min(buf.len());
            let got = rustix::io::read(&self.read_end, &mut buf[..want])?;
            let mut done = 0;
            while done < got {
                done += rustix::io::write(out, &buf[done..got])?;
            }
            left -= got;
        }
        Ok(())
    }
}

/// A pipe between two non-blocking sockets (`relay`, plain on both sides): received pages
/// move from one socket into the pipe and on into the other without a copy through our
/// memory. Neither splice blocks; `pending` counts what waits in the pipe.
pub struct SocketPipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
    pending: usize,
}

/// What the pipe holds at most (more than the default 64 KiB: fewer calls per MiB).
const SOCKET_PIPE_SIZE: usize = 256 * 1024;

/// What [`SocketPipe::pump`] did.
pub struct PipeMoved {
    /// Bytes delivered to the destination (0: nothing could move).
    pub delivered: usize,
    /// The source's end of stream came, after everything it sent was delivered.
    pub eof: bool,
}

/// A failure of one side of a [`SocketPipe`].
pub enum PipeError {
    /// Reading the source failed.
    Source(io::Error),
    /// Writing the destination failed.
    Destination(io::Error),
}

impl SocketPipe {
    /// Makes the pipe.
    pub fn new() -> io::Result<Self> {
        let (read_end, write_end) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        // A smaller pipe still works: only the number of calls grows.
        let _ = rustix::pipe::fcntl_setpipe_size(&write_end, SOCKET_PIPE_SIZE);
        Ok(SocketPipe {
            read_end,
            write_end,
            pending: 0,
        })
    }

    /// Bytes taken from the source and not yet delivered.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Moves what can move from `src` to `dst` without blocking: first what the pipe holds,
    /// then more from the source while the destination takes it.
    pub fn pump(&mut self, src: &impl AsFd, dst: &impl AsFd) -> Result<PipeMoved, PipeError> {
        let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
        let mut delivered = 0;
        loop {
            while self.pending > 0 {
                match splice(&self.read_end, None, dst, None, self.pending, flags) {
                    Ok(n) => {
                        self.pending -= n;
                        delivered += n;
                    }
                    Err(Errno::AGAIN) => {
                        return Ok(PipeMoved {
                            delivered,
                            eof: false,
                        });
                    }
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(PipeError::Destination(e.into())),
                }
            }
            // The pipe is empty, so "again" can only mean the socket has nothing now.
            match splice(src, None, &self.write_end, None, SOCKET_PIPE_SIZE, flags) {
                Ok(0) => {
                    return Ok(PipeMoved {
                        delivered,
                        eof: true,
                    });
                }
                Ok(n) => self.pending = n,
                Err(Errno::AGAIN) => {
                    return Ok(PipeMoved {
                        delivered,
                        eof: false,
                    });
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(PipeError::Source(e.into())),
            }
        }
    }
}
