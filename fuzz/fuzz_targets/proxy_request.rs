//! The proxy server's handshake (`proxy::serve::Handshake`) on whatever a client may send,
//! with and without required passwords: no panic; the bytes to send and what comes next do
//! not depend on how the input is split; a tunnel's early bytes are the end of the input;
//! once over, the handshake takes nothing more.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use nicksock::proxy::serve::{Handshake, Next, Users};

/// Feeds `pieces` to a new handshake until it ends; returns the bytes it said to send and
/// how it ended (`More` if it never did). After a `Connect`, the pieces not fed are what the
/// caller reads next for the destination: they join the early bytes.
fn run<'a>(users: &Users, pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<u8>, Next) {
    let mut h = Handshake::new();
    let mut out = Vec::new();
    let mut pieces = pieces;
    while let Some(piece) = pieces.next() {
        let (reply, next) = h.input(piece, users);
        out.extend_from_slice(&reply);
        if next != Next::More {
            let (after, again) = h.input(b"more", users);
            assert!(after.is_empty() && again == Next::More, "input after the end");
            let next = match next {
                Next::Connect(req, mut early) => {
                    early.extend(pieces.flatten());
                    Next::Connect(req, early)
                }
                other => other,
            };
            return (out, next);
        }
    }
    (out, Next::More)
}

fuzz_target!(|input: &[u8]| {
    let (_, splits, data) = common::parts(input);
    for users in [
        Users::default(),
        Users::new(vec![("pi".into(), "raspberry".into())]),
    ] {
        let whole = run(&users, std::iter::once(data));
        let split = run(&users, common::chunks(splits, data));
        assert_eq!(whole, split, "splitting changed the handshake");
        if let (_, Next::Connect(req, early)) = &whole {
            assert!(data.ends_with(early), "early bytes that were not sent last");
            assert!(!req.dest.host().is_empty(), "{req:?}");
        }
        if let (_, Next::Close(why)) = &whole {
            assert!(!why.is_empty() && !why.contains('\n'), "{why:?}");
        }
    }
});
