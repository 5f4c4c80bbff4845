//! `--trace FILE` and `--trace-ascii FILE` (curl's names; `-` is stderr): every chunk a
//! connection sends and receives, with its direction, the peer, its offset in that
//! direction's stream and the time since start; over TLS, the plaintext. `--trace` shows
//! each chunk as hex and printable text, `--trace-ascii` as text alone with CR and LF
//! written `\r` and `\n` (the lab's `GET / HTTP/1.1\r\n`, byte for byte).
//!
//! Chunks are recorded where every TCP command's bytes pass, [`Transport`]'s reads and
//! writes, so while tracing the zero-copy paths (splice, sendfile), which move bytes
//! without them ever reaching nicksock, are not taken. Off, it costs one relaxed load per
//! read or write.
//!
//! [`Transport`]: super::transport::Transport

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use anyhow::Result;

use crate::error::{Kind, Tag as _};
use crate::sock::{Remote, Stream};

/// Bytes per line of the hex view.
const HEX_WIDTH: usize = 16;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TRACER: OnceLock<Tracer> = OnceLock::new();

/// Which way a chunk went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Send,
    Recv,
}

/// How chunks are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Hex and printable text (`--trace`).
    Hex,
    /// Text, CR and LF made visible (`--trace-ascii`).
    Ascii,
}

struct Tracer {
    view: View,
    start: Instant,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn std::io::Write + Send>,
    /// Per connection (descriptor, the socket's inode, and the peer first seen): bytes
    /// sent and received so far.
    offsets: Vec<(i32, u64, Option<Remote>, u64, u64)>,
}

/// Starts tracing to `path` (`-`: stderr). A file that cannot be created is exit 10.
pub fn enable(path: &Path, view: View) -> Result<()> {
    let out: Box<dyn std::io::Write + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stderr())
    } else {
        Box::new(File::create(path).tag(
            Kind::File,
            format!("creating the trace file {}", path.display()),
        )?)
    };
    let tracer = Tracer {
        view,
        start: Instant::now(),
        state: Mutex::new(State {
            out,
            offsets: Vec::new(),
        }),
    };
    if TRACER.set(tracer).is_ok() {
        ENABLED.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Whether chunks are being traced (zero-copy paths are then not taken).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Records a chunk of `sock`'s stream.
pub fn chunk(sock: &Stream, dir: Dir, data: &[u8]) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    if data.is_empty() {
        return;
    }
    let fd = sock.as_raw_fd();
    // A socket's inode is its own while it is open: a new connection on a descriptor an old
    // one had is told by it (a peer's address is not enough: every Unix client of one
    // process looks the same, and a closed peer's address is gone).
    let ino = rustix::fs::fstat(sock).map_or(0, |st| st.st_ino);
    let elapsed = tracer.start.elapsed().as_secs_f64();
    let mut state = tracer.state.lock().unwrap_or_else(PoisonError::into_inner);
    let at = match state.offsets.iter().position(|e| e.0 == fd) {
        Some(at) if state.offsets[at].1 == ino => at,
        found => {
            // A new connection: start counting again.
            if let Some(at) = found {
                state.offsets.swap_remove(at);
            }
            state.offsets.push((fd, ino, sock.remote(), 0, 0));
            state.offsets.len() - 1
        }
    };
    let entry = &mut state.offsets[at];
    // Once the peer has closed, the kernel may no longer say who it was: the entry
    // remembers.
    if entry.2.is_none() {
        entry.2 = sock.remote();
    }
    let peer = entry.2;
    let offset = match dir {
        Dir::Send => &mut entry.3,
        Dir::Recv => &mut entry.4,
    };
    let from = *offset;
    *offset += data.len() as u64;
    let text = render(tracer.view, dir, peer, from, elapsed, data);
    // A trace that cannot be written loses lines, never the connection.
    let _ = state.out.write_all(text.as_bytes());
    let _ = state.out.flush();
}

/// Records a line about what the chunks that follow are (`== TEXT, at T s`): the proxy's
/// handshake, then its tunnel.
pub fn note(text: &str) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let elapsed = tracer.start.elapsed().as_secs_f64();
    let mut state = tracer.state.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = writeln!(state.out, "== {text}, at {elapsed:.6} s");
    let _ = state.out.flush();
}

/// One chunk as the trace shows it: a heading line, then the bytes.
pub fn render(
    view: View,
    dir: Dir,
    peer: Option<Remote>,
    offset: u64,
    secs: f64,
    data: &[u8],
) -> String {
    let (arrow, verb, prep) = match dir {
        Dir::Send => ("=>", "Send", "to"),
        Dir::Recv => ("<=", "Recv", "from"),
    };
    let peer = peer.map_or_else(|| "?".to_string(), |p| p.to_string());
    let mut out = format!(
        "{arrow} {verb} {} bytes {prep} {peer}, offset {offset}, at {secs:.6} s\n",
        data.len()
    );
    match view {
        View::Hex => hex_view(&mut out, data),
        View::Ascii => ascii_view(&mut out, data),
    }
    out
}

fn hex_view(out: &mut String, data: &[u8]) {
    for (i, line) in data.chunks(HEX_WIDTH).enumerate() {
        let _ = write!(out, "{:04x}: ", i * HEX_WIDTH);
        for b in line {
            let _ = write!(out, "{b:02x} ");
        }
        for _ in line.len()..HEX_WIDTH {
            out.push_str("   ");
        }
        out.push(' ');
        for &b in line {
            out.push(match b {
                b'\r' => '\u{240d}',
                b'\n' => '\u{240a}',
                0x20..=0x7e => char::from(b),
                _ => '.',
            });
        }
        out.push('\n');
    }
}

fn ascii_view(out: &mut String, data: &[u8]) {
    let mut line_open = false;
    for &b in data {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        line_open = b != b'\n';
    }
    if line_open {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &[u8] = b"GET / HTTP/1.1\r\nHost: pi\r\n\r\n";

    #[test]
    fn ascii_shows_cr_and_lf_and_ends_lines_at_lf() {
        let peer = "127.0.0.1:8080".parse().ok().map(Remote::Ip);
        let text = render(View::Ascii, Dir::Send, peer, 0, 0.0015, LAB);
        assert_eq!(
            text,
            "=> Send 28 bytes to 127.0.0.1:8080, offset 0, at 0.001500 s\n\
             GET / HTTP/1.1\\r\\n\nHost: pi\\r\\n\n\\r\\n\n"
        );
        let odd = render(View::Ascii, Dir::Recv, None, 28, 0.0, b"a\x00\\b");
        assert_eq!(
            odd,
            "<= Recv 4 bytes from ?, offset 28, at 0.000000 s\na\\x00\\\\b\n"
        );
    }

    #[test]
    fn hex_shows_sixteen_bytes_a_line_with_their_text() {
        let text = render(View::Hex, Dir::Recv, None, 0, 0.0, LAB);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "0000: 47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a  GET / HTTP/1.1\u{240d}\u{240a}"
        );
        assert!(
            lines[2].starts_with("0010: 48 6f 73 74 3a 20 70 69 0d 0a 0d 0a"),
            "{}",
            lines[2]
        );
        assert!(
            lines[2].ends_with("Host: pi\u{240d}\u{240a}\u{240d}\u{240a}"),
            "{}",
            lines[2]
        );
    }
}
