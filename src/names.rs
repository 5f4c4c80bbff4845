//! Host names and IP literals as users type them: one place that takes the brackets off an
//! IPv6 literal (`[::1]`, as in URLs and `host:port` forms), parses an address, and decides
//! whether a name can be a host name, for the resolver, TLS server names and certificate
//! names alike.

use std::net::IpAddr;

use rustls::pki_types::DnsName;

/// The longest host name (RFC 1035, without the trailing dot).
const MAX_NAME_LEN: usize = 253;
/// The longest label of a host name.
const MAX_LABEL_LEN: usize = 63;

/// Why `name` cannot be a host name, or `None` when it can (a trailing dot is allowed).
/// Whether it can is rustls' rule (`DnsName`), so a name is judged alike when it is
/// resolved, put in a certificate and checked against one; the reasons are for the message.
pub fn host_name_problem(name: &str) -> Option<&'static str> {
    if DnsName::try_from(name).is_ok() {
        return None;
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    let labels = || bare.split('.');
    Some(if bare.is_empty() {
        "the name is empty"
    } else if bare.len() > MAX_NAME_LEN {
        "the name is longer than 253 characters"
    } else if labels().any(str::is_empty) {
        "the name has an empty label"
    } else if labels().any(|l| l.len() > MAX_LABEL_LEN) {
        "a label is longer than 63 characters"
    } else if !bare
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        "a host name has only letters, digits, '-' and '.'"
    } else if labels().any(|l| l.starts_with('-') || l.ends_with('-')) {
        "a label starts or ends with '-'"
    } else if labels()
        .next_back()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        "its last label is all digits, like an IP address, but it is not a valid one"
    } else {
        "it is not a valid host name"
    })
}

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

    #[test]
    fn host_names_are_judged_by_one_rule_with_a_reason() {
        for good in [
            "example.org",
            "example.org.",
            "pi.local",
            "a_b.test",
            "x1",
            "123.abc",
        ] {
            assert_eq!(host_name_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("a..b", "empty label"),
            ("-a.b", "'-'"),
            ("a b", "only letters"),
            ("300.1.1.1", "all digits"),
            ("1.2.3", "all digits"),
        ] {
            let said = host_name_problem(bad).unwrap_or_else(|| panic!("{bad} passed"));
            assert!(said.contains(why), "{bad}: {said}");
        }
        assert!(host_name_problem(&format!("{}.org", "a".repeat(64))).is_some());
        assert!(host_name_problem(&"a.".repeat(130)).is_some());
    }
}
