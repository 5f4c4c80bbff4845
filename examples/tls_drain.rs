//! The cheapest HTTPS download there is: the ceiling of the TLS download benchmarks
//! (scripts/bench/http_get.sh, issue 29). It makes the TLS handshake with rustls (nicksock's
//! own client configuration), sends one `GET` with `Connection: close`, then reads the
//! ciphertext to the server's close without decrypting it, 256 KiB a wake-up (SO_RCVLOWAT).
//! The client's cost is the kernel's copy alone, so the time is what the server takes to
//! encrypt and send: the limit any client meets against that server on this machine.
//!
//!     tls_drain HOST PORT PATH CACERT
//!
//! Prints the ciphertext bytes read after the request. The benchmark checks them against the
//! body's size, and nginx's own log says the whole body was sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;

use nicksock::tls::config::{ClientOptions, client_config, server_name};
use rustls::ClientConnection;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, path, cacert] = args.as_slice() else {
        eprintln!("usage: tls_drain HOST PORT PATH CACERT");
        return ExitCode::from(2);
    };
    match drain(host, port, path, cacert) {
        Ok(bytes) => {
            println!("{bytes}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tls_drain: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn drain(host: &str, port: &str, path: &str, cacert: &str) -> anyhow::Result<u64> {
    let config = client_config(&ClientOptions {
        cacert: Some(PathBuf::from(cacert)),
        alpn: vec![b"http/1.1".to_vec()],
        ..ClientOptions::default()
    })?;
    let mut conn = ClientConnection::new(config, server_name(host)?)?;
    let mut sock = TcpStream::connect((host, port.parse::<u16>()?))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.writer().write_all(request.as_bytes())?;
    while conn.wants_write() {
        conn.write_tls(&mut sock)?;
    }
    // From here on, records are counted, never opened; a read waits for 256 KiB (or the
    // end), so the server is not made to wake us for every segment either.
    nicksock::sock::set_read_low_water(&sock, 256 * 1024)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match sock.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}
