//! URLs as `http-get` takes them and `Location` headers as it follows them: never a panic,
//! and every URL accepted gives a host header, a request target and a port; a resolved
//! redirect target is itself a URL `http-get` accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nicksock::http::target::{
    connect_port, host_header, parse_url, remote_file_name, request_target, resolve_location,
};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (first, second) = text.split_once('\n').unwrap_or((&text, "/"));
    let Ok(url) = parse_url(first) else {
        return;
    };
    let _ = host_header(&url);
    assert!(request_target(&url).starts_with('/'), "{url}");
    assert_ne!(connect_port(&url), 0, "{url}");
    let _ = remote_file_name(&url);
    if let Ok(next) = resolve_location(&url, second) {
        assert!(
            parse_url(next.as_str()).is_ok(),
            "{next} does not parse again"
        );
    }
});
