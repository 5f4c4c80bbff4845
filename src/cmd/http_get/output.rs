//! Where a response goes: stdout, or a file (`-o`, `-O`) that is written under a temporary
//! name beside it and renamed only once the body is complete, so a failed download never
//! leaves a file that looks whole. The progress bar lives here too, on stderr only.

use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Kind, Tag as _, fail};
use crate::net::stdout::Stdout;

/// A downloaded file's mode, less the umask (as curl and every shell redirection make it).
const FILE_MODE: u32 = 0o666;

/// The bar when the body's length is known.
const BAR_TEMPLATE: &str =
    "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}";

/// The spinner when the length is unknown (chunked or close-delimited bodies).
const SPINNER_TEMPLATE: &str = "{spinner} {bytes} {binary_bytes_per_sec} {elapsed} {wide_msg}";

/// `-Z`'s line: transfers ended of all.
const SUMMARY_TEMPLATE: &str = "{bar:30} {pos}/{len} transfers, {elapsed}";

/// Where the user asked the response to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file (`-o FILE`, or the name `-O` picked).
    File(PathBuf),
}

impl Target {
    /// Whether the body goes to stdout (`-o -` too).
    pub fn is_stdout(&self) -> bool {
        match self {
            Target::Stdout => true,
            Target::File(path) => path.as_os_str() == "-",
        }
    }
}

enum Sink {
    Stdout(Stdout),
    /// A regular file written under a temporary name and moved to `dest` when complete
    /// (dropped unfinished, the temporary file is removed).
    Temp {
        file: NamedTempFile,
        dest: PathBuf,
    },
    /// Something that is not a regular file (`/dev/null`, a FIFO): written in place, since
    /// renaming over it would replace it.
    Direct {
        file: File,
        path: PathBuf,
    },
    /// Committed: nothing more is written.
    Done,
}

/// The destination of the head and body bytes.
pub struct Output {
    sink: Sink,
    want_progress: bool,
    progress: Option<ProgressBar>,
    /// Body bytes written so far (a resumed file's old bytes included): where a retry
    /// continues from.
    body_written: u64,
}

impl Output {
    /// Opens the target; a file target is created (under its temporary name) at once, so a
    /// directory that cannot be written fails before any connection is made.
    pub fn open(target: &Target, silent: bool) -> Result<Self> {
        let sink = match target {
            Target::File(path) if !target.is_stdout() => open_file(path)?,
            _ => Sink::Stdout(Stdout::open()?),
        };
        let to_file = !matches!(sink, Sink::Stdout(_));
        Ok(Output {
            sink,
            want_progress: to_file && !silent && std::io::stderr().is_terminal(),
            progress: None,
            body_written: 0,
        })
    }

    /// Opens a file target to continue it (`-C -`): the temporary file starts as a copy of
    /// the file's bytes, so the file itself is replaced only by a whole one.
    pub fn open_continuing(target: &Target, silent: bool) -> Result<Self> {
        let mut out = Self::open(target, silent)?;
        if let (Target::File(path), Sink::Temp { file, dest }) = (target, &mut out.sink) {
            match File::open(path) {
                Ok(mut old) => {
                    out.body_written = std::io::copy(&mut old, file.as_file_mut())
                        .tag(Kind::File, format!("continuing {}", dest.display()))?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).tag(Kind::File, format!("continuing {}", path.display()));
                }
            }
        }
        Ok(out)
    }

    /// Body bytes written so far.
    pub fn body_written(&self) -> u64 {
        self.body_written
    }

    /// Throws away the body written so far, to take a whole new one; false when that
    /// cannot be done (bytes that went to stdout or a device are out of reach).
    pub fn restart(&mut self) -> Result<bool> {
        if self.body_written == 0 {
            return Ok(true);
        }
        let Sink::Temp { file, dest } = &mut self.sink else {
            return Ok(false);
        };
        use std::io::Seek as _;
        let f = file.as_file_mut();
        f.set_len(0)
            .and_then(|()| f.rewind())
            .tag(Kind::File, format!("writing {}", dest.display()))?;
        self.body_written = 0;
        Ok(true)
    }

    /// Writes head bytes (`-i`, `-I`).
    pub fn write_head(&mut self, data: &[u8]) -> Result<()> {
        self.write(data)
    }

    /// A body starts: shows the progress bar (a bar when `length` is known, a spinner when
    /// not) if the body goes to a file and stderr is a terminal.
    pub fn start_body(&mut self, length: Option<u64>) {
        if !self.want_progress {
            return;
        }
        if let Some(old) = self.progress.take() {
            old.finish_and_clear();
        }
        self.progress = Some(bar(length));
    }

    /// Writes body bytes and advances the progress bar.
    pub fn write_body(&mut self, data: &[u8]) -> Result<()> {
        self.write(data)?;
        self.body_written += data.len() as u64;
        if let Some(bar) = &self.progress {
            bar.inc(data.len() as u64);
        }
        Ok(())
    }

    /// The response is complete: the file gets its real name.
    pub fn commit(mut self) -> Result<()> {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        if let Sink::Temp { file, dest } = std::mem::replace(&mut self.sink, Sink::Done) {
            crate::atomic::put_in_place(file, &dest, true)
                .tag(Kind::File, format!("writing {}", dest.display()))?;
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.sink {
            Sink::Stdout(out) => out.write_all(data),
            Sink::Temp { file, dest } => file
                .write_all(data)
                .tag(Kind::File, format!("writing {}", dest.display())),
            Sink::Direct { file, path } => file
                .write_all(data)
                .tag(Kind::File, format!("writing {}", path.display())),
            Sink::Done => Ok(()),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
    }
}

/// `-Z`'s one line on a terminal: how many transfers have ended.
pub fn summary(count: u64) -> ProgressBar {
    let bar = ProgressBar::new(count);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(SUMMARY_TEMPLATE) {
        bar.set_style(style);
    }
    bar
}

/// A progress bar on stderr: a bar when the length is known, a spinner when not.
pub fn bar(length: Option<u64>) -> ProgressBar {
    let (bar, template) = match length {
        Some(n) => (ProgressBar::new(n), BAR_TEMPLATE),
        None => (ProgressBar::new_spinner(), SPINNER_TEMPLATE),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Opens a file target: devices and FIFOs in place, regular files under a temporary name.
fn open_file(path: &Path) -> Result<Sink> {
    let file_error = |e: std::io::Error| {
        anyhow::Error::from(e).context(crate::error::Tagged::new(
            Kind::File,
            format!("writing {}", path.display()),
        ))
    };
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(fail(
                Kind::File,
                format!("writing {}: it is a directory", path.display()),
            ));
        }
        Ok(meta) if !meta.is_file() => {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(file_error)?;
            return Ok(Sink::Direct {
                file,
                path: path.to_path_buf(),
            });
        }
        _ => {}
    }
    // Write through a symlink to its target, as a plain open would, instead of replacing it.
    let dest = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    };
    let file = crate::atomic::beside(&dest, FILE_MODE).map_err(file_error)?;
    Ok(Sink::Temp { file, dest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "nicksock-output-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_file_appears_only_when_committed() {
        let dir = scratch();
        let dest = dir.join("out.bin");
        let mut out = Output::open(&Target::File(dest.clone()), true).unwrap();
        out.write_body(b"hello").unwrap();
        assert!(!dest.exists());
        assert_eq!(entries(&dir).len(), 1, "only the temporary file");
        out.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        assert_eq!(entries(&dir), ["out.bin"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_keeps_an_old_file() {
        let dir = scratch();
        let dest = dir.join("keep.txt");
        fs::write(&dest, b"old").unwrap();
        let mut out = Output::open(&Target::File(dest.clone()), true).unwrap();
        out.write_body(b"partial").unwrap();
        drop(out);
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(entries(&dir), ["keep.txt"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn devices_are_written_in_place_and_directories_refused() {
        let mut out = Output::open(&Target::File("/dev/null".into()), true).unwrap();
        out.write_body(b"x").unwrap();
        out.commit().unwrap();
        use std::os::unix::fs::FileTypeExt as _;
        let meta = fs::metadata("/dev/null").unwrap();
        assert!(meta.file_type().is_char_device(), "/dev/null was replaced");
        let err = Output::open(&Target::File(std::env::temp_dir()), true)
            .err()
            .unwrap();
        assert_eq!(crate::error::exit_code(&err), 10);
    }
}
