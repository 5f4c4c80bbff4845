//! Every flag of nicksock, defined once: this file is the source of `--help`, the man pages
//! in `man/` and the shell completions in `completions/`.

use std::path::PathBuf;

use crate::help;
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum, ValueHint};

/// Seconds as given on the command line: a non-negative, finite number (fractions allowed).
pub type Secs = f64;

/// A socket toolkit: netcat's directness, curl's manners, and a GPIO web server for the
/// Raspberry Pi.
#[derive(Debug, Parser)]
#[command(name = "nicksock", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 name resolution, \
4 refused/unreachable, 5 timeout, 6 TLS, 7 HTTP failure, 8 bind, 9 GPIO, 10 file, \
130 interrupted.",
    after_long_help = crate::help::after_long_help("", None)
)]
pub struct Cli {
    /// Say what happens on stderr (-vv for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Append the TLS secrets of every connection to FILE (NSS key log format), so that
    /// Wireshark can decrypt a capture; also from SSLKEYLOGFILE. The file is created 0600
    #[arg(long, value_name = "FILE", global = true, value_hint = ValueHint::FilePath)]
    pub keylog: Option<std::path::PathBuf>,
    /// Write every chunk sent and received to FILE (- for stderr) as hex and text, with
    /// direction, offset and time; over TLS, the plaintext
    #[arg(long, value_name = "FILE", global = true, value_hint = ValueHint::FilePath,
          conflicts_with = "trace_ascii")]
    pub trace: Option<std::path::PathBuf>,
    /// Like --trace, as text only, with CR and LF written \r and \n
    #[arg(long, value_name = "FILE", global = true, value_hint = ValueHint::FilePath)]
    pub trace_ascii: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The session rules of `listen` and `connect` (DESIGN.md §2), for their `--help`.
const SESSION_RULES: &str = "Session: when stdin ends, our sending side is shut down (TLS: \
close_notify first) and receiving goes on; when the peer ends its side, sending goes on until \
stdin ends, and the session ends when both have (when stdin is a terminal, the peer's end \
ends it at once). Exit 0 only when every byte went both ways; a peer that stops taking our \
bytes (reset, closed with them unread, TLS alert) is exit 1 with a line saying how much was \
sent.";

/// What `relay --help` says after the options.
const RELAY_HELP: &str = "Each client gets its own connection to the target, made when it \
connects; bytes move both ways until both sides have ended: one side's end becomes a write \
shutdown on the other once its bytes are out, and a reset on one side resets the other. \
SIGTERM stops accepting and lets sessions finish (up to --grace); SIGINT exits 130.";

/// Each subcommand's arguments are built only when it is the one run (or help lists it):
/// start-up builds one subcommand's description, not eight.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Accept a peer; copy stdin to it and what it sends to stdout (like `nc -l`)
    #[command(
        override_usage = "nicksock listen [OPTIONS] [ADDR] PORT",
        after_help = SESSION_RULES,
        after_long_help = help::after_long_help("listen", Some(SESSION_RULES))
    )]
    Listen(ListenArgs),
    /// Connect to a peer; copy stdin to it and what it sends to stdout (like `nc HOST PORT`)
    #[command(
        after_help = SESSION_RULES,
        after_long_help = help::after_long_help("connect", Some(SESSION_RULES))
    )]
    Connect(ConnectArgs),
    /// Echo every byte back to every client, many clients at once
    #[command(
        override_usage = "nicksock echo [OPTIONS] [ADDR] PORT",
        after_long_help = help::after_long_help("echo", None)
    )]
    Echo(EchoArgs),
    /// Fetch a URL over HTTP/1.1 or HTTP/1.0 (HTTPS by rustls), curl-style
    #[command(after_long_help = help::after_long_help("http-get", None))]
    HttpGet(Box<HttpGetArgs>),
    /// Serve a web page, a JSON API and a line protocol that show and switch GPIO pins
    #[command(after_long_help = help::after_long_help("serve-gpio", None))]
    ServeGpio(ServeGpioArgs),
    /// Write a private key and certificate for the TLS servers
    #[command(after_long_help = help::after_long_help("gen-cert", None))]
    GenCert(GenCertArgs),
    /// Forward every client to a target, TLS on either side (like socat or stunnel)
    #[command(
        override_usage = "nicksock relay [OPTIONS] [ADDR] PORT TARGET_HOST TARGET_PORT",
        after_help = RELAY_HELP,
        after_long_help = help::after_long_help("relay", Some(RELAY_HELP))
    )]
    Relay(RelayArgs),
    /// A SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy on one port (loopback only unless --auth
    /// or --allow)
    #[command(
        override_usage = "nicksock proxy [OPTIONS] [ADDR] PORT",
        after_long_help = help::after_long_help("proxy", None)
    )]
    Proxy(ProxyServerArgs),
    /// Print a shell completion script
    #[command(after_long_help = help::after_long_help("completions", None))]
    Completions(CompletionsArgs),
}

// (Not a doc comment: on a flattened struct clap would make it the subcommand's about.)
// Address family and verbosity-independent socket options shared by the socket commands.
#[derive(Debug, Args, Clone, Default)]
pub struct FamilyArgs {
    /// Use IPv4 only
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use IPv6 only
    #[arg(short = '6')]
    pub ipv6: bool,
}

// (Not a doc comment: on a flattened struct clap would make it the subcommand's about.)
// TLS options shared by every command that can wrap its sockets in TLS.
#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Wrap the connection in TLS (rustls)
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate chain: the server's identity, or a client certificate for mTLS
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key that goes with --cert
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Trust these PEM roots instead of the built-in web PKI roots (client); require client
    /// certificates signed by them (server)
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,
}

// (Not a doc comment: on a flattened struct clap would make it the subcommand's about.)
// Client-only TLS options.
#[derive(Debug, Args, Clone, Default)]
pub struct TlsClientArgs {
    /// Do not verify the server's certificate (says so on stderr)
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// The name to verify and send as SNI, when it differs from HOST
    #[arg(long, value_name = "NAME", value_hint = ValueHint::Hostname)]
    pub servername: Option<String>,
}

// (Not a doc comment: on a flattened struct clap would make it the subcommand's about.)
// How a `listen` or `connect` session treats end of input (DESIGN.md §2): stdin's end
// shuts down our sending side and we keep receiving; the peer's end ends only what the peer
// sends, and we keep sending until stdin ends (unless stdin is a terminal).
#[derive(Debug, Args, Clone, Default)]
pub struct SessionArgs {
    /// UDP instead of TCP
    #[arg(short = 'u', long)]
    pub udp: bool,
    /// End a session that moved no byte in either direction for SECS
    #[arg(short = 'i', long, value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout: Option<Secs>,
    /// Keep our sending side open after stdin ends (no TCP half-close)
    #[arg(long)]
    pub no_shutdown: bool,
    /// After stdin ends, end the session within SECS even if the peer stays open
    #[arg(short = 'q', value_name = "SECS", value_parser = parse_secs)]
    pub quit_after: Option<Secs>,
    /// Only send: discard what the peer sends
    #[arg(long, conflicts_with = "recv_only")]
    pub send_only: bool,
    /// Only receive: never read stdin, and end the session at the peer's end
    #[arg(long)]
    pub recv_only: bool,
    /// Show a live byte count and rate on stderr (when stderr is a terminal)
    #[arg(long)]
    pub progress: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// [ADDR] PORT: the local address or name to listen on (default: both :: and 0.0.0.0)
    /// and the port (0 picks a free one and prints it)
    #[arg(value_name = "PORT", num_args = 1..=2, required_unless_present = "unix",
          value_hint = ValueHint::Hostname)]
    pub endpoint: Vec<String>,
    /// Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in
    /// Linux's abstract namespace). A stale socket file is replaced; the file is removed on
    /// exit
    #[arg(short = 'U', long = "unix", value_name = "PATH", value_hint = ValueHint::FilePath,
          conflicts_with_all = ["endpoint", "udp", "ipv4", "ipv6"])]
    pub unix: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub family: FamilyArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// After a client leaves, accept the next one
    #[arg(short = 'k', long)]
    pub keep_open: bool,
    /// With -k: exit after serving N clients
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_conns: Option<u32>,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// With -u: join the multicast GROUP (IPv4 or IPv6; repeat for more groups of one
    /// family) and hear what is sent to it on PORT; several listeners on this host may join
    /// the same group and port
    #[arg(long, value_name = "GROUP", requires = "udp")]
    pub join: Vec<std::net::IpAddr>,
    /// With --join: join on this interface (default: the one the kernel picks)
    #[arg(long, value_name = "NAME", requires = "join")]
    pub iface: Option<String>,
    /// With --exec and -k: at most N programs at once; more clients are closed at once
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_children: u32,
    #[command(flatten)]
    pub grace: GraceArgs,
    /// A chat room for many clients: each line a client sends goes to all the others as
    /// `<name> line` (`/nick NAME` sets the name); joins and leaves are announced
    #[arg(long, conflicts_with_all = ["broker", "udp", "keep_open", "max_conns", "exec", "sh_exec"])]
    pub chat: bool,
    /// A broker for many clients: the bytes each client sends go to all the others as they
    /// are, with no names or notices
    #[arg(long, conflicts_with_all = ["udp", "keep_open", "max_conns", "exec", "sh_exec"])]
    pub broker: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub access: AccessArgs,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Host name or address of the peer
    #[arg(value_name = "HOST", value_hint = ValueHint::Hostname, required_unless_present = "unix")]
    pub host: Option<String>,
    /// Port of the peer (a number or a service name); with -z, any number of ports, ranges
    /// (20-25) and lists (22,80,443), probed at once
    #[arg(value_name = "PORT", required_unless_present = "unix", num_args = 1..)]
    pub ports: Vec<String>,
    /// Connect to the Unix domain socket at PATH instead of HOST PORT (`@NAME`: a name in
    /// Linux's abstract namespace)
    #[arg(short = 'U', long = "unix", value_name = "PATH", value_hint = ValueHint::FilePath,
          conflicts_with_all = ["host", "ports", "udp", "ipv4", "ipv6", "source", "source_port"])]
    pub unix: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub family: FamilyArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Give up connecting after SECS (exit 5)
    #[arg(short = 'w', long, value_name = "SECS", value_parser = parse_secs)]
    pub connect_timeout: Option<Secs>,
    /// Only check that the port accepts a connection (with --tls: completes a TLS
    /// handshake): exit 0 open, 4 closed, 5 no answer; with several ports, 0 when one is open
    /// (-v names the open ones, -vv the others too). With -u: an empty datagram, and the
    /// port counts as open unless a "port unreachable" comes back within -w (1 s)
    #[arg(short = 'z', conflicts_with_all = ["send_only", "recv_only", "progress", "exec", "sh_exec"])]
    pub zero_io: bool,
    /// With -z and several ports: at most N probes at once
    #[arg(long, value_name = "N", default_value_t = 256, requires = "zero_io",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_probes: u32,
    /// Keep trying to connect until SECS have passed (wait for a service to come up)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub retry_for: Option<Secs>,
    /// Local address to connect from
    #[arg(short = 's', long, value_name = "ADDR")]
    pub source: Option<std::net::IpAddr>,
    /// Local port to connect from
    #[arg(short = 'p', long, value_name = "PORT")]
    pub source_port: Option<u16>,
    /// Send each LF of stdin as CRLF
    #[arg(short = 'C', long, conflicts_with_all = ["exec", "sh_exec"])]
    pub crlf: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// With -u: allow sending to a broadcast address (255.255.255.255, a subnet's .255);
    /// replies from anyone are printed
    #[arg(short = 'b', long, requires = "udp")]
    pub broadcast: bool,
    /// With -u: the TTL (IPv6: hop limit) of the datagrams; for a multicast group, how many
    /// routers they may cross (the kernel's default: 1)
    #[arg(long, value_name = "N", requires = "udp",
          value_parser = clap::value_parser!(u32).range(1..=255))]
    pub ttl: Option<u32>,
    /// With -u to a multicast group: members of the group on this host hear us too (off by
    /// default: a sender does not hear itself)
    #[arg(long, requires = "udp")]
    pub multicast_loop: bool,
    /// With -u to a multicast group: send by this interface (default: the route's)
    #[arg(long, value_name = "NAME", requires = "udp")]
    pub iface: Option<String>,
    /// Go through the proxy at URL: http:// (HTTP CONNECT), https:// (TLS to the proxy,
    /// then CONNECT), socks4://, socks4a://, socks5:// or socks5h:// (the proxy resolves
    /// HOST); user:password@ for its credentials
    #[arg(long, value_name = "URL", conflicts_with_all = ["unix", "udp"])]
    pub proxy: Option<String>,
    /// nc's spelling of --proxy: the proxy at HOST[:PORT], speaking -X's protocol
    #[arg(short = 'x', value_name = "HOST[:PORT]", conflicts_with_all = ["proxy", "unix", "udp"])]
    pub nc_proxy: Option<String>,
    /// The protocol of -x's proxy: 4 (SOCKS4), 5 (SOCKS5 with HOST resolved by the proxy,
    /// as nc does; the default; port 1080) or connect (HTTP CONNECT; port 3128)
    #[arg(short = 'X', value_name = "4|5|connect", requires = "nc_proxy")]
    pub nc_proxy_protocol: Option<crate::proxy::NcProtocol>,
    #[command(flatten)]
    pub proxy_opts: ProxyArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub tls_client: TlsClientArgs,
}

#[derive(Debug, Args)]
pub struct ProxyServerArgs {
    /// [ADDR] PORT: where to listen. Without --auth or --allow only 127.0.0.1 and ::1 (an
    /// open proxy is abused within hours); with either, both :: and 0.0.0.0 by default
    #[arg(value_name = "PORT", num_args = 1..=2, value_hint = ValueHint::Hostname)]
    pub endpoint: Vec<String>,
    #[command(flatten)]
    pub family: FamilyArgs,
    /// Require this user name and password (repeatable): HTTP Basic (407 without it) or
    /// SOCKS5's user/password; SOCKS4, which has no password, is then refused
    #[arg(long, value_name = "USER:PASSWORD")]
    pub auth: Vec<String>,
    /// Users from FILE, one user:password a line (# comments); refused unless the file is
    /// readable by its owner only (mode 0600 or stricter)
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub auth_file: Option<PathBuf>,
    /// Only these destination ports (22,443 or 8000-8100); others get SOCKS5 reply 2 or
    /// HTTP 403
    #[arg(long, value_name = "LIST")]
    pub to_port: Vec<String>,
    /// Give up connecting to a destination after SECS (SOCKS5 reply 6, HTTP 504)
    #[arg(short = 'w', long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_secs)]
    pub connect_timeout: Secs,
    /// Close a tunnel that moved no byte for SECS
    #[arg(short = 'i', long, value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout: Option<Secs>,
    /// Serve at most N clients at once; more are closed at once
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_conns: u32,
    #[command(flatten)]
    pub grace: GraceArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub access: AccessArgs,
}

// Who may connect (every server). A plain comment: a doc comment on a flattened struct would
// replace the subcommand's about.
#[derive(Debug, Args, Clone, Default)]
pub struct AccessArgs {
    /// Serve only clients from these addresses or CIDR ranges (repeatable or
    /// comma-separated, IPv4 and IPv6: 10.0.0.0/8,::1); an IPv4-mapped address matches its
    /// IPv4 entry. Others are closed before a byte is read (or a TLS handshake). Not for
    /// Unix sockets, whose file permissions say who may connect
    #[arg(long, value_name = "ADDR[/BITS],...")]
    pub allow: Vec<String>,
    /// Never serve clients from these addresses or ranges (wins over --allow)
    #[arg(long, value_name = "ADDR[/BITS],...")]
    pub deny: Vec<String>,
    /// --allow's entries from FILE: one a line, # starts a comment
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub allow_file: Option<PathBuf>,
    /// --deny's entries from FILE: one a line, # starts a comment
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub deny_file: Option<PathBuf>,
}

// A program on the socket (listen, connect). A plain comment: a doc comment on a flattened
// struct would replace the subcommand's about.
#[derive(Debug, Args, Clone, Default)]
pub struct ExecArgs {
    /// Run PROGRAM for the connection (listen -k: one per client, at once): what the peer
    /// sends is its stdin, its stdout goes to the peer, its stderr stays ours. Split at
    /// spaces, no quoting (-c for shell syntax). It is given NICKSOCK_REMOTE_ADDR,
    /// NICKSOCK_REMOTE_PORT, NICKSOCK_LOCAL_ADDR, NICKSOCK_LOCAL_PORT and NICKSOCK_PROTO
    /// (a Unix socket: NICKSOCK_REMOTE_PID, NICKSOCK_REMOTE_UID). The exit status is the
    /// program's. A server with it hands the program to anyone who can connect: listen on
    /// 127.0.0.1 or a Unix socket, name who may (--allow), or ask for client certificates
    /// (--tls --cacert)
    #[arg(short = 'e', long = "exec", value_name = "PROGRAM", conflicts_with_all = [
        "sh_exec", "udp", "send_only", "recv_only", "quit_after", "no_shutdown", "progress"])]
    pub exec: Option<String>,
    /// As --exec, with COMMAND run by /bin/sh -c (pipes, quoting, redirections)
    #[arg(short = 'c', long = "sh-exec", value_name = "COMMAND", conflicts_with_all = [
        "udp", "send_only", "recv_only", "quit_after", "no_shutdown", "progress"])]
    pub sh_exec: Option<String>,
}

impl ExecArgs {
    /// The program to run, if one was given.
    pub fn program(&self, command: &str) -> Result<Option<crate::net::exec::Program>, clap::Error> {
        match (&self.exec, &self.sh_exec) {
            (Some(line), _) => crate::net::exec::Program::exec(line)
                .map(Some)
                .ok_or_else(|| usage_error(command, "--exec: no program given")),
            (None, Some(command)) => Ok(Some(crate::net::exec::Program::shell(command))),
            (None, None) => Ok(None),
        }
    }
}

// The proxy's credentials and certificate (connect, http-get, relay). A plain comment: a doc
// comment on a flattened struct would replace the subcommand's about.
#[derive(Debug, Args, Clone, Default)]
pub struct ProxyArgs {
    /// The proxy's credentials (instead of the URL's user:password@; the environment
    /// variable keeps them off the command line)
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "NICKSOCK_PROXY_USER",
        hide_env_values = true
    )]
    pub proxy_user: Option<String>,
    /// Trust these PEM roots for an https:// proxy's certificate
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub proxy_cacert: Option<PathBuf>,
    /// Do not verify an https:// proxy's certificate (says so on stderr)
    #[arg(long)]
    pub proxy_insecure: bool,
}

#[derive(Debug, Args)]
pub struct EchoArgs {
    /// [ADDR] PORT: the local address or name to listen on (default: both :: and 0.0.0.0)
    /// and the port (0 picks a free one and prints it)
    #[arg(value_name = "PORT", num_args = 1..=2, required_unless_present = "unix",
          value_hint = ValueHint::Hostname)]
    pub endpoint: Vec<String>,
    /// Listen on a Unix domain socket at PATH instead of a TCP port (`@NAME`: a name in
    /// Linux's abstract namespace). A stale socket file is replaced; the file is removed on
    /// exit
    #[arg(short = 'U', long = "unix", value_name = "PATH", value_hint = ValueHint::FilePath,
          conflicts_with_all = ["endpoint", "udp", "ipv4", "ipv6"])]
    pub unix: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub family: FamilyArgs,
    /// UDP instead of TCP
    #[arg(short = 'u', long)]
    pub udp: bool,
    /// Close a client that moved no byte for SECS
    #[arg(short = 'i', long, value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout: Option<Secs>,
    /// Serve at most N clients at once; more are closed at once
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_conns: u32,
    #[command(flatten)]
    pub grace: GraceArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub access: AccessArgs,
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// [ADDR] PORT TARGET_HOST TARGET_PORT: where to listen (default: both :: and 0.0.0.0)
    /// and where to forward each client
    #[arg(value_name = "ARGS", num_args = 0..=4, value_hint = ValueHint::Hostname)]
    pub endpoints: Vec<String>,
    /// Listen on the Unix domain socket PATH instead of [ADDR] PORT (then only TARGET_HOST
    /// TARGET_PORT are given)
    #[arg(long = "unix", value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub unix: Option<PathBuf>,
    /// Forward each client to the Unix domain socket PATH instead of TARGET_HOST TARGET_PORT
    /// (then only [ADDR] PORT are given); `@NAME`: Linux's abstract namespace
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub to_unix: Option<PathBuf>,
    #[command(flatten)]
    pub family: FamilyArgs,
    /// Give up connecting to the target after SECS (that client is closed)
    #[arg(short = 'w', long, value_name = "SECS", value_parser = parse_secs)]
    pub connect_timeout: Option<Secs>,
    /// Close a pair that moved no byte for SECS
    #[arg(short = 'i', long, value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout: Option<Secs>,
    /// Serve at most N clients at once; more are closed at once
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_conns: u32,
    #[command(flatten)]
    pub grace: GraceArgs,
    /// Clients speak TLS to us: terminate it with --cert/--key (--cacert: require client
    /// certificates signed by it)
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Speak TLS to the target, verified against the web PKI roots (or --to-cacert)
    #[arg(long)]
    pub to_tls: bool,
    /// Trust these PEM roots for the target's certificate
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "to_tls")]
    pub to_cacert: Option<PathBuf>,
    /// The name to send as SNI and verify in the target's certificate (default: TARGET_HOST)
    #[arg(long, value_name = "NAME", value_hint = ValueHint::Hostname, requires = "to_tls")]
    pub to_servername: Option<String>,
    /// Do not verify the target's certificate (says so on stderr)
    #[arg(short = 'k', long, requires = "to_tls")]
    pub insecure: bool,
    /// Reach the target through the proxy at URL (as connect's --proxy), a tunnel per
    /// client
    #[arg(long, value_name = "URL", conflicts_with = "to_unix")]
    pub to_proxy: Option<String>,
    #[command(flatten)]
    pub proxy_opts: ProxyArgs,
    #[command(flatten)]
    pub access: AccessArgs,
}

#[derive(Debug, Args)]
pub struct HttpGetArgs {
    /// The URLs to fetch, one after another; without a scheme, http:// is assumed. URLs of one
    /// origin share one kept-alive connection; a failed URL does not stop the others, and the
    /// exit code is the last failure's
    #[arg(value_name = "URL", value_hint = ValueHint::Url, required = true, num_args = 1..)]
    pub urls: Vec<String>,
    /// Write the body to FILE instead of stdout (only once it is complete); one -o or -O per
    /// URL, paired in order: the first for the first URL, and so on
    #[arg(short = 'o', long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: Vec<PathBuf>,
    /// Write the body to a file named like the last part of the URL's path (paired with the
    /// URLs as -o is)
    #[arg(short = 'O', long, num_args = 0, default_missing_value = "true")]
    pub remote_name: Vec<bool>,
    /// -O for every URL that has no -o or -O of its own
    #[arg(long)]
    pub remote_name_all: bool,
    /// Run the transfers at once (up to --parallel-max), on one loop; at most one URL may
    /// write to stdout
    #[arg(short = 'Z', long)]
    pub parallel: bool,
    /// With -Z: at most N transfers at once
    #[arg(long, value_name = "N", default_value_t = 50, requires = "parallel",
          value_parser = clap::value_parser!(u16).range(1..=300))]
    pub parallel_max: u16,
    /// Where each -o and -O came on the command line, in order (filled by [`parse_from`]).
    #[arg(skip)]
    pub outputs: Vec<OutputArg>,
    /// Print the response head before the body
    #[arg(short = 'i', long)]
    pub include: bool,
    /// Send a HEAD request and print the response head
    #[arg(short = 'I', long)]
    pub head: bool,
    /// Follow redirects
    #[arg(short = 'L', long)]
    pub location: bool,
    /// With -L: at most N redirects (exit 7 past that)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_redirs: u32,
    /// Exit 7 without printing the body when the status is 400 or more
    #[arg(short = 'f', long, conflicts_with = "fail_with_body")]
    pub fail: bool,
    /// Exit 7 when the status is 400 or more, after printing the body
    #[arg(long)]
    pub fail_with_body: bool,
    /// Request method [default: GET, or POST with a body]
    #[arg(short = 'X', long, value_name = "METHOD")]
    pub request: Option<String>,
    /// Send DATA as a form POST (application/x-www-form-urlencoded); @FILE reads a file
    /// (its CR and LF dropped). Repeated, and with the other --data options, the parts are
    /// joined with '&' in command-line order
    #[arg(short = 'd', long, value_name = "DATA", conflicts_with = "json")]
    pub data: Vec<String>,
    /// As -d, but @FILE is sent exactly as it is (a lone --data-binary @FILE streams from
    /// the file)
    #[arg(long, value_name = "DATA", conflicts_with = "json")]
    pub data_binary: Vec<String>,
    /// As -d, URL-encoded: CONTENT, =CONTENT, NAME=CONTENT, @FILE or NAME@FILE (the
    /// content or the file's bytes percent-encoded, NAME kept as given)
    #[arg(long, value_name = "DATA", conflicts_with = "json")]
    pub data_urlencode: Vec<String>,
    /// As -d, with no @FILE: an @ is sent as it is
    #[arg(long, value_name = "DATA", conflicts_with = "json")]
    pub data_raw: Vec<String>,
    /// Every --data option in command-line order (filled by [`parse_from`]).
    #[arg(skip)]
    pub data_parts: Vec<DataArg>,
    /// Send DATA as JSON (POST, Content-Type and Accept application/json); @FILE reads a file
    #[arg(long, value_name = "DATA")]
    pub json: Option<String>,
    /// Upload FILE as the body of a PUT (- for stdin, sent chunked unless it is a regular
    /// file); a URL that ends in / gets the file's name appended. Streamed, never held in
    /// memory
    #[arg(short = 'T', long, value_name = "FILE", value_hint = ValueHint::FilePath,
          conflicts_with_all = ["data", "data_binary", "data_urlencode", "data_raw", "json", "head"])]
    pub upload_file: Option<PathBuf>,
    /// With a body over 1 MiB or of unknown length, wait at most SECS for the server's
    /// 100 Continue before sending it (`-H 'Expect:'` sends it at once)
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_secs)]
    pub expect100_timeout: Secs,
    /// Extra request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// User-Agent to send
    #[arg(short = 'A', long, value_name = "NAME")]
    pub user_agent: Option<String>,
    /// Basic authentication as USER with PASSWORD (without `:PASSWORD` it is asked for on
    /// the terminal, unechoed); sent only to the URL's own scheme, host and port, never to
    /// another host a redirect leads to (see --location-trusted)
    #[arg(short = 'u', long, value_name = "USER[:PASSWORD]")]
    pub user: Option<String>,
    /// With -L and -u or a URL's user:password@: send the credentials to every host a
    /// redirect leads to as well (only for hosts you trust with the password)
    #[arg(long, requires = "location")]
    pub location_trusted: bool,
    /// Give up connecting after SECS (exit 5)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub connect_timeout: Option<Secs>,
    /// Give up when the whole transfer takes longer than SECS (exit 5)
    #[arg(short = 'm', long, value_name = "SECS", value_parser = parse_secs)]
    pub max_time: Option<Secs>,
    /// Retry up to N times on connection refused, timeouts, a reset or cut-off response and
    /// HTTP 408, 429, 500, 502, 503, 504 (honouring Retry-After); a download resumes where it
    /// broke off when the server allows ranges
    #[arg(long, value_name = "N")]
    pub retry: Option<u32>,
    /// Retry (as --retry) for at most SECS since the start
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub retry_for: Option<Secs>,
    /// Retry POST and other methods that are not idempotent too
    #[arg(long)]
    pub retry_all_methods: bool,
    /// Continue the partial file of -o/-O from where it ends (only `-` is taken: the offset
    /// is the file's size)
    #[arg(short = 'C', long, value_name = "-", allow_hyphen_values = true)]
    pub continue_at: Option<String>,
    /// Connect to ADDR (comma-separated IPs; IPv6 in brackets) for HOST:PORT instead of
    /// resolving HOST (repeatable); the Host header, SNI and certificate check keep HOST
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<crate::net::addr::Pinned>,
    /// Connect to the Unix domain socket at PATH instead of the URL's host and port (`@NAME`:
    /// Linux's abstract namespace); the Host header, SNI and certificate check keep the URL's
    /// host
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath, conflicts_with = "resolve")]
    pub unix_socket: Option<std::path::PathBuf>,
    /// Go through the proxy at URL (http://, https://, socks4://, socks4a://, socks5://,
    /// socks5h://; user:password@ for its credentials) instead of the one http_proxy,
    /// https_proxy or all_proxy name; '' for none at all
    #[arg(short = 'x', long, value_name = "URL", conflicts_with = "unix_socket")]
    pub proxy: Option<String>,
    /// Hosts to reach without the proxy, comma-separated (names with their subdomains,
    /// addresses, CIDR ranges, * for all); replaces no_proxy/NO_PROXY
    #[arg(long, value_name = "LIST")]
    pub noproxy: Option<String>,
    #[command(flatten)]
    pub proxy_opts: ProxyArgs,
    /// Speak HTTP/1.0
    #[arg(long = "http1.0")]
    pub http10: bool,
    /// No progress bar and no messages except errors
    #[arg(short = 's', long)]
    pub silent: bool,
    /// After the transfer, print FORMAT with %{http_code}, %{size_download}, %{time_total},
    /// %{url_effective} replaced
    #[arg(short = 'w', long, value_name = "FORMAT")]
    pub write_out: Option<String>,
    /// Print the response exactly as it came off the socket
    #[arg(long, conflicts_with_all = ["include", "head"])]
    pub raw: bool,
    /// Ask for a compressed response (Accept-Encoding: gzip, deflate, br, zstd; br and zstd
    /// where built in) and write the body decoded; a body that does not decode is an error (exit 1), never written as
    /// it came
    #[arg(long, conflicts_with = "raw")]
    pub compressed: bool,
    #[command(flatten)]
    pub family: FamilyArgs,
    /// PEM client certificate for mTLS
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key that goes with --cert
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Trust these PEM roots instead of the built-in web PKI roots
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,
    #[command(flatten)]
    pub tls_client: TlsClientArgs,
}

/// Which GPIO implementation `serve-gpio` drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Backend {
    /// The kernel's GPIO character device where one exists, else simulated pins
    #[default]
    Auto,
    /// The Linux GPIO character device (/dev/gpiochip*)
    Cdev,
    /// Simulated pins in memory: runs anywhere
    Sim,
}

impl From<Backend> for crate::gpio::Backend {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Auto => Self::Auto,
            Backend::Cdev => Self::Cdev,
            Backend::Sim => Self::Sim,
        }
    }
}

impl From<&FamilyArgs> for crate::net::addr::Family {
    fn from(f: &FamilyArgs) -> Self {
        match (f.ipv4, f.ipv6) {
            (true, _) => Self::V4,
            (_, true) => Self::V6,
            _ => Self::Any,
        }
    }
}

// The clean stop of a server on SIGTERM (a plain comment: a doc comment on a flattened
// struct would replace the subcommand's about).
#[derive(Debug, Args)]
pub struct GraceArgs {
    /// On SIGTERM, stop accepting and let sessions in flight finish for at most SECS (a
    /// second SIGTERM ends them at once)
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_secs)]
    pub grace: Secs,
}

impl GraceArgs {
    /// The grace period.
    pub fn period(&self) -> std::time::Duration {
        crate::net::event_loop::secs(self.grace)
    }
}

impl SessionArgs {
    /// The session rules these flags ask for (DESIGN.md §2).
    pub fn rules(&self, verbose: u8) -> crate::net::session::SessionRules {
        crate::net::session::SessionRules {
            recv_only: self.recv_only,
            send_only: self.send_only,
            no_shutdown: self.no_shutdown,
            quit_after: self.quit_after.map(crate::net::event_loop::secs),
            idle: self.idle_timeout.map(crate::net::event_loop::secs),
            verbose,
            progress: self.progress,
            shared_stdin: false,
            grace: None,
            tunnel_ends_with_ours: false,
            tls_to_target: false,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("served").required(true).multiple(true).args(["pins", "inputs", "pwm"])))]
pub struct ServeGpioArgs {
    /// Save each output's level and PWM duty to FILE when they change (at most once a
    /// second, and at exit; mode 0600, written whole) and restore them at the next start
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath,
          overrides_with = "state_file")]
    pub state_file: Option<PathBuf>,
    /// What outputs start as: restore (the saved state, else off; the default with
    /// --state-file), off (the default without) or on; PIN=POLICY for one pin (repeatable)
    #[arg(long, value_name = "[PIN=]POLICY")]
    pub restore: Vec<crate::cmd::serve_gpio::state::RestoreArg>,
    /// BCM GPIO number to serve as an output (repeatable), N=NAME to name it (`13=LED`);
    /// with --input, the only pins it will touch. GPIO13 is physical header pin 33
    #[arg(long = "pin", value_name = "N[=NAME]")]
    pub pins: Vec<crate::gpio::PinArg>,
    /// BCM GPIO number to show as an input (repeatable; N=NAME names it): its changes are
    /// pushed to subscribers, it is never driven. A button or a sensor
    #[arg(long = "input", value_name = "N[=NAME]")]
    pub inputs: Vec<crate::gpio::PinArg>,
    /// BCM GPIO number to serve as a PWM output (repeatable; N=NAME names it): a duty
    /// cycle of 0-100 % from the page's slider, the API ({"duty":40}) or the line protocol
    /// (duty 13 40); on is 100 %, off 0 %
    #[arg(long, value_name = "N[=NAME]")]
    pub pwm: Vec<crate::gpio::PinArg>,
    /// Frequency of PWM on the GPIO character device: software PWM, or a pin's hardware PWM
    /// channel (/sys/class/pwm) where one is muxed to it
    #[arg(long, value_name = "HZ", default_value_t = crate::gpio::pwm::DEFAULT_HZ,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::gpio::pwm::MAX_HZ)))]
    pub pwm_hz: u32,
    /// Where /sys and /proc/device-tree are looked for hardware PWM channels (tests give a
    /// fake tree)
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub sys_root: PathBuf,
    /// Local address to listen on [default: both :: and 0.0.0.0]
    #[arg(value_name = "ADDR", value_hint = ValueHint::Hostname)]
    pub addr: Option<String>,
    /// Local address to listen on (same as ADDR)
    #[arg(long, value_name = "ADDR", conflicts_with = "addr")]
    pub bind: Option<String>,
    /// Serve the page and the API on the Unix domain socket PATH instead of the HTTP port
    /// (behind a reverse proxy: nginx's `proxy_pass http://unix:PATH:`); the file is removed
    /// on exit
    #[arg(short = 'U', long = "unix", value_name = "PATH", value_hint = ValueHint::FilePath,
          conflicts_with = "port")]
    pub unix: Option<PathBuf>,
    /// HTTP port
    #[arg(long, value_name = "PORT", default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    pub family: FamilyArgs,
    /// GPIO implementation
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    /// GPIO chip to use, by name, label or path (default: find each pin by line name)
    #[arg(long, value_name = "NAME|PATH")]
    pub chip: Option<String>,
    /// Treat pin N as active-low (repeatable)
    #[arg(long, value_name = "N")]
    pub active_low: Vec<u32>,
    /// An input's new level must hold this long before its edge counts (a button bounces);
    /// 0 turns debouncing off
    #[arg(long, value_name = "MS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub debounce: u32,
    /// Show the pins but refuse every change
    #[arg(long)]
    pub read_only: bool,
    /// Also serve the plain-TCP line protocol (on, off, toggle, status) on PORT; it speaks
    /// TLS with --tls, and is read-only (status only) with --auth, having no password
    #[arg(long, value_name = "PORT")]
    pub line_port: Option<u16>,
    /// Serve at most N clients at once on each port; a client over the limit takes the place
    /// of the longest idle one (else of the slowest sender of a request), or gets 503
    #[arg(long, value_name = "N", default_value_t = 16_384,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_conns: u32,
    #[command(flatten)]
    pub grace: GraceArgs,
    /// At start on a terminal, print the page's URLs but no QR code of the first
    #[arg(long)]
    pub no_qr: bool,
    /// Require HTTP Basic authentication with USER:PASS (use with --tls; the line protocol
    /// becomes read-only)
    #[arg(
        long,
        value_name = "USER:PASS",
        env = "NICKSOCK_AUTH",
        hide_env_values = true
    )]
    pub auth: Option<String>,
    /// Publish the pins on an MQTT broker and take commands from it:
    /// mqtt://[USER[:PASSWORD]@]HOST[:PORT] (port 1883), or mqtts:// (8883, TLS verified by
    /// the web PKI roots or --mqtt-cacert). NICKSOCK_MQTT keeps the password off the
    /// command line
    #[arg(
        long,
        value_name = "URL",
        env = "NICKSOCK_MQTT",
        hide_env_values = true,
        help_heading = "MQTT and Home Assistant"
    )]
    pub mqtt: Option<String>,
    /// Topic prefix: PREFIX/PIN/state, PREFIX/PIN/set and PREFIX/status
    /// [default: nicksock/HOSTNAME]
    #[arg(
        long,
        value_name = "PREFIX",
        requires = "mqtt",
        help_heading = "MQTT and Home Assistant"
    )]
    pub mqtt_topic: Option<String>,
    /// The MQTT client identifier: the broker keeps its session, and the commands sent
    /// while it was away [default: nicksock-HOSTNAME]
    #[arg(
        long,
        value_name = "ID",
        requires = "mqtt",
        help_heading = "MQTT and Home Assistant"
    )]
    pub mqtt_client_id: Option<String>,
    /// PEM roots that verify an mqtts:// broker, instead of the web PKI roots
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "mqtt",
          help_heading = "MQTT and Home Assistant")]
    pub mqtt_cacert: Option<PathBuf>,
    /// PEM client certificate for an mqtts:// broker
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath,
          requires_all = ["mqtt", "mqtt_key"], help_heading = "MQTT and Home Assistant")]
    pub mqtt_cert: Option<PathBuf>,
    /// Its private key
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "mqtt_cert",
          help_heading = "MQTT and Home Assistant")]
    pub mqtt_key: Option<PathBuf>,
    /// Announce the pins to Home Assistant (MQTT discovery): outputs as switches, PWM pins
    /// as lights, inputs as binary sensors, simulated inputs also as buttons
    #[arg(long, requires = "mqtt", help_heading = "MQTT and Home Assistant")]
    pub ha_discovery: bool,
    /// Home Assistant's discovery prefix
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "homeassistant",
        help_heading = "MQTT and Home Assistant"
    )]
    pub ha_prefix: String,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// The kind of key `gen-cert` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KeyType {
    /// ECDSA with the P-256 curve
    #[default]
    EcdsaP256,
    /// ECDSA with the P-384 curve
    EcdsaP384,
    /// Ed25519
    Ed25519,
}

impl From<KeyType> for crate::certgen::KeyType {
    fn from(k: KeyType) -> Self {
        match k {
            KeyType::EcdsaP256 => Self::EcdsaP256,
            KeyType::EcdsaP384 => Self::EcdsaP384,
            KeyType::Ed25519 => Self::Ed25519,
        }
    }
}

#[derive(Debug, Args)]
pub struct GenCertArgs {
    /// DNS names and IP addresses the certificate is for (IPs become IP SANs)
    #[arg(value_name = "NAME|IP", required_unless_present = "ca")]
    pub names: Vec<String>,
    /// Directory to write the files into
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = ValueHint::DirPath)]
    pub out: PathBuf,
    /// Days the certificate is valid
    #[arg(long, value_name = "N", default_value_t = 365,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub days: u32,
    /// Kind of key to generate
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// Make a client-authentication certificate (for mTLS)
    #[arg(long)]
    pub client: bool,
    /// Write a local certificate authority (ca.pem, ca-key.pem) instead of a leaf
    #[arg(long, conflicts_with_all = ["ca_cert", "client"])]
    pub ca: bool,
    /// Sign the leaf with this CA certificate instead of self-signing
    #[arg(long, value_name = "FILE", requires = "ca_key", value_hint = ValueHint::FilePath)]
    pub ca_cert: Option<PathBuf>,
    /// The CA's private key
    #[arg(long, value_name = "FILE", requires = "ca_cert", value_hint = ValueHint::FilePath)]
    pub ca_key: Option<PathBuf>,
    /// Base name of the files written (NAME.pem and NAME-key.pem) [default: cert, client, ca]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Splits the `[ADDR] PORT` positionals of server `command` (`listen`, `echo`); a bad port
/// is a usage error that shows that command's usage line.
pub fn split_endpoint(
    command: &str,
    endpoint: &[String],
) -> Result<(Option<String>, u16), clap::Error> {
    let (addr, port) = match endpoint {
        [port] => (None, port),
        [addr, port] => (Some(addr.clone()), port),
        _ => unreachable!("clap takes one or two values"),
    };
    let port = port.parse::<u16>().map_err(|_| {
        usage_error(
            command,
            format!("invalid port '{port}': expected a number from 0 to 65535"),
        )
    })?;
    Ok((addr, port))
}

/// One `--data…` option of `http-get`, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataArg {
    /// `-d`: `@FILE` read without CR and LF.
    Form(String),
    /// `--data-binary`: `@FILE` read as it is.
    Binary(String),
    /// `--data-urlencode`.
    UrlEncode(String),
    /// `--data-raw`: no `@FILE`.
    Raw(String),
}

/// One `-o FILE` or `-O` of `http-get`, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputArg {
    /// `-o FILE`.
    File(PathBuf),
    /// `-O`: the name from the URL.
    RemoteName,
}

/// Parses the command line (clap's errors end the program as clap's own do) and adds what
/// clap derive cannot say: the order of `http-get`'s `-o` and `-O`, which pair with the URLs
/// as curl pairs them.
pub fn parse_from<I, T>(words: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    try_parse_from(words).unwrap_or_else(|e| e.exit())
}

/// [`parse_from`], returning clap's error.
pub fn try_parse_from<I, T>(words: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = Cli::command().try_get_matches_from(words)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::HttpGet(args), Some(("http-get", sub))) =
        (&mut cli.command, matches.subcommand())
    {
        let at = |id: &str| {
            sub.indices_of(id)
                .map(Iterator::collect)
                .unwrap_or_default()
        };
        let files: Vec<usize> = at("output");
        let remote: Vec<usize> = at("remote_name");
        let mut order: Vec<(usize, OutputArg)> = files
            .into_iter()
            .zip(args.output.iter().cloned())
            .map(|(i, path)| (i, OutputArg::File(path)))
            .chain(remote.into_iter().map(|i| (i, OutputArg::RemoteName)))
            .collect();
        order.sort_by_key(|(i, _)| *i);
        args.outputs = order.into_iter().map(|(_, o)| o).collect();
        let mut data: Vec<(usize, DataArg)> = Vec::new();
        type Kind<'a> = (&'a str, &'a Vec<String>, fn(String) -> DataArg);
        let kinds: [Kind<'_>; 4] = [
            ("data", &args.data, DataArg::Form),
            ("data_binary", &args.data_binary, DataArg::Binary),
            ("data_urlencode", &args.data_urlencode, DataArg::UrlEncode),
            ("data_raw", &args.data_raw, DataArg::Raw),
        ];
        for (id, values, make) in kinds {
            let at: Vec<usize> = at(id);
            data.extend(at.into_iter().zip(values.iter().cloned().map(make)));
        }
        data.sort_by_key(|(i, _)| *i);
        args.data_parts = data.into_iter().map(|(_, d)| d).collect();
    }
    Ok(cli)
}

/// A usage error (exit 2) about `command`'s arguments, in clap's words and with that
/// subcommand's usage line (`nicksock gen-cert …`), for what clap cannot check itself.
pub fn usage_error(command: &str, message: impl std::fmt::Display) -> clap::Error {
    let mut cli = <Cli as clap::CommandFactory>::command();
    cli.build(); // gives subcommands their "nicksock listen" bin name
    let mut sub = cli.find_subcommand_mut(command).cloned().unwrap_or(cli);
    sub.error(clap::error::ErrorKind::InvalidValue, message)
}

/// Parses seconds: a finite, non-negative number such as `3` or `0.5`.
pub fn parse_secs(s: &str) -> Result<Secs, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("'{s}' is not a number of seconds (0 or more)"));
    }
    if v > 1.0e9 {
        return Err(format!("'{s}' seconds is too long"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn http_get_outputs_keep_their_order_in_clusters_and_long_forms() {
        let cli = try_parse_from([
            "nicksock",
            "http-get",
            "u1",
            "-sO",
            "u2",
            "--output=f",
            "-o",
            "g",
            "--remote-name",
        ])
        .unwrap();
        let Command::HttpGet(args) = cli.command else {
            panic!("not http-get")
        };
        use OutputArg::*;
        assert_eq!(
            args.outputs,
            [RemoteName, File("f".into()), File("g".into()), RemoteName]
        );
        assert_eq!(args.urls, ["u1", "u2"]);
    }

    #[test]
    fn each_subcommand_keeps_its_own_about_once_its_deferred_args_are_built() {
        // Subcommands are built lazily (`defer`): a doc comment on a flattened struct would
        // then replace the subcommand's about in `--help` and the man pages.
        let before: Vec<_> = Cli::command()
            .get_subcommands()
            .map(|s| {
                (
                    s.get_name().to_string(),
                    s.get_about().map(ToString::to_string),
                )
            })
            .collect();
        let mut built = Cli::command();
        built.build();
        for (name, about) in before {
            let sub = built.find_subcommand(&name).unwrap();
            assert!(about.is_some(), "{name} has no about");
            assert_eq!(sub.get_about().map(ToString::to_string), about, "{name}");
        }
    }

    #[test]
    fn seconds_parse_and_reject() {
        assert_eq!(parse_secs("1.5"), Ok(1.5));
        assert_eq!(parse_secs("0"), Ok(0.0));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("inf").is_err());
        assert!(parse_secs("NaN").is_err());
        assert!(parse_secs("soon").is_err());
    }

    #[test]
    fn endpoints_split_into_address_and_port() {
        let one = vec!["8080".to_string()];
        assert_eq!(split_endpoint("listen", &one).unwrap(), (None, 8080));
        let two = vec!["::1".to_string(), "0".to_string()];
        assert_eq!(
            split_endpoint("listen", &two).unwrap(),
            (Some("::1".into()), 0)
        );
        let err = split_endpoint("echo", &["70000".to_string()]).unwrap_err();
        assert!(err.to_string().contains("nicksock echo"), "{err}");
    }
}

/// Options whose value is `USER:PASSWORD`: the password is hidden from `ps`.
const SECRET_OPTIONS: [&str; 4] = ["--proxy-user", "--to-proxy-user", "--auth", "--user"];
/// http-get's short options that take a value: in a cluster (`-sfu`), what follows one of
/// them is its value, not more options. `-u USER:PASSWORD` is the secret one (elsewhere `-u`
/// is UDP and takes no value).
const HTTP_GET_VALUE_SHORTS: &[u8] = b"oXdHAmCxwu";

/// Where `http-get`'s `-u` value starts when word `i` is a cluster of short options ending
/// in it (`-u`, `-su`, `-fsSLualice:pw`): `(word, offset)`, the next word's start when `u`
/// ends the cluster.
fn short_user_value(words: &[&[u8]], i: usize) -> Option<(usize, usize)> {
    let word = words[i];
    if word.len() < 2 || word[0] != b'-' || word[1] == b'-' {
        return None;
    }
    let at = word[1..]
        .iter()
        .position(|c| HTTP_GET_VALUE_SHORTS.contains(c))?
        + 1;
    if word[at] != b'u' {
        return None;
    }
    if at + 1 < word.len() {
        Some((i, at + 1))
    } else {
        (i + 1 < words.len()).then_some((i + 1, 0))
    }
}
/// Options whose value is a proxy URL, perhaps without a scheme (`user:pw@proxy:3128`).
const PROXY_OPTIONS: [&str; 3] = ["--proxy", "--to-proxy", "-x"];

/// Where the value of one of `options` starts in word `i`: the whole word after the option
/// alone, or after `--option=` (and after `-x` run together with its value).
fn option_value(words: &[&[u8]], i: usize, options: &[&str]) -> Option<usize> {
    let word = words[i];
    if i > 0 && options.iter().any(|o| words[i - 1] == o.as_bytes()) {
        return Some(0);
    }
    options.iter().find_map(|o| {
        let prefix = if o.starts_with("--") {
            [o.as_bytes(), b"="].concat()
        } else {
            o.as_bytes().to_vec()
        };
        (word.len() > prefix.len() && word.starts_with(&prefix)).then_some(prefix.len())
    })
}

/// Where the passwords are in the command line's words (`word`, byte range), to be
/// overwritten once parsed so that `ps` and `/proc/PID/cmdline` never show them (curl does
/// the same): the part after the first `:` of a `--proxy-user` or `--auth` value, and the
/// password of a URL's `user:password@` (a proxy option's URL may have no scheme).
pub fn secret_spans(words: &[&[u8]]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut spans = Vec::new();
    let http_get = words.iter().position(|w| *w == b"http-get");
    // Words that are a `-u` value (from the cluster before them), and where it starts.
    let mut user_values: Vec<(usize, usize)> = Vec::new();
    if let Some(first) = http_get {
        user_values.extend((first + 1..words.len()).filter_map(|i| short_user_value(words, i)));
    }
    for (i, word) in words.iter().enumerate() {
        let short = user_values
            .iter()
            .find(|(w, _)| *w == i)
            .map(|&(_, start)| start);
        if let Some(start) = option_value(words, i, &SECRET_OPTIONS).or(short) {
            if let Some(colon) = word[start..].iter().position(|&b| b == b':') {
                let from = start + colon + 1;
                if from < word.len() {
                    spans.push((i, from..word.len()));
                }
            }
            continue;
        }
        // [scheme://]user:password@host…: the password, up to the last '@' before the path.
        let authority_at = match word.windows(3).position(|w| w == b"://") {
            Some(scheme_end) => scheme_end + 3,
            None => match option_value(words, i, &PROXY_OPTIONS) {
                Some(start) => start,
                None => continue,
            },
        };
        if let Some(span) = crate::http::target::password_span(word, authority_at) {
            spans.push((i, span));
        }
    }
    spans
}

#[cfg(test)]
mod secret_tests {
    use super::secret_spans;

    fn masked(words: &[&str]) -> Vec<String> {
        let mut owned: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let views: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let spans = secret_spans(&views);
        for (i, range) in spans {
            owned[i][range].fill(b'*');
        }
        owned
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn passwords_are_found_in_every_spelling() {
        assert_eq!(
            masked(&["connect", "--proxy-user", "me:pw", "h", "1"]),
            ["connect", "--proxy-user", "me:**", "h", "1"]
        );
        assert_eq!(masked(&["--auth=a:secret"]), ["--auth=a:******"]);
        assert_eq!(
            masked(&["--proxy", "socks5h://me:p@ss@proxy:1080/"]),
            ["--proxy", "socks5h://me:****@proxy:1080/"]
        );
        assert_eq!(
            masked(&["http://u:pw@example.org/a@b"]),
            ["http://u:**@example.org/a@b"]
        );
        // A proxy URL without a scheme, in each spelling.
        assert_eq!(
            masked(&["--proxy", "me:pw@proxy:3128", "-x", "a:b@p", "-xc:d@p"]),
            ["--proxy", "me:**@proxy:3128", "-x", "a:*@p", "-xc:*@p"]
        );
        assert_eq!(masked(&["--to-proxy=u:pw@p"]), ["--to-proxy=u:**@p"]);
        // Nothing secret: untouched.
        let plain = ["http://example.org/", "--proxy-user", "me", "a:b"];
        assert_eq!(masked(&plain), plain);
        // http-get's -u and --user, alone and in clusters; connect's -u is UDP and takes
        // no value; a value-taking option before `u` in a cluster owns the rest of it.
        assert_eq!(
            masked(&["http-get", "-u", "me:pw", "--user=a:bc", "-ux:y", "h"]),
            ["http-get", "-u", "me:**", "--user=a:**", "-ux:*", "h"]
        );
        assert_eq!(
            masked(&["http-get", "-su", "a:pw", "-fsSLub:pw2", "-ouser:x", "h"]),
            ["http-get", "-su", "a:**", "-fsSLub:***", "-ouser:x", "h"]
        );
        let udp = ["connect", "-u", "::1", "53"];
        assert_eq!(masked(&udp), udp);
    }
}
