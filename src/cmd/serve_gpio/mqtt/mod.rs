//! `serve-gpio --mqtt`: the connection to the broker, on the server's loop beside the page.
//! It is made like every connection of ours ([`Dial`]: the name looked up on a helper
//! thread, every address tried), then MQTT's [`Session`] runs over it, plain or TLS. While
//! the broker is away the page works on; the client connects again after 1 s, doubling to
//! 30 s, and says why once per new reason.
//!
//! On every connection: `PREFIX/status` `online` (retained; the last will says `offline`),
//! each pin's state retained on `PREFIX/PIN/state`, Home Assistant's discovery configs
//! with `--ha-discovery`, then the subscription to `PREFIX/+/set` at QoS 1. The session is
//! kept (clean session off, a fixed client id), so the commands sent while we were away
//! come when we are back. From then on each change, from any source, is published as it
//! happens; a broker that reads slower than the pins change gets each pin's latest state
//! once it catches up (the queue is bounded).

mod discovery;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::{Interest, Token};

use super::app::Entity;
use crate::cli::ServeGpioArgs;
use crate::mqtt::codec::{Connect, QoS, Will};
use crate::mqtt::session::{Incoming, Session};
use crate::net::addr::Family;
use crate::net::connector::{ConnectOptions, DialTokens};
use crate::net::dial::{DIAL_TOKENS, Dial, Endpoint};
use crate::net::event_loop::Context;
use crate::net::transport::{Transport, would_block};
pub use discovery::Discovery;

/// How many tokens the client takes: a dial's, the last of them the connection's.
pub const TOKENS: usize = DIAL_TOKENS;
/// The keep-alive asked of the broker, in seconds.
const KEEP_ALIVE: u16 = 30;
/// The first wait before connecting again, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection attempt gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes queued for the broker past which changes are coalesced per pin.
const MAX_PENDING: usize = 256 * 1024;
/// The read buffer.
const READ_CHUNK: usize = 16 * 1024;

/// What the command line asks of the MQTT side, checked.
#[derive(Clone)]
pub struct Options {
    host: String,
    port: u16,
    /// The broker's URL as messages show it: no password.
    shown: String,
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    username: Option<String>,
    password: Option<String>,
    client_id: String,
    prefix: String,
    discovery: Option<Discovery>,
    family: Family,
    verbose: u8,
}

fn usage(message: String) -> anyhow::Error {
    crate::cli::usage_error("serve-gpio", message).into()
}

/// The machine's host name, for the default topic, client id and device.
fn host_name() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    let name = name.trim();
    if name.is_empty() {
        "pi".into()
    } else {
        name.to_string()
    }
}

/// A topic name or prefix of ours: no wildcards, no empty level at either end, no NUL.
fn check_topic(what: &str, topic: &str) -> Result<()> {
    if topic.is_empty()
        || topic.len() > 1024
        || topic.contains(['+', '#', '\0'])
        || topic.starts_with('/')
        || topic.ends_with('/')
    {
        return Err(usage(format!(
            "{what} '{topic}': a topic without '+', '#', or a '/' at either end"
        )));
    }
    Ok(())
}

impl Options {
    /// The MQTT side of the command line, or `None` without `--mqtt`.
    pub fn from_args(args: &ServeGpioArgs, verbose: u8) -> Result<Option<Options>> {
        let Some(text) = &args.mqtt else {
            return Ok(None);
        };
        let url = url::Url::parse(text).map_err(|e| {
            usage(format!(
                "--mqtt: not a URL ({e}): give mqtt://[USER[:PASSWORD]@]HOST[:PORT] or mqtts://…"
            ))
        })?;
        let (tls, default_port) = match url.scheme() {
            "mqtt" => (false, 1883),
            "mqtts" => (true, 8883),
            other => {
                return Err(usage(format!(
                    "--mqtt: the scheme is '{other}': give mqtt:// or mqtts://"
                )));
            }
        };
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(usage("--mqtt: the URL has no host".into()));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(usage(
                "--mqtt: the URL is only mqtt://[USER[:PASSWORD]@]HOST[:PORT] (no path)".into(),
            ));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| usage("--mqtt: the user or password is not UTF-8".into()))
        };
        let username = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(decode)
            .transpose()?;
        let password = url.password().map(decode).transpose()?;
        if password.is_some() && username.is_none() {
            return Err(usage(
                "--mqtt: a password needs a user name (mqtt://USER:PASSWORD@HOST)".into(),
            ));
        }
        let port = url.port().unwrap_or(default_port);
        let name = host_name();
        let prefix = args
            .mqtt_topic
            .clone()
            .unwrap_or_else(|| format!("nicksock/{}", discovery::node_id(&name)));
        check_topic("--mqtt-topic", &prefix)?;
        let client_id = args
            .mqtt_client_id
            .clone()
            .unwrap_or_else(|| format!("nicksock-{}", discovery::node_id(&name)));
        if client_id.is_empty() || client_id.len() > 256 {
            return Err(usage("--mqtt-client-id: give 1 to 256 characters".into()));
        }
        let discovery = if args.ha_discovery {
            check_topic("--ha-prefix", &args.ha_prefix)?;
            // The node is the client id's: two serve-gpio on one host (two topics, two
            // ids) are two devices, not one whose entities each run deletes.
            Some(Discovery {
                prefix: args.ha_prefix.clone(),
                node: discovery::node_id(&client_id),
                device: name.clone(),
                read_only: args.read_only,
            })
        } else {
            None
        };
        let tls = if tls {
            let opts = crate::tls::config::ClientOptions {
                cacert: args.mqtt_cacert.clone(),
                cert: args.mqtt_cert.clone(),
                key: args.mqtt_key.clone(),
                ..Default::default()
            };
            Some(crate::cmd::client_tls(&opts, &host)?)
        } else {
            if args.mqtt_cacert.is_some() || args.mqtt_cert.is_some() {
                return Err(usage(
                    "--mqtt-cacert and --mqtt-cert are for mqtts:// (TLS)".into(),
                ));
            }
            None
        };
        let shown_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        Ok(Some(Options {
            shown: format!("{}://{shown_host}:{port}", url.scheme()),
            host,
            port,
            tls,
            username,
            password,
            client_id,
            prefix,
            discovery,
            family: Family::from(&args.family),
            verbose,
        }))
    }
}

/// What the client tells the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection is up: announce the pins ([`Client::announce`]).
    Up,
    /// A command on `PREFIX/PIN/set`.
    Command { pin: String, payload: String },
}

enum Link {
    /// Connect at this time.
    Waiting(Instant),
    Dialing(Box<Dial>),
    Up {
        transport: Transport,
        session: Box<Session>,
    },
}

/// The MQTT client of `serve-gpio`.
pub struct Client {
    opts: Options,
    waker: Arc<mio::Waker>,
    /// The first of its [`TOKENS`] (set by [`Client::register`]).
    base: usize,
    /// A write failed where the connection could not be taken off the loop: done at the
    /// next [`Client::on_due`], which is due at once.
    failed: Option<(Instant, String)>,
    link: Link,
    backoff: Duration,
    /// The last failure said, so a broker that stays away is not reported every time.
    said: Option<String>,
    /// Whether a connection was ever up (the next one says "again").
    was_up: bool,
    /// Since when the connection has been up (CONNACK): one that lasted [`MAX_BACKOFF`]
    /// starts the back-off over when it ends, a shorter one does not (a broker that
    /// accepts and then drops us is not hammered every second).
    up_since: Option<Instant>,
    /// The password, masked in `--trace`.
    secrets: Vec<Vec<u8>>,
    /// Changes waiting for room in the queue: each pin's latest payload.
    coalesced: BTreeMap<u32, String>,
    /// The discovery configs of this run's entities.
    configs: Vec<String>,
    buf: Vec<u8>,
}

impl Client {
    /// A client that connects at the first [`Client::on_due`]; its name lookups wake the
    /// loop with `waker`.
    pub fn new(opts: Options, waker: Arc<mio::Waker>, now: Instant) -> Client {
        let secrets = opts
            .password
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Client {
            opts,
            waker,
            base: 0,
            failed: None,
            link: Link::Waiting(now),
            backoff: FIRST_BACKOFF,
            said: None,
            was_up: false,
            up_since: None,
            secrets,
            coalesced: BTreeMap::new(),
            configs: Vec::new(),
            buf: vec![0; READ_CHUNK],
        }
    }

    /// Its tokens are `base` to `base + TOKENS`.
    pub fn register(&mut self, base: usize) {
        self.base = base;
    }

    /// Whether `token` is one of its own.
    pub fn owns(&self, token: Token) -> bool {
        (self.base..self.base + TOKENS).contains(&token.0)
    }

    fn conn_token(&self) -> Token {
        Token(self.base + TOKENS - 1)
    }

    /// When [`Client::on_due`] has something to do.
    pub fn due(&self) -> Option<Instant> {
        if let Some((at, _)) = &self.failed {
            return Some(*at);
        }
        match &self.link {
            Link::Waiting(at) => Some(*at),
            Link::Dialing(_) => None,
            Link::Up { session, .. } => Some(session.due()),
        }
    }

    /// Connects when it is time; pings a quiet connection.
    pub fn on_due(&mut self, cx: &mut Context<'_>) -> Vec<Event> {
        if let Some((_, why)) = self.failed.take() {
            self.lost(cx, &why);
            return Vec::new();
        }
        match &mut self.link {
            Link::Waiting(at) if *at <= cx.now => self.dial(cx),
            Link::Up { session, .. } => match session.on_due(cx.now) {
                Ok(()) => self.pump(cx),
                Err(e) => {
                    self.lost(cx, &e.to_string());
                    Vec::new()
                }
            },
            _ => Vec::new(),
        }
    }

    /// One of its tokens is ready (or the loop's waker: a lookup may be done).
    pub fn on_ready(&mut self, cx: &mut Context<'_>, token: Token) -> Vec<Event> {
        match &mut self.link {
            Link::Dialing(dial) => {
                dial.on_event(token);
                self.poll_dial(cx)
            }
            Link::Up { .. } => self.pump(cx),
            Link::Waiting(_) => Vec::new(),
        }
    }

    fn dial(&mut self, cx: &mut Context<'_>) -> Vec<Event> {
        let base = self.base;
        let tokens = DialTokens {
            attempts: base,
            max_attempts: DIAL_TOKENS - 2,
            timer: Token(base + DIAL_TOKENS - 2),
        };
        let endpoint = Endpoint::Tcp {
            host: self.opts.host.clone(),
            port: self.opts.port,
        };
        let connect = ConnectOptions {
            family: self.opts.family,
            timeout: Some(CONNECT_TIMEOUT),
            verbose: self.opts.verbose,
            ..Default::default()
        };
        let waker = Arc::clone(&self.waker);
        let token = self.conn_token();
        match Dial::start(waker, &endpoint, None, &connect, None, None, tokens, token) {
            Ok(dial) => {
                self.link = Link::Dialing(Box::new(dial));
                self.poll_dial(cx)
            }
            Err(e) => {
                self.lost(cx, &format!("{e:#}"));
                Vec::new()
            }
        }
    }

    fn poll_dial(&mut self, cx: &mut Context<'_>) -> Vec<Event> {
        let Link::Dialing(dial) = &mut self.link else {
            return Vec::new();
        };
        let (transport, _) = match dial.poll(cx) {
            Ok(Some(made)) => made,
            Ok(None) => return Vec::new(),
            Err(e) => {
                self.lost(cx, &format!("{e:#}"));
                return Vec::new();
            }
        };
        match self.start_session(cx, transport) {
            Ok(()) => self.pump(cx),
            Err(why) => {
                self.lost(cx, &why);
                Vec::new()
            }
        }
    }

    /// TLS when asked, the socket on the loop, CONNECT queued.
    fn start_session(&mut self, cx: &mut Context<'_>, transport: Transport) -> Result<(), String> {
        let mut transport = match &self.opts.tls {
            Some((config, name)) => crate::net::transport::tls_over(transport, config, name)
                .map_err(|e| format!("starting TLS: {e}"))?,
            None => transport,
        };
        cx.registry
            .register(
                transport.socket(),
                self.conn_token(),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("watching the connection: {e}"))?;
        let will_topic = format!("{}/status", self.opts.prefix);
        let connect = Connect {
            client_id: &self.opts.client_id,
            keep_alive: KEEP_ALIVE,
            clean_session: false,
            will: Some(Will {
                topic: &will_topic,
                payload: b"offline",
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
            username: self.opts.username.as_deref(),
            password: self.opts.password.as_deref().map(str::as_bytes),
        };
        let session = Session::new(&connect, cx.now).map_err(|e| e.to_string())?;
        self.link = Link::Up {
            transport,
            session: Box::new(session),
        };
        Ok(())
    }

    /// Reads what came, writes what waits; the events the reads brought.
    fn pump(&mut self, cx: &mut Context<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        let failure = loop {
            let Link::Up { transport, session } = &mut self.link else {
                return events;
            };
            match transport.read(&mut self.buf) {
                Ok(0) => break Some("the broker closed the connection".to_string()),
                Ok(n) => match session.received(&self.buf[..n], cx.now) {
                    Ok(found) => {
                        for incoming in found {
                            self.take(incoming, &mut events);
                        }
                    }
                    Err(e) => break Some(e.to_string()),
                },
                Err(e) if would_block(&e) => break None,
                Err(e) => break Some(crate::net::transport::describe(&e)),
            }
        };
        if let Some(why) = failure {
            // None of it is carried out: the acknowledgements of earlier reads are thrown
            // away with the connection, and the broker sends those messages again.
            self.lost(cx, &why);
            return Vec::new();
        }
        // With messages, what they ask is carried out first, and only then acknowledged:
        // the service flushes after it acted ([`Client::flush_now`]).
        if events.is_empty() {
            self.flush_now(cx);
        }
        events
    }

    fn take(&mut self, incoming: Incoming, events: &mut Vec<Event>) {
        match incoming {
            Incoming::Up { .. } => {
                let again = if self.was_up { " again" } else { "" };
                eprintln!(
                    "mqtt: connected{again} to {} as {} (topics {}/…)",
                    self.opts.shown, self.opts.client_id, self.opts.prefix
                );
                self.was_up = true;
                self.up_since = Some(Instant::now());
                events.push(Event::Up);
            }
            Incoming::Skipped(len) => eprintln!(
                "nicksock: mqtt: a message of {len} bytes is skipped (at most {} are taken)",
                crate::mqtt::session::MAX_INCOMING
            ),
            Incoming::Message {
                topic,
                payload,
                retain,
            } => {
                if let Some(pin) = topic
                    .strip_prefix(self.opts.prefix.as_str())
                    .and_then(|t| t.strip_prefix('/'))
                    .and_then(|t| t.strip_suffix("/set"))
                    .filter(|pin| !pin.contains('/'))
                {
                    let payload = String::from_utf8_lossy(&payload).into_owned();
                    if retain {
                        // Carried out at every start otherwise.
                        eprintln!(
                            "nicksock: mqtt: {topic}: a retained command '{payload}' is ignored \
                             (publish commands without retain)"
                        );
                        return;
                    }
                    events.push(Event::Command {
                        pin: pin.to_string(),
                        payload,
                    });
                } else if retain && !payload.is_empty() && self.opts.discovery.is_some() {
                    // An old entity of this device (its pin is no longer served): removed.
                    if !self.configs.contains(&topic) && topic.ends_with("/config") {
                        self.publish(&topic, b"", true);
                    }
                }
            }
        }
    }

    /// Queues a PUBLISH on a live session.
    fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) {
        if let Link::Up { session, .. } = &mut self.link
            && session
                .publish(topic, payload, retain, Instant::now())
                .is_err()
        {
            eprintln!("nicksock: mqtt: {topic}: too long to publish");
        }
    }

    /// Announces the pins on a new connection: online, each state, the discovery configs,
    /// then the subscriptions (after the configs, so the old configs the broker replays
    /// can be told from this run's).
    pub fn announce(&mut self, now: Instant, states: &[(u32, String)], entities: &[Entity]) {
        let prefix = self.opts.prefix.clone();
        self.publish(&format!("{prefix}/status"), b"online", true);
        self.coalesced.clear();
        for (pin, payload) in states {
            self.publish(&format!("{prefix}/{pin}/state"), payload.as_bytes(), true);
        }
        let mut filters = vec![(format!("{prefix}/+/set"), QoS::AtLeastOnce)];
        if let Some(discovery) = self.opts.discovery.clone() {
            let configs = discovery.configs(&prefix, entities);
            self.configs = configs.iter().map(|(topic, _)| topic.clone()).collect();
            for (topic, doc) in &configs {
                self.publish(topic, doc.as_bytes(), true);
            }
            filters.push((discovery.filter(), QoS::AtMostOnce));
        }
        if let Link::Up { session, .. } = &mut self.link {
            let filters: Vec<(&str, QoS)> = filters.iter().map(|(f, q)| (f.as_str(), *q)).collect();
            if session.subscribe(&filters, now).is_err() {
                eprintln!("nicksock: mqtt: the topic prefix is too long to subscribe to");
            }
        }
    }

    /// [`Client::queue`]s changes and writes them at once as far as the socket takes them,
    /// where the connection cannot be taken off the loop on a failure (no `Context`): that
    /// waits for the next [`Client::on_due`].
    pub fn changed(&mut self, changes: Vec<(u32, String)>, now: Instant) {
        self.queue(changes);
        if self.failed.is_none()
            && let Err(why) = self.flush(now)
        {
            self.failed = Some((now, why));
        }
    }

    /// Queues changes (pin, payload) for the broker, in order; under back-pressure each
    /// pin's latest.
    pub fn queue(&mut self, changes: Vec<(u32, String)>) {
        let Link::Up { session, .. } = &self.link else {
            return; // all states go out again on the next connection
        };
        if !session.is_up() {
            return;
        }
        for (pin, payload) in changes {
            let full = match &self.link {
                Link::Up { session, .. } => session.pending().len() >= MAX_PENDING,
                _ => return,
            };
            if full || !self.coalesced.is_empty() {
                self.coalesced.insert(pin, payload);
            } else {
                let topic = format!("{}/{pin}/state", self.opts.prefix);
                self.publish(&topic, payload.as_bytes(), true);
            }
        }
    }

    /// Writes what is queued, as far as the socket takes it now (the service calls it after
    /// every turn of the loop).
    pub fn flush_now(&mut self, cx: &mut Context<'_>) {
        if let Err(why) = self.flush(cx.now) {
            self.lost(cx, &why);
        }
    }

    fn flush(&mut self, now: Instant) -> Result<(), String> {
        for _ in 0..2 {
            let Link::Up { transport, session } = &mut self.link else {
                return Ok(());
            };
            while !session.pending().is_empty() {
                let pending = session.pending();
                let written = if self.secrets.is_empty() || !crate::net::trace::enabled() {
                    transport.write(pending)
                } else {
                    let shown = crate::net::dial::mask(pending, &self.secrets);
                    transport.write_masked(pending, &shown)
                };
                match written {
                    Ok(n) => session.wrote(n),
                    Err(e) if would_block(&e) => break,
                    Err(e) => return Err(crate::net::transport::describe(&e)),
                }
            }
            match transport.flush() {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(crate::net::transport::describe(&e)),
            }
            // Room again: the coalesced states go out.
            if self.coalesced.is_empty() || session.pending().len() >= MAX_PENDING / 2 {
                return Ok(());
            }
            let prefix = self.opts.prefix.clone();
            for (pin, payload) in std::mem::take(&mut self.coalesced) {
                let topic = format!("{prefix}/{pin}/state");
                let _ = session.publish(&topic, payload.as_bytes(), true, now);
            }
        }
        Ok(())
    }

    /// The connection failed or ended: off the loop, and a new one after the back-off.
    fn lost(&mut self, cx: &mut Context<'_>, why: &str) {
        self.failed = None;
        let was_up = match std::mem::replace(&mut self.link, Link::Waiting(cx.now)) {
            Link::Dialing(mut dial) => {
                dial.cancel(cx.registry);
                false
            }
            Link::Up {
                mut transport,
                session,
            } => {
                let _ = cx.registry.deregister(transport.socket());
                session.is_up()
            }
            Link::Waiting(_) => false,
        };
        // A connection that stayed up a while was a good one: start the back-off over.
        let lasted = self
            .up_since
            .take()
            .is_some_and(|at| cx.now.duration_since(at) >= MAX_BACKOFF);
        if lasted {
            self.backoff = FIRST_BACKOFF;
            self.said = None;
        }
        let wait = self.backoff;
        self.link = Link::Waiting(cx.now + wait);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.coalesced.clear();
        let message = format!("{}: {why}", self.opts.shown);
        if self.said.as_deref() != Some(message.as_str()) || self.opts.verbose > 0 {
            let lost = if was_up { "lost " } else { "" };
            eprintln!(
                "nicksock: mqtt: {lost}{message}; connecting again in {} s",
                wait.as_secs()
            );
        }
        self.said = Some(message);
    }
}
