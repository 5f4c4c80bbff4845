//! The whole `serve-gpio` HTTP path: request bytes in arbitrary splits through the
//! server's request reader, every request answered by the app (simulated pins). Never a
//! panic; every answer is an HTTP response; every refusal a 4xx/5xx; the buffered input
//! stays within what a connection lets in.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use nicksock::cmd::serve_gpio::app::App;
use nicksock::gpio::{self, Backend};
use nicksock::http::server::{Incoming, MAX_REQUEST_BODY, MAX_REQUEST_HEAD, RequestReader};

/// What a connection holds unparsed before it stops reading (`http_conn::MAX_INPUT`).
const MAX_INPUT: usize = 2 * (MAX_REQUEST_HEAD + MAX_REQUEST_BODY);

fuzz_target!(|input: &[u8]| {
    let (flags, splits, data) = common::parts(input);
    let pins = gpio::pin_configs(&[13, 19, 12], &[26], &[19]).expect("pins");
    let pins = gpio::with_pwm(pins, &[12]).expect("pwm");
    let (pins, _) = gpio::open(Backend::Sim, None, &pins).expect("sim");
    let auth = (flags & 1 == 1).then(|| ("pi".to_string(), "raspberry".to_string()));
    let mut app = App::new(pins, flags & 2 == 2, auth).named(vec![(13, "LED".into())]);
    let mut later = std::time::Instant::now();
    let mut reader = RequestReader::new();
    let mut out = Vec::new();
    for chunk in common::chunks(splits, data) {
        if reader.buffered() >= MAX_INPUT {
            break;
        }
        reader.feed(chunk);
        loop {
            match reader.next_request() {
                Ok(None) => break,
                Ok(Some(Incoming::Continue)) => {}
                Ok(Some(Incoming::Request(req))) => {
                    let response = app.handle(&req);
                    // Now and then a while passes: timers run out, heartbeats are due.
                    if flags & 4 == 4 {
                        later += std::time::Duration::from_secs(3600);
                        app.on_due(later);
                    }
                    out.clear();
                    response.encode_into(&mut out, req.version, req.keep_alive(), req.is_head());
                    assert!(out.starts_with(b"HTTP/1."), "not a response");
                }
                Err(e) => {
                    assert!((400..600).contains(&e.status()), "{e}: {}", e.status());
                    return;
                }
            }
        }
        assert!(
            reader.buffered() <= MAX_INPUT + 256,
            "{} bytes held",
            reader.buffered()
        );
    }
});
