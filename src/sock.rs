//! Socket calls that sit below both the event loop (`net`) and TLS (`tls`): ending our
//! sending side, and asking how much the peer has acknowledged.

use std::io;
use std::net::Shutdown;

use mio::net::TcpStream;

/// Shuts the TCP write side. A peer that already closed the whole connection (it had what it
/// wanted and left, or reset it) leaves nothing to end: `ENOTCONN` is success.
pub fn shut_write(sock: &TcpStream) -> io::Result<()> {
    match sock.shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// How many bytes we sent on `sock` that the peer has not acknowledged yet, our FIN
/// included (`SIOCOUTQ`). Zero means the peer's kernel has every byte: as far as TCP can
/// tell, they were delivered.
#[allow(unsafe_code)]
pub fn unacknowledged(sock: &TcpStream) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
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
        let ours = TcpStream::from_std(ours);
        let raw = ours.shutdown(Shutdown::Write).unwrap_err();
        assert_eq!(raw.kind(), io::ErrorKind::NotConnected, "{raw}");
        shut_write(&ours).unwrap();
    }
}
