//! The no-proxy list of `NO_PROXY` and `--noproxy`: which hosts are reached directly. curl's
//! forms: `*` for every host, host names that match themselves and their subdomains (with or
//! without a leading dot), IPv4 and IPv6 literals, and CIDR ranges of both families.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::names::unbracket;

/// What one entry of the list matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: every host.
    All,
    /// A host name and its subdomains: lower case, without leading or trailing dots.
    Name(String),
    /// One address.
    Addr(IpAddr),
    /// A CIDR range.
    Net(IpNet),
}

/// A parsed no-proxy list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoProxy {
    /// Each entry as the user wrote it (trimmed), and what it matches.
    entries: Vec<(String, Pattern)>,
}

impl NoProxy {
    /// Parses a comma-separated list (`NO_PROXY`, `--noproxy`). Entries are `*` (alone: every
    /// host); host names,
    /// which match themselves and their subdomains, with or without a leading dot (or `*.`,
    /// as Go's tools write it): ".example.com" and "example.com" both match example.com and
    /// a.example.com, but not notexample.com; IPv4 and IPv6 literals (IPv6 with or without
    /// brackets); CIDR ranges of both families (`10.0.0.0/8`, `fd00::/8`, `[::1]/128`).
    /// Matching ignores case; spaces around entries and empty entries are ignored. An entry
    /// that is none of these is kept as a host name, as curl does; a trailing dot on a name
    /// is ignored on both sides.
    pub fn parse(list: &str) -> NoProxy {
        // `*` means every host only as the whole list, as curl reads it: in a list it is an
        // entry matching nothing (curl proxies `example.org` for `localhost,*`).
        if list.trim() == "*" {
            return NoProxy {
                entries: vec![("*".to_string(), Pattern::All)],
            };
        }
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && *e != "*")
            .map(|e| (e.to_string(), pattern(e)))
            .collect();
        NoProxy { entries }
    }

    /// The entry that says `host` needs no proxy, as the user wrote it (for `-v`: "NO_PROXY
    /// 10.0.0.0/8"). `host` may be a name, an IPv4 literal, or an IPv6 literal with or
    /// without brackets. An IP literal matches address and CIDR entries only, never a name
    /// by its suffix.
    pub fn matches(&self, host: &str) -> Option<&str> {
        let host = unbracket(host.trim());
        if host.is_empty() {
            return None;
        }
        let ip = host.parse::<IpAddr>().ok();
        let name = if ip.is_none() {
            host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
        } else {
            String::new()
        };
        self.entries
            .iter()
            .find(|(_, p)| match (p, ip) {
                (Pattern::All, _) => true,
                (Pattern::Addr(a), Some(ip)) => *a == ip,
                (Pattern::Net(net), Some(ip)) => net.contains(&ip),
                (Pattern::Name(n), None) => {
                    name == *n
                        || name
                            .strip_suffix(n.as_str())
                            .is_some_and(|rest| rest.ends_with('.'))
                }
                _ => false,
            })
            .map(|(written, _)| written.as_str())
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What the entry `e` (trimmed, not empty) matches.
fn pattern(e: &str) -> Pattern {
    // `[v6]` and `[v6]/len` lose their brackets.
    let bare = match e.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((inner, "")) => inner.to_string(),
        Some((inner, len)) if len.starts_with('/') => format!("{inner}{len}"),
        _ => e.to_string(),
    };
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Pattern::Addr(ip);
    }
    if let Ok(net) = bare.parse::<IpNet>() {
        return Pattern::Net(net);
    }
    let name = e.strip_prefix("*.").unwrap_or(e);
    let name = name.trim_start_matches('.');
    let name = name.strip_suffix('.').unwrap_or(name);
    Pattern::Name(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_matches_everything() {
        let list = NoProxy::parse("*");
        assert_eq!(list.matches("example.org"), Some("*"));
        assert_eq!(list.matches("10.1.2.3"), Some("*"));
        assert_eq!(list.matches("[::1]"), Some("*"));
        // As curl: `*` counts only as the whole list.
        assert_eq!(NoProxy::parse("a.test, *").matches("b.test"), None);
        assert_eq!(NoProxy::parse(" * ").matches("b.test"), Some("*"));
    }

    #[test]
    fn names_match_themselves_and_subdomains() {
        for written in [
            "example.com",
            ".example.com",
            "*.example.com",
            "Example.COM.",
        ] {
            let list = NoProxy::parse(written);
            assert_eq!(list.matches("example.com"), Some(written), "{written}");
            assert_eq!(list.matches("a.b.EXAMPLE.com"), Some(written), "{written}");
            assert_eq!(list.matches("example.com."), Some(written), "{written}");
            assert_eq!(list.matches("notexample.com"), None, "{written}");
            assert_eq!(list.matches("example.com.evil"), None, "{written}");
            assert_eq!(list.matches("com"), None, "{written}");
        }
    }

    #[test]
    fn lists_are_forgiving() {
        let list = NoProxy::parse(" localhost ,, .internal.test ,\t10.0.0.0/8 ,");
        assert_eq!(list.matches("localhost"), Some("localhost"));
        assert_eq!(list.matches("db.internal.test"), Some(".internal.test"));
        assert_eq!(list.matches("10.200.0.1"), Some("10.0.0.0/8"));
        assert_eq!(list.matches("example.org"), None);
        assert!(NoProxy::parse(" , ,").is_empty());
        assert_eq!(NoProxy::parse("").matches("x"), None);
        assert_eq!(NoProxy::parse("x").matches(""), None);
        // Something that is neither an address nor a range is a name.
        assert_eq!(
            NoProxy::parse("10.0.0.0/99").matches("10.0.0.0/99"),
            Some("10.0.0.0/99")
        );
        assert_eq!(NoProxy::parse("10.0.0.0/99").matches("10.0.0.1"), None);
    }

    #[test]
    fn addresses_match_addresses_only() {
        let list = NoProxy::parse("192.168.1.10,::1,[fe80::1]");
        assert_eq!(list.matches("192.168.1.10"), Some("192.168.1.10"));
        assert_eq!(list.matches("192.168.1.11"), None);
        assert_eq!(list.matches("::1"), Some("::1"));
        assert_eq!(list.matches("[::1]"), Some("::1"));
        assert_eq!(list.matches("0:0::1"), Some("::1"));
        assert_eq!(list.matches("FE80::1"), Some("[fe80::1]"));
        assert_eq!(list.matches("[fe80::1]"), Some("[fe80::1]"));
        // A name entry never matches an address by its suffix.
        let names = NoProxy::parse("0.1,1.10");
        assert_eq!(names.matches("192.168.1.10"), None);
    }

    #[test]
    fn cidr_ranges_of_both_families() {
        let list = NoProxy::parse("10.0.0.0/8, 172.16.0.0/12, fd00::/8, [::1]/128");
        assert_eq!(list.matches("10.255.255.255"), Some("10.0.0.0/8"));
        assert_eq!(list.matches("11.0.0.0"), None);
        assert_eq!(list.matches("172.31.0.1"), Some("172.16.0.0/12"));
        assert_eq!(list.matches("172.32.0.1"), None);
        assert_eq!(list.matches("fd12:3456::1"), Some("fd00::/8"));
        assert_eq!(list.matches("[fdff::1]"), Some("fd00::/8"));
        assert_eq!(list.matches("fe00::1"), None);
        assert_eq!(list.matches("::1"), Some("[::1]/128"));
        // An IPv4 range does not match a name made of digits and dots that is not an address.
        assert_eq!(list.matches("10.example"), None);
    }
}
