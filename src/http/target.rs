//! URLs for `http-get`: what the user typed becomes a `url::Url`, and the pieces a request
//! needs come out of it (the Host header, the request target, the host to connect to and
//! verify, Basic credentials, redirect targets, the `-O` file name).

use std::fmt;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

/// The scheme assumed when the user gives none (as curl and xh do).
pub const DEFAULT_SCHEME: &str = "http";

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// The text does not parse as a URL.
    Invalid {
        /// What was given.
        input: String,
        /// The parser's reason.
        reason: url::ParseError,
    },
    /// A scheme other than http or https.
    Scheme(String),
    /// No host to connect to.
    NoHost(String),
    /// Port 0, which nothing can listen on.
    PortZero(String),
}

/// Where the password of `user:password@host` is in `text`, whose authority starts at
/// `authority_at` (after `scheme://`): up to the last `@` before the path.
pub fn password_span(text: &[u8], authority_at: usize) -> Option<std::ops::Range<usize>> {
    let rest = text.get(authority_at..)?;
    let authority_len = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = authority.iter().rposition(|&b| b == b'@')?;
    let colon = authority[..at].iter().position(|&b| b == b':')?;
    (colon + 1 < at).then(|| authority_at + colon + 1..authority_at + at)
}

/// `text` with the password of its URL (if any) written `***`, for messages.
fn redacted(text: &str) -> String {
    let authority_at = text.find("://").map_or(0, |i| i + 3);
    match password_span(text.as_bytes(), authority_at) {
        Some(span) => format!("{}***{}", &text[..span.start], &text[span.end..]),
        None => text.to_string(),
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Invalid { input, reason } => {
                write!(f, "invalid URL `{}`: {reason}", redacted(input))
            }
            UrlError::Scheme(s) => {
                write!(f, "unsupported URL scheme `{s}` (only http and https)")
            }
            UrlError::NoHost(u) => write!(f, "URL `{}` has no host", redacted(u)),
            UrlError::PortZero(u) => write!(
                f,
                "URL `{}` has port 0, which nothing can listen on",
                redacted(u)
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// Parses a URL as the user typed it: `http://` is assumed when there is no scheme; only
/// http and https are accepted.
pub fn parse_url(input: &str) -> Result<Url, UrlError> {
    let input = input.trim();
    let with_scheme;
    let text = if has_scheme(input) {
        input
    } else {
        with_scheme = format!("{DEFAULT_SCHEME}://{input}");
        &with_scheme
    };
    let url = Url::parse(text).map_err(|reason| UrlError::Invalid {
        input: input.to_string(),
        reason,
    })?;
    check_usable(url)
}

/// Whether the text starts with `scheme://`. A bare `host:port` would otherwise parse as a
/// URL whose scheme is the host name.
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Rejects URLs a request cannot be made to.
fn check_usable(url: Url) -> Result<Url, UrlError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme(url.scheme().to_string()));
    }
    match url.host() {
        Some(Host::Domain("")) | None => Err(UrlError::NoHost(url.to_string())),
        Some(_) if url.port() == Some(0) => Err(UrlError::PortZero(url.to_string())),
        Some(_) => Ok(url),
    }
}

/// The value of the Host header: the host, bracketed when IPv6, with the port only when it is
/// not the scheme's default.
pub fn host_header(url: &Url) -> String {
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_string(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => format!("[{ip}]"),
        None => String::new(),
    };
    // `Url` drops a port equal to the scheme's default, so `port()` is the non-default one.
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// The request target: path and query, `/` when the path is empty.
pub fn request_target(url: &Url) -> String {
    let path = match url.path() {
        "" => "/",
        p => p,
    };
    match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

/// The host to resolve and connect to, and to verify the certificate for (SNI): a domain
/// name or an IP address, IPv6 without brackets.
pub fn connect_host(url: &Url) -> Result<Host<String>, UrlError> {
    match url.host() {
        Some(Host::Domain("")) | None => Err(UrlError::NoHost(url.to_string())),
        Some(host) => Ok(host.to_owned()),
    }
}

/// The port to connect to: the URL's, or the scheme's default.
pub fn connect_port(url: &Url) -> u16 {
    url.port_or_known_default()
        .unwrap_or(if url.scheme() == "https" { 443 } else { 80 })
}

/// The Authorization header value for credentials in the URL (`http://user:pass@host/`):
/// `Basic` and base64 of the percent-decoded `user:pass`. None when the URL has none.
pub fn basic_auth(url: &Url) -> Option<String> {
    let (user, pass) = userinfo(url)?;
    Some(format!("Basic {}", super::basic_token(&user, &pass)))
}

/// The URL's `user:password@`, percent-decoded to bytes; None when it has none.
pub fn userinfo(url: &Url) -> Option<(Vec<u8>, Vec<u8>)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let user = percent_decode_str(url.username()).collect();
    let pass = percent_decode_str(url.password().unwrap_or("")).collect();
    Some((user, pass))
}

/// Where a redirect goes: `location` (absolute, scheme-relative or relative) resolved against
/// the URL that answered. Only http and https targets are followed.
pub fn resolve_location(current: &Url, location: &str) -> Result<Url, UrlError> {
    let location = location.trim();
    let url = current.join(location).map_err(|reason| UrlError::Invalid {
        input: location.to_string(),
        reason,
    })?;
    check_usable(url)
}

/// The local file name for `-O`: the last non-empty path segment, percent-decoded. None when
/// there is no usable name (no segment, or a name that could escape the directory).
pub fn remote_file_name(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    let name = percent_decode_str(segment).decode_utf8().ok()?;
    let unusable = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.chars().any(char::is_control);
    (!unusable).then(|| name.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn url(s: &str) -> Url {
        parse_url(s).unwrap()
    }

    #[test]
    fn no_scheme_means_http() {
        assert_eq!(url("example.org").as_str(), "http://example.org/");
        assert_eq!(
            url("localhost:8080/x?y=1").as_str(),
            "http://localhost:8080/x?y=1"
        );
        assert_eq!(
            url("  https://example.org/a ").as_str(),
            "https://example.org/a"
        );
        assert_eq!(url("HTTP://Example.ORG").as_str(), "http://example.org/");
    }

    #[test]
    fn only_http_and_https() {
        assert_eq!(
            parse_url("ftp://example.org/f").unwrap_err().to_string(),
            "unsupported URL scheme `ftp` (only http and https)"
        );
        assert!(matches!(
            parse_url("http://exa mple.org"),
            Err(UrlError::Invalid { .. })
        ));
        assert!(parse_url("").is_err());
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn port_zero_is_refused_in_urls_and_redirects() {
        // Found by the url_location fuzz target: `http://h:0/` was accepted, and a connect
        // to port 0 was tried.
        assert!(matches!(
            parse_url("http://example.test:0/"),
            Err(UrlError::PortZero(_))
        ));
        let here = url("http://example.test/");
        assert!(matches!(
            resolve_location(&here, "//other.test:0/x"),
            Err(UrlError::PortZero(_))
        ));
    }

    #[test]
    fn host_header_omits_default_ports_and_brackets_ipv6() {
        assert_eq!(host_header(&url("http://example.org:80/")), "example.org");
        assert_eq!(host_header(&url("https://example.org:443/")), "example.org");
        assert_eq!(
            host_header(&url("https://example.org:80/")),
            "example.org:80"
        );
        assert_eq!(host_header(&url("http://[::1]:8080/x")), "[::1]:8080");
        assert_eq!(host_header(&url("http://[::1]/x")), "[::1]");
        assert_eq!(host_header(&url("10.0.0.1:81")), "10.0.0.1:81");
    }

    #[test]
    fn connect_host_has_no_brackets() {
        let u = url("http://[::1]:8080/x");
        assert_eq!(
            connect_host(&u).unwrap(),
            Host::<String>::Ipv6("::1".parse().unwrap())
        );
        assert_eq!(connect_port(&u), 8080);
        assert_eq!(connect_port(&url("https://h")), 443);
        assert_eq!(connect_port(&url("h")), 80);
        assert_eq!(
            connect_host(&url("Example.org")).unwrap(),
            Host::Domain("example.org".to_string())
        );
    }

    #[test]
    fn request_target_is_path_and_query() {
        assert_eq!(request_target(&url("example.org")), "/");
        assert_eq!(request_target(&url("example.org?a=1")), "/?a=1");
        assert_eq!(request_target(&url("example.org/a/b?c#frag")), "/a/b?c");
        assert_eq!(request_target(&url("example.org/a b")), "/a%20b");
    }

    #[test]
    fn url_errors_never_show_a_password() {
        for bad in ["http://a:pw@h:0/", "http://al:secret@[::zz]/x", "a:pw@/"] {
            let err = parse_url(bad).unwrap_err().to_string();
            assert!(!err.contains("pw") && !err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn userinfo_becomes_basic_auth() {
        assert_eq!(basic_auth(&url("http://h/")), None);
        assert_eq!(
            basic_auth(&url("http://Aladdin:open%20sesame@h/")).unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            basic_auth(&url("http://user@h/")).unwrap(),
            "Basic dXNlcjo="
        );
        assert_eq!(
            basic_auth(&url("http://a%3Ab:p%40ss@h/")).unwrap(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("a:b:p@ss")
            )
        );
        // The credentials never reach the Host header.
        assert_eq!(host_header(&url("http://u:p@h:8/")), "h:8");
    }

    #[test]
    fn redirects_resolve_against_the_current_url() {
        let cur = url("https://example.org:8443/a/b?q=1");
        let to = |loc| resolve_location(&cur, loc).unwrap().to_string();
        assert_eq!(to("c"), "https://example.org:8443/a/c");
        assert_eq!(to("/root"), "https://example.org:8443/root");
        assert_eq!(to("//other.org/x"), "https://other.org/x");
        assert_eq!(to("http://plain.org/y"), "http://plain.org/y");
        assert_eq!(to("?z=2"), "https://example.org:8443/a/b?z=2");
        assert!(resolve_location(&cur, "ftp://x/").is_err());
        assert!(resolve_location(&cur, "http://[::1").is_err());
    }

    #[test]
    fn remote_file_names_are_safe() {
        let name = |s| remote_file_name(&url(s));
        assert_eq!(
            name("h/dir/file.tar.gz?x=1"),
            Some("file.tar.gz".to_string())
        );
        assert_eq!(name("h/dir/sub/"), Some("sub".to_string()));
        assert_eq!(name("h/my%20file.txt"), Some("my file.txt".to_string()));
        assert_eq!(name("h/"), None);
        assert_eq!(name("h"), None);
        assert_eq!(name("h/a%2Fb"), None);
        assert_eq!(name("h/%2E%2E"), None);
        assert_eq!(name("h/x/..%2F"), None);
        assert_eq!(name("h/a%5Cb"), None);
        assert_eq!(name("h/a%00b"), None);
        assert_eq!(name("h/%FF"), None);
    }
}
