//! What the event-stream benchmarks share: the change they time, and how they summarise.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `POST /api/pins/13 {"action":"toggle"}`, its whole answer read.
#[allow(dead_code)] // not every example changes the pin by POST
pub fn toggle(c: &mut TcpStream, buf: &mut Vec<u8>) {
    let body = r#"{"action":"toggle"}"#;
    let request = format!(
        "POST /api/pins/13 HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(request.as_bytes()).expect("send");
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).expect("the answer");
        assert!(n > 0, "the server closed the changer");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(buf);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse().ok())
                .expect("Content-Length");
            if rest.len() >= len {
                return;
            }
        }
    }
}

/// "p50 … p99 … max …" of durations.
pub fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    format!(
        "p50 {:.2?} p99 {:.2?} max {:.2?}",
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    )
}
