//! Proxy URLs as users write them: `[scheme://][user[:password]@]host[:port][/]` from
//! `--proxy` and the environment (curl's forms), and nc's `-x HOST[:PORT]` with
//! `-X 4|5|connect`. A password is kept for the handshake and never shown: every message
//! and every `Display` or `Debug` of these types puts `***` in its place.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::names::host_name_problem;

/// The kinds of proxy, by their URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// An HTTP proxy, asked with CONNECT.
    Http,
    /// An HTTP proxy reached over TLS, asked with CONNECT (the TLS is the caller's).
    Https,
    /// SOCKS4: the client resolves the target's name and sends an IPv4 address.
    Socks4,
    /// SOCKS4a: the proxy resolves the name.
    Socks4a,
    /// SOCKS5 (RFC 1928): the client resolves the target's name and sends an address.
    Socks5,
    /// SOCKS5 with the name sent to the proxy, which resolves it.
    Socks5h,
}

impl Scheme {
    /// Every scheme, in the order error messages list them.
    pub const ALL: [Scheme; 6] = [
        Scheme::Http,
        Scheme::Https,
        Scheme::Socks4,
        Scheme::Socks4a,
        Scheme::Socks5,
        Scheme::Socks5h,
    ];

    /// The port used when the URL gives none, as curl does: 1080 for HTTP and every SOCKS
    /// kind, 443 for HTTPS.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            _ => 1080,
        }
    }

    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Socks4 => "socks4",
            Scheme::Socks4a => "socks4a",
            Scheme::Socks5 => "socks5",
            Scheme::Socks5h => "socks5h",
        }
    }

    /// Whether the proxy resolves the target's name (socks4a, socks5h, http, https): then
    /// the name is sent; otherwise the client resolves it and sends an address.
    pub fn proxy_resolves(self) -> bool {
        !matches!(self, Scheme::Socks4 | Scheme::Socks5)
    }

    /// The scheme called `name`, in any case.
    fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user name and password for a proxy. Its `Debug` shows the password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// Splits `user:password` at the first `:`; with no `:` the password is empty.
    pub fn parse(user_colon_password: &str) -> Credentials {
        let (user, password) = user_colon_password
            .split_once(':')
            .unwrap_or((user_colon_password, ""));
        Credentials {
            user: user.to_string(),
            password: password.to_string(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// A proxy: its kind, where it is, and the credentials to give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub scheme: Scheme,
    /// A name or an IP literal; IPv6 without brackets.
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
}

/// What is percent-encoded in the user name of a redacted URL, so that it reads back as the
/// same name (the userinfo set of the URL standard).
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

impl ProxyUrl {
    /// Parses `[scheme://][user[:password]@]host[:port][/]`. No scheme means `http://`; the
    /// user name and password are percent-decoded; an IPv6 host goes in brackets. A path
    /// other than `/`, a query or a fragment is an error, and so is an unknown scheme (the
    /// message lists the known ones). Error messages are one line and show the URL with its
    /// password replaced by `***`.
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let text = text.trim();
        let shown = one_line(&redact_text(text));
        if text.is_empty() {
            return Err("the proxy URL is empty".to_string());
        }
        let (scheme_name, rest) = split_scheme(text);
        let scheme = match scheme_name {
            None => Scheme::Http,
            Some(name) => Scheme::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Scheme::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown proxy scheme `{}` in `{shown}` (known: {})",
                    one_line(name),
                    known.join(", ")
                )
            })?,
        };
        // The last `@` ends the user name and password: a password may hold an `@` that was
        // not percent-encoded, and a proxy URL has no path where an `@` could also be.
        let (userinfo, authority) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        if userinfo.is_some_and(|u| u.contains(['/', '?', '#'])) {
            return Err(format!(
                "a proxy URL has no path or query, and a '/', '?' or '#' in a user name or \
                 password must be percent-encoded: `{shown}`"
            ));
        }
        let (authority, tail) = match authority.find(['/', '?', '#']) {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        };
        if !tail.is_empty() && tail != "/" {
            return Err(format!(
                "a proxy URL has no path, query or fragment: `{shown}`"
            ));
        }
        let credentials = match userinfo {
            None | Some("") => None,
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                Some(Credentials {
                    user: decode(user, "user name", &shown)?,
                    password: decode(password, "password", &shown)?,
                })
            }
        };
        let (host, port) =
            split_host_port(authority).map_err(|why| format!("{why} in `{shown}`"))?;
        Ok(ProxyUrl {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
            credentials,
        })
    }

    /// nc's spelling: `-x HOST[:PORT]` with `-X 4|5|connect`. The port defaults as in
    /// OpenBSD nc: 1080 for SOCKS, 3128 for CONNECT. HOST may be `[v6]`, `[v6]:port` or a
    /// bare IPv6 address (then without a port).
    pub fn from_nc(host_port: &str, protocol: NcProtocol) -> Result<ProxyUrl, String> {
        let text = host_port.trim();
        // Credentials typed as curl's -x takes them: nc's spelling has none, and they are
        // never shown.
        if let Some((_, host)) = text.rsplit_once('@') {
            return Err(format!(
                "the proxy address `***@{}` holds credentials: nc's -x takes HOST[:PORT] \
                 (give them with --proxy-user, or use --proxy URL)",
                one_line(host)
            ));
        }
        let shown = one_line(text);
        if text.is_empty() {
            return Err("the proxy address is empty (expected HOST[:PORT])".to_string());
        }
        let (scheme, default_port) = match protocol {
            NcProtocol::Socks4 => (Scheme::Socks4, 1080),
            // OpenBSD nc sends SOCKS5 the target's name as given (address type 3): the
            // proxy resolves it, as with socks5h:// (through Tor, no name leaks out).
            NcProtocol::Socks5 => (Scheme::Socks5h, 1080),
            NcProtocol::Connect => (Scheme::Http, 3128),
        };
        let (host, port) = match text.parse::<Ipv6Addr>() {
            Ok(ip) => (ip.to_string(), None),
            Err(_) => split_host_port(text).map_err(|why| {
                format!("{why} in the proxy address `{shown}` (expected HOST[:PORT])")
            })?,
        };
        Ok(ProxyUrl {
            scheme,
            host,
            port: port.unwrap_or(default_port),
            credentials: None,
        })
    }

    /// The URL for messages: `http://user:***@proxy:3128`, with no credentials part when
    /// there are none, the port always, and an IPv6 host in brackets.
    pub fn redacted(&self) -> String {
        let mut out = format!("{}://", self.scheme.as_str());
        if let Some(c) = &self.credentials {
            out.extend(utf8_percent_encode(&c.user, USERINFO));
            out.push_str(":***@");
        }
        out.push_str(&host_port(&self.host, self.port));
        out
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `host:port` with an IPv6 host in brackets.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The protocol of nc's `-X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NcProtocol {
    /// `-X 4`: SOCKS4.
    Socks4,
    /// `-X 5`: SOCKS5, nc's default.
    #[default]
    Socks5,
    /// `-X connect`: an HTTP proxy asked with CONNECT.
    Connect,
}

impl FromStr for NcProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<NcProtocol, String> {
        match s.trim() {
            "4" => Ok(NcProtocol::Socks4),
            "5" => Ok(NcProtocol::Socks5),
            p if p.eq_ignore_ascii_case("connect") => Ok(NcProtocol::Connect),
            p => Err(format!(
                "unknown proxy protocol `{}` (expected 4, 5 or connect)",
                one_line(p)
            )),
        }
    }
}

/// The scheme and the rest of `text`, when it starts with `name://` and the name could be a
/// scheme (a letter, then letters, digits, `+`, `-` or `.`). A `:` in a password before a
/// `://` is thus never taken for a scheme.
fn split_scheme(text: &str) -> (Option<&str>, &str) {
    if let Some((name, rest)) = text.split_once("://")
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return (Some(name), rest);
    }
    (None, text)
}

/// `text` with whatever follows the first `:` of its user part replaced by `***`, for
/// messages about a URL that may not parse.
fn redact_text(text: &str) -> String {
    let (_, rest) = split_scheme(text);
    let prefix = &text[..text.len() - rest.len()];
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        if let Some(colon) = userinfo.find(':') {
            return format!("{prefix}{}:***@{}", &userinfo[..colon], &rest[at + 1..]);
        }
    }
    text.to_string()
}

/// `text` with its control characters escaped, so a message stays on one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Percent-decodes the user name or password (`what`) of the URL `shown`.
fn decode(part: &str, what: &str, shown: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("the {what} in `{shown}` is not UTF-8 once percent-decoded"))
}

/// Splits `host[:port]` or `[v6][:port]` and checks both. The port is None when absent or
/// empty (`host:`), as in URLs.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let Some((inner, after)) = bracketed.split_once(']') else {
            return Err("an IPv6 address without its closing ']'".to_string());
        };
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`[{}]` is not an IPv6 address", one_line(inner)));
        }
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => {
                return Err(format!(
                    "`{}` after the IPv6 address (expected `:PORT`)",
                    one_line(after)
                ));
            }
        };
        (inner.to_string(), port)
    } else {
        if text.matches(':').count() > 1 {
            return Err(if text.parse::<Ipv6Addr>().is_ok() {
                "an IPv6 address goes in brackets ([::1]:1080)".to_string()
            } else {
                format!("`{}` is not HOST:PORT", one_line(text))
            });
        }
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        if host.is_empty() {
            return Err("no host".to_string());
        }
        if host.parse::<IpAddr>().is_err()
            && let Some(problem) = host_name_problem(host)
        {
            return Err(format!(
                "`{}` is not a host name: {problem}",
                one_line(host)
            ));
        }
        (host.to_string(), port)
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

/// A port from 1 to 65535, in decimal digits only.
fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!(
            "the port `{}` is not a number from 1 to 65535",
            one_line(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> ProxyUrl {
        ProxyUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn creds(user: &str, password: &str) -> Option<Credentials> {
        Some(Credentials {
            user: user.into(),
            password: password.into(),
        })
    }

    #[test]
    fn no_scheme_is_http_on_port_1080() {
        assert_eq!(
            url("proxy.example"),
            ProxyUrl {
                scheme: Scheme::Http,
                host: "proxy.example".into(),
                port: 1080,
                credentials: None,
            }
        );
        assert_eq!(url("proxy.example:3128/").port, 3128);
        assert_eq!(url("  10.0.0.1:8080\n").host, "10.0.0.1");
        // An empty port is the default one, as in URLs.
        assert_eq!(url("http://proxy:").port, 1080);
    }

    #[test]
    fn every_scheme_has_its_default_port() {
        assert_eq!(url("https://p").port, 443);
        assert_eq!(url("HTTPS://p").scheme, Scheme::Https);
        for (text, scheme) in [
            ("http://p", Scheme::Http),
            ("socks4://p", Scheme::Socks4),
            ("socks4a://p", Scheme::Socks4a),
            ("socks5://p", Scheme::Socks5),
            ("socks5h://p/", Scheme::Socks5h),
            ("SOCKS5H://p", Scheme::Socks5h),
        ] {
            let u = url(text);
            assert_eq!((u.scheme, u.port), (scheme, 1080), "{text}");
        }
        assert!(Scheme::Socks5h.proxy_resolves());
        assert!(Scheme::Socks4a.proxy_resolves());
        assert!(Scheme::Http.proxy_resolves());
        assert!(!Scheme::Socks5.proxy_resolves());
        assert!(!Scheme::Socks4.proxy_resolves());
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let u = url("socks5h://Al%40ddin:open%20se%3Asame@[::1]:9050");
        assert_eq!(u.scheme, Scheme::Socks5h);
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 9050);
        assert_eq!(u.credentials, creds("Al@ddin", "open se:same"));
        // No colon: an empty password. An unencoded '@' in the password is kept.
        assert_eq!(url("http://bob@p").credentials, creds("bob", ""));
        assert_eq!(url("http://bob:p@ss@p").credentials, creds("bob", "p@ss"));
        assert_eq!(url("http://@p").credentials, None);
        assert_eq!(url("http://:pw@p").credentials, creds("", "pw"));
        assert_eq!(Credentials::parse("u:a:b"), Credentials::parse("u:a:b"));
        assert_eq!(Some(Credentials::parse("u:a:b")), creds("u", "a:b"));
        assert_eq!(Some(Credentials::parse("u")), creds("u", ""));
    }

    #[test]
    fn ipv6_goes_in_brackets() {
        assert_eq!(url("[fe80::1]").host, "fe80::1");
        assert_eq!(url("http://[2001:db8::2]:3128").port, 3128);
        assert_eq!(
            url("http://[2001:db8::2]:3128").to_string(),
            "http://[2001:db8::2]:3128"
        );
        let err = ProxyUrl::parse("http://2001:db8::2").unwrap_err();
        assert!(err.contains("brackets"), "{err}");
        assert!(ProxyUrl::parse("http://[nope]:1").is_err());
        assert!(ProxyUrl::parse("http://[::1").is_err());
        assert!(ProxyUrl::parse("http://[::1]x").is_err());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let err = ProxyUrl::parse("ftp://p").unwrap_err();
        assert_eq!(
            err,
            "unknown proxy scheme `ftp` in `ftp://p` (known: http, https, socks4, socks4a, \
             socks5, socks5h)"
        );
        for bad in [
            "",
            "http://p/path",
            "http://p?x=1",
            "http://p#f",
            "http://p:0",
            "http://p:65536",
            "http://p:+80",
            "http://p:x",
            "http://",
            "http://:80",
            "http://bad host",
            "http://a..b",
        ] {
            let err = ProxyUrl::parse(bad).unwrap_err();
            assert!(!err.contains('\n'), "{bad}: {err}");
        }
        assert!(
            ProxyUrl::parse("http://p:x")
                .unwrap_err()
                .contains("the port `x`")
        );
    }

    #[test]
    fn the_password_is_never_shown() {
        let secret = "s3cr3t-pw";
        for text in [
            "ftp://user:s3cr3t-pw@p",
            "http://user:s3cr3t-pw@p/path",
            "http://user:s3cr3t-pw@p:99999",
            "http://user:s3cr3t-pw@[zz]",
            "http://user:s3cr3t-pw/x@p",
            "user:s3cr3t-pw://x@p",
            "http://user:s3cr3t-pw%ff@p",
            "http://user:s3cr3t-pw@bad host",
        ] {
            let err = ProxyUrl::parse(text).unwrap_err();
            assert!(!err.contains(secret), "{text}: {err}");
            assert!(err.contains("***"), "{text}: {err}");
        }
        let u = url("http://us%3Aer:s3cr3t-pw@proxy:3128");
        assert_eq!(u.redacted(), "http://us%3Aer:***@proxy:3128");
        assert_eq!(u.to_string(), u.redacted());
        assert!(!format!("{u:?}").contains(secret), "{u:?}");
        assert!(format!("{u:?}").contains("us:er"), "{u:?}");
        // The redacted form reads back as the same proxy and user.
        let back = url(&u.redacted());
        assert_eq!(
            (back.scheme, &back.host, back.port),
            (u.scheme, &u.host, u.port)
        );
        assert_eq!(back.credentials.map(|c| c.user), Some("us:er".to_string()));
        assert_eq!(url("p").redacted(), "http://p:1080");
    }

    #[test]
    fn nc_forms_take_nc_defaults() {
        let socks5 = ProxyUrl::from_nc("proxy", NcProtocol::Socks5).unwrap();
        assert_eq!((socks5.scheme, socks5.port), (Scheme::Socks5h, 1080));
        let connect = ProxyUrl::from_nc("proxy", NcProtocol::Connect).unwrap();
        assert_eq!((connect.scheme, connect.port), (Scheme::Http, 3128));
        let socks4 = ProxyUrl::from_nc("10.0.0.1", NcProtocol::Socks4).unwrap();
        assert_eq!((socks4.scheme, socks4.port), (Scheme::Socks4, 1080));
        let v6 = ProxyUrl::from_nc("[::1]:9050", NcProtocol::default()).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9050));
        let bare = ProxyUrl::from_nc("::1", NcProtocol::Connect).unwrap();
        assert_eq!((bare.host.as_str(), bare.port), ("::1", 3128));
        assert_eq!(
            ProxyUrl::from_nc("p:8080", NcProtocol::Connect)
                .unwrap()
                .port,
            8080
        );
        assert!(ProxyUrl::from_nc("", NcProtocol::Socks5).is_err());
        assert!(ProxyUrl::from_nc("u@p", NcProtocol::Socks5).is_err());
        assert!(ProxyUrl::from_nc("p:x", NcProtocol::Socks5).is_err());
    }

    #[test]
    fn nc_protocols_parse_in_any_case() {
        assert_eq!("4".parse(), Ok(NcProtocol::Socks4));
        assert_eq!("5".parse(), Ok(NcProtocol::Socks5));
        assert_eq!("CONNECT".parse(), Ok(NcProtocol::Connect));
        assert_eq!(
            "http".parse::<NcProtocol>(),
            Err("unknown proxy protocol `http` (expected 4, 5 or connect)".to_string())
        );
    }
}
