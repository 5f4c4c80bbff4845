//! Socket calls that sit below both the event loop (`net`) and TLS (`tls`): the connected
//! [`Stream`] (TCP or a Unix domain socket), ending our sending side, and asking how much
//! the peer has taken.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

/// A connected stream socket: TCP, or a Unix domain socket (`-U PATH`). Everything above it
/// (TLS, the relay, the servers) is the same for both.
#[derive(Debug)]
pub enum Stream {
    /// TCP over IPv4 or IPv6.
    Tcp(TcpStream),
    /// A Unix domain stream socket.
    Unix(UnixStream),
}

/// Who is at the other end of a stream, for messages and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// A TCP peer's address.
    Ip(SocketAddr),
    /// A process on this machine, as the kernel saw it when the socket was connected
    /// (`SO_PEERCRED`: pid and uid; the pid is 0 for a process in another pid namespace);
    /// `None` where the kernel would not say.
    Local(Option<(u32, u32)>),
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Ip(addr) => addr.fmt(f),
            Remote::Local(Some((0, uid))) => write!(f, "a process of uid {uid}"),
            Remote::Local(Some((pid, uid))) => write!(f, "pid {pid} (uid {uid})"),
            Remote::Local(None) => f.write_str("a local process"),
        }
    }
}

impl Stream {
    /// Turns Nagle's delay off (TCP only; a Unix socket has none).
    pub fn set_nodelay(&self) {
        if let Stream::Tcp(s) = self {
            let _ = s.set_nodelay(true);
        }
    }

    /// The pending error of the socket (a reset that arrived while we were not reading).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
        }
    }

    /// Shuts one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// The other end, while the kernel still knows it.
    pub fn remote(&self) -> Option<Remote> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok().map(Remote::Ip),
            Stream::Unix(s) => Some(local_peer(s)),
        }
    }

    /// Asks the kernel to report the socket readable only once `bytes` are queued: see
    /// [`set_read_low_water`]. TCP only: a Unix socket's readiness ignores the mark, so it
    /// is refused (`Unsupported`), and a caller pacing its reads knows it is not paced.
    pub fn set_read_low_water(&self, bytes: usize) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => set_read_low_water(s, bytes),
            Stream::Unix(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

/// Asks the kernel to report a TCP socket readable only once `bytes` are queued, or at its
/// end, an error or a reset (SO_RCVLOWAT; 1 is the default). A non-blocking read still
/// returns what is there; a blocking one waits for `bytes` or the end. Neither socket2 nor
/// rustix offers this option, hence libc.
#[allow(unsafe_code)]
pub fn set_read_low_water(sock: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: SO_RCVLOWAT reads one c_int from `value`, which lives for the whole call; the
    // descriptor is the caller's, open for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The process at the other end of a Unix socket.
#[allow(unsafe_code)]
pub fn local_peer(sock: &impl AsRawFd) -> Remote {
    // Not rustix's `socket_peercred`: it takes the pid as non-zero, and the kernel gives 0
    // for a peer in another pid namespace.
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes at most `len` bytes (one ucred) into `cred`, which lives
    // for the whole call; the descriptor is ours.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    Remote::Local(
        (r == 0 && len as usize == std::mem::size_of::<libc::ucred>())
            .then(|| (cred.pid.unsigned_abs(), cred.uid)),
    )
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Self {
        Stream::Tcp(s)
    }
}

impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Self {
        Stream::Unix(s)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Shuts the write side. A peer that already closed the whole connection (it had what it
/// wanted and left, or reset it) leaves nothing to end: `ENOTCONN` is success.
pub fn shut_write(sock: &Stream) -> io::Result<()> {
    match sock.shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// The port of the service `name` for `proto` (`"tcp"`) in the system's services database
/// (`/etc/services` through nsswitch), as nc looks `ssh` up.
#[allow(unsafe_code)]
pub fn service_port(name: &str, proto: &str) -> Option<u16> {
    let name = std::ffi::CString::new(name).ok()?;
    let proto = std::ffi::CString::new(proto).ok()?;
    // SAFETY: both arguments are NUL-terminated strings alive for the call; the result
    // points at libc's static entry (or is null), read at once, before any other netdb
    // call (nicksock makes them on the main thread only).
    let entry = unsafe { libc::getservbyname(name.as_ptr(), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: not null: a valid `servent` until the next netdb call.
    let port = unsafe { (*entry).s_port };
    // The port is in network byte order in the low 16 bits.
    Some(u16::from_be(u16::try_from(port & 0xffff).ok()?))
}

/// The name of `port` for `proto` in the system's services database, if it has one.
#[allow(unsafe_code)]
pub fn service_name(port: u16, proto: &str) -> Option<String> {
    let proto = std::ffi::CString::new(proto).ok()?;
    // SAFETY: as in `service_port`; the port goes in network byte order.
    let entry = unsafe { libc::getservbyport(libc::c_int::from(port.to_be()), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: not null: a valid `servent` whose `s_name` is a NUL-terminated string, copied
    // out at once.
    let name = unsafe { std::ffi::CStr::from_ptr((*entry).s_name) };
    Some(name.to_string_lossy().into_owned())
}

/// How many bytes we sent on `sock` that the peer has not taken yet (`SIOCOUTQ`). On TCP
/// that is what it has not acknowledged, our FIN included: zero means the peer's kernel has
/// every byte. On a Unix socket it is the buffer space (not bytes) of what the peer has not
/// read yet: zero means it read everything. A Unix peer that closes with bytes unread leaves
/// us `ECONNRESET`, as TCP's reset does, and its queue is thrown away: the count is 0 then.
#[allow(unsafe_code)]
pub fn unacknowledged(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (the same request number as TIOCOUTQ) stores one int through the
    // pointer, which points at `n`, alive for the whole call; the descriptor is ours.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::Duration;

    #[test]
    fn shutting_our_side_after_the_peer_reset_is_not_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        // Linger 0: closing sends a reset, as a client that read its answer and left may.
        socket2::SockRef::from(&peer)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(peer);
        ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let reset = (&ours).read(&mut [0u8; 1]);
        assert!(
            matches!(&reset, Err(e) if e.kind() == io::ErrorKind::ConnectionReset),
            "{reset:?}"
        );
        let ours = Stream::Tcp(TcpStream::from_std(ours));
        let raw = ours.shutdown(Shutdown::Write).unwrap_err();
        assert_eq!(raw.kind(), io::ErrorKind::NotConnected, "{raw}");
        shut_write(&ours).unwrap();
    }
}
