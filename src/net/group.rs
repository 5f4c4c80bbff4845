//! UDP beyond one peer: broadcast (`connect -u -b`) and multicast (`listen -u --join`,
//! `connect -u` to a group with `--ttl`, `--multicast-loop`, `--iface`). Sockets only: the
//! datagram session itself is `udp.rs`'s.
//!
//! A sender to a group or a broadcast address keeps its socket unconnected: a connected
//! UDP socket hears only the address it is connected to, and nobody answers *from* a group
//! or broadcast address, so replies (a device answering a discovery broadcast, a member of
//! the group) would be dropped by the kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::{Kind, fail};
use crate::net::transport::describe;

/// A network interface by name (`--iface`): its index, and its first IPv4 address (IPv4
/// multicast names an interface by an address of its).
#[derive(Debug, Clone)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub v4: Option<Ipv4Addr>,
}

impl Iface {
    /// Looks the interface up (exit 2 when there is none of that name).
    pub fn named(name: &str) -> Result<Iface> {
        let all = if_addrs::get_if_addrs().map_err(|e| {
            fail(
                Kind::Runtime,
                format!("listing interfaces: {}", describe(&e)),
            )
        })?;
        let mine: Vec<&if_addrs::Interface> = all.iter().filter(|i| i.name == name).collect();
        let index = mine.iter().find_map(|i| i.index).ok_or_else(|| {
            let mut names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            fail(
                Kind::Usage,
                format!(
                    "--iface {name}: no such interface with an address (there are: {})",
                    names.join(", ")
                ),
            )
        })?;
        let v4 = mine.iter().find_map(|i| match i.ip() {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        });
        Ok(Iface {
            name: name.to_string(),
            index,
            v4,
        })
    }
}

/// How a datagram sender treats a group or broadcast destination.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// `-b`: allow broadcast (SO_BROADCAST).
    pub broadcast: bool,
    /// `--ttl`: the TTL (IPv6: hop limit) of what we send; for a group, its multicast TTL.
    pub ttl: Option<u32>,
    /// `--multicast-loop`: members of the group on this host hear us too.
    pub multicast_loop: bool,
    /// `--iface`: the interface a group's datagrams leave by.
    pub iface: Option<Iface>,
}

/// Whether datagrams to `addr` need an unconnected socket: a multicast group, or any
/// address with `-b`.
pub fn is_group(addr: SocketAddr, opts: &SendOptions) -> bool {
    opts.broadcast || addr.ip().is_multicast()
}

/// The options that only make sense for a multicast destination, when it is not one: a
/// usage error naming them.
pub fn check_destination(addr: SocketAddr, opts: &SendOptions) -> Result<()> {
    if addr.ip().is_multicast() {
        return Ok(());
    }
    let wrong = match (opts.multicast_loop, &opts.iface) {
        (true, _) => "--multicast-loop",
        (false, Some(_)) => "--iface",
        (false, None) => return Ok(()),
    };
    Err(fail(
        Kind::Usage,
        format!(
            "{wrong} is for a multicast group (224.0.0.0/4, ff00::/8); {} is not one",
            addr.ip()
        ),
    ))
}

/// A socket that sends to `dest` (a group, a broadcast address, or a unicast one with
/// `--ttl`), bound to `source` if given, with the options set. Connected only to a unicast
/// destination without `-b`.
pub fn sender(dest: SocketAddr, source: Option<SocketAddr>, opts: &SendOptions) -> Result<Socket> {
    let setting = |what: &str, e: std::io::Error| {
        fail(
            Kind::Runtime,
            format!("setting {what} for {dest}: {}", describe(&e)),
        )
    };
    let socket = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| setting("up a socket", e))?;
    if let Some(source) = source {
        socket
            .set_reuse_address(true)
            .map_err(|e| setting("SO_REUSEADDR", e))?;
        socket.bind(&SockAddr::from(source)).map_err(|e| {
            fail(
                Kind::Bind,
                format!("cannot bind {source}: {}", describe(&e)),
            )
        })?;
    }
    if opts.broadcast {
        socket
            .set_broadcast(true)
            .map_err(|e| setting("SO_BROADCAST", e))?;
    }
    match (dest.ip(), dest.ip().is_multicast()) {
        (IpAddr::V4(_), true) => {
            socket
                .set_multicast_loop_v4(opts.multicast_loop)
                .map_err(|e| setting("IP_MULTICAST_LOOP", e))?;
            if let Some(ttl) = opts.ttl {
                socket
                    .set_multicast_ttl_v4(ttl)
                    .map_err(|e| setting("IP_MULTICAST_TTL", e))?;
            }
            if let Some(iface) = &opts.iface {
                let addr = iface.v4.ok_or_else(|| {
                    fail(
                        Kind::Usage,
                        format!("--iface {}: the interface has no IPv4 address", iface.name),
                    )
                })?;
                socket
                    .set_multicast_if_v4(&addr)
                    .map_err(|e| setting("IP_MULTICAST_IF", e))?;
            }
        }
        (IpAddr::V6(_), true) => {
            socket
                .set_multicast_loop_v6(opts.multicast_loop)
                .map_err(|e| setting("IPV6_MULTICAST_LOOP", e))?;
            if let Some(hops) = opts.ttl {
                socket
                    .set_multicast_hops_v6(hops)
                    .map_err(|e| setting("IPV6_MULTICAST_HOPS", e))?;
            }
            if let Some(iface) = &opts.iface {
                socket
                    .set_multicast_if_v6(iface.index)
                    .map_err(|e| setting("IPV6_MULTICAST_IF", e))?;
            }
        }
        (IpAddr::V4(_), false) => {
            if let Some(ttl) = opts.ttl {
                socket.set_ttl_v4(ttl).map_err(|e| setting("IP_TTL", e))?;
            }
        }
        (IpAddr::V6(_), false) => {
            if let Some(hops) = opts.ttl {
                socket
                    .set_unicast_hops_v6(hops)
                    .map_err(|e| setting("IPV6_UNICAST_HOPS", e))?;
            }
        }
    }
    if !is_group(dest, opts) {
        socket.connect(&SockAddr::from(dest)).map_err(|e| {
            fail(
                crate::error::io_kind(&e),
                format!("{dest}: {}", describe(&e)),
            )
        })?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| setting("non-blocking mode", e))?;
    Ok(socket)
}

/// A socket bound to `bind` that has joined every group of `groups` (all of one family, that
/// of `bind`), on `iface` or the interface the kernel picks. Several programs on this host
/// may join the same group and port (SO_REUSEADDR). Prints the ready line.
pub fn member(bind: SocketAddr, groups: &[IpAddr], iface: Option<&Iface>) -> Result<Socket> {
    let joining = |g: &IpAddr, e: std::io::Error| {
        let on = iface.map(|i| format!(" on {}", i.name)).unwrap_or_default();
        fail(
            Kind::Bind,
            format!("cannot join the group {g}{on}: {}", describe(&e)),
        )
    };
    let socket =
        Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP)).map_err(|e| {
            fail(
                Kind::Bind,
                format!("cannot make a socket: {}", describe(&e)),
            )
        })?;
    let bound = (|| {
        socket.set_reuse_address(true)?;
        if bind.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.bind(&SockAddr::from(bind))
    })();
    bound.map_err(|e| fail(Kind::Bind, format!("cannot bind {bind}: {}", describe(&e))))?;
    for group in groups {
        match group {
            IpAddr::V4(g) => {
                let on = iface.and_then(|i| i.v4).unwrap_or(Ipv4Addr::UNSPECIFIED);
                socket
                    .join_multicast_v4(g, &on)
                    .map_err(|e| joining(group, e))?;
            }
            IpAddr::V6(g) => socket
                .join_multicast_v6(g, iface.map_or(0, |i| i.index))
                .map_err(|e| joining(group, e))?,
        }
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| fail(Kind::Bind, format!("non-blocking mode: {}", describe(&e))))?;
    let local = super::listener::local_addr(&socket)?;
    let names: Vec<String> = groups.iter().map(ToString::to_string).collect();
    super::listener::print_ready("bound on", local, &format!("joined {}", names.join(", ")));
    Ok(socket)
}

/// Where a member binds by default: the wildcard address of the groups' family.
pub fn wildcard_for(group: IpAddr, port: u16) -> SocketAddr {
    match group {
        IpAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
        IpAddr::V6(_) => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
    }
}

/// Checks `--join` groups: each a multicast address, all of one family.
pub fn check_groups(groups: &[IpAddr]) -> Result<(), String> {
    if let Some(g) = groups.iter().find(|g| !g.is_multicast()) {
        return Err(format!(
            "--join {g}: not a multicast group (224.0.0.0/4, ff00::/8)"
        ));
    }
    if groups.iter().any(IpAddr::is_ipv4) && groups.iter().any(IpAddr::is_ipv6) {
        return Err(
            "--join: IPv4 and IPv6 groups need a listener each (one socket is one family)"
                .to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_multicast_addresses_of_one_family() {
        let v4: IpAddr = "239.1.2.3".parse().unwrap();
        let v6: IpAddr = "ff12::1".parse().unwrap();
        assert!(check_groups(&[v4]).is_ok());
        assert!(check_groups(&[v6, "ff02::fb".parse().unwrap()]).is_ok());
        assert!(
            check_groups(&[v4, v6])
                .unwrap_err()
                .contains("need a listener each")
        );
        let unicast: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(
            check_groups(&[unicast])
                .unwrap_err()
                .contains("not a multicast group")
        );
    }

    #[test]
    fn multicast_options_need_a_multicast_destination() {
        let opts = SendOptions {
            multicast_loop: true,
            ..SendOptions::default()
        };
        let unicast: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let group: SocketAddr = "239.0.0.1:5000".parse().unwrap();
        assert!(check_destination(group, &opts).is_ok());
        let err = check_destination(unicast, &opts).unwrap_err();
        assert!(format!("{err}").contains("--multicast-loop is for a multicast group"));
        assert!(is_group(group, &SendOptions::default()));
        assert!(!is_group(unicast, &SendOptions::default()));
        let broadcast = SendOptions {
            broadcast: true,
            ..SendOptions::default()
        };
        assert!(is_group("10.0.0.255:5000".parse().unwrap(), &broadcast));
    }
}
