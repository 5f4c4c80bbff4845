//! What the TLS set-up and `gen-cert --ca-cert/--ca-key` read from files: certificate
//! chains, private keys and CA pairs in PEM. Never a panic; every refusal is an error.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nicksock::certgen::ca_from_pem;
use nicksock::tls::config::{parse_certs, parse_key};

fuzz_target!(|input: &[u8]| {
    let path = Path::new("fuzz.pem");
    let (cert, key) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, input),
    };
    if let Ok(certs) = parse_certs(cert, path, "certificate") {
        assert!(!certs.is_empty());
    }
    let _ = parse_key(key, path);
    let _ = ca_from_pem(cert, path, key, path);
});
