//! `http-get URL`: a curl-style HTTP/1.1 (or 1.0) client for labs and CI scripts — the body
//! to stdout or a file that appears only when complete, `-L` redirects, `-f` failures as exit
//! codes, `-w` write-out, HTTPS by rustls. The HTTP itself is the sans-I/O codec in
//! `crate::http`; this module drives it over the event loop.

mod exchange;
mod output;
mod retry;
mod run;
mod upload;
mod write_out;

pub use run::run;

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use url::{Host, Url};

use self::exchange::Plan;
use self::output::Target;
use self::write_out::WriteOut;
use crate::cli::{DataArg, HttpGetArgs, OutputArg, usage_error};
use crate::error::{Kind, Tag as _, fail};
use crate::http::client::{
    Credentials, DEFAULT_USER_AGENT, RequestSpec, Streamed, is_token_char, parse_header_arg,
};
use crate::http::find_header;
use crate::http::target::{connect_host, parse_url, remote_file_name};
use crate::net::addr::Family;
use crate::net::addr::Pinned;
use crate::net::connector::ConnectOptions;
use crate::net::dial::ProxyPlan;
use crate::net::event_loop::secs;
use crate::tls;

/// Content-Type of `-d`.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Content-Type and Accept of `--json`.
const JSON_CONTENT_TYPE: &str = "application/json";
/// The one application protocol offered over TLS.
const ALPN_HTTP11: &[u8] = b"http/1.1";
/// Headers that stay with the host they were meant for when a redirect leaves it.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "cookie"];

/// Everything `http-get` needs, checked before any socket is made.
pub struct Config {
    /// The request every transfer makes, but for its URL and credentials.
    request: RequestSpec,
    /// The URLs, in order, each with its output.
    transfers: Vec<Transfer>,
    /// Where the streamed body comes from (`-T`, a lone `--data-binary @FILE`).
    upload: Option<upload::From>,
    /// `--expect100-timeout`.
    expect_wait: Duration,
    /// `-Z`: this many transfers at once.
    parallel: Option<usize>,
    plan: Plan,
    fail_with_body: bool,
    max_redirs: u32,
    connect: ConnectOptions,
    /// `--retry`, `--retry-for`, `--retry-all-methods`.
    retry: retry::Policy,
    /// `-C -`: continue the output file where it ends.
    continue_at: bool,
    /// `--resolve`: addresses given for some HOST:PORT.
    pinned: Vec<Pinned>,
    /// `--unix-socket PATH`: every request goes to this socket.
    unix: Option<std::path::PathBuf>,
    connect_timeout: Option<Duration>,
    max_time: Option<Duration>,
    write_out: Option<WriteOut>,
    silent: bool,
    tls: TlsSetup,
    proxy: ProxySetup,
}

/// One URL of the command line and where its body goes.
struct Transfer {
    url: Url,
    target: Target,
    /// `-u`, or the URL's own `user:password@`, for the URL's origin.
    credentials: Option<Credentials>,
}

/// `--proxy`, `--noproxy` and the proxy variables: the proxy is chosen again for every
/// request (a redirect may leave NO_PROXY's range), its plan made once.
struct ProxySetup {
    flag: Option<String>,
    noproxy: Option<String>,
    opts: crate::cli::ProxyArgs,
    /// The last proxy's plan, by its URL.
    plan: Option<(crate::proxy::ProxyUrl, Arc<ProxyPlan>)>,
}

impl ProxySetup {
    /// The proxy for a request to `url`'s `host`, if one; `-v` says which and why.
    fn choose(&mut self, url: &Url, host: &str, verbose: u8) -> Result<Option<Arc<ProxyPlan>>> {
        let env = |name: &str| std::env::var(name).ok();
        let choice = crate::proxy::choose(
            url.scheme(),
            host,
            self.flag.as_deref(),
            self.noproxy.as_deref(),
            &env,
        )
        .map_err(|e| fail(Kind::Usage, e))?;
        let (url, from) = match choice {
            crate::proxy::Choice::Direct { why } => {
                if verbose > 0
                    && let Some(why) = why
                {
                    eprintln!("* no proxy for {host} ({why})");
                }
                return Ok(None);
            }
            crate::proxy::Choice::Proxy { url, from } => (url, from),
        };
        if let Some((known, plan)) = &self.plan
            && *known == url
        {
            if verbose > 0 {
                eprintln!("* via proxy {} (from {from})", plan.url.redacted());
            }
            return Ok(Some(Arc::clone(plan)));
        }
        let plan = Arc::new(super::proxy_plan(url.clone(), &self.opts)?);
        if verbose > 0 {
            eprintln!("* via proxy {} (from {from})", plan.url.redacted());
        }
        self.plan = Some((url, Arc::clone(&plan)));
        Ok(Some(plan))
    }
}

/// The TLS client configuration, built before the first connection when the URL is https or
/// a TLS file was given, else only when a redirect leads to https.
struct TlsSetup {
    options: tls::ClientOptions,
    servername: Option<String>,
    config: Option<Arc<rustls::ClientConfig>>,
}

impl TlsSetup {
    fn get(&mut self, silent: bool) -> Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = &self.config {
            return Ok(config.clone());
        }
        let config = tls::client_config(&self.options)?;
        if self.options.insecure && !silent {
            eprintln!("{}", tls::INSECURE_WARNING);
        }
        self.config = Some(config.clone());
        Ok(config)
    }
}

/// What the command line says about the request, checked for usage errors (exit 2).
#[derive(Debug)]
struct Usage {
    urls: Vec<Url>,
    method: String,
    headers: Vec<(String, String)>,
    write_out: Option<WriteOut>,
}

impl Config {
    /// Validates the command line, reads `-d @FILE` and loads certificates. A usage error
    /// ends the program with exit 2.
    pub fn from_args(args: HttpGetArgs, verbose: u8) -> Result<Self> {
        let mut usage = check_usage(&args)?;
        if let Some(path) = &args.unix_socket {
            crate::net::unix::check_path("http-get", path)?;
        }
        if args.upload_file.is_some() && usage.urls.len() > 1 {
            return Err(
                usage_error("http-get", "-T uploads to one URL: give one URL per run").into(),
            );
        }
        let (body, upload, content_type) = request_body(&args)?;
        if (body.is_some() || upload.is_some())
            && find_header(&usage.headers, "content-length").is_some()
        {
            return Err(usage_error(
                "http-get",
                "-H Content-Length: the body's length is nicksock's to say (for chunks, give \
                 -H 'Transfer-Encoding: chunked')",
            )
            .into());
        }
        if let (Some(upload::From::File(path)), Some(_)) = (&upload, &args.upload_file) {
            for url in &mut usage.urls {
                upload_url(url, path);
            }
        }
        if let Some(offset) = &args.continue_at
            && offset != "-"
        {
            return Err(usage_error(
                "http-get",
                format!("-C takes only '-' (continue from the end of the file), not '{offset}'"),
            )
            .into());
        }
        let targets = targets(&args, &usage.urls)?;
        if args.parallel && targets.iter().filter(|t| t.is_stdout()).count() > 1 {
            return Err(usage_error(
                "http-get",
                "-Z: the bodies of several URLs would mix on stdout; give each URL but one \
                 -o FILE or -O (or --remote-name-all)",
            )
            .into());
        }
        if args.continue_at.is_some() && targets.iter().any(Target::is_stdout) {
            return Err(usage_error(
                "http-get",
                "-C - continues a file: give every URL -o FILE or -O",
            )
            .into());
        }
        if args.continue_at.is_some() && args.compressed {
            return Err(usage_error(
                "http-get",
                "-C - and --compressed: a file of decoded bytes cannot be continued by the \
                 server's byte ranges, which count encoded bytes",
            )
            .into());
        }
        // Last of the checks: a password is asked for only when nothing else is wrong.
        let given = given_credentials(&args)?;
        let transfers = usage
            .urls
            .iter_mut()
            .zip(targets)
            .map(|(url, target)| Transfer {
                credentials: credentials(&given, args.location_trusted, url),
                url: url.clone(),
                target,
            })
            .collect::<Vec<_>>();
        let first = transfers[0].url.clone();
        let mut headers = Vec::new();
        if args.compressed && find_header(&usage.headers, "accept-encoding").is_none() {
            headers.push((
                "Accept-Encoding".to_string(),
                crate::http::decode::ACCEPT_ENCODING.to_string(),
            ));
        }
        if args.json.is_some() && find_header(&usage.headers, "accept").is_none() {
            headers.push(("Accept".to_string(), JSON_CONTENT_TYPE.to_string()));
        }
        headers.extend(usage.headers);
        let mut tls = TlsSetup {
            options: tls::ClientOptions {
                cacert: args.cacert.clone(),
                insecure: args.tls_client.insecure,
                cert: args.cert.clone(),
                key: args.key.clone(),
                alpn: vec![ALPN_HTTP11.to_vec()],
            },
            servername: args.tls_client.servername.clone(),
            config: None,
        };
        let tls_files = args.cacert.is_some() || args.cert.is_some();
        if transfers.iter().any(|t| t.url.scheme() == "https") || tls_files {
            tls.get(args.silent)?;
        }
        Ok(Config {
            request: RequestSpec {
                method: usage.method,
                url: first,
                headers,
                body,
                content_type: content_type.map(str::to_string),
                http10: args.http10,
                user_agent: args
                    .user_agent
                    .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string()),
                credentials: None,
                keep_alive: false,
                // The framing is the source's, known once it is opened for a request.
                streamed: upload.as_ref().map(|_| Streamed::Chunked),
                expect_continue: false,
            },
            upload,
            expect_wait: secs(args.expect100_timeout),
            parallel: args.parallel.then_some(usize::from(args.parallel_max)),
            transfers,
            plan: Plan {
                include: args.include || args.head,
                raw: args.raw,
                decode: args.compressed,
                fail: args.fail,
                follow: args.location,
                verbose,
                deadline: None,
                stop_for_retry: false,
                resume_from: None,
                proxy_answers: None,
            },
            retry: retry::Policy {
                max: args.retry,
                within: args.retry_for.map(secs),
                all_methods: args.retry_all_methods,
            },
            continue_at: args.continue_at.is_some(),
            fail_with_body: args.fail_with_body,
            max_redirs: args.max_redirs,
            connect: ConnectOptions {
                family: Family::from(&args.family),
                verbose,
                ..ConnectOptions::default()
            },
            pinned: args.resolve,
            unix: args.unix_socket,
            connect_timeout: args.connect_timeout.map(secs),
            max_time: args.max_time.map(secs),
            write_out: usage.write_out,
            silent: args.silent,
            tls,
            proxy: ProxySetup {
                flag: args.proxy,
                noproxy: args.noproxy,
                opts: args.proxy_opts,
                plan: None,
            },
        })
    }
}

/// The outputs of the URLs: `-o` and `-O` paired with them in order (curl's rule: the
/// first for the first URL, wherever each stands), `--remote-name-all` for the rest, else
/// stdout. More outputs than URLs is a usage error (curl warns and drops them).
fn targets(args: &HttpGetArgs, urls: &[Url]) -> Result<Vec<Target>> {
    if args.outputs.len() > urls.len() {
        return Err(usage_error(
            "http-get",
            format!(
                "{} -o/-O for {} URL{}: give at most one per URL",
                args.outputs.len(),
                urls.len(),
                if urls.len() == 1 { "" } else { "s" }
            ),
        )
        .into());
    }
    let remote = |url: &Url| -> Result<Target> {
        let name = remote_file_name(url).ok_or_else(|| {
            fail(
                Kind::File,
                format!("-O: the URL {url} has no file name in its path; use -o FILE"),
            )
        })?;
        Ok(Target::File(PathBuf::from(name)))
    };
    urls.iter()
        .enumerate()
        .map(|(i, url)| match args.outputs.get(i) {
            Some(OutputArg::File(path)) => Ok(Target::File(path.clone())),
            Some(OutputArg::RemoteName) => remote(url),
            None if args.remote_name_all => remote(url),
            None => Ok(Target::Stdout),
        })
        .collect()
}

/// `-u USER[:PASSWORD]`, the password asked for on the terminal when missing (once, for
/// every URL).
fn given_credentials(args: &HttpGetArgs) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let Some(given) = &args.user else {
        return Ok(None);
    };
    Ok(Some(match given.split_once(':') {
        Some((user, password)) => (user.as_bytes().to_vec(), password.as_bytes().to_vec()),
        None => (given.as_bytes().to_vec(), ask_password(given)?.into_bytes()),
    }))
}

/// The Basic credentials of a URL: `-u`'s, else its own `user:password@`, which is taken
/// out of the URL so that no message, `-w` or `-v` line ever shows it. They belong to the
/// URL's origin.
fn credentials(
    given: &Option<(Vec<u8>, Vec<u8>)>,
    trusted: bool,
    url: &mut Url,
) -> Option<Credentials> {
    let from_url = crate::http::target::userinfo(url);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let (user, password) = given.clone().or(from_url)?;
    Some(Credentials {
        user,
        password,
        origin: url.origin(),
        trusted,
    })
}

/// The password of `-u USER`, typed on the terminal without echo (curl's prompt); a usage
/// error when there is no terminal to ask on (a script, CI).
fn ask_password(user: &str) -> Result<String> {
    rpassword::prompt_password(format!("Enter host password for user '{user}': ")).map_err(|_| {
        usage_error(
            "http-get",
            format!(
                "-u {user}: no password given, and no terminal to ask for it on; \
                 give -u {user}:PASSWORD"
            ),
        )
        .into()
    })
}

/// The checks whose failure is a usage error.
fn check_usage(args: &HttpGetArgs) -> Result<Usage, clap::Error> {
    let urls = args
        .urls
        .iter()
        .map(|u| parse_url(u).map_err(|e| usage_error("http-get", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let has_body = !args.data_parts.is_empty() || args.json.is_some();
    let method = match &args.request {
        Some(m) if m.is_empty() || !m.chars().all(is_token_char) => {
            return Err(usage_error(
                "http-get",
                format!(
                    "invalid method `{}` for -X: expected a token such as PUT",
                    m.escape_debug()
                ),
            ));
        }
        Some(m) => m.clone(),
        None if args.head && has_body => {
            return Err(usage_error(
                "http-get",
                "-I sends a HEAD request, which has no body: drop -d/--json or give -X",
            ));
        }
        None if args.head => "HEAD".into(),
        None if args.upload_file.is_some() => "PUT".into(),
        None if has_body => "POST".into(),
        None => "GET".into(),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header_arg(h).map_err(|e| usage_error("http-get", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let write_out = match &args.write_out {
        Some(format) => Some(WriteOut::parse(format).map_err(|e| usage_error("http-get", e))?),
        None => None,
    };
    Ok(Usage {
        urls,
        method,
        headers,
        write_out,
    })
}

/// The body the command line gives: bytes in memory (`-d` and the other `--data…` options,
/// joined with `&` in order; `--json`), or a body streamed from a file or stdin (`-T`, a lone
/// `--data-binary @FILE` of a regular file of 1 MiB or more), and its Content-Type.
#[allow(clippy::type_complexity)]
fn request_body(
    args: &HttpGetArgs,
) -> Result<(Option<Vec<u8>>, Option<upload::From>, Option<&'static str>)> {
    if let Some(path) = &args.upload_file {
        let from = if path.as_os_str() == "-" {
            upload::From::Stdin
        } else {
            upload::From::File(path.clone())
        };
        return Ok((None, Some(from), None));
    }
    if let Some(json) = &args.json {
        return Ok((Some(read_data(json, false)?), None, Some(JSON_CONTENT_TYPE)));
    }
    if let [DataArg::Binary(one)] = args.data_parts.as_slice()
        && let Some(path) = one.strip_prefix('@')
        && std::fs::metadata(path)
            .is_ok_and(|m| m.file_type().is_file() && m.len() >= upload::STREAM_FROM)
    {
        let from = upload::From::File(PathBuf::from(path));
        return Ok((None, Some(from), Some(FORM_CONTENT_TYPE)));
    }
    if args.data_parts.is_empty() {
        return Ok((None, None, None));
    }
    let mut body = Vec::new();
    for (i, part) in args.data_parts.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        match part {
            DataArg::Form(v) => body.extend(read_data(v, true)?),
            DataArg::Binary(v) => body.extend(read_data(v, false)?),
            DataArg::Raw(v) => body.extend_from_slice(v.as_bytes()),
            DataArg::UrlEncode(v) => body.extend(url_encoded(v)?),
        }
    }
    Ok((Some(body), None, Some(FORM_CONTENT_TYPE)))
}

/// `--data-urlencode` as curl reads it: up to the first `=` (else the first `@`) is a name
/// kept as it is; after `=` comes content, after `@` a file (`-`: stdin), and that is
/// percent-encoded (everything but letters, digits and `-._~`). Without either, the whole
/// argument is content; a leading `=` or `@` leaves no name.
fn url_encoded(arg: &str) -> Result<Vec<u8>> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
    const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let split = arg.find('=').or_else(|| arg.find('@'));
    let (name, content) = match split {
        Some(at) if arg.as_bytes()[at] == b'@' => {
            let path = &arg[at + 1..];
            (&arg[..at], read_data(&format!("@{path}"), false)?)
        }
        Some(at) => (&arg[..at], arg.as_bytes()[at + 1..].to_vec()),
        None => ("", arg.as_bytes().to_vec()),
    };
    let mut out = name.as_bytes().to_vec();
    if !name.is_empty() {
        out.push(b'=');
    }
    out.extend(percent_encode(&content, ENCODED).to_string().into_bytes());
    Ok(out)
}

/// `-T FILE` to a URL that ends in `/`: the file's name is appended, as curl does.
fn upload_url(url: &mut Url, file: &std::path::Path) {
    if !url.path().ends_with('/') {
        return;
    }
    if let Some(name) = file.file_name().and_then(|n| n.to_str())
        && let Ok(mut segments) = url.path_segments_mut()
    {
        segments.pop_if_empty().push(name);
    }
}

/// The bytes of `-d`/`--json`: DATA itself, or a file with `@FILE` (`@-`: stdin). As curl
/// does, `-d @FILE` drops the file's carriage returns and line feeds.
fn read_data(arg: &str, strip_newlines: bool) -> Result<Vec<u8>> {
    let mut data = match arg.strip_prefix('@') {
        Some("-") => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .tag(Kind::File, "reading the body from stdin")?;
            v
        }
        Some(path) => {
            std::fs::read(path).tag(Kind::File, format!("reading the body from {path}"))?
        }
        None => return Ok(arg.as_bytes().to_vec()),
    };
    if strip_newlines {
        data.retain(|&b| b != b'\r' && b != b'\n');
    }
    Ok(data)
}

fn http_failure(url: &Url, status: u16, reason: &str) -> anyhow::Error {
    fail(
        Kind::Http,
        format!("{url}: the server answered {status} {reason}")
            .trim_end()
            .to_string(),
    )
}

/// The request that follows a redirect: 301, 302 and 303 become a GET without a body (HEAD
/// stays HEAD), 307 and 308 keep the method and body. Credentials stay with their origin.
fn redirected(mut spec: RequestSpec, status: u16, to: Url) -> RequestSpec {
    if matches!(status, 301..=303) && spec.method != "HEAD" {
        spec.method = "GET".into();
        spec.body = None;
        spec.streamed = None;
        spec.content_type = None;
    }
    if spec.url.origin() != to.origin() {
        spec.headers
            .retain(|(n, _)| !CREDENTIAL_HEADERS.iter().any(|c| n.eq_ignore_ascii_case(c)));
    }
    spec.url = to;
    spec
}

/// How long the body waits for `100 Continue`, when the request asks for one: curl's rule,
/// a body over 1 MiB or of unknown length over HTTP/1.1; `-H 'Expect: 100-continue'` asks
/// for any body, and `-H 'Expect:'` never.
fn expects_continue(spec: &RequestSpec, wait: Duration) -> Option<Duration> {
    let size = match (spec.streamed, &spec.body) {
        (Some(Streamed::Chunked), _) => u64::MAX,
        (Some(Streamed::Length(n)), _) => n,
        (None, Some(body)) => body.len() as u64,
        (None, None) => return None,
    };
    let asked = match find_header(&spec.headers, "expect") {
        Some(value) => value.trim().eq_ignore_ascii_case("100-continue"),
        None => size > EXPECT_THRESHOLD,
    };
    (asked && !spec.http10).then_some(wait)
}

/// Bodies larger than this are sent after `100 Continue` (curl's threshold).
const EXPECT_THRESHOLD: u64 = 1 << 20;

/// The length of a request's head: up to and with its blank line.
fn head_length(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |at| at + 4)
}

/// The name or address to resolve, IPv6 without brackets.
fn host_name(url: &Url) -> Result<String> {
    let host = connect_host(url).map_err(|e| fail(Kind::Runtime, e))?;
    Ok(match host {
        Host::Domain(d) => d,
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    })
}

/// The connect timeout: `--connect-timeout`, cut short by what is left of `--max-time`.
fn connect_timeout(
    connect_timeout: Option<Duration>,
    deadline: Option<(Instant, Duration)>,
) -> Option<Duration> {
    let left = deadline.map(|(at, _)| at.saturating_duration_since(Instant::now()));
    match (connect_timeout, left) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `-v`: the request head on stderr, curl-style.
fn show_request(bytes: &[u8]) {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    for line in String::from_utf8_lossy(&bytes[..head_end]).lines() {
        // Passwords never show: the origin's and the proxy's.
        match line.split_once(':') {
            Some((name, value))
                if name.eq_ignore_ascii_case("proxy-authorization")
                    || name.eq_ignore_ascii_case("authorization") =>
            {
                let scheme = value.split_whitespace().next().unwrap_or("");
                eprintln!("> {name}: {scheme} ***");
            }
            _ => eprintln!("> {line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> HttpGetArgs {
        let cli = crate::cli::try_parse_from(["nicksock", "http-get"].iter().chain(list)).unwrap();
        match cli.command {
            crate::cli::Command::HttpGet(a) => *a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_method_follows_the_flags() {
        let method = |l: &[&str]| check_usage(&args(l)).unwrap().method;
        assert_eq!(method(&["h"]), "GET");
        assert_eq!(method(&["-I", "h"]), "HEAD");
        assert_eq!(method(&["-d", "a=1", "h"]), "POST");
        assert_eq!(method(&["--json", "{}", "h"]), "POST");
        assert_eq!(method(&["-X", "PUT", "-d", "a", "h"]), "PUT");
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for l in [
            &["http://exa mple.org"][..],
            &["-X", "GET /x HTTP/1.1\r\n", "h"],
            &["-X", "", "h"],
            &["-H", "Bad Name: v", "h"],
            &["-H", "X: a\r\nInjected: b", "h"],
            &["-w", "%{nope}", "h"],
            &["-I", "-d", "x", "h"],
            &["ftp://h/f"],
        ] {
            let err = check_usage(&args(l)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{l:?}");
        }
    }

    #[test]
    fn redirects_change_the_method_as_curl_does() {
        let mut spec = RequestSpec::new("POST", parse_url("http://a/x").unwrap());
        spec.body = Some(b"k=v".to_vec());
        spec.content_type = Some(FORM_CONTENT_TYPE.into());
        spec.headers = vec![
            ("Authorization".into(), "Bearer t".into()),
            ("X-Keep".into(), "1".into()),
        ];
        let same = parse_url("http://a/y").unwrap();
        let kept = redirected(spec.clone(), 307, same.clone());
        assert_eq!(kept.method, "POST");
        assert_eq!(kept.body.as_deref(), Some(&b"k=v"[..]));
        assert_eq!(kept.headers.len(), 2);
        let get = redirected(spec.clone(), 302, same);
        assert_eq!((get.method.as_str(), get.body), ("GET", None));
        let other = redirected(spec.clone(), 308, parse_url("http://b/").unwrap());
        assert_eq!(other.headers, vec![("X-Keep".into(), "1".into())]);
        let mut head = spec;
        head.method = "HEAD".into();
        assert_eq!(
            redirected(head, 301, parse_url("http://a/z").unwrap()).method,
            "HEAD"
        );
    }

    #[test]
    fn data_urlencode_reads_names_contents_and_files_as_curl_does() {
        let enc = |a: &str| String::from_utf8(url_encoded(a).unwrap()).unwrap();
        assert_eq!(enc("a b"), "a%20b");
        assert_eq!(enc("=a=b"), "a%3Db");
        assert_eq!(enc("k=v w"), "k=v%20w");
        assert_eq!(enc("k=a@b"), "k=a%40b");
        assert_eq!(enc("safe-._~"), "safe-._~");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x+y\n").unwrap();
        assert_eq!(enc(&format!("n@{}", file.display())), "n=x%2By%0A");
        assert_eq!(enc(&format!("@{}", file.display())), "x%2By%0A");
        assert!(url_encoded("n@/nonexistent/file").is_err());
    }

    #[test]
    fn an_upload_to_a_directory_url_gets_the_file_name() {
        let name = |u: &str, f: &str| {
            let mut url = parse_url(u).unwrap();
            upload_url(&mut url, std::path::Path::new(f));
            url.to_string()
        };
        assert_eq!(
            name("http://h/up/", "dist/app 1.tar"),
            "http://h/up/app%201.tar"
        );
        assert_eq!(name("http://h", "a.bin"), "http://h/a.bin");
        assert_eq!(name("http://h/x", "a.bin"), "http://h/x");
    }

    #[test]
    fn max_time_shortens_the_connect_timeout() {
        let far = Some((
            Instant::now() + Duration::from_secs(100),
            Duration::from_secs(100),
        ));
        let short = Some(Duration::from_secs(1));
        assert_eq!(connect_timeout(short, far), short);
        assert!(connect_timeout(None, far).unwrap() <= Duration::from_secs(100));
        assert_eq!(connect_timeout(None, None), None);
    }
}
