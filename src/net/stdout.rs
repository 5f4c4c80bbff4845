//! Stdout for received data: blocking, unbuffered writes of whole chunks, so interactive
//! binary streams are not held back, and a reader that went away ends us successfully.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;

use anyhow::{Context, Result};

use crate::error::StdoutClosed;

/// Our stdout, as a plain file descriptor.
pub struct Stdout {
    file: File,
}

impl Stdout {
    /// Opens a second handle to fd 1 that bypasses std's line buffering.
    pub fn open() -> Result<Self> {
        let fd = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("opening stdout")?;
        Ok(Self::to_file(File::from(fd)))
    }

    /// Writes received data to `file` instead.
    pub fn to_file(file: File) -> Self {
        Stdout { file }
    }

    /// Writes every byte, blocking until done.
    pub fn write_all(&mut self, data: &[u8]) -> Result<()> {
        match self.file.write_all(data) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
            Err(e) => Err(e).context("writing to stdout"),
        }
    }
}

impl AsFd for Stdout {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}
