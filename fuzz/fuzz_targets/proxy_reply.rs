//! The proxy handshakes (`proxy::Handshake`) against whatever a proxy may answer, for every
//! kind of proxy with and without credentials: no panic; nothing may be read while our own
//! bytes wait to be sent or once the handshake is over; the outcome, and where the tunnel
//! starts, do not depend on how the reply is split. Then the same bytes as text through the
//! proxy URL parser, nc's `-x` form and the no-proxy list: no panic, a parsed URL's redacted
//! form reads back as the same proxy and user, and a no-proxy match is one of the entries.
#![no_main]

#[path = "common.rs"]
mod common;

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use nicksock::proxy::{Error, Handshake, NcProtocol, NoProxy, ProxyUrl, Status};

/// The handshakes tried on every input: the proxy, the target host and its address when
/// the client resolved it.
const CASES: [(&str, &str, Option<&str>); 10] = [
    ("http://p", "example.org", None),
    ("https://user:fuzz-pw@p", "2001:db8::1", None),
    ("socks4://p", "example.org", Some("192.0.2.1")),
    ("socks4://user:fuzz-pw@p", "192.0.2.1", None),
    ("socks4a://user@p", "example.org", None),
    ("socks5://p", "example.org", Some("2001:db8::1")),
    ("socks5://user:fuzz-pw@p", "example.org", Some("192.0.2.1")),
    ("socks5h://p", "example.org", None),
    ("socks5h://user:fuzz-pw@p", "example.org", None),
    ("socks5h://user:fuzz-pw@p", "192.0.2.1", None),
];

/// Sends whatever the handshake has to send: nothing may be read meanwhile.
fn answer(h: &mut Handshake) {
    while !h.output().is_empty() {
        assert_eq!(h.read_limit(), 0, "a read allowed while our bytes wait");
        let n = h.output().len();
        h.sent(n / 2);
        h.sent(n - n / 2);
    }
}

/// Drives one handshake with `pieces` as all the proxy sends (the way they arrive), each
/// read capped by the handshake's limit, and the close after the last byte. Returns the
/// outcome and how many bytes were taken.
fn run<'a>(
    proxy: &ProxyUrl,
    host: &str,
    address: Option<IpAddr>,
    pieces: impl Iterator<Item = &'a [u8]>,
) -> (Result<Status, Error>, usize) {
    let Ok(mut h) = Handshake::new(proxy, host, 22, address, "nicksock-fuzz") else {
        panic!("the handshake for {proxy} to {host} could not be made");
    };
    let mut taken = 0;
    for mut piece in pieces {
        while !piece.is_empty() {
            answer(&mut h);
            let limit = h.read_limit();
            assert!(
                limit > 0,
                "no read allowed and nothing to send, before an outcome"
            );
            let take = limit.min(piece.len());
            let result = h.input(&piece[..take]);
            piece = &piece[take..];
            taken += take;
            for note in h.take_notes() {
                assert!(!note.is_empty() && !note.contains('\n'), "{note:?}");
            }
            match result {
                Ok(Status::Continue) => {}
                Ok(Status::Done) => {
                    assert_eq!(h.read_limit(), 0, "a read allowed after the tunnel opened");
                    assert!(h.output().is_empty());
                    return (Ok(Status::Done), taken);
                }
                Err(e) => {
                    assert_eq!(h.read_limit(), 0, "a read allowed after a failure");
                    assert!(!e.to_string().contains('\n'), "{e:?}");
                    assert_eq!(h.input(b"x"), Err(e.clone()), "a failure is final");
                    return (Err(e), taken);
                }
            }
        }
    }
    answer(&mut h);
    assert!(
        h.read_limit() > 0,
        "no read allowed and nothing to send, before an outcome"
    );
    let err = h.closed();
    assert!(!err.to_string().is_empty());
    (Err(err), taken)
}

/// The proxy URL, nc and no-proxy parsers on `text`.
fn parse_text(text: &str) {
    if let Ok(url) = ProxyUrl::parse(text) {
        let shown = url.redacted();
        assert_eq!(shown, url.to_string());
        let Ok(back) = ProxyUrl::parse(&shown) else {
            panic!("the redacted {shown} of {url:?} does not parse");
        };
        assert_eq!(
            (back.scheme, &back.host, back.port),
            (url.scheme, &url.host, url.port)
        );
        assert_eq!(
            back.credentials.map(|c| c.user),
            url.credentials.as_ref().map(|c| c.user.clone()),
            "{shown}"
        );
        let _ = Handshake::new(&url, "example.org", 443, None, "nicksock-fuzz");
    }
    for protocol in [NcProtocol::Socks4, NcProtocol::Socks5, NcProtocol::Connect] {
        if let Ok(url) = ProxyUrl::from_nc(text, protocol) {
            assert!(url.credentials.is_none());
            assert!(ProxyUrl::parse(&url.redacted()).is_ok(), "{url}");
        }
    }
    let _ = text.parse::<NcProtocol>();
    let list = NoProxy::parse(text);
    let entries: Vec<&str> = text.split(',').map(str::trim).collect();
    for host in text
        .split([',', ' '])
        .chain(["example.org", "10.1.2.3", "[::1]"])
    {
        if let Some(entry) = list.matches(host) {
            assert!(entries.contains(&entry), "{entry:?} is not an entry");
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let (_, splits, data) = common::parts(input);
    for (proxy, host, address) in CASES {
        let Ok(proxy) = ProxyUrl::parse(proxy) else {
            panic!("{proxy} does not parse");
        };
        let address = address.and_then(|a| a.parse().ok());
        let whole = run(&proxy, host, address, std::iter::once(data));
        let split = run(&proxy, host, address, common::chunks(splits, data));
        assert_eq!(
            whole.0, split.0,
            "splitting changed the outcome for {proxy}"
        );
        if whole.0 == Ok(Status::Done) {
            assert_eq!(whole.1, split.1, "the tunnel starts elsewhere for {proxy}");
        }
    }
    parse_text(&String::from_utf8_lossy(data));
});
