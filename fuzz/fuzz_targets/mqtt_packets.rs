//! The MQTT codec and session on what a broker (or anything posing as one) may send: no
//! panic, a decoded packet never longer than its bytes, a PUBLISH that encodes back to the
//! bytes it came from (or to another form that decodes to the same packet), and the session
//! fed the same bytes in any pieces reports the same outcome and the same messages (up to
//! the read that failed).
#![no_main]

#[path = "common.rs"]
mod common;

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use nicksock::mqtt::codec::{self, Connect, Packet};
use nicksock::mqtt::session::{Incoming, MAX_INCOMING, Session};

/// What the session made of `pieces`: its messages and whether it failed.
fn feed<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<Incoming>, bool) {
    let connect = Connect {
        client_id: "fuzz",
        keep_alive: 30,
        clean_session: false,
        will: None,
        username: None,
        password: None,
    };
    let now = Instant::now();
    let mut session = Session::new(&connect, now).expect("CONNECT encodes");
    let mut all = Vec::new();
    for piece in pieces {
        match session.received(piece, now) {
            Ok(found) => all.extend(found),
            Err(_) => return (all, true),
        }
    }
    (all, false)
}

fuzz_target!(|input: &[u8]| {
    let (_, splits, data) = common::parts(input);
    // Packet after packet, as long as they decode.
    let mut rest = data;
    while let Ok(Some((len, packet))) = codec::decode(rest, MAX_INCOMING) {
        assert!(len > 0 && len <= rest.len());
        if let Packet::Publish(p) = &packet {
            let mut again = Vec::new();
            codec::publish_packet(&mut again, p).expect("a decoded PUBLISH encodes");
            let (n, back) = codec::decode(&again, usize::MAX)
                .expect("what we encode decodes")
                .expect("whole");
            assert_eq!(n, again.len());
            assert_eq!(back, packet);
        }
        rest = &rest[len..];
    }
    // The session: the same outcome whole and in pieces. A CONNACK first, so the bytes
    // reach the packets after it.
    let mut wire = vec![0x20, 2, 0, 0];
    wire.extend_from_slice(data);
    let whole = feed(std::iter::once(&wire[..]));
    let pieces = feed(common::chunks(splits, &wire));
    // A read that ends in an error gives none of its messages (the connection is dropped
    // before their acknowledgements go out, so the broker sends them again): in pieces,
    // the reads before the bad one gave theirs.
    assert_eq!(whole.1, pieces.1);
    if whole.1 {
        assert!(pieces.0.starts_with(&whole.0), "{whole:?} {pieces:?}");
    } else {
        assert_eq!(whole.0, pieces.0);
    }
});
