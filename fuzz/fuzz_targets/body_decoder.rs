//! The body decoder alone, against a small reference decoder written here: for each framing
//! the bytes fed at once and in pieces give the same body and outcome, a Content-Length body
//! is the first N bytes, and a chunked body both decoders complete is the same body.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use nicksock::http::body::{BodyDecoder, Framing};

/// Body, whether it completed, and whether it failed, from `pieces` then EOF.
fn decode<'a>(framing: Framing, pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<u8>, bool, bool) {
    let mut d = BodyDecoder::new(framing);
    let mut out = Vec::new();
    for piece in pieces {
        if d.is_done() {
            break;
        }
        if d.decode(piece, &mut out).is_err() {
            return (out, false, true);
        }
    }
    let done_before_eof = d.is_done();
    let failed = d.finish_eof().is_err();
    (out, done_before_eof || !failed, failed)
}

/// The chunked coding by the book (RFC 9112 §7.1), strictly: hex size, optional
/// extensions, CRLF, data, CRLF; a zero size, trailer lines, an empty line.
fn reference_chunked(mut input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let line = |input: &mut &[u8]| -> Option<Vec<u8>> {
        let end = input.windows(2).position(|w| w == b"\r\n")?;
        let l = input[..end].to_vec();
        *input = &input[end + 2..];
        Some(l)
    };
    loop {
        let size_line = line(&mut input)?;
        let size_part = size_line.split(|&b| b == b';').next()?;
        if size_part.is_empty()
            || size_part.len() > 16
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return None;
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).ok()?, 16).ok()?;
        if size == 0 {
            break;
        }
        let end = size.checked_add(2)?;
        if input.len() < end || &input[size..end] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&input[..size]);
        input = &input[size + 2..];
    }
    while !line(&mut input)?.is_empty() {}
    Some(out)
}

fuzz_target!(|input: &[u8]| {
    let (flags, splits, data) = common::parts(input);
    let framing = match flags % 3 {
        0 => Framing::Length(u64::from(u16::from_le_bytes([
            flags,
            *splits.first().unwrap_or(&0),
        ]))),
        1 => Framing::Chunked,
        _ => Framing::Close,
    };
    let whole = decode(framing, std::iter::once(data));
    let split = decode(framing, common::chunks(splits, data));
    assert_eq!(whole, split, "splitting the input changed the result");
    let (body, complete, _) = whole;
    match framing {
        Framing::Length(n) => {
            let n = usize::try_from(n).expect("small");
            assert_eq!(body, &data[..n.min(data.len())]);
            assert_eq!(complete, data.len() >= n);
        }
        Framing::Close => assert_eq!(body, data),
        Framing::Chunked => {
            if let (true, Some(expected)) = (complete, reference_chunked(data)) {
                assert_eq!(body, expected, "the decoders disagree");
            }
        }
        Framing::Empty => {}
    }
});
