//! `http-get`'s response reader: heads, interim responses and bodies (Content-Length,
//! chunked, to the close) in arbitrary splits. Differential: the same bytes fed at once and
//! fed in pieces must give the same body and the same outcome, and the same events when
//! the response is read whole (a failing `feed` returns its error, not the events before
//! it); a body delimited by Content-Length that completes has exactly that length.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use nicksock::http::client::{Event, ResponseReader};

/// Events, body and outcome of reading `pieces` and then the end of the connection.
fn read<'a>(
    method: &str,
    pieces: impl Iterator<Item = &'a [u8]>,
) -> (Vec<Event>, Vec<u8>, Result<(), String>) {
    let mut reader = ResponseReader::new(method);
    let mut events = Vec::new();
    let mut body = Vec::new();
    for piece in pieces {
        if reader.is_done() {
            break;
        }
        match reader.feed(piece, &mut body) {
            Ok(got) => events.extend(got),
            Err(e) => return (events, body, Err(format!("{e:?}"))),
        }
    }
    match reader.finish_eof() {
        Ok(done) => events.extend(done),
        Err(e) => return (events, body, Err(format!("{e:?}"))),
    }
    (events, body, Ok(()))
}

fuzz_target!(|input: &[u8]| {
    let (flags, splits, data) = common::parts(input);
    let method = if flags & 1 == 1 { "HEAD" } else { "GET" };
    let whole = read(method, std::iter::once(data));
    let split = read(method, common::chunks(splits, data));
    assert_eq!(
        (&whole.1, &whole.2),
        (&split.1, &split.2),
        "splitting changed the result"
    );
    if whole.2.is_ok() {
        assert_eq!(whole.0, split.0, "splitting changed the events");
    }
    let (events, body, outcome) = whole;
    if outcome.is_ok()
        && let Some(Event::Head(head)) = events.iter().find(|e| matches!(e, Event::Head(_)))
        && method == "GET"
        && head.header("transfer-encoding").is_none()
        && let Some(len) = head
            .header("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
        && !matches!(head.status, 100..=199 | 204 | 304)
    {
        assert_eq!(body.len(), len, "a complete body of the wrong length");
    }
});
