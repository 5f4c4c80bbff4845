//! Unix domain sockets (`-U PATH`, `http-get --unix-socket PATH`): the same sessions, TLS
//! and servers as TCP, on a socket file (or, with `@NAME`, a name in Linux's abstract
//! namespace, which needs no file).
//!
//! A server's socket file outlives a server that was killed. Binding over one: when no
//! server answers there (connecting is refused) the file is stale and is replaced; when one
//! answers, the address is in use (exit 8); a file that is not a socket is never touched.
//! The file we bound is removed when its listener goes, unless another server has replaced
//! it meanwhile.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use anyhow::Result;
use socket2::{Domain, SockAddr, Socket, Type};

use super::connector::ConnectOptions;
use super::transport::describe;
use crate::error::{Kind, fail};

/// Pending connections the kernel may hold (it caps the number at somaxconn).
const BACKLOG: i32 = 4096;
/// A listening Unix socket; its file (when it has one) is removed when it is dropped.
#[derive(Debug)]
pub struct UnixListener {
    /// The socket on the loop.
    pub sock: mio::net::UnixListener,
    _file: Option<BoundFile>,
}

/// The socket file we bound, known by its device and inode so that a file another server
/// put in its place is left alone.
#[derive(Debug)]
struct BoundFile {
    path: PathBuf,
    id: (u64, u64),
}

impl Drop for BoundFile {
    fn drop(&mut self) {
        if file_id(&self.path) == Some(self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Whether `path` names a socket in the abstract namespace (`@NAME`).
pub fn is_abstract(path: &Path) -> bool {
    path.as_os_str().as_bytes().starts_with(b"@")
}

/// The socket address of `path`: a file, or `@NAME` in the abstract namespace.
fn sockaddr(path: &Path) -> io::Result<SockAddr> {
    match path.as_os_str().as_bytes().strip_prefix(b"@") {
        Some(name) => {
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            SockAddr::unix(OsStr::from_bytes(&bytes))
        }
        None => SockAddr::unix(path),
    }
}

/// Checks a socket path before any socket is made: not empty, and short enough for a socket
/// address (108 bytes with the final NUL). A usage error (exit 2) names what is wrong.
/// (`_command`, the subcommand, is no longer needed; callers still pass it.)
pub fn check_path(_command: &str, path: &Path) -> Result<()> {
    let len = path.as_os_str().len();
    if len == 0 || path.as_os_str() == "@" {
        return Err(fail(
            Kind::Usage,
            format!(
                "invalid socket path '{}': give a file name, or @NAME for the abstract namespace",
                path.display()
            ),
        ));
    }
    if sockaddr(path).is_err() {
        return Err(fail(
            Kind::Usage,
            format!(
                "invalid socket path '{}': {len} bytes, a socket address takes at most 107",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Binds and listens on `path`, replacing a stale socket file, and prints the ready line
/// `listening on PATH` (followed by ` (label)` when a label is given).
pub fn bind(path: &Path, label: &str) -> Result<UnixListener> {
    let shown = path.display();
    let cannot = |why: String| fail(Kind::Bind, format!("cannot listen on {shown}: {why}"));
    let sock = match listen_at(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && !is_abstract(path) => {
            match probe(path) {
                // Removed only if it is still the file found stale: another server starting
                // at the same moment may have replaced it with its own, live one.
                Probe::Stale(id) if file_id(path) == Some(id) => match std::fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(cannot(format!("removing the stale socket file: {e}")));
                    }
                    _ => {}
                },
                Probe::Stale(_) => {
                    return Err(cannot(
                        "address already in use (the socket file was replaced while checking it)"
                            .into(),
                    ));
                }
                Probe::Gone => {}
                Probe::Live => {
                    return Err(cannot(
                        "address already in use (a server answers on this socket)".into(),
                    ));
                }
                Probe::NotSocket => {
                    return Err(cannot(
                        "address already in use (the file exists and is not a socket)".into(),
                    ));
                }
            }
            listen_at(path)
        }
        other => other,
    }
    .map_err(|e| cannot(bind_error(&e)))?;
    let file = (!is_abstract(path)).then(|| BoundFile {
        path: path.to_path_buf(),
        id: file_id(path).unwrap_or_default(),
    });
    super::listener::print_ready("listening on", shown, label);
    Ok(UnixListener {
        sock: mio::net::UnixListener::from_std(sock.into()),
        _file: file,
    })
}

fn listen_at(path: &Path) -> io::Result<Socket> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&sockaddr(path)?)?;
    // The file exists from the bind on: it goes if the socket cannot be used.
    if let Err(e) = socket
        .listen(BACKLOG)
        .and_then(|()| socket.set_nonblocking(true))
    {
        if !is_abstract(path) {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(socket)
}

fn bind_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::NotFound => "no such directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// What is at a path that could not be bound.
#[derive(Debug, PartialEq, Eq)]
enum Probe {
    /// A socket file no server answers on (its device and inode).
    Stale((u64, u64)),
    /// A socket a server answers on.
    Live,
    /// Something that is not a socket.
    NotSocket,
    /// Nothing any more.
    Gone,
}

fn probe(path: &Path) -> Probe {
    let id = match std::fs::symlink_metadata(path) {
        Err(_) => return Probe::Gone,
        Ok(m) if !m.file_type().is_socket() => return Probe::NotSocket,
        Ok(m) => (m.dev(), m.ino()),
    };
    // Asking the kernel first: a connection to a live `listen` would be taken for its one
    // client. Connecting is left for a server the list does not show (one in another
    // network namespace, sharing the file).
    if listed_as_listening(path) {
        return Probe::Live;
    }
    match try_connect(path) {
        // A full backlog is a server too busy to take us now: it is there.
        Ok(_) => Probe::Live,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Probe::Live,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Probe::Stale(id),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Probe::Gone,
        // Not ours to judge (permission denied, say): leave the file alone.
        Err(_) => Probe::Live,
    }
}

/// Whether the kernel lists a listening stream socket bound to `path` (`/proc/net/unix`,
/// which shows each path as its server gave it, perhaps relative to that server's
/// directory).
fn listed_as_listening(path: &Path) -> bool {
    let Ok(table) = std::fs::read(PROC_NET_UNIX) else {
        return false;
    };
    // The path as given, made absolute, and with its symlinks resolved (`/var/run` is
    // `/run`): a server may have named it any of these ways.
    let forms: Vec<std::path::PathBuf> = [std::path::absolute(path), std::fs::canonicalize(path)]
        .into_iter()
        .flatten()
        .collect();
    listening_paths(&table).any(|bound| {
        let bound = Path::new(OsStr::from_bytes(bound));
        bound == path
            || forms.iter().any(|form| {
                if bound.is_absolute() {
                    form == bound
                } else {
                    form.ends_with(bound)
                }
            })
    })
}

/// The kernel's table of Unix sockets.
const PROC_NET_UNIX: &str = "/proc/net/unix";
/// `__SO_ACCEPTCON`: the socket listens.
const ACCEPTING: u32 = 0x0001_0000;
/// `SOCK_STREAM`, as the table writes it.
const STREAM: &str = "0001";

/// The paths of listening stream sockets in a `/proc/net/unix` table.
fn listening_paths(table: &[u8]) -> impl Iterator<Item = &[u8]> {
    table.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        // Num RefCount Protocol Flags Type St Inode Path: seven words, then the path,
        // which may hold spaces.
        let mut rest = line;
        let mut words = [&b""[..]; 7];
        for word in &mut words {
            let start = rest.iter().position(|&b| b != b' ')?;
            rest = &rest[start..];
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            (*word, rest) = rest.split_at(end);
        }
        let path = rest.strip_prefix(b" ")?;
        let flags = u32::from_str_radix(std::str::from_utf8(words[3]).ok()?, 16).ok()?;
        (flags & ACCEPTING != 0 && words[4] == STREAM.as_bytes()).then_some(path)
    })
}

/// One non-blocking connect. A Unix connect does not stay in progress: it is made, refused,
/// or `WouldBlock` when the server's backlog is full.
pub(crate) fn try_connect(path: &Path) -> io::Result<mio::net::UnixStream> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.connect(&sockaddr(path)?)?;
    Ok(mio::net::UnixStream::from_std(socket.into()))
}

/// A failure to connect to `path` in the user's words, with its exit code: 4 when nothing
/// listens there, 5 when its backlog stayed full.
pub fn connect_error(path: &Path, e: &io::Error, opts: &ConnectOptions) -> anyhow::Error {
    let (kind, why) = match e.kind() {
        io::ErrorKind::NotFound => (Kind::Refused, "no such socket".to_string()),
        io::ErrorKind::ConnectionRefused => (
            Kind::Refused,
            "connection refused (no server on this socket)".to_string(),
        ),
        io::ErrorKind::WouldBlock => (
            Kind::Timeout,
            "timed out (the server's backlog stayed full)".to_string(),
        ),
        io::ErrorKind::Interrupted => (Kind::Interrupted, "interrupted".to_string()),
        io::ErrorKind::PermissionDenied => (Kind::Runtime, "permission denied".to_string()),
        _ => (Kind::Runtime, describe(e)),
    };
    let during = match opts.retry_for {
        Some(d) => format!(" (kept trying for {} s)", d.as_secs_f64()),
        None => String::new(),
    };
    fail(
        kind,
        format!("connecting to {}{during}: {why}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nicksock-unix-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("s.sock")
    }

    #[test]
    fn a_stale_socket_file_is_replaced_and_a_live_one_is_in_use() {
        let path = temp_path("stale");
        // A server that died leaves its file: nothing answers there.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        assert!(matches!(probe(&path), Probe::Stale(_)));
        let live = bind(&path, "").unwrap();
        assert_eq!(probe(&path), Probe::Live);
        let err = bind(&path, "").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), Kind::Bind.code());
        assert!(format!("{err}").contains("a server answers"), "{err}");
        drop(live);
        assert!(!path.exists(), "the socket file outlived its listener");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let path = temp_path("regular");
        std::fs::write(&path, b"keep me").unwrap();
        let err = bind(&path, "").unwrap_err();
        assert!(format!("{err}").contains("not a socket"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_replaced_socket_file_is_not_removed_by_the_old_listener() {
        let path = temp_path("replaced");
        let old = bind(&path, "").unwrap();
        std::fs::remove_file(&path).unwrap();
        let new = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(old);
        assert!(
            path.exists(),
            "the old listener removed the new server's file"
        );
        drop(new);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn abstract_names_need_no_file() {
        let name = PathBuf::from(format!("@nicksock-test-{}", std::process::id()));
        let l = bind(&name, "").unwrap();
        // A Unix connect completes at once, and the bytes are in the peer's queue when
        // write returns: no waiting on either side.
        let mut client = try_connect(&name).unwrap();
        client.write_all(b"hi").unwrap();
        let (mut server, _) = l.sock.accept().unwrap();
        let mut got = [0u8; 2];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
        assert!(
            bind(&name, "").is_err(),
            "an abstract name is in use while bound"
        );
    }

    #[test]
    fn the_kernels_table_tells_listening_stream_sockets() {
        let table = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000047d36e27: 00000003 00000000 00000000 0001 03  1518\n\
            00000000d1adb190: 00000002 00000000 00010000 0001 01 48297634 rel.sock\n\
            00000000d1adb191: 00000002 00000000 00000000 0001 01 48297635 /run/client.sock\n\
            00000000d1adb192: 00000002 00000000 00010000 0002 01 48297636 /run/dgram.sock\n\
            00000000d1adb193: 00000002 00000000 00010000 0001 01 48297637 /run/a b.sock\n\
            00000000d1adb194: 00000002 00000000 00010000 0001 01  9 /run/c d.sock\n";
        let found: Vec<&[u8]> = listening_paths(table).collect();
        assert_eq!(
            found,
            [&b"rel.sock"[..], b"/run/a b.sock", b"/run/c d.sock"]
        );
    }

    /// The liveness check left `live` nothing to accept: it did not connect.
    fn assert_not_connected(live: &UnixListener) {
        let taken = live.sock.accept();
        assert!(
            taken
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock),
            "the check connected: {taken:?}"
        );
    }

    #[test]
    fn a_live_one_shot_server_is_not_connected_to_by_the_check() {
        let path = temp_path("oneshot");
        let live = bind(&path, "").unwrap();
        assert_eq!(probe(&path), Probe::Live);
        assert_not_connected(&live);
        drop(live);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_live_server_is_known_through_a_symlinked_directory_too() {
        let path = temp_path("through-link");
        let dir = path.parent().unwrap();
        let link = dir.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(dir, &link).unwrap();
        let live = bind(&path, "").unwrap();
        assert_eq!(probe(&link.join("s.sock")), Probe::Live);
        assert_not_connected(&live);
        drop(live);
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn socket_paths_are_checked_before_use() {
        assert!(check_path("listen", Path::new("/tmp/ok.sock")).is_ok());
        assert!(check_path("listen", Path::new("@ok")).is_ok());
        assert!(check_path("listen", Path::new("")).is_err());
        let long = format!("/tmp/{}", "x".repeat(200));
        let err = check_path("listen", Path::new(&long)).unwrap_err();
        assert!(err.to_string().contains("at most 107"), "{err}");
        assert_eq!(crate::error::kind(&err), Kind::Usage);
    }
}
