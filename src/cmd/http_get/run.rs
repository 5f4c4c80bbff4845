//! Running the transfers: each URL is a [`Job`], a state machine from request to committed
//! output through its redirects and retries. Jobs run on the one loop, one at a time or with
//! `-Z` up to `--parallel-max` at once: their exchanges share a [`Mux`], which steps each
//! exchange its events concern, and a pool of idle connections kept alive per origin. The
//! steps between exchanges (the decisions of `-L`, `-f` and `--retry`, and making a
//! connection, name lookup and proxy handshake included) run between the loop's runs.

use std::collections::VecDeque;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::Token;
use mio::event::Event;

use super::exchange::{Ending, Exchange, Plan, Request, Scratch, TOKENS};
use super::output::{Output, Target};
use super::upload::Upload;
use super::write_out::Stats;
use super::{
    Config, Transfer, connect_timeout, expects_continue, head_length, host_name, http_failure,
    redirected, retry, show_request,
};
use crate::error::{Kind, Tag as _, exit_code, fail};
use crate::http::client::{RequestSpec, encode_proxied_request, encode_request};
use crate::http::find_header;
use crate::http::target::{connect_port, resolve_location};
use crate::net::EventLoop;
use crate::net::addr::Pinned;
use crate::net::connector::Addr;
use crate::net::connector::DialTokens;
use crate::net::dial::{self, DIAL_TOKENS, Dial, Endpoint, ProxyPlan};
use crate::net::event_loop::{Context, Flow, Handler, Signal};
use crate::net::stdout::Stdout;
use crate::net::transport::{Transport, would_block};
use crate::tls;

/// The longest pause before a retry, whatever a server's `Retry-After` says.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

/// The first token of the jobs' (below it: the dialer's, the loop's own are at the top).
const JOB_TOKENS: usize = 4096;
/// Tokens per job: its exchange's, its retry pause's, then its dial's.
const STRIDE: usize = TOKENS + 1 + DIAL_TOKENS;
/// Where a job's dial tokens start, from its first.
const DIAL_OFFSET: usize = TOKENS + 1;

/// Runs `http-get`: every URL, each followed by its `-w` write-out. A failed transfer does
/// not stop the others (curl's rule): its error is printed when it happens, and the exit
/// code is the last failure's. SIGINT and a closed stdout stop them all.
pub fn run(mut config: Config) -> Result<()> {
    let transfers: VecDeque<Transfer> = std::mem::take(&mut config.transfers).into();
    let count = transfers.len();
    let lanes = config.parallel.unwrap_or(1).min(count).max(1);
    let summary = (config.parallel.is_some() && !config.silent && std::io::stderr().is_terminal())
        .then(|| Summary(super::output::summary(count as u64)));
    let mut runner = Runner {
        config,
        ev: EventLoop::new()?,
        pool: Pool::default(),
        stdin_used: false,
        scratch: Scratch::default(),
    };
    let mut waiting = transfers;
    let mut slots: Vec<Option<Job>> = (0..lanes).map(|_| None).collect();
    let mut started = 0;
    let mut last_failure = None;
    loop {
        for (slot, place) in slots.iter_mut().enumerate() {
            if place.is_none()
                && let Some(transfer) = waiting.pop_front()
            {
                started += 1;
                *place = Some(Job::new(&runner.config, slot, transfer, started < count));
            }
        }
        // Every job moves as far as it can without the loop: exchanges start, decisions are
        // taken, finished jobs are reported and leave their slot.
        let mut busy = false;
        for place in &mut slots {
            let Some(job) = place else { continue };
            job.advance(&mut runner);
            if let State::Done(_) = job.state {
                let Some(job) = place.take() else { continue };
                if let Some(bar) = &summary {
                    bar.inc(1);
                }
                let Err(e) = job.report(&runner.config) else {
                    continue;
                };
                let closed = crate::error::is_broken_stdout(&e);
                if count == 1 || crate::error::kind(&e) == Kind::Interrupted {
                    return Err(e);
                }
                // A closed stdout (`| head`) ends the transfer that wrote there, quietly;
                // the others go on, and an earlier failure keeps its code.
                if !closed {
                    match &summary {
                        Some(bar) => bar.suspend(|| eprintln!("nicksock: error: {e:#}")),
                        None => eprintln!("nicksock: error: {e:#}"),
                    }
                    last_failure = Some(exit_code(&e));
                }
            } else {
                busy = true;
            }
        }
        // A slot a job left takes the next URL before the loop runs again.
        let free = slots.iter().any(Option::is_none);
        if free && !waiting.is_empty() {
            continue;
        }
        if !busy {
            break;
        }
        let mut mux = Mux {
            slots: &mut slots,
            scratch: &mut runner.scratch,
            dirty: vec![true; lanes],
        };
        runner.ev.run(&mut mux)?;
    }
    drop(summary);
    match last_failure {
        // Its message is out already: only the code is left to pass on.
        Some(code) => Err(crate::error::Status {
            code,
            message: None,
        }
        .into()),
        None => Ok(()),
    }
}

/// `-Z`'s line on a terminal, cleared however the run ends.
struct Summary(indicatif::ProgressBar);

impl std::ops::Deref for Summary {
    type Target = indicatif::ProgressBar;
    fn deref(&self) -> &indicatif::ProgressBar {
        &self.0
    }
}

impl Drop for Summary {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// What the jobs of one run share.
struct Runner {
    config: Config,
    ev: EventLoop,
    pool: Pool,
    /// Stdin went out as a body already (`-T -`): it cannot go again.
    stdin_used: bool,
    scratch: Scratch,
}

/// Which connections may carry a request: the same scheme, host and port, by the same
/// proxy the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    https: bool,
    host: String,
    port: u16,
    proxy: Option<(crate::proxy::ProxyUrl, bool)>,
}

/// Idle connections kept alive between transfers, oldest first.
#[derive(Default)]
struct Pool {
    idle: Vec<(Key, Transport, Addr)>,
}

/// The most idle connections kept (curl's cache holds a few per transfer too).
const MAX_IDLE: usize = 8;

impl Pool {
    /// An idle connection for `key`, if one is still open: a read that would block says
    /// so, while the close or bytes nobody asked for say it cannot be used.
    fn take(&mut self, key: &Key) -> Option<(Transport, Addr)> {
        let at = self.idle.iter().position(|(k, _, _)| k == key)?;
        let (_, mut sock, addr) = self.idle.remove(at);
        let mut probe = [0u8; 1];
        match sock.read(&mut probe) {
            Err(e) if would_block(&e) => Some((sock, addr)),
            _ => None,
        }
    }

    fn put(&mut self, key: Key, sock: Transport, addr: Addr) {
        if self.idle.len() >= MAX_IDLE {
            self.idle.remove(0);
        }
        self.idle.push((key, sock, addr));
    }
}

/// Where a job is.
enum State {
    /// The next request is to be sent (a new try, or a redirect's).
    Ready,
    /// Its connection is being made, on the loop.
    Dialing(Box<Dialing>),
    /// An exchange is running on the loop.
    Running(Box<Running>),
    /// Waiting before the next try.
    Pausing(Instant),
    /// Over: the output committed, or the failure.
    Done(Result<()>),
}

/// An exchange on the loop and what settling it needs.
struct Running {
    exchange: Exchange,
    key: Key,
    addr: Addr,
    reused: bool,
    /// How it ended, once it did.
    outcome: Option<Result<()>>,
}

/// One URL from its first request to its committed output.
struct Job {
    /// Its place among the jobs running at once: its tokens.
    slot: usize,
    /// This URL's request, as the command line says it.
    request: RequestSpec,
    target: Target,
    /// The output, while no exchange holds it.
    out: Option<Output>,
    stats: Stats,
    start: Instant,
    plan: Plan,
    /// `-C -` or a retry continues the body from this byte (with the validator for
    /// `If-Range` when the server gave one).
    resume: Option<(u64, Option<String>)>,
    /// The validator of the last final head.
    validator: Option<String>,
    /// Another try is allowed if this one fails.
    retry_left: bool,
    /// The request of the current hop.
    spec: RequestSpec,
    /// The next request must go on a new connection: a kept one was found closed.
    fresh: bool,
    /// A 417 refused `Expect: 100-continue`: the request goes without it.
    no_expect: bool,
    state: State,
}

impl Job {
    /// A job for `transfer`; `keep_alive`: more URLs follow, so the connection stays open.
    fn new(config: &Config, slot: usize, transfer: Transfer, keep_alive: bool) -> Job {
        let start = Instant::now();
        let mut request = config.request.clone();
        request.url = transfer.url;
        request.credentials = transfer.credentials;
        // A `-H 'Connection: close'` of the user's ends the connection too.
        let user_close = find_header(&request.headers, "connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        request.keep_alive = keep_alive && !request.http10 && !user_close;
        let mut plan = config.plan;
        plan.deadline = config.max_time.map(|limit| (start + limit, limit));
        let mut job = Job {
            slot,
            stats: Stats {
                url_effective: request.url.to_string(),
                ..Stats::default()
            },
            spec: request.clone(),
            request,
            target: transfer.target,
            out: None,
            start,
            plan,
            resume: None,
            validator: None,
            retry_left: false,
            fresh: false,
            no_expect: false,
            state: State::Ready,
        };
        // Progress bars per file only one transfer at a time: with -Z, one summary line.
        let quiet = config.silent || config.parallel.is_some();
        let opened = if config.continue_at {
            Output::open_continuing(&job.target, quiet)
        } else {
            Output::open(&job.target, quiet)
        };
        match opened {
            Ok(out) => {
                // `-C -`: ask for what the file lacks (its origin unknown, so no If-Range).
                job.resume = (out.body_written() > 0).then(|| (out.body_written(), None));
                job.out = Some(out);
                job.begin_try(config);
            }
            Err(e) => job.state = State::Done(Err(e)),
        }
        job
    }

    fn token(&self) -> usize {
        JOB_TOKENS + self.slot * STRIDE
    }

    /// A new try: the request again, asking for the rest when the body can be resumed.
    fn begin_try(&mut self, config: &Config) {
        self.retry_left = config.retry.allows(
            &self.request.method,
            self.stats.num_retries,
            self.start,
            Instant::now(),
        );
        self.plan.stop_for_retry = self.retry_left;
        self.plan.resume_from = self.resume.as_ref().map(|(from, _)| *from);
        let mut spec = self.request.clone();
        if let Some((from, validator)) = &self.resume {
            spec.headers
                .push(("Range".into(), format!("bytes={from}-")));
            if let Some(v) = validator {
                spec.headers.push(("If-Range".into(), v.clone()));
            }
        }
        self.spec = spec;
        self.stats.url_effective = self.spec.url.to_string();
        self.state = State::Ready;
    }

    /// Moves the job on as far as it can go without the loop.
    fn advance(&mut self, runner: &mut Runner) {
        loop {
            match &mut self.state {
                State::Ready => {
                    if let Err(e) = self.launch(runner) {
                        self.failed(e, &runner.config);
                    }
                }
                State::Dialing(dialing) => {
                    let Some(outcome) = dialing.outcome.take() else {
                        return;
                    };
                    let State::Dialing(dialing) = std::mem::replace(&mut self.state, State::Ready)
                    else {
                        return;
                    };
                    let result = outcome.and_then(|(transport, addr)| {
                        self.connected(runner, dialing.route, transport, addr, false)
                    });
                    if let Err(e) = result {
                        self.failed(e, &runner.config);
                    }
                }
                State::Running(running) => {
                    let Some(outcome) = running.outcome.take() else {
                        return;
                    };
                    self.settle(runner, outcome);
                }
                State::Pausing(until) => {
                    if Instant::now() < *until {
                        return;
                    }
                    self.begin_try(&runner.config);
                }
                State::Done(_) => return,
            }
        }
    }

    /// Starts the exchange of the current request: over an idle connection to its origin
    /// when one is left, else over a new one.
    fn launch(&mut self, runner: &mut Runner) -> Result<()> {
        let config = &mut runner.config;
        let spec = &mut self.spec;
        let host = host_name(&spec.url)?;
        let port = connect_port(&spec.url);
        let proxy = match &config.unix {
            Some(_) => None,
            None => config.proxy.choose(&spec.url, &host, self.plan.verbose)?,
        };
        let https = spec.url.scheme() == "https";
        // SOCKS proxies always tunnel; an HTTP proxy takes an http:// URL's request as it is.
        let tunnel = proxy.as_ref().is_some_and(|p| {
            https
                || !matches!(
                    p.url.scheme,
                    crate::proxy::Scheme::Http | crate::proxy::Scheme::Https
                )
        });
        let key = Key {
            https,
            host: host.clone(),
            port,
            proxy: proxy.as_ref().map(|p| (p.url.clone(), tunnel)),
        };
        let plan = Plan {
            proxy_answers: proxy
                .as_ref()
                .filter(|_| !tunnel)
                .map(|p| p.url.credentials.is_some()),
            ..self.plan
        };
        let idle = if self.fresh {
            None
        } else {
            runner.pool.take(&key)
        };
        self.fresh = false;
        let route = Route {
            key,
            proxy,
            tunnel,
            plan,
        };
        match idle {
            Some((transport, addr)) => {
                if plan.verbose > 0 {
                    eprintln!("* reusing connection to {host}:{port}");
                }
                self.connected(runner, route, transport, addr, true)
            }
            None => {
                let dial = start_dial(config, &mut runner.ev, &route, self.token() + DIAL_OFFSET)?;
                self.state = State::Dialing(Box::new(Dialing {
                    dial,
                    route,
                    outcome: None,
                }));
                Ok(())
            }
        }
    }

    /// The connection is there (a kept one, or a new one with TLS to start on it): the
    /// request is made and its exchange starts.
    fn connected(
        &mut self,
        runner: &mut Runner,
        route: Route,
        under: Transport,
        addr: Addr,
        reused: bool,
    ) -> Result<()> {
        let config = &mut runner.config;
        let Route {
            key,
            proxy,
            tunnel,
            plan,
        } = route;
        let transport = if reused || !key.https {
            under
        } else {
            let client = config.tls.get(config.silent)?;
            let name = tls::server_name(config.tls.servername.as_deref().unwrap_or(&key.host))?;
            crate::net::transport::tls_over(under, &client, &name)
                .tag(Kind::Tls, format!("starting TLS with {}", key.host))?
        };
        let spec = &mut self.spec;
        // The streamed body, opened for this request once connected (a connection refused
        // leaves a body read once unread for the retry): its length goes in the head.
        let mut upload = match (&config.upload, spec.streamed) {
            (Some(from), Some(_)) => {
                let quiet = config.silent || config.parallel.is_some();
                let opened = Upload::open(
                    &mut runner.ev,
                    from,
                    &mut runner.stdin_used,
                    quiet,
                    spec.user_chunked(),
                    spec.http10,
                )?;
                spec.streamed = Some(opened.length());
                Some(opened)
            }
            _ => None,
        };
        let wait = expects_continue(spec, config.expect_wait).filter(|_| !self.no_expect);
        spec.expect_continue = wait.is_some() && find_header(&spec.headers, "expect").is_none();
        let (bytes, mut secrets) = match &proxy {
            Some(p) if !tunnel => {
                let auth = p.url.credentials.as_ref().map(crate::proxy::basic_auth);
                (encode_proxied_request(spec, auth.as_deref()), p.secrets())
            }
            _ => (encode_request(spec), Vec::new()),
        };
        if let Some(c) = &spec.credentials {
            secrets.extend(c.secrets());
        }
        // `--trace` shows the request with the credentials (the origin's, the proxy's) masked.
        let shown = match dial::mask(&bytes, &secrets) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(masked) => Some(masked),
        };
        if let Some(upload) = &mut upload {
            upload.zero_copy_into(&transport);
        }
        if plan.verbose > 0 {
            show_request(&bytes);
        }
        self.stats.remote = addr.ip();
        self.stats.time_connect = self.start.elapsed();
        let request = Request {
            method: spec.method.clone(),
            url: spec.url.to_string(),
            head_len: head_length(&bytes),
            bytes,
            shown,
            keep_alive: spec.keep_alive,
            expect: wait,
        };
        let mut transport = transport;
        runner
            .ev
            .registry()
            .register(
                transport.socket(),
                Token(self.token()),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )
            .tag(Kind::Runtime, "watching the connection")?;
        let Some(out) = self.out.take() else {
            return Err(fail(Kind::Runtime, "no output for the response"));
        };
        let exchange = Exchange::new(transport, self.token(), request, upload, out, plan);
        self.state = State::Running(Box::new(Running {
            exchange,
            key,
            addr,
            reused,
            outcome: None,
        }));
        Ok(())
    }

    /// An exchange ended: its figures, its connection back to the pool, then what comes
    /// next (a redirect, a retry, the end).
    fn settle(&mut self, runner: &mut Runner, outcome: Result<()>) {
        let State::Running(running) = std::mem::replace(&mut self.state, State::Ready) else {
            return;
        };
        let Running {
            exchange,
            key,
            addr,
            reused,
            ..
        } = *running;
        let (ending, kept, out) = exchange.finish(runner.ev.registry());
        self.out = Some(out);
        // A kept-alive connection the server closed while it was idle: the request most
        // likely never reached it, so it goes again on a new connection, as curl does, but
        // only when sending it twice is harmless (the methods --retry repeats).
        if let Err(e) = &outcome
            && reused
            && ending.first_byte.is_none()
            && retry::worth_retrying(e).is_some()
            && runner.config.retry.repeats(&self.spec.method)
        {
            if self.plan.verbose > 0 {
                eprintln!(
                    "* the kept connection to {}:{} was closed: connecting again",
                    key.host, key.port
                );
            }
            self.fresh = true;
            return;
        }
        if let Some(sock) = kept {
            runner.pool.put(key, sock, addr);
        }
        let stats = &mut self.stats;
        stats.size_header += ending.head_bytes;
        if let Some(head) = &ending.head {
            stats.http_code = head.status;
            stats.http_minor = Some(head.version);
            stats.content_type = head.header("content-type").map(str::to_string);
            stats.size_download = ending.body_bytes;
        }
        if let Some(at) = ending.first_byte {
            stats.time_starttransfer = at.saturating_duration_since(self.start);
        }
        if let Some(head) = &ending.head
            && matches!(head.status, 200 | 206)
        {
            self.validator = ending.validator.clone();
        }
        let config = &runner.config;
        match outcome.and_then(|()| self.follow(config, ending)) {
            Ok(()) => {}
            Err(e) => self.failed(e, config),
        }
    }

    /// After a complete exchange: the redirect to follow, the retry a status asks for, or
    /// the final response.
    fn follow(&mut self, config: &Config, ending: Ending) -> Result<()> {
        let Some(head) = &ending.head else {
            return Err(fail(
                Kind::Runtime,
                format!("{}: no response", self.spec.url),
            ));
        };
        let status = head.status;
        if ending.expectation_failed && !self.no_expect {
            if config.plan.verbose > 0 {
                eprintln!("* 417: sending the request again without Expect: 100-continue");
            }
            self.no_expect = true;
            self.state = State::Ready;
            return Ok(());
        }
        if ending.stopped_for_retry {
            let after = head
                .header("retry-after")
                .and_then(|v| retry::retry_after(v, std::time::SystemTime::now()));
            let why = format!("the server answered {status} {}", head.reason)
                .trim_end()
                .to_string();
            return self.retry(config, why, after);
        }
        if ending.already_complete {
            let result = self.commit();
            self.state = State::Done(result);
            return Ok(());
        }
        let Some(location) = ending.redirect else {
            let url = self.spec.url.clone();
            let result = if config.plan.fail && status >= 400 {
                Err(http_failure(&url, status, &head.reason))
            } else {
                self.commit().and_then(|()| {
                    if config.fail_with_body && status >= 400 {
                        Err(http_failure(&url, status, &head.reason))
                    } else {
                        Ok(())
                    }
                })
            };
            self.state = State::Done(result);
            return Ok(());
        };
        if self.stats.num_redirects >= config.max_redirs {
            return Err(fail(
                Kind::Http,
                format!(
                    "too many redirects: {} redirects again after {} (--max-redirs)",
                    self.spec.url, config.max_redirs
                ),
            ));
        }
        let next = resolve_location(&self.spec.url, &location).tag(
            Kind::Runtime,
            format!("following the redirect from {}", self.spec.url),
        )?;
        if config.plan.verbose > 0 {
            eprintln!("following the redirect to {next}");
        }
        let spec = std::mem::replace(&mut self.spec, self.request.clone());
        self.spec = redirected(spec, status, next);
        self.stats.url_effective = self.spec.url.to_string();
        self.stats.num_redirects += 1;
        self.state = State::Ready;
        Ok(())
    }

    /// The output gets its real name.
    fn commit(&mut self) -> Result<()> {
        match self.out.take() {
            Some(out) => out.commit(),
            None => Ok(()),
        }
    }

    /// A try failed: again after a pause when a retry may cure it, else the end.
    fn failed(&mut self, e: anyhow::Error, config: &Config) {
        match retry::worth_retrying(&e) {
            Some(why) if self.retry_left => {
                if let Err(e) = self.retry(config, format!("{why}: {e:#}"), None) {
                    self.state = State::Done(Err(e));
                }
            }
            _ => self.state = State::Done(Err(e)),
        }
    }

    /// Pauses before the next try, which continues the body when the server can resume it
    /// and starts over when it cannot.
    fn retry(&mut self, config: &Config, why: String, after: Option<Duration>) -> Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Err(fail(Kind::Runtime, "no output to retry into"));
        };
        self.resume = match (out.body_written(), self.validator.clone()) {
            (0, _) => None,
            (from, Some(validator)) => Some((from, Some(validator))),
            (from, None) if !out.restart()? => {
                return Err(fail(
                    Kind::Runtime,
                    format!(
                        "cannot retry: {from} bytes have already been written and the server \
                         cannot resume (no Accept-Ranges with an ETag or Last-Modified)"
                    ),
                ));
            }
            (_, None) => None,
        };
        let now = Instant::now();
        let wait = config
            .retry
            .wait(self.stats.num_retries, after, self.start, now)
            .min(MAX_PAUSE);
        self.stats.num_retries += 1;
        if !config.silent {
            let from = self
                .resume
                .as_ref()
                .map_or(String::new(), |(n, _)| format!(", resuming at byte {n}"));
            eprintln!(
                "nicksock: retry {} in {:.1} s{from}: {why}",
                self.stats.num_retries,
                wait.as_secs_f64()
            );
        }
        // A server's Retry-After may say anything: a day at most.
        self.state = State::Pausing(now + wait);
        Ok(())
    }

    /// The end of the job: its `-w` write-out (also after a failure, so a script sees
    /// `000` when no response came), and its result (the write-out's failure when the
    /// transfer itself succeeded).
    fn report(mut self, config: &Config) -> Result<()> {
        let State::Done(result) = std::mem::replace(&mut self.state, State::Ready) else {
            return Ok(());
        };
        if let Some(write_out) = &config.write_out {
            self.stats.time_total = self.start.elapsed();
            self.stats.exit_code = match &result {
                Ok(()) => 0,
                Err(e) => exit_code(e),
            };
            let text = write_out.render(&self.stats);
            let written = Stdout::open().and_then(|mut out| out.write_all(text.as_bytes()));
            return result.and(written);
        }
        result
    }
}

/// Where a request goes: its connection's key, the proxy and how, and its plan.
struct Route {
    key: Key,
    proxy: Option<Arc<ProxyPlan>>,
    tunnel: bool,
    plan: Plan,
}

/// A connection being made for a job, on the loop beside the other jobs' exchanges.
struct Dialing {
    dial: Dial,
    route: Route,
    /// The connection, or why there is none, once the dial ended.
    outcome: Option<Result<(Transport, Addr)>>,
}

/// Starts a new connection for `route`: straight, by `--unix-socket` or through the proxy
/// (TLS follows once it is made), under the tokens from `base`.
fn start_dial(config: &Config, ev: &mut EventLoop, route: &Route, base: usize) -> Result<Dial> {
    let mut connect = config.connect.clone();
    connect.timeout = connect_timeout(config.connect_timeout, route.plan.deadline);
    let verbose = route.plan.verbose > 0;
    let tokens = DialTokens {
        attempts: base,
        max_attempts: DIAL_TOKENS - 2,
        timer: Token(base + DIAL_TOKENS - 2),
    };
    let conn_token = Token(base + DIAL_TOKENS - 1);
    let (host, port) = (&route.key.host, route.key.port);
    match &config.unix {
        Some(path) => {
            if verbose {
                eprintln!("* --unix-socket: {}", path.display());
            }
            let endpoint = Endpoint::Unix(path.clone());
            Dial::start(
                ev.waker()?,
                &endpoint,
                None,
                &connect,
                None,
                None,
                tokens,
                conn_token,
            )
        }
        None => {
            let pinned = Pinned::lookup(&config.pinned, host, port);
            if verbose && let Some(addrs) = &pinned {
                let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                eprintln!("* --resolve: {host}:{port} is {}", list.join(", "));
            }
            let endpoint = Endpoint::Tcp {
                host: host.clone(),
                port,
            };
            let tunnel = route.proxy.as_ref().map(|_| route.tunnel);
            let plan = route.proxy.clone();
            Dial::start(
                ev.waker()?,
                &endpoint,
                pinned,
                &connect,
                tunnel,
                plan,
                tokens,
                conn_token,
            )
        }
    }
}

/// The running jobs' exchanges on the loop: an event steps the exchange it belongs to; the
/// run stops as soon as one ends or a pause is over, for the jobs to move on.
struct Mux<'r> {
    slots: &'r mut [Option<Job>],
    scratch: &'r mut Scratch,
    /// The slots whose exchange an event or a deadline concerns.
    dirty: Vec<bool>,
}

impl Mux<'_> {
    fn mark(&mut self, token: Token) {
        match token.0.checked_sub(JOB_TOKENS).map(|t| t / STRIDE) {
            Some(slot) if slot < self.dirty.len() => {
                self.dirty[slot] = true;
                if let Some(Some(job)) = self.slots.get_mut(slot)
                    && let State::Dialing(dialing) = &mut job.state
                {
                    dialing.dial.on_event(token);
                }
            }
            // The loop's waker (stdin's thread of `-T -`) and the like: every job looks.
            _ => self.dirty.iter_mut().for_each(|d| *d = true),
        }
    }
}

impl Handler for Mux<'_> {
    fn on_event(&mut self, _cx: &mut Context<'_>, event: &Event) -> Result<()> {
        self.mark(event.token());
        Ok(())
    }

    fn on_timer(&mut self, _cx: &mut Context<'_>, token: Token) -> Result<()> {
        self.mark(token);
        Ok(())
    }

    fn after(&mut self, cx: &mut Context<'_>) -> Result<Flow> {
        let mut stop = false;
        for (slot, place) in self.slots.iter_mut().enumerate() {
            let Some(job) = place else { continue };
            match &mut job.state {
                State::Running(running) if running.outcome.is_none() => {
                    if !std::mem::take(&mut self.dirty[slot]) {
                        continue;
                    }
                    match running.exchange.step(cx, self.scratch) {
                        Ok(false) => {}
                        Ok(true) => running.outcome = Some(Ok(())),
                        Err(e) => running.outcome = Some(Err(e)),
                    }
                    stop |= running.outcome.is_some();
                }
                State::Dialing(dialing) if dialing.outcome.is_none() => {
                    if !std::mem::take(&mut self.dirty[slot]) {
                        continue;
                    }
                    match dialing.dial.poll(cx) {
                        Ok(None) => {}
                        Ok(Some(won)) => dialing.outcome = Some(Ok(won)),
                        Err(e) => dialing.outcome = Some(Err(e)),
                    }
                    stop |= dialing.outcome.is_some();
                }
                State::Pausing(until) => {
                    if cx.now >= *until || Instant::now() >= *until {
                        stop = true;
                    } else {
                        cx.timers.add(*until, Token(job.token() + TOKENS));
                    }
                }
                _ => stop = true,
            }
        }
        Ok(if stop { Flow::Stop } else { Flow::Continue })
    }

    fn on_signal(&mut self, _cx: &mut Context<'_>, signal: Signal) -> Result<Flow> {
        match signal {
            Signal::Interrupt => Err(fail(Kind::Interrupted, "interrupted")),
            // A transfer cut short is never committed as if whole.
            Signal::Terminate => Err(fail(Kind::Interrupted, "stopped by SIGTERM")),
            Signal::Child => Ok(Flow::Continue),
        }
    }
}
