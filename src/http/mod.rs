//! HTTP/1.x for both ends: the client's request writer and response reader (`http-get`) and
//! the server's request reader and response writer (`serve-gpio`), one parser for both
//! (httparse), with body framing by Content-Length, chunked encoding or connection close.
//! Everything here is sans-I/O: the caller pushes the bytes it read and writes the bytes it
//! is given, so the event loop never blocks on HTTP.

pub mod body;
pub mod client;
pub mod decode;
pub mod server;
pub mod target;

/// The token of HTTP Basic authentication (RFC 7617): `user:pass` in padded base64, as a
/// client sends it after `Basic ` and a server expects it.
pub fn basic_token(user: &[u8], pass: &[u8]) -> String {
    use base64::Engine as _;
    let credentials = [user, b":", pass].concat();
    base64::engine::general_purpose::STANDARD.encode(credentials)
}

/// What Basic credentials put on the wire, for `--trace` to mask: the password and the
/// token (the empty ones left out).
pub fn basic_secrets(user: &[u8], pass: &[u8]) -> Vec<Vec<u8>> {
    [pass.to_vec(), basic_token(user, pass).into_bytes()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
}

/// The first header called `name` (case-insensitive), in heads of either direction.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
