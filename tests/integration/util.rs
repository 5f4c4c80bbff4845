//! Helpers for driving the real binary: spawn it, wait for its "listening on" line, feed it,
//! time-box it, and kill whatever is left when a test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long anything in a test may take before it counts as hung.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The binary under test: the one cargo built for these tests, or the one `NICKSOCK_BIN`
/// names (`scripts/cross.sh` tests the shipped release binary of each ARM target so).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("NICKSOCK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nicksock").into())
    })
}

/// The program and arguments that start the binary under test: `NICKSOCK_TEST_RUNNER`'s
/// words (an emulator such as `qemu-aarch64 -L /usr/aarch64-linux-gnu`, set by
/// `scripts/cross.sh` when the tests run for another architecture) followed by [`bin()`].
/// Without the variable, just the binary.
pub fn bin_argv() -> Vec<String> {
    let runner = std::env::var("NICKSOCK_TEST_RUNNER").unwrap_or_default();
    runner
        .split_whitespace()
        .map(str::to_string)
        .chain([bin().to_string()])
        .collect()
}

/// [`bin_argv`] as one shell word list, each word single-quoted, for `sh -c` and `script -c`.
pub fn bin_shell() -> String {
    let quoted: Vec<String> = bin_argv()
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect();
    quoted.join(" ")
}

/// A command for the binary (under the runner, if any) with a clean environment: no
/// proxy settings of the machine's (a CI runner's `http_proxy`) reach the tests.
pub fn nicksock(args: &[&str]) -> Command {
    let argv = bin_argv();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).args(args);
    clean_env(&mut cmd);
    cmd
}

/// The environment the tests give nicksock, also where a wrapper (`script`, `setsid`,
/// `unshare`) starts it: no backtraces, no credentials, and none of the machine's proxy
/// settings (a CI runner's `http_proxy` must not carry a test's request off loopback).
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    cmd.env("RUST_BACKTRACE", "0")
        .env_remove("NICKSOCK_AUTH")
        .env_remove("NICKSOCK_PROXY_USER")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .env_remove("HTTP_PROXY")
}

/// Whether a peer program is installed; prints SKIP when it is not. With
/// `NICKSOCK_REQUIRE_PEERS=1` (set by `.ci/run`, which installs every peer) a missing peer
/// fails the test instead: in CI a skip would hide a test that never ran.
pub fn have(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        skip(&format!("{program} is not installed"));
    }
    found
}

/// Says why a test does not run: SKIP, or a failure where peers are required.
pub fn skip(why: &str) {
    if std::env::var_os("NICKSOCK_REQUIRE_PEERS").is_some_and(|v| v == "1") {
        panic!("{why} (NICKSOCK_REQUIRE_PEERS=1: no skipping)");
    }
    eprintln!("SKIP: {why}");
}

/// A child process that is killed when the test lets go of it.
pub struct Proc {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stderr_lines: Receiver<String>,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    pub stderr_seen: Vec<String>,
}

impl Proc {
    /// Starts `cmd` with piped stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Self::start(cmd)
    }

    /// Starts `cmd` with stdin from a file.
    pub fn spawn_with_stdin_file(mut cmd: Command, path: &Path) -> Proc {
        let file = std::fs::File::open(path).expect("open stdin file");
        cmd.stdin(Stdio::from(file))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Self::start(cmd)
    }

    /// Starts `cmd` with the stdin and stdout given (a file, /dev/null, a pipe, a terminal),
    /// as a user's shell would; stderr is piped for [`wait_line`](Self::wait_line).
    pub fn spawn_io(mut cmd: Command, stdin: Stdio, stdout: Stdio) -> Proc {
        cmd.stdin(stdin).stdout(stdout).stderr(Stdio::piped());
        Self::start(cmd)
    }

    fn start(mut cmd: Command) -> Proc {
        let mut child = cmd.spawn().expect("spawn");
        let stdin = child.stdin.take();
        let out = child.stdout.take();
        let err = child.stderr.take().expect("stderr");
        let stdout = thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut out) = out {
                let _ = out.read_to_end(&mut v);
            }
            v
        });
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            stderr_lines: rx,
            stdout: Some(stdout),
            stderr_seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr_seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no stderr line with {needle:?}; saw {:?}", self.stderr_seen),
            }
        }
    }

    /// Waits for the ready lines of a server and returns the bound addresses.
    pub fn wait_ready(&mut self, lines: usize) -> Vec<SocketAddr> {
        (0..lines)
            .map(|_| ready_addr(&self.wait_line(" on ")))
            .collect()
    }

    /// Writes to the child's stdin.
    pub fn send(&mut self, data: &[u8]) {
        self.stdin
            .as_mut()
            .expect("stdin")
            .write_all(data)
            .expect("write stdin");
    }

    /// Closes the child's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the exit; panics after [`PATIENCE`].
    pub fn wait(&mut self) -> Finished {
        self.wait_for(PATIENCE)
            .expect("process did not exit in time")
    }

    /// Waits for the exit up to `limit`.
    pub fn wait_for(&mut self, limit: Duration) -> Option<Finished> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let stdout = self
                    .stdout
                    .take()
                    .map(|h| h.join().unwrap_or_default())
                    .unwrap_or_default();
                while let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(200)) {
                    self.stderr_seen.push(line);
                }
                return Some(Finished {
                    status,
                    stdout,
                    stderr: self.stderr_seen.join("\n"),
                });
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends a signal to the child (only ever to our own child, by its PID).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address of a ready line: the word after `on` (`listening on 127.0.0.1:8080`,
/// `bound on …`, `listening on 127.0.0.1:9000 (line protocol)`).
pub fn ready_addr(line: &str) -> SocketAddr {
    line.split_once(" on ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("bad ready line {line:?}"))
}

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Finished {
    /// The exit code (panics on death by signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }

    /// Stdout as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts a clean exit with no panic.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "stderr: {}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }
}

/// Runs the binary to completion with `stdin` as input.
pub fn run(args: &[&str], stdin: &[u8]) -> Finished {
    let mut p = Proc::spawn(nicksock(args));
    let data = stdin.to_vec();
    let mut pipe = p.stdin.take().expect("stdin");
    thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    p.wait()
}

/// A port nothing listens on right now (bound, read and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A terminal for a child's stdin: the pseudo-terminal's follower side, to hand to the
/// child, and its leader, which the test holds (the terminal stays open while it does).
pub fn pty() -> (std::fs::File, std::os::fd::OwnedFd) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let leader = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&leader).expect("grantpt");
    unlockpt(&leader).expect("unlockpt");
    let name = ptsname(&leader, Vec::new()).expect("ptsname");
    let follower = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("pty name"))
        .expect("open the pty");
    (follower, leader)
}

/// A port that refuses connections for as long as the socket is held: bound, not listening,
/// so no other test can take it meanwhile (unlike a port bound and released).
pub fn refusing_port() -> (socket2::Socket, u16) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    sock.bind(&any.into()).expect("bind");
    let port = sock.local_addr().unwrap().as_socket().unwrap().port();
    (sock, port)
}

/// A listener whose accept queue is full, so the kernel drops further SYNs: a connect to it
/// hangs, as to a host that is down, all on loopback. Held while the value lives.
pub struct BlackHole {
    pub addr: SocketAddr,
    _sockets: Vec<socket2::Socket>,
}

impl BlackHole {
    pub fn new() -> Self {
        let (listener, port) = refusing_port();
        listener.listen(0).expect("listen");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut sockets = vec![listener];
        for _ in 0..3 {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            let _ = s.connect(&addr.into());
            sockets.push(s);
        }
        // The first filler takes the one place in the queue: wait until it has.
        let deadline = Instant::now() + PATIENCE;
        while sockets[1].peer_addr().is_err() {
            assert!(Instant::now() < deadline, "the queue never filled");
            thread::sleep(Duration::from_millis(1));
        }
        BlackHole {
            addr,
            _sockets: sockets,
        }
    }
}

/// A scratch directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Deterministic pseudo-random bytes (xorshift), so large transfers check every byte.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Writes `data` to a file in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write file");
    path
}

/// CPU time (user + system, in clock ticks) a process has used, from /proc.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Runs `gen-cert --out DIR ARGS` and checks that it succeeded.
pub fn gen_cert(dir: &Path, args: &[&str]) {
    let out = nicksock(
        &[
            &["gen-cert", "--out", dir.to_str().expect("UTF-8 path")][..],
            args,
        ]
        .concat(),
    )
    .output()
    .expect("gen-cert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate for `names`, made with `gen-cert` in `dir`: (cert, key) paths.
pub fn self_signed(dir: &Path, names: &[&str]) -> (String, String) {
    gen_cert(dir, names);
    let path = |name: &str| dir.join(name).display().to_string();
    (path("cert.pem"), path("cert-key.pem"))
}

/// Waits until `cond` holds, looking every few milliseconds; panics naming `what` after
/// [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the peer of `s` has acknowledged every byte sent on it (they are in its
/// kernel, whatever happens to the connection next).
pub fn wait_acknowledged(s: &std::net::TcpStream) {
    wait_until("the peer to acknowledge what was sent", || {
        nicksock::sock::unacknowledged(s).is_ok_and(|n| n == 0)
    });
}

/// The bytes of the file at `path` so far (none if it is not there yet).
/// A new FIFO named `name` in `dir` (mkfifo(1)).
pub fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    let fifo = dir.join(name);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", fifo.display());
    fifo
}

pub fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}
