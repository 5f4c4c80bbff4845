//! Body framing shared by both ends: how long a body is (Content-Length, chunked encoding or
//! connection close), and a push-style decoder that turns the bytes off the wire into body
//! bytes, one piece at a time, whatever the pieces' sizes.

use std::fmt;
use std::ops::Range;

/// Where a decoder puts the body bytes it finds: a `Vec<u8>` copies them out; a list of
/// ranges keeps them where they lie in the input, so a caller can write them from its read
/// buffer without a copy (`http-get`'s download path).
pub trait BodyOut {
    /// `input[range]` is body, in order after what came before.
    fn take(&mut self, input: &[u8], range: Range<usize>);
}

impl BodyOut for Vec<u8> {
    fn take(&mut self, input: &[u8], range: Range<usize>) {
        self.extend_from_slice(&input[range]);
    }
}

/// Body pieces as ranges of the input, empty ones dropped.
impl BodyOut for Vec<Range<usize>> {
    fn take(&mut self, _input: &[u8], range: Range<usize>) {
        if !range.is_empty() {
            self.push(range);
        }
    }
}

/// A [`BodyOut`] that receives ranges of a slice of `whole` starting at `base`, and passes
/// them on as ranges of `whole`.
pub struct Shifted<'a, O: BodyOut> {
    pub out: &'a mut O,
    pub whole: &'a [u8],
    pub base: usize,
}

impl<O: BodyOut> BodyOut for Shifted<'_, O> {
    fn take(&mut self, _input: &[u8], range: Range<usize>) {
        let range = range.start + self.base..range.end + self.base;
        self.out.take(self.whole, range);
    }
}

/// The longest chunk-size line (size plus extensions) or trailer line accepted.
pub const MAX_CHUNK_LINE: usize = 8 * 1024;

/// The most trailer bytes accepted after the last chunk.
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304; a request without Content-Length).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the peer closes the connection (responses only).
    Close,
}

/// Why the headers do not say how long the body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingError {
    /// Content-Length is not a number, or several values disagree.
    BadContentLength(String),
    /// A request with a transfer coding other than a final `chunked`.
    UnsupportedTransferEncoding(String),
    /// A request with both Transfer-Encoding and Content-Length (a smuggling vector).
    LengthAndChunked,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::BadContentLength(v) => write!(f, "invalid Content-Length `{v}`"),
            FramingError::UnsupportedTransferEncoding(v) => {
                write!(f, "unsupported Transfer-Encoding `{v}`")
            }
            FramingError::LengthAndChunked => {
                f.write_str("both Transfer-Encoding and Content-Length")
            }
        }
    }
}

impl std::error::Error for FramingError {}

/// Which end of the exchange a message came from: the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A request a server received.
    Request,
    /// A response a client received.
    Response,
}

/// The framing the headers describe (RFC 9112 §6.3). The caller has already dealt with the
/// cases that have no body whatever the headers say (HEAD, 1xx, 204, 304).
pub fn framing_from_headers<'a, I>(headers: I, side: Side) -> Result<Framing, FramingError>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            for part in value.split(',') {
                let n = parse_content_length(part.trim())
                    .ok_or_else(|| FramingError::BadContentLength(value.to_string()))?;
                if length.is_some_and(|old| old != n) {
                    return Err(FramingError::BadContentLength(value.to_string()));
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            codings.extend(
                value
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty()),
            );
        }
    }
    if !codings.is_empty() {
        let chunked_last = codings.last().is_some_and(|c| c == "chunked");
        let chunked_count = codings.iter().filter(|c| *c == "chunked").count();
        return match side {
            Side::Response if chunked_last && chunked_count == 1 => Ok(Framing::Chunked),
            Side::Response => Ok(Framing::Close),
            Side::Request if length.is_some() => Err(FramingError::LengthAndChunked),
            Side::Request if codings.len() == 1 && chunked_last => Ok(Framing::Chunked),
            Side::Request => Err(FramingError::UnsupportedTransferEncoding(
                codings.join(", "),
            )),
        };
    }
    Ok(match (length, side) {
        (Some(n), _) => Framing::Length(n),
        (None, Side::Request) => Framing::Empty,
        (None, Side::Response) => Framing::Close,
    })
}

/// Content-Length is one or more digits, nothing else (no sign, no spaces inside).
fn parse_content_length(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// A chunk-size line that is not hex digits (plus extensions) and CRLF.
    BadSize,
    /// A chunk-size or trailer line longer than [`MAX_CHUNK_LINE`].
    LineTooLong,
    /// Chunk data not followed by CRLF.
    MissingCrlf,
    /// More than [`MAX_TRAILER_BYTES`] of trailers.
    TrailersTooLong,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::BadSize => "invalid chunk size line",
            ChunkError::LineTooLong => "chunk size or trailer line too long",
            ChunkError::MissingCrlf => "chunk data not followed by CRLF",
            ChunkError::TrailersTooLong => "chunked trailers too long",
        })
    }
}

impl std::error::Error for ChunkError {}

/// Where a chunked decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    Size,
    /// Inside chunk data, with this many bytes to go.
    Data(u64),
    /// Reading the CRLF that ends chunk data.
    DataEnd,
    /// Reading trailer lines after the last chunk, until an empty line.
    Trailers,
    /// The last chunk and its trailers are in.
    Done,
}

/// A push-style decoder for the chunked transfer coding. Lines (sizes, trailers) may be cut
/// anywhere between two calls; the incomplete part is kept in a small bounded buffer.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: ChunkState,
    line: Vec<u8>,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            line: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes as much of `input` as it can, handing body bytes to `out`; returns how many
    /// body bytes that was, and how many bytes of `input` it used: all of them unless the body
    /// ended inside `input`.
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut impl BodyOut,
    ) -> Result<(usize, usize), ChunkError> {
        let (mut pos, mut body) = (0, 0);
        while pos < input.len() && self.state != ChunkState::Done {
            let rest = &input[pos..];
            if let ChunkState::Data(remaining) = self.state {
                let n = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                out.take(input, pos..pos + n);
                body += n;
                pos += n;
                let left = remaining - n as u64;
                self.state = if left == 0 {
                    ChunkState::DataEnd
                } else {
                    ChunkState::Data(left)
                };
                continue;
            }
            let (used, complete) = self.take_line(rest)?;
            pos += used;
            if complete {
                self.end_line()?;
            }
        }
        Ok((body, pos))
    }

    /// Moves bytes up to and including the next LF into the line buffer. Returns how many bytes
    /// it took and whether the line is now complete.
    fn take_line(&mut self, input: &[u8]) -> Result<(usize, bool), ChunkError> {
        let (used, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (input.len(), false),
        };
        if self.line.len() + used > MAX_CHUNK_LINE {
            return Err(ChunkError::LineTooLong);
        }
        self.line.extend_from_slice(&input[..used]);
        Ok((used, complete))
    }

    /// Acts on the complete line in the line buffer.
    fn end_line(&mut self) -> Result<(), ChunkError> {
        let line = std::mem::take(&mut self.line);
        self.state = match self.state {
            ChunkState::Size => match parse_size_line(&line)? {
                0 => ChunkState::Trailers,
                size => ChunkState::Data(size),
            },
            ChunkState::DataEnd if line == b"\r\n" => ChunkState::Size,
            ChunkState::DataEnd => return Err(ChunkError::MissingCrlf),
            ChunkState::Trailers if line == b"\r\n" || line == b"\n" => ChunkState::Done,
            ChunkState::Trailers => {
                self.trailer_bytes += line.len();
                if self.trailer_bytes > MAX_TRAILER_BYTES {
                    return Err(ChunkError::TrailersTooLong);
                }
                ChunkState::Trailers
            }
            state @ (ChunkState::Data(_) | ChunkState::Done) => state,
        };
        // Keep the allocation for the next line.
        self.line = line;
        self.line.clear();
        Ok(())
    }
}

/// Parses one complete chunk-size line (`1a;ext=v\r\n`) with httparse, which accepts an
/// empty size, so insist on a leading hex digit.
fn parse_size_line(line: &[u8]) -> Result<u64, ChunkError> {
    if !line.first().is_some_and(u8::is_ascii_hexdigit) {
        return Err(ChunkError::BadSize);
    }
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((used, size))) if used == line.len() => Ok(size),
        _ => Err(ChunkError::BadSize),
    }
}

/// Why a body ended early or could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The chunked coding is broken.
    Chunk(ChunkError),
    /// The connection closed before a Content-Length body was complete.
    ShortLength {
        /// Body bytes received.
        got: u64,
        /// Body bytes announced.
        expected: u64,
    },
    /// The connection closed in the middle of a chunked body.
    ShortChunked {
        /// Body bytes decoded before the close.
        got: u64,
    },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Chunk(e) => e.fmt(f),
            BodyError::ShortLength { got, expected } => {
                write!(f, "connection closed after {got} of {expected} body bytes")
            }
            BodyError::ShortChunked { got } => write!(
                f,
                "connection closed in the middle of a chunked body after {got} bytes"
            ),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<ChunkError> for BodyError {
    fn from(e: ChunkError) -> Self {
        BodyError::Chunk(e)
    }
}

/// The decoder for one body, whatever its framing.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: Body,
    /// Body bytes produced so far.
    decoded: u64,
}

/// Where a body stands, by its framing.
#[derive(Debug, Clone)]
enum Body {
    /// No body at all.
    Empty,
    /// `Content-Length`: this many bytes in all.
    Length(u64),
    /// Chunked: the chunk decoder's state.
    Chunked(ChunkedDecoder),
    /// Up to the end of the connection; `ended` once it came.
    Close { ended: bool },
}

impl BodyDecoder {
    /// A decoder for a body with this framing.
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty => Body::Empty,
            Framing::Length(n) => Body::Length(n),
            Framing::Chunked => Body::Chunked(ChunkedDecoder::new()),
            Framing::Close => Body::Close { ended: false },
        };
        BodyDecoder { state, decoded: 0 }
    }

    /// How many body bytes are still to come, when the framing says (Content-Length).
    pub fn remaining(&self) -> Option<u64> {
        match &self.state {
            Body::Length(n) => Some(n - self.decoded),
            Body::Empty => Some(0),
            Body::Chunked(_) | Body::Close { .. } => None,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        match &self.state {
            Body::Empty => true,
            Body::Length(n) => self.decoded == *n,
            Body::Chunked(c) => c.is_done(),
            Body::Close { ended } => *ended,
        }
    }

    /// Decodes what it can of `input`, handing the body bytes to `out`; returns how many
    /// input bytes it used (fewer than `input.len()` only when the body ended inside `input`).
    pub fn decode(&mut self, input: &[u8], out: &mut impl BodyOut) -> Result<usize, BodyError> {
        let (body, used) = match &mut self.state {
            Body::Empty | Body::Close { ended: true } => (0, 0),
            Body::Length(len) => {
                let remaining = *len - self.decoded;
                let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                out.take(input, 0..n);
                (n, n)
            }
            Body::Chunked(c) => c.decode(input, out)?,
            Body::Close { ended: false } => {
                out.take(input, 0..input.len());
                (input.len(), input.len())
            }
        };
        self.decoded += body as u64;
        Ok(used)
    }

    /// The connection reached EOF: completes a close-delimited body; an error for a body that
    /// is not complete yet.
    pub fn finish_eof(&mut self) -> Result<(), BodyError> {
        if let Body::Close { ended } = &mut self.state {
            *ended = true;
        }
        if self.is_done() {
            return Ok(());
        }
        Err(match self.state {
            Body::Length(n) => BodyError::ShortLength {
                got: self.decoded,
                expected: n,
            },
            _ => BodyError::ShortChunked { got: self.decoded },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Calls `check` with `input` cut into two pieces at every position, then one byte at a
    /// time, then whole: every way a socket could hand the bytes over that matters.
    pub(crate) fn for_every_split(input: &[u8], mut check: impl FnMut(&[&[u8]])) {
        check(&[input]);
        for cut in 0..=input.len() {
            check(&[&input[..cut], &input[cut..]]);
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        check(&bytes);
    }

    /// A small deterministic PRNG (xorshift64*), enough to pick random cut points.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Rng(seed.max(1))
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        }
    }

    fn decode_pieces(framing: Framing, pieces: &[&[u8]]) -> Result<(Vec<u8>, usize), BodyError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut left_over = 0;
        for piece in pieces {
            // The same piece decoded as ranges of the input gives the same bytes.
            let mut ranges: Vec<Range<usize>> = Vec::new();
            let by_range = decoder.clone().decode(piece, &mut ranges);
            let before = out.len();
            let used = decoder.decode(piece, &mut out)?;
            let picked: Vec<u8> = ranges
                .iter()
                .flat_map(|r| piece[r.clone()].to_vec())
                .collect();
            assert_eq!((by_range.unwrap(), &picked[..]), (used, &out[before..]));
            assert!(ranges.windows(2).all(|w| w[0].end < w[1].start));
            left_over += piece.len() - used;
        }
        if !decoder.is_done() {
            decoder.finish_eof()?;
        }
        Ok((out, left_over))
    }

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a str)> {
        list.iter().copied()
    }

    #[test]
    fn chunked_with_extensions_and_trailers_in_every_split() {
        let wire = b"4;name=\"v;x\"\r\nWiki\r\n5\r\npedia\r\nE ; ext\r\n in\r\n\r\nchunks.\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT";
        for_every_split(wire, |pieces| {
            let (body, left) = decode_pieces(Framing::Chunked, pieces).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(left, 4);
        });
    }

    #[test]
    fn random_splits_of_a_chunked_message_decode_alike() {
        let mut rng = Rng::new(0x5eed);
        let mut body = Vec::new();
        let mut wire = Vec::new();
        for i in 0..40 {
            let len = rng.below(300) + 1;
            let chunk: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
            wire.extend_from_slice(format!("{len:x};i={i}\r\n").as_bytes());
            wire.extend_from_slice(&chunk);
            wire.extend_from_slice(b"\r\n");
            body.extend_from_slice(&chunk);
        }
        wire.extend_from_slice(b"0\r\nTrailer: yes\r\n\r\n");
        for _ in 0..200 {
            let mut pieces = Vec::new();
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = rng.below(rest.len().min(64)) + 1;
                pieces.push(&rest[..n]);
                rest = &rest[n..];
            }
            let (decoded, left) = decode_pieces(Framing::Chunked, &pieces).unwrap();
            assert_eq!(decoded, body);
            assert_eq!(left, 0);
        }
    }

    #[test]
    fn length_body_stops_at_its_length() {
        for_every_split(b"hello world", |pieces| {
            let (body, left) = decode_pieces(Framing::Length(5), pieces).unwrap();
            assert_eq!(body, b"hello");
            assert_eq!(left, 6);
        });
    }

    #[test]
    fn close_body_runs_to_eof() {
        for_every_split(b"all of it", |pieces| {
            let (body, left) = decode_pieces(Framing::Close, pieces).unwrap();
            assert_eq!(body, b"all of it");
            assert_eq!(left, 0);
        });
    }

    #[test]
    fn truncated_bodies_say_how_much_came() {
        let err = decode_pieces(Framing::Length(10), &[b"abc"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection closed after 3 of 10 body bytes"
        );
        let err = decode_pieces(Framing::Chunked, &[b"5\r\nab"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection closed in the middle of a chunked body after 2 bytes"
        );
    }

    #[test]
    fn broken_chunked_coding_is_an_error() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloXX",
            b"-1\r\n",
            b"11111111111111111\r\n",
        ] {
            assert!(
                decode_pieces(Framing::Chunked, &[bad]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b'1'; MAX_CHUNK_LINE + 1];
        let err = decode_pieces(Framing::Chunked, &[&long]).unwrap_err();
        assert_eq!(err, BodyError::Chunk(ChunkError::LineTooLong));
    }

    #[test]
    fn huge_chunk_sizes_do_not_overflow() {
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        let mut out: Vec<u8> = Vec::new();
        let used = decoder.decode(b"fffffffffffffff\r\nabc", &mut out).unwrap();
        assert_eq!(used, 20);
        assert_eq!(out, b"abc");
        assert!(decoder.finish_eof().is_err());
    }

    #[test]
    fn framing_follows_rfc_9112() {
        use Side::*;
        let f = |h: &[(&str, &str)], side| framing_from_headers(headers(h), side);
        assert_eq!(f(&[], Response), Ok(Framing::Close));
        assert_eq!(f(&[], Request), Ok(Framing::Empty));
        assert_eq!(
            f(&[("content-length", "12")], Response),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            f(
                &[("Content-Length", "7"), ("content-length", "7, 7")],
                Request
            ),
            Ok(Framing::Length(7))
        );
        assert!(
            f(
                &[("Content-Length", "7"), ("Content-Length", "8")],
                Response
            )
            .is_err()
        );
        assert!(f(&[("Content-Length", "+7")], Response).is_err());
        assert!(f(&[("Content-Length", "")], Response).is_err());
        assert!(f(&[("Content-Length", "99999999999999999999999")], Response).is_err());
        let te_cl = [("Content-Length", "3"), ("Transfer-Encoding", "Chunked")];
        assert_eq!(f(&te_cl, Response), Ok(Framing::Chunked));
        assert_eq!(f(&te_cl, Request), Err(FramingError::LengthAndChunked));
        assert_eq!(
            f(&[("Transfer-Encoding", "gzip, chunked")], Response),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            f(&[("Transfer-Encoding", "gzip")], Response),
            Ok(Framing::Close)
        );
        assert!(f(&[("Transfer-Encoding", "gzip, chunked")], Request).is_err());
        assert_eq!(
            f(&[("Transfer-Encoding", "chunked")], Request),
            Ok(Framing::Chunked)
        );
    }
}
