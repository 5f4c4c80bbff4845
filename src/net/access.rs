//! `--allow` and `--deny`: who may connect to a server. Entries are addresses and CIDR
//! ranges of both families (names are never looked up); an IPv4-mapped IPv6 address (a
//! dual-stack socket's `::ffff:a.b.c.d`) is its IPv4 address, on both sides. Deny wins over
//! allow; with no allow entry, everyone not denied may connect. A refused client is closed
//! before a byte is read or written, before any TLS handshake. Clients of a Unix socket are
//! not filtered: the socket file's permissions say who may connect.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::sock::Remote;

/// The rules of one server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl Access {
    /// Rules from parsed entries; `None` when there are none (everyone may connect).
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Option<Access> {
        (!allow.is_empty() || !deny.is_empty()).then_some(Access { allow, deny })
    }

    /// Whether a client from `peer` may connect.
    pub fn permits(&self, peer: &Remote) -> bool {
        match peer {
            Remote::Ip(addr) => self.permits_ip(addr.ip()),
            Remote::Local(_) => true,
        }
    }

    /// Whether a client at `ip` may connect.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }
}

impl fmt::Display for Access {
    /// Who may connect, for a start line: "only 10.0.0.0/8 may connect, never 10.0.0.9".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |nets: &[IpNet]| {
            nets.iter()
                .map(|n| shown(*n))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.allow.is_empty(), self.deny.is_empty()) {
            (false, true) => write!(f, "only {} may connect", list(&self.allow)),
            (true, false) => write!(f, "everyone but {} may connect", list(&self.deny)),
            (false, false) => write!(
                f,
                "only {} may connect, never {}",
                list(&self.allow),
                list(&self.deny)
            ),
            (true, true) => f.write_str("everyone may connect"),
        }
    }
}

/// A single address shows without its /32 or /128.
fn shown(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// One entry: an address (`10.0.0.7`, `::1`) or a range (`10.0.0.0/8`, `fd00::/8`).
pub fn parse_entry(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    let net = match entry.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match entry.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "'{entry}' is not an address or a CIDR range (names are not looked up)"
                ));
            }
        },
    };
    Ok(canonical(net))
}

/// An IPv4-mapped range (`::ffff:10.0.0.0/104`) as the IPv4 range it is.
fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(|n| IpNet::V4(n.trunc()))
                .unwrap_or(net),
            None => net,
        },
        _ => net.trunc(),
    }
}

/// Entries from a command-line value: one or more, split at commas and spaces.
pub fn parse_list(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(parse_entry)
        .collect()
}

/// Entries from a file's text: one a line, `#` starts a comment, blank lines skipped. An
/// error names the line.
pub fn parse_file(text: &str) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        nets.push(parse_entry(line).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(allow: &str, deny: &str) -> Access {
        Access {
            allow: parse_list(allow).unwrap(),
            deny: parse_list(deny).unwrap(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn deny_wins_and_no_allow_means_everyone_else() {
        let a = access("127.0.0.0/8, ::1", "127.0.0.2");
        assert!(a.permits_ip(ip("127.0.0.1")));
        assert!(!a.permits_ip(ip("127.0.0.2")));
        assert!(a.permits_ip(ip("::1")));
        assert!(!a.permits_ip(ip("10.0.0.1")));
        let a = access("", "10.0.0.0/8");
        assert!(a.permits_ip(ip("192.168.1.1")));
        assert!(!a.permits_ip(ip("10.9.9.9")));
    }

    #[test]
    fn ipv4_mapped_addresses_match_their_ipv4_entries() {
        let a = access("10.0.0.0/8", "");
        assert!(a.permits_ip(ip("::ffff:10.1.2.3")));
        assert!(!a.permits_ip(ip("::ffff:11.1.2.3")));
        let a = access("::ffff:192.168.0.0/112", "");
        assert!(a.permits_ip(ip("192.168.4.5")));
    }

    #[test]
    fn entries_are_addresses_or_ranges_and_files_name_the_bad_line() {
        assert_eq!(parse_entry("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert!(
            parse_entry("lab-pc")
                .unwrap_err()
                .contains("names are not looked up")
        );
        let nets = parse_file("# lab machines\n10.0.0.0/8  # the lab\n\n::1\n").unwrap();
        assert_eq!(nets.len(), 2);
        assert_eq!(
            parse_file("10.0.0.1\nnope\n")
                .unwrap_err()
                .split(':')
                .next(),
            Some("line 2")
        );
    }

    #[test]
    fn the_start_line_says_who_may_connect() {
        assert_eq!(
            access("10.0.0.0/8", "10.0.0.9").to_string(),
            "only 10.0.0.0/8 may connect, never 10.0.0.9"
        );
        assert_eq!(
            access("", "::1").to_string(),
            "everyone but ::1 may connect"
        );
        assert!(Access::new(Vec::new(), Vec::new()).is_none());
    }
}
