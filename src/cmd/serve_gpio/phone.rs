//! Finding the page from a phone: at start, when stderr is a terminal (a person is
//! watching), the page's URL on every address of the machine other than loopback, and a
//! QR code of the first. Never in a pipe, a log file or under systemd, where it would only
//! be noise; `--no-qr` leaves the URLs and drops the code.

use std::io::IsTerminal as _;
use std::net::{IpAddr, SocketAddr};

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// Whether to announce: stderr is a terminal and no service manager started us.
pub fn wanted() -> bool {
    let systemd =
        std::env::var_os("INVOCATION_ID").is_some() || std::env::var_os("JOURNAL_STREAM").is_some();
    std::io::stderr().is_terminal() && !systemd
}

/// The page's URLs for the addresses bound: an unspecified address (`0.0.0.0`, `::`)
/// stands for each of the machine's `addresses` of its family; loopback and IPv6
/// link-local addresses (useless without a zone) are left out; each URL once.
pub fn page_urls(bound: &[SocketAddr], addresses: &[IpAddr], tls: bool) -> Vec<String> {
    let scheme = if tls { "https" } else { "http" };
    let mut urls = Vec::new();
    for addr in bound {
        let ips: Vec<IpAddr> = if addr.ip().is_unspecified() {
            addresses
                .iter()
                .copied()
                .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
                .collect()
        } else {
            vec![addr.ip()]
        };
        for ip in ips {
            if !reachable_from_elsewhere(ip) {
                continue;
            }
            let url = format!("{scheme}://{}/", SocketAddr::new(ip, addr.port()));
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    urls
}

fn reachable_from_elsewhere(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && !v6.is_unicast_link_local(),
    }
}

/// The machine's addresses (none when they cannot be listed).
pub fn machine_addresses() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .map(|list| list.iter().map(if_addrs::Interface::ip).collect())
        .unwrap_or_default()
}

/// A QR code of `text` for a terminal with light text on a dark background: light
/// modules are drawn, dark ones left blank, with the quiet zone around it.
pub fn qr(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// Prints the URLs, and unless `no_qr` a QR code of the first, on stderr.
pub fn announce(bound: &[SocketAddr], tls: bool, no_qr: bool) {
    let urls = page_urls(bound, &machine_addresses(), tls);
    for url in &urls {
        eprintln!("page: {url}");
    }
    if let (Some(first), false) = (urls.first(), no_qr)
        && let Some(code) = qr(first)
    {
        eprintln!("{code}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn unspecified_addresses_stand_for_the_machines_own_of_their_family() {
        let machine = ips(&[
            "127.0.0.1",
            "192.0.2.2",
            "::1",
            "fd00::2",
            "fe80::1",
            "10.1.1.1",
        ]);
        let bound: Vec<SocketAddr> = vec![
            "[::]:8080".parse().unwrap(),
            "0.0.0.0:8080".parse().unwrap(),
        ];
        assert_eq!(
            page_urls(&bound, &machine, false),
            [
                "http://[fd00::2]:8080/",
                "http://192.0.2.2:8080/",
                "http://10.1.1.1:8080/"
            ]
        );
        let one: Vec<SocketAddr> = vec!["192.0.2.2:443".parse().unwrap()];
        assert_eq!(page_urls(&one, &machine, true), ["https://192.0.2.2:443/"]);
        let local: Vec<SocketAddr> = vec!["127.0.0.1:8080".parse().unwrap()];
        assert!(page_urls(&local, &machine, false).is_empty());
    }

    #[test]
    fn the_qr_code_is_a_square_of_half_blocks() {
        let code = qr("http://192.0.2.2:8080/").unwrap();
        let lines: Vec<&str> = code.lines().collect();
        let width = lines[0].chars().count();
        // Version 2 (25 modules) with a quiet zone of 4 on each side: 33 wide, 17 lines
        // of two modules each.
        assert_eq!(width, 33);
        assert_eq!(lines.len(), 17);
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert!(
            code.chars()
                .all(|c| " \u{2580}\u{2584}\u{2588}\n".contains(c))
        );
    }
}
