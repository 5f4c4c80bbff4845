//! `serve-gpio`: a web page, a JSON API and a plain-TCP line protocol that show and switch
//! the GPIO pins given with `--pin`. The app ([`app`]) decides every answer without I/O;
//! the connections around it ([`http_conn`], [`line_conn`]) run on the shared server of
//! [`crate::net::server`], one loop for both ports.
//!
//! The line protocol has no way to send a password, so with `--auth` it is read-only
//! (`status` answers, changes are refused); with `--tls` it speaks TLS too.

pub mod app;
mod http_conn;
mod line_conn;
mod mqtt;
mod phone;
mod service;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::cli::ServeGpioArgs;
use crate::gpio::Backend;
use crate::gpio::{self, PinConfig};
use crate::net::EventLoop;
use crate::net::addr::{Family, bind_addrs};
use crate::net::listener::Listener;
use crate::net::server::{self, Group, Server};
use app::App;
use service::{GpioService, HTTP_GROUP, LINE_GROUP};

/// A keep-alive HTTP connection that moved no byte for this long is closed.
const HTTP_IDLE: Duration = Duration::from_secs(60);
/// A line-protocol connection that moved no byte for this long is closed (it is typed at
/// by hand, so it gets longer).
const LINE_IDLE: Duration = Duration::from_secs(600);
/// What the ready lines of the line port say after the address.
const LINE_LABEL: &str = "line protocol";

/// Everything `serve-gpio` needs, checked before any pin or socket is touched.
pub struct Config {
    http_addrs: Vec<SocketAddr>,
    /// `-U PATH`: HTTP on this Unix socket instead of `http_addrs`.
    http_unix: Option<PathBuf>,
    line_addrs: Option<Vec<SocketAddr>>,
    default_pair: bool,
    pins: Vec<PinConfig>,
    names: Vec<(u32, String)>,
    backend: Backend,
    chip: Option<String>,
    debounce: Duration,
    pwm_hz: u32,
    sys_root: PathBuf,
    read_only: bool,
    auth: Option<(String, String)>,
    tls: Option<Arc<rustls::ServerConfig>>,
    max_conns: usize,
    /// After SIGTERM, how long requests in flight may go on.
    grace: std::time::Duration,
    no_qr: bool,
    /// `--allow`/`--deny`, for both ports.
    access: Option<crate::net::access::Access>,
    /// `--state-file`.
    state_file: Option<PathBuf>,
    /// `--restore`.
    restore: Vec<state::RestoreArg>,
    /// `--mqtt` and the rest of its options.
    mqtt: Option<mqtt::Options>,
    verbose: u8,
}

impl Config {
    /// Validates the command line: pins, credentials, certificate and addresses.
    pub fn from_args(args: ServeGpioArgs, verbose: u8) -> Result<Self> {
        let numbers = |args: &[gpio::PinArg]| -> Vec<u32> { args.iter().map(|a| a.pin).collect() };
        let mut outputs = numbers(&args.pins);
        outputs.extend(args.pwm.iter().map(|a| a.pin));
        let pins = gpio::pin_configs(&outputs, &numbers(&args.inputs), &args.active_low)?;
        let pins = gpio::with_pwm(pins, &numbers(&args.pwm))?;
        let names = gpio::pin_names(args.pins.iter().chain(&args.pwm).chain(&args.inputs))?;
        let auth = args.auth.as_deref().map(app::parse_auth).transpose()?;
        let mqtt = mqtt::Options::from_args(&args, verbose)?;
        check_restore(&args.restore, &pins)?;
        let tls = crate::cmd::server_tls(&args.tls, false)?;
        let addr = args.addr.or(args.bind);
        let family = Family::from(&args.family);
        let http_addrs = match &args.unix {
            Some(path) => {
                crate::net::unix::check_path("serve-gpio", path)?;
                Vec::new()
            }
            None => bind_addrs(addr.as_deref(), args.port, family)?,
        };
        let line_addrs = args
            .line_port
            .map(|port| bind_addrs(addr.as_deref(), port, family))
            .transpose()?;
        Ok(Config {
            access: crate::cmd::access("serve-gpio", &args.access)?,
            http_addrs,
            http_unix: args.unix,
            line_addrs,
            default_pair: addr.is_none(),
            pins,
            names,
            backend: args.backend.into(),
            chip: args.chip,
            debounce: Duration::from_millis(u64::from(args.debounce)),
            pwm_hz: args.pwm_hz,
            sys_root: args.sys_root,
            read_only: args.read_only,
            auth,
            tls,
            max_conns: usize::try_from(args.max_conns).unwrap_or(usize::MAX),
            grace: args.grace.period(),
            no_qr: args.no_qr,
            state_file: args.state_file,
            restore: args.restore,
            mqtt,
            verbose,
        })
    }

    /// One-line notes on stderr about choices a user may not have meant.
    fn notes(&self) -> Vec<&'static str> {
        let mut notes = Vec::new();
        let everywhere = self
            .http_addrs
            .iter()
            .chain(self.line_addrs.iter().flatten())
            .any(|a| a.ip().is_unspecified());
        if everywhere && self.auth.is_none() && !self.read_only {
            notes.push(
                "anyone on the network can switch these pins: add --auth USER:PASS \
                 (with --tls), --read-only, or listen on 127.0.0.1",
            );
        }
        if self.auth.is_some() && self.tls.is_none() {
            notes.push("--auth without --tls sends the password readable to the network");
        }
        if self.auth.is_some() && self.line_addrs.is_some() && !self.read_only {
            notes
                .push("the line protocol has no password, so with --auth it is read-only (status)");
        }
        notes
    }
}

/// `--restore PIN=…` only for an output or PWM pin that is served.
fn check_restore(args: &[state::RestoreArg], pins: &[PinConfig]) -> Result<()> {
    for pin in args.iter().filter_map(|a| a.pin) {
        match pins.iter().find(|c| c.pin == pin) {
            Some(c) if c.mode == gpio::PinMode::Input => {
                return Err(crate::cli::usage_error(
                    "serve-gpio",
                    format!(
                        "--restore {pin}=…: GPIO{pin} is an input, and inputs are never restored"
                    ),
                )
                .into());
            }
            Some(_) => {}
            None => {
                return Err(crate::cli::usage_error(
                    "serve-gpio",
                    format!("--restore {pin}=…: GPIO{pin} is not served (give --pin {pin} or --pwm {pin})"),
                )
                .into());
            }
        }
    }
    Ok(())
}

/// Runs `serve-gpio` until SIGINT (exit 130) or SIGTERM (exit 0, once the requests in
/// flight are answered or the grace period ends).
pub fn run(config: Config) -> Result<()> {
    let (mut pins, gpio_line) = gpio::open_with(
        config.backend,
        config.chip.as_deref(),
        &config.pins,
        gpio::Options {
            debounce: config.debounce,
            pwm_hz: config.pwm_hz,
            sysfs_root: config.sys_root.clone(),
        },
    )?;
    eprintln!("{gpio_line}");
    // The outputs take their start states before anything is served.
    let saved = match &config.state_file {
        Some(path) => {
            let (saved, warning) = state::load(path);
            if let Some(warning) = warning {
                eprintln!("nicksock: warning: {warning}");
            }
            saved
        }
        None => Default::default(),
    };
    let has_file = config.state_file.is_some();
    for line in state::apply(&mut *pins, &config.restore, has_file, &saved)? {
        if config.verbose > 0 {
            eprintln!("{line}");
        }
    }
    let store = config
        .state_file
        .clone()
        .map(|path| state::Store::new(path, &mut *pins));
    for note in config.notes() {
        eprintln!("nicksock: note: {note}");
    }
    if let Some(access) = &config.access {
        eprintln!("who: {access} (--allow/--deny)");
    }
    let mut ev = EventLoop::new()?;
    let unix = config.http_unix.as_deref();
    let http = server::listen_at(unix, &config.http_addrs, config.default_pair, "")?;
    if phone::wanted() {
        let bound: Vec<SocketAddr> = http.iter().filter_map(Listener::local_addr).collect();
        phone::announce(&bound, config.tls.is_some(), config.no_qr);
    }
    let mut groups = vec![Group {
        listeners: http,
        tls: config.tls.clone(),
        idle: Some(HTTP_IDLE),
        max_conns: config.max_conns,
    }];
    debug_assert_eq!(groups.len() - 1, HTTP_GROUP);
    if let Some(addrs) = &config.line_addrs {
        groups.push(Group {
            listeners: server::listen(addrs, config.default_pair, LINE_LABEL)?,
            tls: config.tls.clone(),
            idle: Some(LINE_IDLE),
            max_conns: config.max_conns,
        });
        debug_assert_eq!(groups.len() - 1, LINE_GROUP);
    }
    let mut app = App::new(pins, config.read_only, config.auth)
        .named(config.names)
        .with_store(store);
    let mqtt = match config.mqtt {
        Some(opts) => {
            app = app.with_mqtt();
            Some(mqtt::Client::new(
                opts,
                ev.waker()?,
                std::time::Instant::now(),
            ))
        }
        None => None,
    };
    Server::new(GpioService::new(app, mqtt), groups, config.verbose)
        .with_access(config.access.clone())
        .with_grace(config.grace)
        .run(ev)
}
