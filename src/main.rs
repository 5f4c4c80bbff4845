//! The nicksock binary: parse the command line, run the command, turn failure into one line
//! on stderr and the exit code of DESIGN.md §3.
//!
//! `main` is the C entry point itself (`no_main`): std's start-up before `main` costs more
//! than nicksock's own work for `--version` or `connect -z` (it reads /proc/self/maps to
//! find the main thread's stack guard; BENCHMARKS.md, "Start-up"). What of it matters is
//! done here: SIGPIPE ignored (a closed socket is an error, not death), fds 0–2 kept open,
//! stdout flushed at the end, and a panic turned into exit 101 (in builds that unwind: the
//! release profile aborts, exit 134, to be smaller).

#![no_main]
#![deny(unsafe_code)]

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nicksock::{cmd, error};

/// The exit code of a panic, as std's own start-up gives it.
const PANIC_EXIT: i32 = 101;

// The symbol `main` is what libc's start-up calls; only the attribute needs `unsafe`, the
// function is safe Rust. The arguments are read from `argv` here: std captures them itself
// on glibc only (through .init_array), and the armhf package is a musl build.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(argc: i32, argv: *const *const u8) -> i32 {
    keep_standard_fds_open();
    let args = Args { argc, argv };
    // A write to a closed socket or pipe fails with EPIPE instead of killing us.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGPIPE,
        Arc::new(AtomicBool::new(false)),
    );
    let code = std::panic::catch_unwind(|| run(&args)).unwrap_or(PANIC_EXIT);
    let _ = std::io::stdout().flush();
    code
}

/// A closed stdin, stdout or stderr is opened on /dev/null, so the next socket or file we
/// open never takes its number (bytes meant for the terminal would go to a peer).
fn keep_standard_fds_open() {
    let closed = [
        rustix::io::fcntl_getfd(std::io::stdin()).is_err(),
        rustix::io::fcntl_getfd(std::io::stdout()).is_err(),
        rustix::io::fcntl_getfd(std::io::stderr()).is_err(),
    ];
    for _ in closed.iter().filter(|c| **c) {
        // Each open takes the lowest free number: the closed ones, in order. Kept open.
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            std::mem::forget(null);
        }
    }
}

/// The command line as the C start-up gave it: its memory is what `ps` shows.
struct Args {
    argc: i32,
    argv: *const *const u8,
}

impl std::panic::RefUnwindSafe for Args {}

impl Args {
    /// The command line's strings, in the memory the C start-up laid them out in (what `ps`
    /// shows), writable. The slices of one call are dropped before the next call is made.
    #[allow(unsafe_code)]
    fn strings(&self) -> Vec<&'static mut [u8]> {
        let count = usize::try_from(self.argc).unwrap_or(0);
        if self.argv.is_null() {
            return Vec::new();
        }
        // SAFETY: the C start-up passes `argc` pointers to NUL-terminated strings that
        // live, writable, for the whole process; nothing else reads or writes them (std
        // captures no copy of its own on musl, and clap's are its own), each slice stays
        // inside one string's bytes before its NUL, and the callers never hold two calls'
        // slices at once.
        (0..count)
            .map(|i| unsafe {
                let p = *self.argv.add(i);
                if p.is_null() {
                    return &mut [][..];
                }
                let len = std::ffi::CStr::from_ptr(p.cast()).to_bytes().len();
                std::slice::from_raw_parts_mut(p.cast_mut(), len)
            })
            .collect()
    }

    /// The words of the command line, as clap reads them.
    fn words(&self) -> Vec<std::ffi::OsString> {
        use std::os::unix::ffi::OsStrExt as _;
        self.strings()
            .into_iter()
            .map(|w| std::ffi::OsStr::from_bytes(w).to_os_string())
            .collect()
    }

    /// Overwrites the passwords in the command line with `*` (see
    /// `nicksock::cli::secret_spans`), once clap has read it: `ps` and
    /// `/proc/PID/cmdline` show the rest of the line, never a password.
    fn hide_secrets(&self) {
        let mut words = self.strings();
        let views: Vec<&[u8]> = words.iter().map(|w| &**w).collect();
        let spans = nicksock::cli::secret_spans(&views);
        for (i, range) in spans {
            words[i][range].fill(b'*');
        }
    }
}

fn run(args: &Args) -> i32 {
    let cli = nicksock::cli::parse_from(args.words());
    args.hide_secrets();
    match cmd::run(cli) {
        Ok(()) => 0,
        Err(err) => {
            // A usage error found after parsing prints as clap's own do: the message and
            // the subcommand's usage line.
            if let Some(usage) = err.downcast_ref::<clap::Error>() {
                let _ = usage.print();
                return i32::from(error::Kind::Usage.code());
            }
            let code = error::exit_code(&err);
            // A program's exit status passed on (`--exec`) is printed only with a message.
            let silent = error::passed_status(&err).is_some_and(|s| s.message.is_none());
            if code != 0 && code != error::Kind::Interrupted.code() && !silent {
                eprintln!("nicksock: error: {err:#}");
            }
            i32::from(code)
        }
    }
}
