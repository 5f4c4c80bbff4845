//! `connect HOST PORT`: like `nc HOST PORT` — stdin to the peer, the peer to stdout; `-z` to
//! check a port, `--retry-for` to wait for one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::cli::ConnectArgs;
use crate::error::{Kind, fail};
use crate::net::addr::Family;
use crate::net::connector::{ConnectOptions, connect_udp};
use crate::net::dial::{self, Endpoint, ProxyPlan, Via};
use crate::net::event_loop::secs;
use crate::net::scan;
use crate::net::session::{Session, SessionRules};
use crate::net::stdin::StdinSource;
use crate::net::stdout::Stdout;
use crate::net::udp::{Datagrams, Peer};
use crate::net::unix;
use crate::net::{EventLoop, Transport};
use crate::tls;

/// Where to connect.
enum Target {
    /// HOST PORT (with -z, perhaps several ports).
    Tcp { host: String, ports: Vec<u16> },
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
    /// `--max-probes`: a scan's probes in flight.
    max_probes: usize,
    /// `--exec`/`--sh-exec`: the program the connection is given to.
    program: Option<crate::net::exec::Program>,
    idle: Option<std::time::Duration>,
    /// `-u`: broadcast and multicast settings.
    send: crate::net::group::SendOptions,
}

impl Config {
    /// Validates the command line and loads certificates.
    pub fn from_args(args: ConnectArgs, verbose: u8) -> Result<Self> {
        let target = match (&args.unix, &args.host) {
            (Some(path), _) => {
                unix::check_path("connect", path)?;
                Target::Unix(path.clone())
            }
            (None, Some(host)) => {
                let ports = scan::parse_ports(&args.ports)
                    .map_err(|e| crate::cli::usage_error("connect", e))?;
                if ports.len() > 1 {
                    let why = if !args.zero_io {
                        Some("several ports are for -z (a session talks to one)")
                    } else if args.proxy.is_some() || args.nc_proxy.is_some() {
                        Some("-z scans several ports directly, not through a proxy")
                    } else if args.retry_for.is_some() {
                        Some("--retry-for waits for one port")
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        return Err(crate::cli::usage_error("connect", why).into());
                    }
                }
                Target::Tcp {
                    host: host.clone(),
                    ports,
                }
            }
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
            max_probes: usize::try_from(args.max_probes).unwrap_or(scan::DEFAULT_PROBES),
            program: args.exec.program("connect")?,
            send: crate::net::group::SendOptions {
                broadcast: args.broadcast,
                ttl: args.ttl,
                multicast_loop: args.multicast_loop,
                iface: args
                    .iface
                    .as_deref()
                    .map(crate::net::group::Iface::named)
                    .transpose()?,
            },
            idle: args.session.idle_timeout.map(crate::net::event_loop::secs),
        })
    }
}

/// Runs `connect`.
pub fn run(config: Config) -> Result<()> {
    if config.udp && !config.zero_io {
        return run_udp(config);
    }
    // The loop exists before connecting: SIGINT ends a connect that hangs, at once.
    let mut ev = EventLoop::new()?;
    if config.zero_io
        && (config.udp || (config.proxy.is_none() && config.connect.retry_for.is_none()))
        && let Target::Tcp { host, ports } = &config.target
    {
        return run_scan(&mut ev, &config, host, ports);
    }
    let (endpoint, shown) = match &config.target {
        Target::Tcp { host, ports } => (
            Endpoint::Tcp {
                host: host.clone(),
                port: ports[0],
            },
            format!("{host} port {}", ports[0]),
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
    if let Some(program) = &config.program {
        let mut transport = transport;
        let remote = transport
            .socket()
            .remote()
            .unwrap_or(crate::sock::Remote::Local(None));
        let settings = crate::net::exec::Settings {
            idle: config.idle,
            grace: crate::net::server::DEFAULT_GRACE,
            verbose: config.connect.verbose,
        };
        return crate::net::exec::run(&mut ev, transport, remote, program, settings);
    }
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

/// `-z` on HOST's ports, probed at once: OpenBSD nc's `-zv` lines on stderr in port order
/// (-v the open ports, -vv the others too), exit 0 when one is open.
fn run_scan(ev: &mut EventLoop, config: &Config, host: &str, ports: &[u16]) -> Result<()> {
    let verbose = config.connect.verbose;
    let found = crate::net::connector::resolve_on_loop(ev, host, ports[0], config.connect.family)?;
    if verbose > 0 && crate::net::addr::parse_ip(host).is_none() {
        let list: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
        eprintln!("resolved {host} to {}", list.join(", "));
    }
    let addrs: Vec<std::net::IpAddr> = found.iter().map(std::net::SocketAddr::ip).collect();
    let opts = scan::ScanOptions {
        connect: &config.connect,
        probes: config.max_probes,
        tls: config.tls.as_ref().map(|(c, n)| (c, n)),
    };
    let proto = if config.udp { "udp" } else { "tcp" };
    let mut report = |port: u16, outcome: &scan::Outcome| {
        let line = match outcome {
            scan::Outcome::Open if verbose > 0 => format!(
                "Connection to {host} {port} port [{proto}/{}] succeeded!",
                scan::service_name(port, proto)
            ),
            scan::Outcome::Open => return,
            _ if verbose < 2 => return,
            scan::Outcome::Refused => {
                format!("connect to {host} port {port} ({proto}) failed: Connection refused")
            }
            scan::Outcome::TimedOut => {
                format!("connect to {host} port {port} ({proto}) failed: timed out")
            }
            scan::Outcome::Failed(why) => {
                format!("connect to {host} port {port} ({proto}) failed: {why}")
            }
        };
        eprintln!("{line}");
    };
    let outcomes = if config.udp {
        // The first address, as nc: a datagram has no Happy Eyeballs.
        let wait = config.connect.timeout.unwrap_or(scan::UDP_WAIT);
        scan::scan_udp(ev, addrs[0], ports, config.max_probes, wait, &mut report)?
    } else {
        scan::scan(ev, &addrs, ports, &opts, &mut report)?
    };
    if outcomes.contains(&scan::Outcome::Open) {
        return Ok(());
    }
    let count = |o: &scan::Outcome| outcomes.iter().filter(|x| *x == o).count();
    let (refused, timed_out) = (
        count(&scan::Outcome::Refused),
        count(&scan::Outcome::TimedOut),
    );
    if let [only] = outcomes.as_slice() {
        let (kind, why) = match only {
            scan::Outcome::Refused => (Kind::Refused, "connection refused".to_string()),
            scan::Outcome::TimedOut => (Kind::Timeout, "timed out".to_string()),
            scan::Outcome::Failed(why) => (Kind::Runtime, why.clone()),
            scan::Outcome::Open => unreachable!("an open port returned above"),
        };
        return Err(fail(
            kind,
            format!("connecting to {host} port {}: {why}", ports[0]),
        ));
    }
    let kind = if timed_out == outcomes.len() {
        Kind::Timeout
    } else if refused + timed_out == outcomes.len() {
        Kind::Refused
    } else {
        Kind::Runtime
    };
    let others = outcomes.len() - refused - timed_out;
    Err(fail(
        kind,
        format!(
            "no port of {host} is open ({} ports: {refused} refused, {timed_out} timed out, {others} failed)",
            outcomes.len()
        ),
    ))
}

fn run_udp(config: Config) -> Result<()> {
    let Target::Tcp { host, ports } = &config.target else {
        unreachable!("clap keeps -U from -u");
    };
    let send = &config.send;
    let special =
        send.broadcast || send.ttl.is_some() || send.multicast_loop || send.iface.is_some();
    let first = crate::net::addr::parse_ip(host).map(|ip| SocketAddr::new(ip, ports[0]));
    let (socket, peer) = match first {
        // A group, a broadcast or a TTL: a socket of our own making (group.rs).
        Some(dest) if special || dest.ip().is_multicast() => {
            crate::net::group::check_destination(dest, send)?;
            let source = match (config.connect.source, config.connect.source_port) {
                (None, None) => None,
                (ip, port) => Some(SocketAddr::new(
                    ip.unwrap_or(if dest.is_ipv4() {
                        std::net::Ipv4Addr::UNSPECIFIED.into()
                    } else {
                        std::net::Ipv6Addr::UNSPECIFIED.into()
                    }),
                    port.unwrap_or(0),
                )),
            };
            let socket = crate::net::group::sender(dest, source, send)?;
            if config.connect.verbose > 0 {
                eprintln!("sending to {dest} (UDP)");
            }
            let peer = if crate::net::group::is_group(dest, send) {
                Peer::Group(dest)
            } else {
                Peer::Connected(dest)
            };
            (socket, peer)
        }
        _ if special => {
            return Err(fail(
                Kind::Usage,
                format!(
                    "-b, --ttl, --multicast-loop and --iface take an address, not a name ({host})"
                ),
            ));
        }
        _ => {
            let (socket, addr) = connect_udp(host, ports[0], &config.connect).map_err(|e| {
                if crate::error::socket_error_kind(&e) == Some(std::io::ErrorKind::PermissionDenied)
                {
                    // The kernel's answer to a broadcast address without SO_BROADCAST.
                    fail(
                        Kind::Runtime,
                        format!("{e:#} (a broadcast address? add -b)"),
                    )
                } else {
                    e
                }
            })?;
            (socket, Peer::Connected(addr))
        }
    };
    let mut ev = EventLoop::new()?;
    let mut stdin = StdinSource::open(&mut ev, config.rules.recv_only, config.crlf, false)?;
    let mut out = Stdout::open()?;
    let sock = mio::net::UdpSocket::from_std(socket.into());
    let mut session = Datagrams::new(
        ev.registry(),
        sock,
        peer,
        &config.rules,
        &mut stdin,
        &mut out,
    )?;
    ev.run(&mut session)
}
