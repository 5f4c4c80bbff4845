//! A host name's addresses from the system's resolver, as every other program on the machine
//! sees them.
//!
//! With glibc that is `getaddrinfo`, which follows `/etc/nsswitch.conf`: `/etc/hosts`,
//! `mdns4_minimal` (how `pi.local` resolves on Raspberry Pi OS), DNS, and whatever else is
//! listed there. The ARMv6 `armhf` package is a static musl binary (README, "Packages"), and
//! musl's `getaddrinfo` knows `/etc/hosts` and DNS only. So in a musl build, when the
//! machine's `hosts:` line names any other service, the name is asked of glibc's own
//! resolver through `getent ahosts` (Debian's `libc-bin`, which is Essential): the services,
//! their order and their actions as glibc programs see them, so `pi.local` resolves. Only
//! where `hosts:` is exactly `files dns` (or there is no nsswitch.conf, or no getent) does
//! musl answer itself. What getent cannot carry: an IPv6 link-local address's zone (it
//! prints none, and such an address cannot be used without one, so it is left out), and
//! getaddrinfo's reason for a failure (every failure is exit 2).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Every address of `name` (not an IP literal), with `port`.
pub fn lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    #[cfg(target_env = "musl")]
    if let Some(found) = nss::lookup(name, port) {
        return found;
    }
    (name, port).to_socket_addrs().map(Iterator::collect)
}

/// The system's name-service switch, asked through `getent` (used by musl builds; the
/// parsing is tested everywhere).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
mod nss {
    use std::io;
    use std::net::{IpAddr, SocketAddr, SocketAddrV6};
    use std::path::Path;
    use std::process::{Command, Stdio};

    /// `name`'s addresses from `getent ahosts`, or `None` when musl's own resolver gives the
    /// same answer (nsswitch.conf lists only `files` and `dns` for hosts) or there is no
    /// getent to ask.
    pub fn lookup(name: &str, port: u16) -> Option<io::Result<Vec<SocketAddr>>> {
        let conf = std::fs::read_to_string("/etc/nsswitch.conf").ok()?;
        if !needs_nss(&conf) {
            return None;
        }
        let getent = ["/usr/bin/getent", "/bin/getent"]
            .into_iter()
            .find(|p| Path::new(p).is_file())?;
        Some(ask(getent, name, port))
    }

    fn ask(getent: &str, name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let out = Command::new(getent)
            .args(["ahosts", "--", name])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()?;
        match out.status.code() {
            Some(0) => {}
            // getent(1): 2 is "key not found", whatever getaddrinfo's reason was.
            Some(2) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the system's resolver (getent ahosts) found no address",
                ));
            }
            _ => {
                return Err(io::Error::other(format!(
                    "{getent} ahosts failed ({})",
                    out.status
                )));
            }
        }
        let ips = addresses(&String::from_utf8_lossy(&out.stdout), port);
        if ips.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the system's resolver (getent ahosts) found no usable address",
            ));
        }
        Ok(ips)
    }

    /// Whether musl's resolver would answer differently from glibc's: anything but a last
    /// `hosts:` line of exactly `files dns` (musl reads /etc/hosts, then asks DNS, always;
    /// other services, another order, or `[NOTFOUND=return]`-style actions are glibc's
    /// alone). glibc takes blanks before the colon too.
    pub fn needs_nss(conf: &str) -> bool {
        conf.lines()
            .map(|line| line.split('#').next().unwrap_or("").trim())
            .filter_map(|line| {
                let (name, services) = line.split_once(':')?;
                (name.trim() == "hosts").then_some(services)
            })
            .next_back()
            .is_some_and(|services| {
                services.split_whitespace().collect::<Vec<_>>() != ["files", "dns"]
            })
    }

    /// The addresses of `getent ahosts` output (`ADDR STREAM name`, then `ADDR DGRAM`,
    /// `ADDR RAW` for the same address), each once, in getent's order, with `port`. An
    /// IPv6 address may carry its zone (`fe80::1%eth0`), by name or number.
    pub fn addresses(out: &str, port: u16) -> Vec<SocketAddr> {
        let mut ips: Vec<SocketAddr> = Vec::new();
        for ip in out
            .lines()
            .filter_map(|line| address(line.split_whitespace().next()?, port))
        {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        ips
    }

    fn address(word: &str, port: u16) -> Option<SocketAddr> {
        let Some((ip, zone)) = word.split_once('%') else {
            let ip = word.parse::<IpAddr>().ok()?;
            // Link-local IPv6 without its zone cannot be connected to.
            if let IpAddr::V6(v6) = ip
                && v6.is_unicast_link_local()
            {
                return None;
            }
            return Some(SocketAddr::new(ip, port));
        };
        let scope = match zone.parse::<u32>() {
            Ok(index) => index,
            Err(_) => {
                if_addrs::get_if_addrs()
                    .ok()?
                    .into_iter()
                    .find(|i| i.name == zone)?
                    .index?
            }
        };
        Some(SocketAddr::V6(SocketAddrV6::new(
            ip.parse().ok()?,
            port,
            0,
            scope,
        )))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_a_files_dns_line_is_left_to_musl() {
            // musl's own answer is glibc's: files, then dns.
            assert!(!needs_nss("passwd: files\nhosts: files dns\n"));
            assert!(!needs_nss("hosts:\tfiles   dns # mdns4 would be here\n"));
            assert!(!needs_nss("hosts: mdns4\nhosts: files dns\n"));
            assert!(!needs_nss("# hosts: files mdns4_minimal\n"));
            assert!(!needs_nss("passwd: files systemd\n"));
            // Anything else is glibc's to answer.
            for conf in [
                "hosts: files mdns4_minimal [NOTFOUND=return] dns\n",
                "hosts: files myhostname dns\n",
                "hosts : files mdns4_minimal dns\n",
                "hosts: files [NOTFOUND=return] dns",
                "hosts: dns files",
                "hosts: files",
                "hosts: files [NOTFOUND=return]mdns4_minimal dns",
            ] {
                assert!(needs_nss(conf), "{conf}");
            }
        }

        #[test]
        fn getent_output_gives_each_usable_address_once_in_order() {
            let out = "192.168.1.50    STREAM pi.local\n192.168.1.50    DGRAM  \n\
                       192.168.1.50    RAW    \nfe80::1%2  STREAM\nfe80::2 STREAM\n\
                       fe80::3%lo STREAM\nfe80::4%no-such-interface0 STREAM\n\
                       2001:db8::1 STREAM\n";
            let ips: Vec<String> = addresses(out, 80).iter().map(|a| a.to_string()).collect();
            // fe80::2 has no zone (getent prints none): unusable, left out.
            assert_eq!(
                ips,
                [
                    "192.168.1.50:80",
                    "[fe80::1%2]:80",
                    "[fe80::3%1]:80",
                    "[2001:db8::1]:80"
                ]
            );
        }
    }
}
