//! `connect HOST PORT`: like `nc HOST PORT` — stdin to the peer, the peer to stdout; `-z` to
//! check a port, `--retry-for` to wait for one.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::cli::ConnectArgs;
use crate::net::addr::Family;
use crate::net::connector::{ConnectOptions, connect_udp};
use crate::net::dial::{self, Endpoint, ProxyPlan, Via};
use crate::net::event_loop::secs;
use crate::net::session::{Session, SessionRules};
use crate::net::stdin::StdinSource;
use crate::net::stdout::Stdout;
use crate::net::udp::{Datagrams, Peer};
use crate::net::unix;
use crate::net::{EventLoop, Transport};
use crate::tls;

/// Where to connect.
enum Target {
    /// HOST PORT.
    Tcp { host: String, port: u16 },
    /// `-U PATH`.
    Unix(PathBuf),
}

/// Everything `connect` needs, checked before any socket is made.
pub struct Config {
    target: Target,
    connect: ConnectOptions,
    rules: SessionRules,
    udp: bool,
    zero_io: bool,
    crlf: bool,
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    /// `--proxy`, `-x`: the proxy to go through.
    proxy: Option<Arc<ProxyPlan>>,
}

impl Config {
    /// Validates the command line and loads certificates.
    pub fn from_args(args: ConnectArgs, verbose: u8) -> Result<Self> {
        let target = match (&args.unix, &args.host, args.port) {
            (Some(path), _, _) => {
                unix::check_path("connect", path)?;
                Target::Unix(path.clone())
            }
            (None, Some(host), Some(port)) => Target::Tcp {
                host: host.clone(),
                port,
            },
            _ => unreachable!("clap requires HOST and PORT without -U"),
        };
        let tls = if args.tls.tls {
            let opts = tls::config::ClientOptions {
                cacert: args.tls.cacert.clone(),
                insecure: args.tls_client.insecure,
                cert: args.tls.cert.clone(),
                key: args.tls.key.clone(),
                alpn: Vec::new(),
            };
            // Over a Unix socket there is no host name: the certificate is checked for
            // `localhost` unless --servername says otherwise.
            let host = args.host.as_deref().unwrap_or("localhost");
            let name = args.tls_client.servername.as_deref().unwrap_or(host);
            Some(super::client_tls(&opts, name)?)
        } else {
            None
        };
        let proxy_url = match (&args.proxy, &args.nc_proxy) {
            (Some(url), _) => Some(super::parse_proxy_url("--proxy", url)?),
            (None, Some(host_port)) => {
                let protocol = args.nc_proxy_protocol.unwrap_or_default();
                Some(
                    crate::proxy::ProxyUrl::from_nc(host_port, protocol).map_err(|e| {
                        crate::error::fail(crate::error::Kind::Usage, format!("-x: {e}"))
                    })?,
                )
            }
            (None, None) => None,
        };
        let proxy = match proxy_url {
            Some(url) => {
                let plan = super::proxy_plan(url, &args.proxy_opts)?;
                if verbose > 0 {
                    let from = if args.proxy.is_some() {
                        "--proxy"
                    } else {
                        "-x"
                    };
                    eprintln!("via proxy {} (from {from})", plan.url.redacted());
                }
                Some(Arc::new(plan))
            }
            None => None,
        };
        Ok(Config {
            connect: ConnectOptions {
                family: Family::from(&args.family),
                timeout: args.connect_timeout.map(secs),
                retry_for: args.retry_for.map(secs),
                source: args.source,
                source_port: args.source_port,
                verbose,
                backlog_wait: None,
            },
            rules: {
                let rules = args.session.rules(verbose);
                // An HTTP proxy closes its tunnel at either side's end (RFC 9110 §9.3.6):
                // our end cannot reach the target, only cut its reply. With nothing to send
                // (--recv-only) we never send it.
                let http_tunnel = proxy.as_ref().is_some_and(|p| {
                    matches!(
                        p.url.scheme,
                        crate::proxy::Scheme::Http | crate::proxy::Scheme::Https
                    )
                });
                SessionRules {
                    tunnel_ends_with_ours: http_tunnel,
                    tls_to_target: args.tls.tls,
                    no_shutdown: rules.no_shutdown || (http_tunnel && rules.recv_only),
                    ..rules
                }
            },
            udp: args.session.udp,
            zero_io: args.zero_io,
            crlf: args.crlf,
            target,
            tls,
            proxy,
        })
    }
}

/// Runs `connect`.
pub fn run(config: Config) -> Result<()> {
    if config.udp {
        return run_udp(config);
    }
    // The loop exists before connecting: SIGINT ends a connect that hangs, at once.
    let mut ev = EventLoop::new()?;
    let (endpoint, shown) = match &config.target {
        Target::Tcp { host, port } => (
            Endpoint::Tcp {
                host: host.clone(),
                port: *port,
            },
            format!("{host} port {port}"),
        ),
        Target::Unix(path) => (Endpoint::Unix(path.clone()), path.display().to_string()),
    };
    let via = config
        .proxy
        .as_deref()
        .map(|plan| Via { plan, tunnel: true });
    let (under, _) = dial::connect(
        &mut ev,
        &endpoint,
        None,
        &config.connect,
        via,
        config.proxy.clone(),
    )?;
    if config.zero_io {
        if config.connect.verbose > 0 {
            eprintln!("connection to {shown} succeeded");
        }
        return Ok(());
    }
    let transport = match &config.tls {
        Some((client, name)) => crate::net::transport::tls_over(under, client, name)?,
        None => under,
    };
    let plain = matches!(transport, Transport::Plain(_));
    let mut stdin = StdinSource::open(&mut ev, config.rules.recv_only, config.crlf, plain)?;
    let mut out = Stdout::open()?;
    let mut buf = Vec::new();
    let mut session = Session::new(
        ev.registry(),
        transport,
        &config.rules,
        &mut stdin,
        &mut out,
        &mut buf,
    )?;
    let result = ev.run(&mut session);
    session.finish(ev.registry());
    result
}

fn run_udp(config: Config) -> Result<()> {
    let Target::Tcp { host, port } = &config.target else {
        unreachable!("clap keeps -U from -u");
    };
    let (socket, addr) = connect_udp(host, *port, &config.connect)?;
    let mut ev = EventLoop::new()?;
    let mut stdin = StdinSource::open(&mut ev, config.rules.recv_only, config.crlf, false)?;
    let mut out = Stdout::open()?;
    let sock = mio::net::UdpSocket::from_std(socket.into());
    let mut session = Datagrams::new(
        ev.registry(),
        sock,
        Peer::Connected(addr),
        &config.rules,
        &mut stdin,
        &mut out,
    )?;
    ev.run(&mut session)
}
