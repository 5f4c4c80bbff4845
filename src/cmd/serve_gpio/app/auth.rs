//! HTTP Basic authentication for `--auth USER:PASS`. The expected credentials are encoded
//! once, as a client encodes them, and compared with what the client sends in constant time,
//! so no decoder is needed and the time taken says nothing about how much of a guess was
//! right.

use anyhow::Result;

use super::{Refusal, header, page, status};
use crate::error::{Kind, fail};
use crate::http::server::Response;

/// The challenge a client without valid credentials gets.
const CHALLENGE: &str = "Basic realm=\"nicksock\"";

/// Splits `--auth USER:PASS` at its first colon (a password may contain colons; a user
/// name cannot, RFC 7617).
pub fn parse_auth(text: &str) -> Result<(String, String)> {
    match text.split_once(':') {
        Some((user, pass)) if !user.is_empty() => Ok((user.to_string(), pass.to_string())),
        _ => Err(fail(
            Kind::Usage,
            "--auth wants USER:PASS (a user name, a colon, then the password)",
        )),
    }
}

/// `user:pass` in base64: the token a client sends after `Basic `.
pub(super) fn encode_credentials(user: &str, pass: &str) -> String {
    crate::http::basic_token(user.as_bytes(), pass.as_bytes())
}

/// Whether an `Authorization` header value carries the expected token. The scheme is
/// case-insensitive (RFC 9110 §11.1).
pub(super) fn check(authorization: Option<&str>, expected: &str) -> bool {
    let Some((scheme, token)) = authorization.and_then(|v| v.trim().split_once(' ')) else {
        return false;
    };
    let scheme_ok = scheme.eq_ignore_ascii_case("basic");
    let token_ok = constant_time_eq(token.trim().as_bytes(), expected.as_bytes());
    scheme_ok & token_ok
}

/// `401 Unauthorized` with the Basic challenge.
pub(super) fn challenge() -> Response {
    let refusal = Refusal::new(
        status::UNAUTHORIZED,
        "this server needs a user and password",
    );
    let mut response = page::error(&refusal);
    response.headers.push(header("WWW-Authenticate", CHALLENGE));
    response
}

/// Compares two byte strings in time that depends only on their lengths (written here
/// rather than pulling in `subtle` for one loop). The optimizer is kept from
/// short-circuiting by folding every byte into one accumulator read through `black_box`.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        diff |= usize::from(g ^ e);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_encode_as_rfc_7617_says() {
        assert_eq!(
            encode_credentials("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn check_accepts_any_case_of_the_scheme_only() {
        let expected = encode_credentials("pi", "raspberry");
        assert!(check(Some("Basic cGk6cmFzcGJlcnJ5"), &expected));
        assert!(check(Some("basic  cGk6cmFzcGJlcnJ5 "), &expected));
        assert!(!check(Some("Bearer cGk6cmFzcGJlcnJ5"), &expected));
        assert!(!check(Some("Basic cGk6cmFzcGJlcnJ6"), &expected));
        assert!(!check(Some("cGk6cmFzcGJlcnJ5"), &expected));
        assert!(!check(None, &expected));
    }

    #[test]
    fn auth_option_splits_at_the_first_colon() {
        assert_eq!(
            parse_auth("pi:a:b").unwrap(),
            ("pi".to_string(), "a:b".to_string())
        );
        assert_eq!(
            parse_auth("pi:").unwrap(),
            ("pi".to_string(), String::new())
        );
        assert!(parse_auth("pi").is_err());
        assert!(parse_auth(":pw").is_err());
    }
}
