//! Names to socket addresses. A name is checked before it is resolved, so an impossible name
//! fails at once (exit 3) without a query leaving the machine; the reserved `.invalid`
//! domain (RFC 6761) never resolves and is refused the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;

use crate::error::{Kind, Tag as _, fail};

/// Which address families a command may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv6 and IPv4.
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    /// Whether `addr` is of an allowed family.
    pub fn allows(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

pub use crate::names::parse_ip;

/// Checks that `name` can be a host name at all (the one rule of [`crate::names`]), so a
/// typo fails before any DNS query.
pub fn check_host_name(name: &str) -> Result<()> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    let why = crate::names::host_name_problem(name).or_else(|| {
        (bare.to_ascii_lowercase().rsplit('.').next() == Some("invalid"))
            .then_some("the .invalid domain never resolves (RFC 6761)")
    });
    match why {
        Some(why) => Err(fail(
            Kind::Resolve,
            format!("cannot resolve '{name}': {why}"),
        )),
        None => Ok(()),
    }
}

/// Resolves `host` to every address of the allowed family, in the resolver's order (for
/// `localhost` that is ::1 before 127.0.0.1).
pub fn resolve(host: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = if let Some(ip) = parse_ip(host) {
        vec![SocketAddr::new(ip, port)]
    } else {
        check_host_name(host)?;
        super::lookup::lookup(host, port).tag(Kind::Resolve, format!("cannot resolve '{host}'"))?
    };
    keep_family(host, found, family)
}

/// The addresses `host` resolved to that are of an allowed family, without repeats, in the
/// resolver's order; an error (exit 3) when none is left.
pub fn keep_family(host: &str, found: Vec<SocketAddr>, family: Family) -> Result<Vec<SocketAddr>> {
    let mut kept: Vec<SocketAddr> = Vec::with_capacity(found.len());
    for addr in found.into_iter().filter(|a| family.allows(a)) {
        if !kept.contains(&addr) {
            kept.push(addr);
        }
    }
    if kept.is_empty() {
        let which = match family {
            Family::V4 => "IPv4 ",
            Family::V6 => "IPv6 ",
            Family::Any => "",
        };
        return Err(fail(
            Kind::Resolve,
            format!("cannot resolve '{host}': it has no {which}address"),
        ));
    }
    Ok(kept)
}

/// The addresses a server binds: every address of ADDR, or both `::` and `0.0.0.0`.
pub fn bind_addrs(addr: Option<&str>, port: u16, family: Family) -> Result<Vec<SocketAddr>> {
    match addr {
        Some(host) => resolve(host, port, family),
        None => {
            let v6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
            let v4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
            Ok([v6, v4].into_iter().filter(|a| family.allows(a)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_names_fail_before_any_query() {
        for bad in ["", "a..b", "-a.com", "a_b c", "x.invalid", "host.INVALID."] {
            let err = check_host_name(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 3, "{bad}");
        }
        let long = "a".repeat(64);
        assert!(check_host_name(&long).is_err());
        for good in ["localhost", "example.org", "pi.local.", "my-host_1"] {
            assert!(check_host_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn literals_resolve_without_a_resolver() {
        let v = resolve("[::1]", 80, Family::Any).unwrap();
        assert_eq!(v, vec!["[::1]:80".parse().unwrap()]);
        let err = resolve("127.0.0.1", 80, Family::V6).unwrap_err();
        assert!(format!("{err}").contains("no IPv6 address"));
    }

    #[test]
    fn servers_bind_both_families_by_default() {
        let all = bind_addrs(None, 9, Family::Any).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].is_ipv6() && all[1].is_ipv4());
        assert_eq!(bind_addrs(None, 9, Family::V4).unwrap().len(), 1);
    }
}

/// `--resolve HOST:PORT:ADDR[,ADDR…]` (curl's form): connections to HOST:PORT go to these
/// addresses, and HOST is never looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The host name, lowercase.
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

impl Pinned {
    /// The addresses to connect to for `host`:`port`, if pinned.
    pub fn lookup(list: &[Pinned], host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let pin = list
            .iter()
            .find(|p| p.port == port && p.host.eq_ignore_ascii_case(host.trim_end_matches('.')))?;
        Some(
            pin.addrs
                .iter()
                .map(|&ip| SocketAddr::new(ip, port))
                .collect(),
        )
    }
}

impl std::str::FromStr for Pinned {
    type Err = String;

    fn from_str(text: &str) -> Result<Pinned, String> {
        let bad = |why: &str| {
            format!("'{text}': {why} (write HOST:PORT:ADDR, e.g. example.org:443:127.0.0.1)")
        };
        let mut parts = text.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("three parts are needed"));
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(&format!("'{port}' is not a port")))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let bare = a.trim().trim_start_matches('[').trim_end_matches(']');
                bare.parse::<IpAddr>()
                    .map_err(|_| bad(&format!("'{a}' is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pinned {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}
