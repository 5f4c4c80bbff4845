//! Which proxy a request goes through, by curl's rules: `--proxy` first, else the
//! environment's `<scheme>_proxy` variables and `all_proxy`, and the no-proxy list of
//! `--noproxy` or `NO_PROXY` over both.

use super::no_proxy::NoProxy;
use super::url::ProxyUrl;

/// How to reach a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// No proxy; `why` for `-v`, e.g. Some("NO_PROXY 10.0.0.0/8"), Some("--noproxy *") or
    /// Some("--proxy ''"), and None when no proxy is configured at all.
    Direct { why: Option<String> },
    /// Through `url`; `from` says where it came from: "--proxy", "https_proxy",
    /// "HTTPS_PROXY", "http_proxy", "all_proxy" or "ALL_PROXY".
    Proxy { url: ProxyUrl, from: String },
}

/// curl's rules for a request to `url_scheme` ("http" or "https") host `host`:
/// - `--proxy` given (`flag` is Some): it is used, and the environment's proxy variables are
///   not read; `Some("")` means no proxy at all.
/// - else the environment: for http, `http_proxy` only (upper-case `HTTP_PROXY` is ignored on
///   purpose, as curl does: a CGI program gets a client's `Proxy:` header in it); for https,
///   `https_proxy` then `HTTPS_PROXY` (any other scheme alike); then `all_proxy`, then
///   `ALL_PROXY`. Empty values count as unset.
/// - the no-proxy list is `noproxy_flag` (`--noproxy`) when given, else `no_proxy`, then
///   `NO_PROXY`; it applies to a `--proxy` proxy too, as in curl. A host it matches goes
///   direct, and then the proxy value is not even parsed (as curl does).
/// - a proxy value that does not parse is an error naming the variable (or `--proxy`) and
///   the problem, with any password replaced by `***`.
///
/// `env` looks a variable up (tests pass a closure over a map; the program passes
/// `std::env::var`).
pub fn choose(
    url_scheme: &str,
    host: &str,
    flag: Option<&str>,
    noproxy_flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Choice, String> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let (value, from) = match flag {
        Some(value) if value.trim().is_empty() => {
            return Ok(Choice::Direct {
                why: Some("--proxy ''".to_string()),
            });
        }
        Some(value) => (value.to_string(), "--proxy".to_string()),
        None => {
            let scheme = url_scheme.to_ascii_lowercase();
            let lower = format!("{scheme}_proxy");
            let upper = lower.to_ascii_uppercase();
            // Upper-case HTTP_PROXY is skipped: see above.
            let mut names = vec![lower];
            if scheme != "http" {
                names.push(upper);
            }
            names.push("all_proxy".to_string());
            names.push("ALL_PROXY".to_string());
            match names
                .into_iter()
                .find_map(|name| set(&name).map(|value| (value, name)))
            {
                Some(found) => found,
                None => return Ok(Choice::Direct { why: None }),
            }
        }
    };
    let no_proxy = match noproxy_flag {
        Some(list) => Some((list.to_string(), "--noproxy")),
        None => set("no_proxy")
            .map(|list| (list, "no_proxy"))
            .or_else(|| set("NO_PROXY").map(|list| (list, "NO_PROXY"))),
    };
    if let Some((list, source)) = no_proxy
        && let Some(entry) = NoProxy::parse(&list).matches(host)
    {
        return Ok(Choice::Direct {
            why: Some(format!("{source} {entry}")),
        });
    }
    let url = ProxyUrl::parse(&value).map_err(|e| format!("{from}: {e}"))?;
    Ok(Choice::Proxy { url, from })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// `choose` over an environment of `vars`.
    fn pick(
        scheme: &str,
        host: &str,
        flag: Option<&str>,
        noproxy: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<Choice, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        choose(scheme, host, flag, noproxy, &|name| map.get(name).cloned())
    }

    /// Where the proxy came from, or the reason for going direct.
    fn source(choice: Result<Choice, String>) -> String {
        match choice {
            Ok(Choice::Proxy { url, from }) => format!("{from} {url}"),
            Ok(Choice::Direct { why }) => format!("direct {}", why.unwrap_or_default()),
            Err(e) => format!("error {e}"),
        }
    }

    #[test]
    fn upper_case_http_proxy_is_ignored() {
        let env = [("HTTP_PROXY", "evil:1")];
        assert_eq!(source(pick("http", "h", None, None, &env)), "direct ");
        assert_eq!(
            pick("http", "h", None, None, &[]),
            Ok(Choice::Direct { why: None })
        );
        let env = [("HTTP_PROXY", "evil:1"), ("http_proxy", "good:2")];
        assert_eq!(
            source(pick("http", "h", None, None, &env)),
            "http_proxy http://good:2"
        );
        // http_proxy is for http only.
        let env = [("http_proxy", "good:2")];
        assert_eq!(source(pick("https", "h", None, None, &env)), "direct ");
    }

    #[test]
    fn https_proxy_comes_before_its_upper_case() {
        let env = [
            ("https_proxy", "a:1"),
            ("HTTPS_PROXY", "b:2"),
            ("all_proxy", "c:3"),
        ];
        assert_eq!(
            source(pick("https", "h", None, None, &env)),
            "https_proxy http://a:1"
        );
        assert_eq!(
            source(pick("HTTPS", "h", None, None, &env)),
            "https_proxy http://a:1"
        );
        let env = [("https_proxy", " "), ("HTTPS_PROXY", "b:2")];
        assert_eq!(
            source(pick("https", "h", None, None, &env)),
            "HTTPS_PROXY http://b:2"
        );
    }

    #[test]
    fn all_proxy_is_the_fallback() {
        let env = [("all_proxy", "socks5h://c:3"), ("ALL_PROXY", "d:4")];
        assert_eq!(
            source(pick("http", "h", None, None, &env)),
            "all_proxy socks5h://c:3"
        );
        assert_eq!(
            source(pick("https", "h", None, None, &env)),
            "all_proxy socks5h://c:3"
        );
        let env = [("all_proxy", ""), ("ALL_PROXY", "d:4")];
        assert_eq!(
            source(pick("https", "h", None, None, &env)),
            "ALL_PROXY http://d:4"
        );
    }

    #[test]
    fn the_flag_turns_the_environment_off() {
        let env = [("https_proxy", "a:1"), ("all_proxy", "c:3")];
        assert_eq!(
            pick("https", "h", Some(""), None, &env),
            Ok(Choice::Direct {
                why: Some("--proxy ''".to_string())
            })
        );
        assert_eq!(
            source(pick("https", "h", Some("socks5://f:9"), None, &env)),
            "--proxy socks5://f:9"
        );
    }

    #[test]
    fn no_proxy_lists() {
        let env = [
            ("https_proxy", "a:1"),
            ("no_proxy", "internal.test"),
            ("NO_PROXY", "10.0.0.0/8"),
        ];
        assert_eq!(
            source(pick("https", "db.internal.test", None, None, &env)),
            "direct no_proxy internal.test"
        );
        // no_proxy hides NO_PROXY.
        assert_eq!(
            source(pick("https", "10.1.1.1", None, None, &env)),
            "https_proxy http://a:1"
        );
        let env = [("https_proxy", "a:1"), ("NO_PROXY", "10.0.0.0/8")];
        assert_eq!(
            source(pick("https", "10.1.1.1", None, None, &env)),
            "direct NO_PROXY 10.0.0.0/8"
        );
        // --noproxy replaces the environment's list, and applies to --proxy too.
        assert_eq!(
            source(pick("https", "10.1.1.1", None, Some("other.test"), &env)),
            "https_proxy http://a:1"
        );
        assert_eq!(
            source(pick("https", "x.test", Some("p:1"), Some("*"), &env)),
            "direct --noproxy *"
        );
        assert_eq!(
            source(pick("https", "10.1.1.1", Some("p:1"), None, &env)),
            "direct NO_PROXY 10.0.0.0/8"
        );
        assert_eq!(
            source(pick("https", "10.1.1.1", None, Some(""), &env)),
            "https_proxy http://a:1"
        );
    }

    #[test]
    fn bad_values_name_their_source_and_hide_the_password() {
        let env = [("https_proxy", "ftp://u:hunter2@p")];
        let err = pick("https", "h", None, None, &env).unwrap_err();
        assert!(
            err.starts_with("https_proxy: unknown proxy scheme `ftp`"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = pick("https", "h", Some("http://u:hunter2@p/x"), None, &[]).unwrap_err();
        assert!(err.starts_with("--proxy: "), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // A host the no-proxy list matches never needs the value.
        let env = [("https_proxy", "ftp://p"), ("NO_PROXY", "*")];
        assert_eq!(
            source(pick("https", "h", None, None, &env)),
            "direct NO_PROXY *"
        );
    }
}
