//! Real proxies on loopback for `proxy.rs`: tinyproxy (HTTP CONNECT and absolute-form GET),
//! microsocks (SOCKS5), dante (SOCKS4 and SOCKS5), stunnel in front of tinyproxy (an HTTPS
//! proxy), each started on a free port in a scratch directory, waited for by connecting to
//! its port, and killed (its whole process group, by id) when the [`Proxy`] is dropped.
//! Where no real proxy can show something there are small ones of our own: a SOCKS4a proxy
//! with its own table of names ([`Socks4a`]), a proxy that accepts and never answers
//! ([`Silent`]), and an HTTP proxy that answers every request with one status line
//! ([`Answering`]).
//!
//! What was measured about these proxies, and what the tests rely on:
//!
//! - **Half-close.** dante carries TCP's half-close both ways (our FIN becomes its FIN to the
//!   target, and the target's later reply still comes back). tinyproxy 1.11 and microsocks
//!   1.0 do not: one side's FIN makes them flush what they hold and close both connections,
//!   so the other side's bytes still on their way are lost (the side still sending gets a
//!   reset, the other a clean FIN). See [`Proxy::carries_half_close`] and the test
//!   `each_proxy_half_close_is_as_measured` below.
//! - **tinyproxy's answers.** A refused or unresolvable target is `500 Unable to connect`
//!   (not 502); a missing `Proxy-Authorization` is `407`, a wrong one `401 Unauthorized`; a
//!   CONNECT to a port outside its `ConnectPort` lines is `403 Access violation`. With no
//!   `ConnectPort` line at all every port may be CONNECTed to (tinyproxy.conf(5): "If no
//!   `ConnectPort` line is found, then all ports are allowed"; the 443/563 restriction people
//!   meet comes from distribution config files, which we do not use).
//! - **dante has no SOCKS4a**: a SOCKS4a request (address 0.0.0.x and a name) makes it
//!   connect to 0.0.0.x and fail. Names resolved by the proxy over SOCKS4a are shown with
//!   [`Socks4a`] instead.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::util::*;

/// How many free ports a proxy is tried on before giving up (another test may take a port
/// between [`free_port`] and the proxy's bind).
const PORT_TRIES: usize = 5;

/// A program started by the harness, in a process group of its own: dropping it kills the
/// group (dante forks a dozen helpers) by its id, and reaps the program.
pub struct Daemon {
    child: Child,
    name: &'static str,
    reaped: bool,
}

impl Daemon {
    /// Starts `cmd` with stdin from /dev/null and stdout and stderr appended to `log`.
    fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Daemon {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the proxy's log");
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log"))
            .stderr(out)
            .process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        Daemon {
            child,
            name,
            reaped: false,
        }
    }

    /// Whether the program has exited (it could not bind, say).
    fn exited(&mut self) -> bool {
        if !self.reaped && self.child.try_wait().expect("try_wait").is_some() {
            self.reaped = true;
        }
        self.reaped
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.reaped {
            // Not reaped yet, so the id is still ours: the group is the program and whatever
            // it forked.
            let pgid = self.child.id() as libc::pid_t;
            // SAFETY: kill(2) with a process group id we created; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`, or `daemon` has exited
/// (then false: it could not bind).
fn answers(daemon: &mut Daemon, port: u16, log: &Path) -> bool {
    let what = format!(
        "{} to answer on port {port} ({})",
        daemon.name,
        log.display()
    );
    wait_until(&what, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok() || daemon.exited()
    });
    !daemon.exited()
}

/// A proxy running on loopback.
pub struct Proxy {
    /// Its URL without credentials: `http://127.0.0.1:PORT`, `socks5://127.0.0.1:PORT`…
    pub url: String,
    pub port: u16,
    /// The credentials it demands, if any.
    pub auth: Option<(String, String)>,
    /// For an HTTPS proxy: the certificate to trust (`--proxy-cacert`).
    pub cacert: Option<String>,
    /// Whether a FIN from one side reaches the other while the other keeps sending (dante),
    /// or ends the whole tunnel (tinyproxy, microsocks, stunnel + tinyproxy): measured, see
    /// the module's comment.
    pub carries_half_close: bool,
    log: PathBuf,
    // Dropped in this order: the programs first, then their directories.
    _daemons: Vec<Daemon>,
    _dirs: Vec<TempDir>,
}

impl Proxy {
    /// What the proxy wrote to its log so far (tinyproxy's for the HTTPS proxy).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&file_bytes(&self.log)).into_owned()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its URL with another scheme (dante: `socks4`, `socks4a`, `socks5`, `socks5h`).
    pub fn url_as(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Its URL with `user:password@` in it.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("scheme");
        format!("{scheme}://{user}:{password}@{rest}")
    }

    /// Its URL with its own credentials in it (or without, when it has none).
    pub fn url_with_auth(&self) -> String {
        match &self.auth {
            Some((u, p)) => self.url_with(u, p),
            None => self.url.clone(),
        }
    }

    /// The request lines tinyproxy logged (`GET http://…`, `CONNECT host:port …`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split_once("Request (file descriptor "))
            .filter_map(|(_, rest)| rest.split_once("): ").map(|(_, r)| r.to_string()))
            .collect()
    }

    /// A connection to `target` through this proxy with `scheme`'s handshake (`http`:
    /// CONNECT, `socks4`, `socks4a`, `socks5`, `socks5h`), with its credentials if it has
    /// any: for checking the harness with a client of our own.
    pub fn tunnel(&self, scheme: &str, target: (&str, u16)) -> io::Result<TcpStream> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(PATIENCE))?;
        let auth = self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        handshake(&mut s, scheme, auth, target)?;
        s.set_read_timeout(None)?;
        Ok(s)
    }
}

/// A scratch directory the proxies' unprivileged helpers (dante's, as `nobody`) can read.
fn proxy_dir() -> TempDir {
    let dir = tempdir();
    set_mode(dir.path(), 0o755);
    dir
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Starts `make(port)` on free ports until one answers; the daemon and the port.
fn start_on_free_port(
    name: &'static str,
    log: &Path,
    mut make: impl FnMut(u16) -> Command,
) -> (Daemon, u16) {
    for _ in 0..PORT_TRIES {
        let port = free_port();
        let mut daemon = Daemon::spawn(name, make(port), log);
        if answers(&mut daemon, port, log) {
            return (daemon, port);
        }
    }
    panic!(
        "{name} did not start on any of {PORT_TRIES} free ports: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// tinyproxy on 127.0.0.1, every port allowed for CONNECT, BasicAuth when `auth` is given.
pub fn tinyproxy(auth: Option<(&str, &str)>) -> Option<Proxy> {
    tinyproxy_with(auth, "")
}

/// tinyproxy with `extra` lines added to its configuration (`ConnectPort 443`, say).
pub fn tinyproxy_with(auth: Option<(&str, &str)>, extra: &str) -> Option<Proxy> {
    if !have("tinyproxy") {
        return None;
    }
    let dir = proxy_dir();
    let d = dir.path().display().to_string();
    let log = dir.path().join("tinyproxy.log");
    let (daemon, port) = start_on_free_port("tinyproxy", &log, |port| {
        // No User/Group lines: tinyproxy keeps the user it was started as (as root it only
        // warns "You SHOULD set a UserName"), so its log and pid file in our directory need
        // nothing more. No ConnectPort line: every port is allowed for CONNECT.
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nLogLevel Info\n\
             LogFile \"{d}/tinyproxy.log\"\nPidFile \"{d}/tinyproxy.pid\"\nMaxClients 100\n\
             Allow 127.0.0.1\nDisableViaHeader Yes\n"
        );
        if let Some((user, pass)) = auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        conf.push_str(extra);
        let conf = write_file(dir.path(), "tinyproxy.conf", conf.as_bytes());
        // -d: in the foreground, so the pid we hold is the server's.
        let mut cmd = Command::new("tinyproxy");
        cmd.arg("-d").arg("-c").arg(conf);
        cmd
    });
    Some(Proxy {
        url: format!("http://127.0.0.1:{port}"),
        port,
        auth: owned(auth),
        cacert: None,
        carries_half_close: false,
        log,
        _daemons: vec![daemon],
        _dirs: vec![dir],
    })
}

fn owned(auth: Option<(&str, &str)>) -> Option<(String, String)> {
    auth.map(|(u, p)| (u.to_string(), p.to_string()))
}

/// microsocks (SOCKS5) on 127.0.0.1, with `-u USER -P PASS` when `auth` is given.
pub fn microsocks(auth: Option<(&str, &str)>) -> Option<Proxy> {
    microsocks_in(auth, None)
}

/// microsocks in a mount namespace of its own where /etc/hosts holds `localhost` and
/// `hosts_line` (`127.0.0.1 only-the-proxy-knows.nicksock-test`): names only the proxy can
/// resolve. None (SKIP) where mount namespaces cannot be made.
pub fn microsocks_with_hosts(hosts_line: &str) -> Option<Proxy> {
    microsocks_in(None, Some(hosts_line))
}

fn microsocks_in(auth: Option<(&str, &str)>, hosts_line: Option<&str>) -> Option<Proxy> {
    if !have("microsocks") {
        return None;
    }
    let dir = proxy_dir();
    let hosts = match hosts_line {
        Some(line) => Some(hosts_file(dir.path(), line)?),
        None => None,
    };
    let log = dir.path().join("microsocks.log");
    let (daemon, port) = start_on_free_port("microsocks", &log, |port| {
        let mut args: Vec<String> = ["-i", "127.0.0.1", "-p", &port.to_string()]
            .map(str::to_string)
            .to_vec();
        if let Some((user, pass)) = auth {
            args.extend(["-u", user, "-P", pass].map(str::to_string));
        }
        command_with_hosts("microsocks", &args, hosts.as_deref())
    });
    Some(Proxy {
        url: format!("socks5://127.0.0.1:{port}"),
        port,
        auth: owned(auth),
        cacert: None,
        carries_half_close: false,
        log,
        _daemons: vec![daemon],
        _dirs: vec![dir],
    })
}

/// dante (`danted`: SOCKS4 and SOCKS5, no authentication) on 127.0.0.1. Its URL says
/// `socks5://`; [`Proxy::url_as`] gives the others.
pub fn dante() -> Option<Proxy> {
    dante_in(None)
}

/// dante in a mount namespace whose /etc/hosts holds `localhost` and `hosts_line`.
pub fn dante_with_hosts(hosts_line: &str) -> Option<Proxy> {
    dante_in(Some(hosts_line))
}

fn dante_in(hosts_line: Option<&str>) -> Option<Proxy> {
    // danted is in /usr/sbin, which a user's PATH may lack (.ci/run adds it).
    let danted = ["/usr/sbin/danted", "/sbin/danted"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .map(str::to_string);
    let danted = match danted {
        Some(path) => path,
        None if have("danted") => "danted".to_string(),
        None => return None,
    };
    let dir = proxy_dir();
    let hosts = match hosts_line {
        Some(line) => Some(hosts_file(dir.path(), line)?),
        None => None,
    };
    let d = dir.path().display().to_string();
    let log = dir.path().join("danted.log");
    let (daemon, port) = start_on_free_port("danted", &log, |port| {
        // Its helpers run as `user.unprivileged`; those lines are for root only (as anyone
        // else dante refuses them).
        let users = if is_root() {
            "user.privileged: root\nuser.unprivileged: nobody\n"
        } else {
            ""
        };
        let conf = format!(
            "logoutput: {d}/danted.log\ninternal: 127.0.0.1 port = {port}\nexternal: lo\n\
             socksmethod: none\nclientmethod: none\n{users}\
             client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error connect disconnect\n}}\n\
             socks pass {{\n  from: 0.0.0.0/0 to: 0.0.0.0/0\n  command: connect\n  protocol: tcp\n\
               log: error connect disconnect\n}}\n"
        );
        let conf = write_file(dir.path(), "danted.conf", conf.as_bytes());
        // danted stays in the foreground unless given -D; -p keeps its pid file out of /run.
        let args = [
            "-f".to_string(),
            conf.display().to_string(),
            "-p".to_string(),
            format!("{d}/danted.pid"),
        ];
        command_with_hosts(&danted, &args, hosts.as_deref())
    });
    Some(Proxy {
        url: format!("socks5://127.0.0.1:{port}"),
        port,
        auth: None,
        cacert: None,
        carries_half_close: true,
        log,
        _daemons: vec![daemon],
        _dirs: vec![dir],
    })
}

/// An HTTPS proxy: stunnel terminating TLS (a self-signed certificate for `localhost` and
/// 127.0.0.1, made by gen-cert) in front of tinyproxy. Its URL is `https://127.0.0.1:PORT`,
/// its certificate in `cacert`; its log is tinyproxy's.
pub fn https_proxy(auth: Option<(&str, &str)>) -> Option<Proxy> {
    if !have("stunnel4") {
        return None;
    }
    let mut inner = tinyproxy(auth)?;
    let dir = proxy_dir();
    let (cert, key) = self_signed(dir.path(), &["localhost", "127.0.0.1"]);
    let d = dir.path().display().to_string();
    let log = dir.path().join("stunnel.log");
    let tiny = inner.port;
    let (daemon, port) = start_on_free_port("stunnel4", &log, |port| {
        // TIMEOUTclose = 0: no waiting for the client's close_notify at the end.
        let conf = format!(
            "foreground = yes\npid =\noutput = {d}/stunnel.log\ndebug = info\n\
             [proxy]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{tiny}\n\
             cert = {cert}\nkey = {key}\nTIMEOUTclose = 0\n"
        );
        let conf = write_file(dir.path(), "stunnel.conf", conf.as_bytes());
        let mut cmd = Command::new("stunnel4");
        cmd.arg(conf);
        cmd
    });
    // stunnel first, then tinyproxy, then the directories.
    let mut daemons = vec![daemon];
    daemons.append(&mut inner._daemons);
    Some(Proxy {
        url: format!("https://127.0.0.1:{port}"),
        port,
        auth: inner.auth.take(),
        cacert: Some(cert),
        carries_half_close: false,
        log: inner.log.clone(),
        _daemons: daemons,
        _dirs: vec![dir, inner._dirs.pop().expect("tinyproxy's directory")],
    })
}

/// Whether mount namespaces can be made here (`unshare -m` and a bind mount over
/// /etc/hosts); Err says why not.
fn mount_namespaces() -> Result<(), String> {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    OK.get_or_init(|| {
        if !have("unshare") {
            return Err("unshare is not installed".into());
        }
        let dir = tempdir();
        let probe = write_file(dir.path(), "hosts", b"127.0.0.1 nicksock-probe\n");
        let out = Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                "mount --bind \"$0\" /etc/hosts && grep -q nicksock-probe /etc/hosts",
            ])
            .arg(&probe)
            .output();
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "cannot make a mount namespace with its own /etc/hosts (unshare -m, mount \
                 --bind; root is needed): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run unshare: {e}")),
        }
    })
    .clone()
}

/// A hosts file for a proxy's namespace, readable by dante's helpers; None (SKIP) where
/// mount namespaces cannot be made.
fn hosts_file(dir: &Path, line: &str) -> Option<PathBuf> {
    if let Err(why) = mount_namespaces() {
        skip(&why);
        return None;
    }
    let path = write_file(
        dir,
        "hosts",
        format!("127.0.0.1 localhost\n::1 localhost\n{line}\n").as_bytes(),
    );
    set_mode(&path, 0o644);
    Some(path)
}

/// `program args…`, or the same in a mount namespace whose /etc/hosts is `hosts`:
/// `unshare -m sh -c 'mount --bind HOSTS /etc/hosts && exec PROGRAM ARGS…'` (unshare and sh
/// exec, so the pid stays the program's).
fn command_with_hosts(program: &str, args: &[String], hosts: Option<&Path>) -> Command {
    match hosts {
        None => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
        Some(hosts) => {
            let mut cmd = Command::new("unshare");
            cmd.args([
                "-m",
                "sh",
                "-c",
                "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
            ])
            .arg(hosts)
            .arg(program)
            .args(args);
            cmd
        }
    }
}

/// `argv` run in a mount namespace whose /etc/nsswitch.conf says `hosts: files`: names are
/// looked up in /etc/hosts only, so a made-up name fails at once and no DNS query leaves the
/// machine. The file is written in `dir`. None (SKIP) where mount namespaces cannot be made.
pub fn without_dns(dir: &Path, argv: &[String]) -> Option<Command> {
    files_only(dir, None, argv)
}

/// `argv` run in a mount namespace where names are looked up in /etc/hosts only (as
/// [`without_dns`]) and /etc/hosts holds `line` (`127.0.0.1 proxied.example`): a made-up
/// name resolves to loopback with no DNS query. None (SKIP) without mount namespaces.
pub fn with_hosts_only(dir: &Path, line: &str, argv: &[String]) -> Option<Command> {
    files_only(dir, Some(line), argv)
}

/// [`without_dns`], with /etc/hosts replaced too when a `hosts_line` is given.
fn files_only(dir: &Path, hosts_line: Option<&str>, argv: &[String]) -> Option<Command> {
    if let Err(why) = mount_namespaces() {
        skip(&why);
        return None;
    }
    let nss = write_file(
        dir,
        "nsswitch.conf",
        b"passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\n",
    );
    set_mode(&nss, 0o644);
    let hosts = match hosts_line {
        Some(line) => Some(hosts_file(dir, line)?),
        None => None,
    };
    // $0 the nsswitch.conf, then (with hosts) $1 the hosts file, then the command.
    let script = if hosts.is_some() {
        "mount --bind \"$0\" /etc/nsswitch.conf && mount --bind \"$1\" /etc/hosts && shift && exec \"$@\""
    } else {
        "mount --bind \"$0\" /etc/nsswitch.conf && exec \"$@\""
    };
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script])
        .arg(&nss)
        .args(hosts.as_deref())
        .args(argv)
        .env("RUST_BACKTRACE", "0")
        .env_remove("NICKSOCK_AUTH")
        .env_remove("NICKSOCK_PROXY_USER");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    Some(cmd)
}

/// The proxy variables of the environment (util::nicksock removes them too).
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The client's side of a proxy handshake on `s`: `http` (CONNECT, Basic credentials),
/// `socks4`, `socks4a`, `socks5`, `socks5h` (username/password when given). Errors name
/// what the proxy answered.
pub fn handshake(
    s: &mut TcpStream,
    scheme: &str,
    auth: Option<(&str, &str)>,
    (host, port): (&str, u16),
) -> io::Result<()> {
    let fail = |what: String| io::Error::other(what);
    match scheme {
        "http" => {
            let mut req = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
            if let Some((u, p)) = auth {
                use base64::Engine;
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                req.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
            }
            req.push_str("\r\n");
            s.write_all(req.as_bytes())?;
            // Byte by byte: nothing after the head may be taken from the tunnel.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut byte)? == 0 {
                    return Err(fail(format!(
                        "the proxy closed: {}",
                        String::from_utf8_lossy(&head)
                    )));
                }
                head.push(byte[0]);
            }
            let status = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            if status.split(' ').nth(1) != Some("200") {
                return Err(fail(format!("the proxy answered {status:?}")));
            }
            Ok(())
        }
        "socks5" | "socks5h" => {
            let method = if auth.is_some() { 2u8 } else { 0 };
            s.write_all(&[5, 1, method])?;
            let mut chosen = [0u8; 2];
            s.read_exact(&mut chosen)?;
            if chosen[1] != method {
                return Err(fail(format!("SOCKS5 method {:#x}", chosen[1])));
            }
            if let Some((u, p)) = auth {
                let mut msg = vec![1, u.len() as u8];
                msg.extend_from_slice(u.as_bytes());
                msg.push(p.len() as u8);
                msg.extend_from_slice(p.as_bytes());
                s.write_all(&msg)?;
                let mut status = [0u8; 2];
                s.read_exact(&mut status)?;
                if status[1] != 0 {
                    return Err(fail(format!(
                        "SOCKS5 authentication failed ({})",
                        status[1]
                    )));
                }
            }
            let mut req = vec![5, 1, 0];
            match host.parse::<Ipv4Addr>() {
                Ok(ip) if scheme == "socks5" => {
                    req.push(1);
                    req.extend_from_slice(&ip.octets());
                }
                _ => {
                    req.push(3);
                    req.push(host.len() as u8);
                    req.extend_from_slice(host.as_bytes());
                }
            }
            req.extend_from_slice(&port.to_be_bytes());
            s.write_all(&req)?;
            let mut reply = [0u8; 4];
            s.read_exact(&mut reply)?;
            if reply[1] != 0 {
                return Err(fail(format!("SOCKS5 reply {}", reply[1])));
            }
            let rest = match reply[3] {
                1 => 4 + 2,
                4 => 16 + 2,
                3 => {
                    let mut len = [0u8; 1];
                    s.read_exact(&mut len)?;
                    len[0] as usize + 2
                }
                t => return Err(fail(format!("SOCKS5 address type {t}"))),
            };
            let mut bound = vec![0u8; rest];
            s.read_exact(&mut bound)?;
            Ok(())
        }
        "socks4" | "socks4a" => {
            let mut req = vec![4, 1];
            req.extend_from_slice(&port.to_be_bytes());
            match host.parse::<Ipv4Addr>() {
                Ok(ip) => {
                    req.extend_from_slice(&ip.octets());
                    req.push(0);
                }
                Err(_) if scheme == "socks4a" => {
                    req.extend_from_slice(&[0, 0, 0, 1, 0]);
                    req.extend_from_slice(host.as_bytes());
                    req.push(0);
                }
                Err(_) => return Err(fail(format!("SOCKS4 needs an address, not {host}"))),
            }
            s.write_all(&req)?;
            let mut reply = [0u8; 8];
            s.read_exact(&mut reply)?;
            if reply[1] != 0x5a {
                return Err(fail(format!("SOCKS4 reply {:#x}", reply[1])));
            }
            Ok(())
        }
        other => Err(fail(format!("no handshake for {other}"))),
    }
}

/// Copies `from` to `to` until `from` ends, then shuts `to`'s sending side (half-close).
fn pipe_half(mut from: TcpStream, to: TcpStream) {
    let mut to_w = to;
    let _ = io::copy(&mut from, &mut to_w);
    let _ = to_w.shutdown(Shutdown::Write);
}

/// Joins two connections both ways, each direction's end passed on as a half-close.
fn join(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().expect("clone"), b.try_clone().expect("clone"));
    thread::spawn(move || pipe_half(a, b2));
    thread::spawn(move || pipe_half(b, a2));
}

/// A SOCKS4 and SOCKS4a proxy of our own (no real one at hand speaks SOCKS4a: dante does
/// not) that resolves names from its own table only, and records what each request asked
/// for: the name as sent, or the address. A name not in the table is refused (0x5B).
pub struct Socks4a {
    pub port: u16,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Socks4a {
    pub fn start(names: &[(&str, Ipv4Addr)]) -> Socks4a {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let table: Vec<(String, Ipv4Addr)> =
            names.iter().map(|(n, a)| (n.to_string(), *a)).collect();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (asked2, stop2) = (asked.clone(), stop.clone());
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (table, asked) = (table.clone(), asked2.clone());
                        thread::spawn(move || {
                            let _ = Self::serve(client, &table, &asked);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Socks4a { port, asked, stop }
    }

    fn serve(
        mut client: TcpStream,
        table: &[(String, Ipv4Addr)],
        asked: &Mutex<Vec<String>>,
    ) -> io::Result<()> {
        client.set_nonblocking(false)?;
        client.set_read_timeout(Some(PATIENCE))?;
        let mut head = [0u8; 8];
        client.read_exact(&mut head)?;
        let port = u16::from_be_bytes([head[2], head[3]]);
        let ip = Ipv4Addr::new(head[4], head[5], head[6], head[7]);
        let read_str = |c: &mut TcpStream| -> io::Result<String> {
            let mut v = Vec::new();
            let mut b = [0u8; 1];
            loop {
                c.read_exact(&mut b)?;
                if b[0] == 0 {
                    return Ok(String::from_utf8_lossy(&v).into_owned());
                }
                v.push(b[0]);
            }
        };
        let _user = read_str(&mut client)?;
        let o = ip.octets();
        let target = if o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] != 0 {
            let name = read_str(&mut client)?;
            asked.lock().unwrap().push(format!("name {name}:{port}"));
            table.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
        } else {
            asked.lock().unwrap().push(format!("address {ip}:{port}"));
            Some(ip)
        };
        let refuse = |c: &mut TcpStream| c.write_all(&[0, 0x5b, 0, 0, 0, 0, 0, 0]);
        let Some(addr) = target else {
            return refuse(&mut client);
        };
        let Ok(upstream) = TcpStream::connect((addr, port)) else {
            return refuse(&mut client);
        };
        client.write_all(&[0, 0x5a, 0, 0, 0, 0, 0, 0])?;
        client.set_read_timeout(None)?;
        join(client, upstream);
        Ok(())
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// What the requests so far asked for: `name HOST:PORT` or `address IP:PORT`.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for Socks4a {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A "proxy" that accepts connections, reads what it is sent and never answers: a client
/// waiting for its reply hangs until its own timeout. [`Silent::accepted`] waits for a
/// client's first bytes (its handshake has begun: it is waiting for our answer).
pub struct Silent {
    pub port: u16,
    accepted: Receiver<()>,
    stop: Arc<AtomicBool>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        thread::spawn(move || {
            let held = Arc::new(Mutex::new(Vec::new()));
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let (tx, held) = (tx.clone(), held.clone());
                        thread::spawn(move || {
                            let _ = s.set_nonblocking(false);
                            let _ = s.set_read_timeout(Some(PATIENCE));
                            let mut first = [0u8; 1];
                            if s.read(&mut first).is_ok_and(|n| n > 0) {
                                let _ = tx.send(());
                            }
                            // Held, unanswered, until the proxy is dropped.
                            held.lock().unwrap().push(s);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Silent {
            port,
            accepted: rx,
            stop,
        }
    }

    /// Waits until a client has connected and begun its handshake.
    pub fn accepted(&self) {
        self.accepted
            .recv_timeout(PATIENCE)
            .expect("a client began its handshake with the silent proxy");
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An HTTP proxy of our own that answers every request with `status` (`502 Bad Gateway`,
/// `407 Proxy Authentication Required`…) and closes, recording each request head.
pub struct Answering {
    pub port: u16,
    heads: Receiver<String>,
}

impl Answering {
    pub fn start(status: &str) -> Answering {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let status = status.to_string();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { return };
                let _ = s.set_read_timeout(Some(PATIENCE));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let mut extra = String::new();
                if status.starts_with("407") {
                    extra.push_str("Proxy-Authenticate: Basic realm=\"test\"\r\n");
                }
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                if tx
                    .send(String::from_utf8_lossy(&head).into_owned())
                    .is_err()
                {
                    return;
                }
            }
        });
        Answering { port, heads: rx }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next request head it read.
    pub fn head(&self) -> String {
        self.heads.recv_timeout(PATIENCE).expect("a request")
    }
}

/// An HTTP origin: Python's http.server serving `root`, on `bind` (`127.0.0.1`, `::1`),
/// over TLS when `tls` names (cert, key). `/redirect?to=URL` answers `302` to URL; every
/// request is logged on its stderr as `request PATH`.
pub struct Origin {
    pub addr: SocketAddr,
    _proc: Proc,
}

const ORIGIN_PY: &str = r#"
import http.server, os, socket, ssl, sys, urllib.parse
root, bind, cert, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
os.chdir(root)
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        print("request " + self.path, file=sys.stderr, flush=True)
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/redirect":
            to = urllib.parse.parse_qs(url.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    daemon_threads = True
server = Server((bind, 0), Handler)
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
host = "[" + bind + "]" if ":" in bind else bind
print("listening on %s:%d" % (host, server.server_address[1]), file=sys.stderr, flush=True)
server.serve_forever()
"#;

impl Origin {
    /// None (SKIP) without python3.
    pub fn start(root: &Path, bind: &str, tls: Option<(&str, &str)>) -> Option<Origin> {
        if !have("python3") {
            return None;
        }
        let (cert, key) = tls.unwrap_or(("", ""));
        let mut cmd = Command::new("python3");
        cmd.args(["-u", "-c", ORIGIN_PY])
            .arg(root)
            .args([bind, cert, key]);
        let mut proc = Proc::spawn_io(cmd, Stdio::null(), Stdio::null());
        let addr = proc.wait_ready(1)[0];
        Some(Origin { addr, _proc: proc })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// An echo target of our own on 127.0.0.1 (every byte back; the client's end ends ours).
pub fn echo_thread() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { return };
            thread::spawn(move || {
                let w = s.try_clone().expect("clone");
                pipe_half(s, w);
            });
        }
    });
    port
}

// The harness, checked with clients other than nicksock: our own (`Proxy::tunnel`), curl,
// and OpenBSD nc. These pass whatever the binary supports.

/// A target of our own that, per connection, reads exactly `len` bytes and hands them to
/// the test, or sends `len` bytes of pattern `seed` (by the first byte it reads: `u` or
/// `d`). Neither direction waits for an end, so a proxy's way with half-close cannot matter.
fn up_down_target(len: usize, seed: u64) -> (u16, Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let port = thread_target(move |mut s| {
        let mut which = [0u8; 1];
        if s.read_exact(&mut which).is_err() {
            return;
        }
        if which[0] == b'u' {
            let mut got = vec![0u8; len];
            let _ = s.read_exact(&mut got);
            let _ = tx.send(got);
        } else {
            let _ = s.write_all(&pattern(len, seed));
            // Held open until the client has read it all and gone.
            let _ = s.read(&mut which);
        }
    });
    (port, rx)
}

/// A target of the test's own on 127.0.0.1: each connection is given to `serve` on a
/// thread of its own. Its port.
pub fn thread_target<F>(serve: F) -> u16
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { return };
            let serve = serve.clone();
            thread::spawn(move || serve(s));
        }
    });
    port
}

#[test]
fn each_proxy_carries_16_mib_each_way_for_a_client_of_our_own() {
    let (Some(tiny), Some(tiny_auth), Some(ms), Some(ms_auth), Some(dante)) = (
        tinyproxy(None),
        tinyproxy(Some(("user", "s3cret-pw"))),
        microsocks(None),
        microsocks(Some(("user", "s3cret-pw"))),
        dante(),
    ) else {
        return;
    };
    const LEN: usize = 16 << 20;
    let data = pattern(LEN, 3);
    let (target, uploads) = up_down_target(LEN, 3);
    let started = Instant::now();
    let cases: Vec<(&Proxy, &str)> = vec![
        (&tiny, "http"),
        (&tiny_auth, "http"),
        (&ms, "socks5"),
        (&ms, "socks5h"),
        (&ms_auth, "socks5"),
        (&dante, "socks4"),
        (&dante, "socks5"),
        (&dante, "socks5h"),
    ];
    for (proxy, scheme) in &cases {
        let host = if *scheme == "socks5h" {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let what = format!("{scheme} via {}", proxy.url);
        // Up: 16 MiB to the target.
        let mut s = proxy
            .tunnel(scheme, (host, target))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        s.write_all(b"u").expect("send");
        s.write_all(&data).expect("send 16 MiB");
        let got = uploads.recv_timeout(PATIENCE).expect("the target's copy");
        assert!(got == data, "{what}: the upload arrived different");
        // Down: 16 MiB from the target.
        let mut s = proxy
            .tunnel(scheme, (host, target))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        s.write_all(b"d").expect("send");
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut got = vec![0u8; LEN];
        s.read_exact(&mut got).expect("read 16 MiB");
        assert!(got == data, "{what}: the download arrived different");
    }
    // Both ways at once, against an echo: tinyproxy and dante. (microsocks cannot: it
    // writes each 1 KiB it read before reading again, blocking, so when the target's echo
    // fills its buffers both stop for good; measured with a Python client too.)
    let echo = echo_thread();
    for (proxy, scheme) in [(&tiny, "http"), (&dante, "socks5")] {
        let s = proxy.tunnel(scheme, ("127.0.0.1", echo)).expect("tunnel");
        let mut w = s.try_clone().expect("clone");
        let sent = data.clone();
        let writer = thread::spawn(move || w.write_all(&sent));
        let mut r = s;
        r.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut got = vec![0u8; LEN];
        r.read_exact(&mut got).expect("read the echo");
        writer.join().expect("writer").expect("send 16 MiB");
        assert!(got == data, "{scheme} via {}: the echo differs", proxy.url);
    }
    eprintln!(
        "16 MiB each way through 8 proxies, 2 echoes: {:?}",
        started.elapsed()
    );
    // The credentials are demanded.
    let mut s = TcpStream::connect(("127.0.0.1", tiny_auth.port)).expect("connect");
    let err = handshake(&mut s, "http", None, ("127.0.0.1", echo)).unwrap_err();
    assert!(err.to_string().contains("407"), "{err}");
    let mut s = TcpStream::connect(("127.0.0.1", tiny_auth.port)).expect("connect");
    let err = handshake(&mut s, "http", Some(("user", "wrong")), ("127.0.0.1", echo)).unwrap_err();
    assert!(
        err.to_string().contains("401"),
        "tinyproxy says 401 to a wrong password: {err}"
    );
    let mut s = TcpStream::connect(("127.0.0.1", ms_auth.port)).expect("connect");
    let err = handshake(
        &mut s,
        "socks5",
        Some(("user", "wrong")),
        ("127.0.0.1", echo),
    )
    .unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    // What each says when the target refuses: tinyproxy `500 Unable to connect` (not 502),
    // microsocks and dante SOCKS5 reply 5, dante SOCKS4 0x5B; and tinyproxy's 403 for a
    // port outside its ConnectPort lines.
    let (_refusing, refused) = refusing_port();
    let says = |proxy: &Proxy, scheme: &str, port: u16| {
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
        handshake(&mut s, scheme, None, ("127.0.0.1", port))
            .unwrap_err()
            .to_string()
    };
    assert!(says(&tiny, "http", refused).contains("500 Unable to connect"));
    assert!(says(&ms, "socks5", refused).contains("SOCKS5 reply 5"));
    assert!(says(&dante, "socks5", refused).contains("SOCKS5 reply 5"));
    assert!(says(&dante, "socks4", refused).contains("SOCKS4 reply 0x5b"));
    let Some(strict) = tinyproxy_with(None, "ConnectPort 443\n") else {
        return;
    };
    assert!(says(&strict, "http", echo).contains("403 Access violation"));
    // tinyproxy's log has the CONNECT requests.
    assert!(
        tiny.requests()
            .iter()
            .any(|r| r.starts_with(&format!("CONNECT 127.0.0.1:{echo} "))),
        "{}",
        tiny.log()
    );
}

#[test]
fn each_proxy_half_close_is_as_measured() {
    let (Some(tiny), Some(ms), Some(dante)) = (tinyproxy(None), microsocks(None), dante()) else {
        return;
    };
    // A target that reads to its client's end, then answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                let _ = s.write_all(format!("reply to {} bytes\n", got.len()).as_bytes());
            });
        }
    });
    for (proxy, scheme) in [
        (&tiny, "http"),
        (&ms, "socks5"),
        (&dante, "socks5"),
        (&dante, "socks4"),
    ] {
        let mut s = proxy.tunnel(scheme, ("127.0.0.1", target)).expect("tunnel");
        s.write_all(b"hi\n").expect("send");
        s.shutdown(Shutdown::Write).expect("half-close");
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut got = Vec::new();
        let ended = s.read_to_end(&mut got);
        eprintln!(
            "{scheme} via {}: after our FIN got {:?} ({:?})",
            proxy.url,
            String::from_utf8_lossy(&got),
            ended.as_ref().map(|_| "clean end")
        );
        if proxy.carries_half_close {
            assert_eq!(
                got, b"reply to 3 bytes\n",
                "{} carries the half-close",
                proxy.url
            );
        } else {
            // The tunnel ends cleanly at once; the reply is lost, and nothing tells the
            // client (a FIN, not a reset).
            assert!(ended.is_ok(), "{}: a clean end", proxy.url);
            assert!(got.is_empty(), "{} was measured to cut: {got:?}", proxy.url);
        }
    }
}

#[test]
fn curl_and_nc_reach_an_origin_through_every_proxy_of_the_harness() {
    if !have("curl") || !have("nc") {
        return;
    }
    let (Some(tiny), Some(tiny_auth), Some(ms), Some(ms_auth), Some(dante), Some(https)) = (
        tinyproxy(None),
        tinyproxy(Some(("user", "s3cret-pw"))),
        microsocks(None),
        microsocks(Some(("user", "s3cret-pw"))),
        dante(),
        https_proxy(None),
    ) else {
        return;
    };
    let www = tempdir();
    write_file(www.path(), "hello.txt", b"hello through the proxy\n");
    let Some(origin) = Origin::start(www.path(), "127.0.0.1", None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/hello.txt", origin.port());
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20"])
            .args(args)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .env_remove("no_proxy")
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"hello through the proxy\n", "curl {args:?}");
    };
    curl(&["-x", &tiny.url, &url]);
    curl(&["-p", "-x", &tiny.url, &url]);
    curl(&["-x", &tiny_auth.url_with_auth(), &url]);
    curl(&["-x", &ms.url, &url]);
    curl(&["-x", &ms.url_as("socks5h"), &url]);
    curl(&["-x", &ms_auth.url_with_auth(), &url]);
    curl(&["-x", &dante.url_as("socks4"), &url]);
    curl(&["-x", &dante.url_as("socks5"), &url]);
    curl(&[
        "-x",
        &https.url,
        "--proxy-cacert",
        https.cacert.as_deref().unwrap(),
        &url,
    ]);
    curl(&[
        "-p",
        "-x",
        &https.url,
        "--proxy-cacert",
        https.cacert.as_deref().unwrap(),
        &url,
    ]);
    // tinyproxy's log: the absolute form, then CONNECT; the HTTPS proxy's tinyproxy too.
    let reqs = tiny.requests();
    assert!(
        reqs[0].starts_with(&format!("GET {url} HTTP/1.1")),
        "{reqs:?}"
    );
    assert!(
        reqs[1].starts_with(&format!("CONNECT 127.0.0.1:{} ", origin.port())),
        "{reqs:?}"
    );
    assert_eq!(https.requests().len(), 2, "{}", https.log());

    // OpenBSD nc through SOCKS5, SOCKS4 and CONNECT: 16 MiB up, the target's count back.
    let data = pattern(16 << 20, 7);
    let dir = tempdir();
    let input = write_file(dir.path(), "in.bin", &data);
    for (flag, proxy) in [("5", &ms), ("4", &dante), ("5", &dante), ("connect", &tiny)] {
        // A target that counts what it got once its client has ended.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let counter = thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut got = Vec::new();
            s.read_to_end(&mut got).expect("read");
            got
        });
        let out = Command::new("nc")
            .args([
                "-N",
                "-X",
                flag,
                "-x",
                &proxy.addr(),
                "127.0.0.1",
                &port.to_string(),
            ])
            .stdin(File::open(&input).expect("input"))
            .output()
            .expect("nc");
        assert!(out.status.success(), "nc -X {flag}: {out:?}");
        let got = counter.join().expect("counter");
        assert!(
            got == data,
            "nc -X {flag} via {}: {} of {} bytes arrived",
            proxy.url,
            got.len(),
            data.len()
        );
    }
}

#[test]
fn proxy_only_names_resolve_at_the_proxy_for_curl() {
    if !have("curl") {
        return;
    }
    let name = "only-the-proxy-knows.nicksock-test";
    let Some(ms) = microsocks_with_hosts(&format!("127.0.0.1 {name}")) else {
        return;
    };
    let Some(dante) = dante_with_hosts(&format!("127.0.0.1 {name}")) else {
        return;
    };
    let socks4a = Socks4a::start(&[(name, Ipv4Addr::LOCALHOST)]);
    let www = tempdir();
    write_file(www.path(), "hello.txt", b"resolved by the proxy\n");
    let Some(origin) = Origin::start(www.path(), "127.0.0.1", None) else {
        return;
    };
    let url = format!("http://{name}:{}/hello.txt", origin.port());
    let scratch = tempdir();
    for (proxy, ok) in [
        (ms.url_as("socks5h"), true),
        (dante.url_as("socks5h"), true),
        (socks4a.url("socks4a"), true),
        (ms.url_as("socks5"), false),
    ] {
        let argv: Vec<String> = ["curl", "-sS", "--max-time", "20", "-x", &proxy, &url]
            .map(str::to_string)
            .to_vec();
        let Some(mut cmd) = without_dns(scratch.path(), &argv) else {
            return;
        };
        let out = cmd.output().expect("curl");
        if ok {
            assert!(out.status.success(), "curl -x {proxy}: {out:?}");
            assert_eq!(out.stdout, b"resolved by the proxy\n");
        } else {
            // curl resolves for socks5://, and with `hosts: files` it cannot.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "curl -x {proxy}: {out:?}");
            assert!(
                err.contains("Could not resolve host"),
                "curl -x {proxy}: {err}"
            );
        }
    }
    assert_eq!(
        socks4a.asked(),
        vec![format!("name {name}:{}", origin.port())]
    );
    assert!(ms.log().contains(name), "{}", ms.log());
}
