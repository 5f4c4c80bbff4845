//! One module per subcommand; each turns its command-line arguments into a validated Config
//! and runs it.

pub mod chat;
pub mod connect;
pub mod echo;
pub mod exec;
pub mod gen_cert;
pub mod http_get;
pub mod listen;
pub mod proxy;
pub mod relay;
pub mod serve_gpio;

use std::sync::Arc;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<()> {
    let verbose = cli.verbose;
    if !matches!(cli.command, Command::Completions(_) | Command::GenCert(_)) {
        enable_key_log(cli.keylog.as_deref())?;
        use crate::net::trace::{View, enable};
        match (&cli.trace, &cli.trace_ascii) {
            (Some(path), _) => enable(path, View::Hex)?,
            (None, Some(path)) => enable(path, View::Ascii)?,
            (None, None) => {}
        }
    }
    match cli.command {
        Command::Listen(args) => listen::run(listen::Config::from_args(args, verbose)?),
        Command::Connect(args) => connect::run(connect::Config::from_args(args, verbose)?),
        Command::Echo(args) => echo::run(echo::Config::from_args(args, verbose)?),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "nicksock", &mut std::io::stdout());
            Ok(())
        }
        Command::GenCert(args) => gen_cert::run(args, verbose),
        Command::HttpGet(args) => http_get::run(http_get::Config::from_args(*args, verbose)?),
        Command::ServeGpio(args) => serve_gpio::run(serve_gpio::Config::from_args(args, verbose)?),
        Command::Relay(args) => relay::run(relay::Config::from_args(args, verbose)?),
        Command::Proxy(args) => proxy::run(proxy::Config::from_args(args, verbose)?),
    }
}

/// `--keylog FILE`, else a non-empty `SSLKEYLOGFILE`, turns on the TLS key log.
fn enable_key_log(flag: Option<&std::path::Path>) -> Result<()> {
    if let Some(path) = flag {
        return crate::tls::keylog::enable(path, false);
    }
    match std::env::var_os("SSLKEYLOGFILE") {
        Some(path) if !path.is_empty() => {
            crate::tls::keylog::enable(std::path::Path::new(&path), true)
        }
        _ => Ok(()),
    }
}

/// A client's TLS: the configuration, and the server name to send and verify. The warning
/// that verification is off goes to stderr here, once. Shared by the client sides
/// (`connect --tls`, `relay --to-tls`).
pub fn client_tls(
    opts: &crate::tls::config::ClientOptions,
    name: &str,
) -> Result<(
    Arc<rustls::ClientConfig>,
    rustls::pki_types::ServerName<'static>,
)> {
    let config = crate::tls::config::client_config(opts)?;
    if opts.insecure {
        eprintln!("{}", crate::tls::config::INSECURE_WARNING);
    }
    Ok((config, crate::tls::config::server_name(name)?))
}

/// The server TLS configuration when `--tls` is given: it needs `--cert` and `--key`, and
/// TCP (`udp` says whether the server was asked for `-u`). Shared by every server command
/// (`listen`, `echo`, `serve-gpio`).
pub fn server_tls(
    args: &crate::cli::TlsArgs,
    udp: bool,
) -> Result<Option<Arc<rustls::ServerConfig>>> {
    if !args.tls {
        return Ok(None);
    }
    // Usage mistakes first (exit 2), before any file is read.
    if udp {
        return Err(crate::error::fail(
            crate::error::Kind::Usage,
            "--tls works over TCP only, not with -u",
        ));
    }
    let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
        return Err(crate::error::fail(
            crate::error::Kind::Usage,
            "--tls on a server needs --cert FILE and --key FILE (make them with `nicksock gen-cert`)",
        ));
    };
    let config = crate::tls::config::server_config(cert, key, args.cacert.as_deref(), Vec::new())?;
    Ok(Some(config))
}

/// Where a server of `command` listens: the addresses of `[ADDR] PORT` and whether they are
/// the default pair, or none with `-U PATH` (its path checked here).
pub fn server_endpoint(
    command: &str,
    endpoint: &[String],
    unix: Option<&std::path::Path>,
    family: &crate::cli::FamilyArgs,
) -> Result<(Vec<std::net::SocketAddr>, bool)> {
    if let Some(path) = unix {
        crate::net::unix::check_path(command, path)?;
        return Ok((Vec::new(), false));
    }
    let (addr, port) = crate::cli::split_endpoint(command, endpoint)?;
    let family = crate::net::addr::Family::from(family);
    let addrs = crate::net::addr::bind_addrs(addr.as_deref(), port, family)?;
    Ok((addrs, addr.is_none()))
}

/// The proxy of `url` (`--proxy`, `--to-proxy`, a proxy variable), with `--proxy-user`'s
/// credentials in place of the URL's and, for an `https://` proxy, the TLS configuration
/// that verifies it (`--proxy-cacert`, `--proxy-insecure`). A URL that does not parse is a
/// usage error naming `from` (exit 2).
pub fn proxy_plan(
    url: crate::proxy::ProxyUrl,
    opts: &crate::cli::ProxyArgs,
) -> Result<crate::net::dial::ProxyPlan> {
    let mut url = url;
    if let Some(user) = &opts.proxy_user {
        url.credentials = Some(crate::proxy::Credentials::parse(user));
    }
    let tls = if url.scheme == crate::proxy::Scheme::Https {
        let tls_opts = crate::tls::config::ClientOptions {
            cacert: opts.proxy_cacert.clone(),
            insecure: opts.proxy_insecure,
            cert: None,
            key: None,
            alpn: Vec::new(),
        };
        let config = crate::tls::config::client_config(&tls_opts)?;
        if opts.proxy_insecure {
            eprintln!("{}", crate::tls::config::INSECURE_WARNING);
        }
        Some(config)
    } else {
        None
    };
    Ok(crate::net::dial::ProxyPlan { url, tls })
}

/// Parses a proxy URL given on the command line (`flag`: its option, for the message).
pub fn parse_proxy_url(flag: &str, text: &str) -> Result<crate::proxy::ProxyUrl> {
    crate::proxy::ProxyUrl::parse(text)
        .map_err(|e| crate::error::fail(crate::error::Kind::Usage, format!("{flag}: {e}")))
}

/// `--allow`, `--deny` and their files: the rules of a server, or `None` for everyone.
/// A bad entry is a usage error naming it; a file that cannot be read is exit 10.
pub fn access(
    command: &str,
    args: &crate::cli::AccessArgs,
) -> Result<Option<crate::net::access::Access>> {
    use crate::net::access::{Access, parse_file, parse_list};
    let list = |flag: &str, values: &[String], file: &Option<std::path::PathBuf>| {
        let mut nets = Vec::new();
        for v in values {
            nets.extend(
                parse_list(v)
                    .map_err(|e| crate::cli::usage_error(command, format!("--{flag}: {e}")))?,
            );
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                crate::error::fail(
                    crate::error::Kind::File,
                    format!(
                        "--{flag}-file {}: {}",
                        path.display(),
                        crate::net::transport::describe(&e)
                    ),
                )
            })?;
            nets.extend(parse_file(&text).map_err(|e| {
                crate::cli::usage_error(command, format!("--{flag}-file {}: {e}", path.display()))
            })?);
        }
        Ok::<_, anyhow::Error>(nets)
    };
    let allow = list("allow", &args.allow, &args.allow_file)?;
    let deny = list("deny", &args.deny, &args.deny_file)?;
    Ok(Access::new(allow, deny))
}
