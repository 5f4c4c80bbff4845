//! Host names and IP literals as users type them: one place that takes the brackets off an
//! IPv6 literal (`[::1]`, as in URLs and `host:port` forms) and parses an address, for the
//! resolver, TLS server names and certificate names alike.

use std::net::IpAddr;

/// `host` without the brackets around an IPv6 literal (`[::1]` → `::1`); anything else as
/// it is.
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Parses an IP literal, IPv6 with or without brackets.
pub fn parse_ip(host: &str) -> Option<IpAddr> {
    unbracket(host).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_come_off_ipv6_only() {
        assert_eq!(parse_ip("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(parse_ip("127.0.0.1"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("[127.0.0.1"), None);
        assert_eq!(unbracket("example.org"), "example.org");
    }
}
