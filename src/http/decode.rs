//! Content decoding for `http-get --compressed`, sans-I/O: the body's bytes are pushed in
//! whatever pieces the socket hands over, and the decoded bytes come out in pieces of at most
//! [`OUT_CHUNK`], so a small body that expands enormously (a "zip bomb") never sits in memory
//! whole. A stream that ends early or is corrupt is an error, never quietly short output.
//!
//! gzip and deflate by flate2 (miniz_oxide), br by brotli-decompressor, zstd by the zstd
//! library: each has a push API (bytes in, bounded bytes out, and whether the stream ended).
//! br and zstd are cargo features (`brotli`, `zstd`, on by default; the ARM packages are
//! built without them): a build asks only for what it can decode.

use std::fmt;
use std::io::Write as _;

#[cfg(feature = "brotli")]
use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use flate2::{Decompress, FlushDecompress, Status};
#[cfg(feature = "zstd")]
use zstd::stream::raw::Operation as _;

/// The most decoded bytes handed over at once.
pub const OUT_CHUNK: usize = 64 * 1024;

/// What `--compressed` asks for, in curl's order: the encodings this build decodes.
pub const ACCEPT_ENCODING: &str = match (cfg!(feature = "brotli"), cfg!(feature = "zstd")) {
    (true, true) => "gzip, deflate, br, zstd",
    (true, false) => "gzip, deflate, br",
    (false, true) => "gzip, deflate, zstd",
    (false, false) => "gzip, deflate",
};

/// A body that could not be decoded: the encoding and what was wrong.
#[derive(Debug)]
pub struct DecodeError {
    /// The Content-Encoding (`gzip`…).
    pub encoding: &'static str,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} body cannot be decoded: {}",
            self.encoding, self.reason
        )
    }
}

impl std::error::Error for DecodeError {}

/// A Content-Encoding this build cannot decode (`compress`, or a stack of several).
#[derive(Debug, Clone)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body's Content-Encoding is '{}'; this build of --compressed decodes {}, \
             one at a time",
            self.0, ACCEPT_ENCODING
        )
    }
}

impl std::error::Error for Unsupported {}

/// A decoder for one Content-Encoding.
pub struct Decoder {
    codec: Codec,
    /// The output of one round (deflate, br, zstd).
    out: Vec<u8>,
    /// A byte came: an empty body (a HEAD's, a 204's) is no stream to check.
    fed: bool,
    /// The stream may end here: its end was decoded (deflate, br) or its last frame is
    /// whole (zstd, where another frame may follow). gzip checks its own, at finish.
    whole: bool,
}

enum Codec {
    /// flate2's gzip writer: header, deflate, then the CRC and length it checks; member
    /// after member (`cat a.gz b.gz`), as gzip(1) and curl read them.
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
    /// zlib-wrapped deflate (RFC 9110's "deflate"), or raw deflate when the body has no
    /// zlib header, as some servers send and curl accepts. `None` until the first byte.
    Deflate(Option<Box<Decompress>>, Vec<u8>),
    #[cfg(feature = "brotli")]
    Brotli(Box<BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>>),
    #[cfg(feature = "zstd")]
    Zstd(Box<zstd::stream::raw::Decoder<'static>>),
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decoder({})", self.name())
    }
}

impl Decoder {
    /// The decoder for a Content-Encoding header's value; `None` for none (`identity`, or
    /// empty).
    pub fn for_encoding(value: &str) -> Result<Option<Decoder>, Unsupported> {
        let codings: Vec<String> = value
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        let codec = match codings.as_slice() {
            [] => return Ok(None),
            [one] => match one.as_str() {
                "gzip" | "x-gzip" => Codec::Gzip(Box::new(flate2::write::MultiGzDecoder::new(
                    Vec::with_capacity(OUT_CHUNK),
                ))),
                "deflate" => Codec::Deflate(None, Vec::new()),
                #[cfg(feature = "brotli")]
                "br" => Codec::Brotli(Box::new(BrotliState::new(
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                ))),
                #[cfg(feature = "zstd")]
                "zstd" => Codec::Zstd(Box::new(
                    zstd::stream::raw::Decoder::new().map_err(|_| Unsupported(value.into()))?,
                )),
                _ => return Err(Unsupported(value.trim().into())),
            },
            _ => return Err(Unsupported(value.trim().into())),
        };
        Ok(Some(Decoder {
            codec,
            out: vec![0; OUT_CHUNK],
            fed: false,
            whole: false,
        }))
    }

    /// The encoding's name.
    pub fn name(&self) -> &'static str {
        match self.codec {
            Codec::Gzip(_) => "gzip",
            Codec::Deflate(..) => "deflate",
            #[cfg(feature = "brotli")]
            Codec::Brotli(_) => "br",
            #[cfg(feature = "zstd")]
            Codec::Zstd(_) => "zstd",
        }
    }

    /// Whether another frame may follow a whole one (zstd's).
    fn frames_may_follow(&self) -> bool {
        #[cfg(feature = "zstd")]
        if let Codec::Zstd(_) = self.codec {
            return true;
        }
        false
    }

    fn error(&self, reason: impl fmt::Display) -> DecodeError {
        DecodeError {
            encoding: self.name(),
            reason: reason.to_string(),
        }
    }

    /// Decodes `input`, handing the decoded bytes to `emit` in pieces of at most
    /// [`OUT_CHUNK`]. Bytes after the end of the encoded stream are an error (curl's rule:
    /// never a quietly shorter body).
    pub fn push<E>(
        &mut self,
        mut input: &[u8],
        emit: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), PushError<E>> {
        self.fed |= !input.is_empty();
        loop {
            // Past the end of deflate or br, nothing more may come.
            if self.whole && !self.frames_may_follow() {
                if input.is_empty() {
                    break;
                }
                return Err(PushError::Decode(
                    self.error("bytes follow the end of the encoded stream"),
                ));
            }
            let (used, full) = self.step(input, emit)?;
            input = &input[used..];
            // Go on while input is left, or while the last round filled its output (the
            // decoder may hold more).
            if input.is_empty() && !full {
                break;
            }
        }
        Ok(())
    }

    /// The body ended: the encoded stream must have ended too (a cut-off stream is an
    /// error), with whatever the decoder still held handed to `emit`. A body of no bytes
    /// at all is no stream, and no error.
    pub fn finish<E>(
        &mut self,
        emit: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), PushError<E>> {
        if !self.fed {
            return Ok(());
        }
        if let Codec::Gzip(gz) = &mut self.codec {
            let checked = gz.try_finish();
            let held = std::mem::take(gz.get_mut());
            if !held.is_empty() {
                emit(&held).map_err(PushError::Emit)?;
            }
            return checked.map_err(|_| {
                PushError::Decode(self.error("the stream is cut off or its checksum is wrong"))
            });
        }
        if !self.whole {
            return Err(PushError::Decode(self.error("the stream is cut off")));
        }
        Ok(())
    }

    /// One round: some input used and at most [`OUT_CHUNK`] bytes out. Returns the input
    /// used and whether the output was full.
    fn step<E>(
        &mut self,
        input: &[u8],
        emit: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(usize, bool), PushError<E>> {
        let name = self.name();
        let bad = |reason: &dyn fmt::Display| {
            PushError::Decode(DecodeError {
                encoding: name,
                reason: reason.to_string(),
            })
        };
        let (used, produced) = match &mut self.codec {
            Codec::Gzip(gz) => {
                // flate2's writer decodes at most its 32 KiB buffer per call and hands that
                // over on the next: what it holds is never more.
                let result = gz.write(input);
                let mut held = std::mem::take(gz.get_mut());
                if !held.is_empty() {
                    emit(&held).map_err(PushError::Emit)?;
                }
                held.clear();
                *gz.get_mut() = held;
                let used = result.map_err(|e| bad(&e))?;
                if used == 0 && !input.is_empty() {
                    return Err(bad(&"no progress"));
                }
                return Ok((used, false));
            }
            Codec::Deflate(state, first) => {
                if state.is_none() {
                    // Two bytes tell zlib from raw deflate: CM 8, and a check value that is
                    // a multiple of 31. Until they are in, the first is kept.
                    if first.len() + input.len() < 2 {
                        first.extend_from_slice(input);
                        return Ok((input.len(), false));
                    }
                    let b: Vec<u8> = first.iter().chain(input).take(2).copied().collect();
                    let zlib =
                        b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0;
                    let mut inflate = Box::new(Decompress::new(zlib));
                    if !first.is_empty() {
                        // The kept byte goes first; one byte of deflate yields no output.
                        inflate
                            .decompress(first, &mut self.out, FlushDecompress::None)
                            .map_err(|e| bad(&e))?;
                        first.clear();
                    }
                    *state = Some(inflate);
                }
                let Some(inflate) = state else {
                    return Ok((0, false));
                };
                let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
                let status = inflate
                    .decompress(input, &mut self.out, FlushDecompress::None)
                    .map_err(|e| bad(&e))?;
                self.whole = status == Status::StreamEnd;
                (
                    (inflate.total_in() - in_before) as usize,
                    (inflate.total_out() - out_before) as usize,
                )
            }
            #[cfg(feature = "brotli")]
            Codec::Brotli(state) => {
                let (mut avail_in, mut in_at) = (input.len(), 0);
                let (mut avail_out, mut out_at, mut total) = (self.out.len(), 0, 0);
                let result = BrotliDecompressStream(
                    &mut avail_in,
                    &mut in_at,
                    input,
                    &mut avail_out,
                    &mut out_at,
                    &mut self.out,
                    &mut total,
                    state,
                );
                if let BrotliResult::ResultFailure = result {
                    return Err(bad(&"corrupt data"));
                }
                self.whole = matches!(result, BrotliResult::ResultSuccess);
                (in_at, out_at)
            }
            #[cfg(feature = "zstd")]
            Codec::Zstd(zstd) => {
                let status = zstd
                    .run_on_buffers(input, &mut self.out)
                    .map_err(|e| bad(&e))?;
                // `remaining` 0: a frame is whole and flushed. Another frame may follow,
                // so zstd never stops taking input. (A round that did nothing says what
                // the next frame would need.)
                if status.bytes_read > 0 || status.bytes_written > 0 {
                    self.whole = status.remaining == 0;
                }
                (status.bytes_read, status.bytes_written)
            }
        };
        if produced > 0 {
            emit(&self.out[..produced]).map_err(PushError::Emit)?;
        }
        Ok((used, produced == self.out.len()))
    }
}

/// A push failed: the body (decoding) or the caller's own `emit`.
#[derive(Debug)]
pub enum PushError<E> {
    /// The encoded bytes are wrong.
    Decode(DecodeError),
    /// `emit` failed.
    Emit(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `encoded` pushed in pieces of `piece` bytes; the output, and the largest
    /// piece handed over.
    fn decode(encoding: &str, encoded: &[u8], piece: usize) -> Result<(Vec<u8>, usize), String> {
        let mut d = Decoder::for_encoding(encoding)
            .map_err(|e| e.to_string())?
            .expect("a decoder");
        let (mut out, mut largest) = (Vec::new(), 0);
        let mut emit = |b: &[u8]| -> Result<(), ()> {
            largest = largest.max(b.len());
            out.extend_from_slice(b);
            Ok(())
        };
        for chunk in encoded.chunks(piece) {
            d.push(chunk, &mut emit).map_err(|e| format!("{e:?}"))?;
        }
        d.finish(&mut emit).map_err(|e| format!("{e:?}"))?;
        Ok((out, largest))
    }

    /// "hello" as Python's brotli.compress writes it.
    #[cfg(feature = "brotli")]
    const BR_HELLO: &[u8] = b"\x0b\x02\x80hello\x03";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sample() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn each_encoding_decodes_in_any_pieces() {
        let data = sample();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&data).unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&data).unwrap();
        #[allow(unused_mut)]
        let mut cases = vec![
            ("gzip", gzip(&data)),
            ("x-gzip", gzip(&data)),
            ("deflate", zlib.finish().unwrap()),
            ("deflate", raw.finish().unwrap()),
        ];
        #[cfg(feature = "zstd")]
        cases.push(("zstd", zstd::encode_all(&data[..], 3).unwrap()));
        for (encoding, encoded) in &cases {
            for piece in [1, 7, 4096, encoded.len()] {
                let (out, _) = decode(encoding, encoded, piece).unwrap();
                assert!(out == data, "{encoding} in pieces of {piece}");
            }
        }
        #[cfg(feature = "brotli")]
        assert_eq!(decode("br", BR_HELLO, 1).unwrap().0, b"hello");
        // gzip: two members one after the other are one body (`cat a.gz b.gz`).
        let mut members = gzip(b"one ");
        members.extend(gzip(b"two"));
        assert_eq!(decode("gzip", &members, 5).unwrap().0, b"one two");
        // zstd: two frames one after the other are one body.
        #[cfg(feature = "zstd")]
        {
            let mut two = zstd::encode_all(&b"one "[..], 1).unwrap();
            two.extend(zstd::encode_all(&b"two"[..], 1).unwrap());
            assert_eq!(decode("zstd", &two, 3).unwrap().0, b"one two");
        }
        // An empty body (a HEAD's, a 204's) is no stream: finishing it is no error.
        for encoding in ACCEPT_ENCODING.split(", ") {
            let mut d = Decoder::for_encoding(encoding).unwrap().unwrap();
            d.push(b"", &mut |_| Ok::<(), ()>(())).unwrap();
            assert!(d.finish(&mut |_| Ok::<(), ()>(())).is_ok(), "{encoding}");
        }
        // Identity is no decoder at all.
        assert!(Decoder::for_encoding("identity").unwrap().is_none());
        assert!(Decoder::for_encoding("").unwrap().is_none());
    }

    #[test]
    fn a_bomb_comes_out_in_bounded_pieces() {
        // 64 MiB of zeros is about 64 KiB of gzip and a few KiB of zstd.
        let zeros = vec![0u8; 64 << 20];
        #[allow(unused_mut)]
        let mut cases = vec![("gzip", gzip(&zeros))];
        #[cfg(feature = "zstd")]
        cases.push(("zstd", zstd::encode_all(&zeros[..], 3).unwrap()));
        for (encoding, encoded) in cases {
            assert!(encoded.len() < 1 << 20, "{encoding}: {}", encoded.len());
            let (out, largest) = decode(encoding, &encoded, encoded.len()).unwrap();
            assert_eq!(out.len(), zeros.len(), "{encoding}");
            assert!(
                largest <= OUT_CHUNK,
                "{encoding}: a piece of {largest} bytes"
            );
        }
    }

    #[test]
    fn cut_off_and_corrupt_streams_are_errors() {
        let data = sample();
        let gz = gzip(&data);
        for cut in [5, gz.len() / 2, gz.len() - 4, gz.len() - 1] {
            assert!(
                decode("gzip", &gz[..cut], 1000).is_err(),
                "gzip cut at {cut}"
            );
        }
        let mut wrong_crc = gz.clone();
        let at = wrong_crc.len() - 6;
        wrong_crc[at] ^= 1;
        assert!(decode("gzip", &wrong_crc, 1000).is_err(), "a wrong CRC");
        assert!(decode("gzip", b"this is not gzip at all", 4).is_err());
        #[cfg(feature = "zstd")]
        {
            let zstd = zstd::encode_all(&data[..], 3).unwrap();
            assert!(decode("zstd", &zstd[..zstd.len() - 3], 100).is_err());
        }
        #[cfg(feature = "brotli")]
        {
            assert!(decode("br", b"\x0b\x02\x80hel", 1).is_err());
            assert!(decode("br", b"\xff\xff\xff\xff\xff", 1).is_err());
        }
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&data).unwrap();
        let zlib = zlib.finish().unwrap();
        assert!(decode("deflate", &zlib[..zlib.len() / 2], 100).is_err());
        // Bytes after the end: an error, never a quietly shorter body.
        #[allow(unused_mut)]
        let mut cases = vec![("gzip", gzip(b"whole"))];
        #[cfg(feature = "brotli")]
        cases.push(("br", BR_HELLO.to_vec()));
        #[cfg(feature = "zstd")]
        cases.push(("zstd", zstd::encode_all(&b"whole"[..], 1).unwrap()));
        for (encoding, mut encoded) in cases {
            encoded.extend_from_slice(b"junk after the end");
            assert!(decode(encoding, &encoded, 3).is_err(), "{encoding}");
        }
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(b"whole").unwrap();
        let mut zlib = zlib.finish().unwrap();
        zlib.extend_from_slice(b"junk");
        assert!(decode("deflate", &zlib, 3).is_err(), "deflate");
        // What the decoder cannot do is named.
        for unsupported in ["compress", "gzip, br", "bzip2"] {
            let err = Decoder::for_encoding(unsupported).unwrap_err().to_string();
            assert!(err.contains(unsupported), "{err}");
        }
        // An encoding left out of the build is one it does not ask for, and cannot decode.
        for (encoding, built) in [
            ("br", cfg!(feature = "brotli")),
            ("zstd", cfg!(feature = "zstd")),
        ] {
            assert_eq!(
                ACCEPT_ENCODING.contains(encoding),
                built,
                "{ACCEPT_ENCODING}"
            );
            if !built {
                let err = Decoder::for_encoding(encoding).unwrap_err().to_string();
                assert!(
                    err.contains(&format!("decodes {ACCEPT_ENCODING},")),
                    "{err}"
                );
            }
        }
    }
}
