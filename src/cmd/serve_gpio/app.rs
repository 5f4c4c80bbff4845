//! What `serve-gpio` answers, without any I/O: an HTTP [`Request`] in, a [`Response`] out,
//! and a line of the TCP line protocol in, a reply line out. One `App` owns the pins and is
//! shared by every connection on the event loop, so requests are applied one at a time and
//! no locking is needed.

mod auth;
pub mod events;
mod input;
mod line;
mod mqtt;
mod page;
mod reply;
#[cfg(test)]
mod tests;
mod timers;

use std::time::Instant;

use serde_json::{Value, json};

pub use auth::parse_auth;
use events::{Cause, Events};
use input::{
    Action, Change, Refusal, bad_pin, bad_state, field, gpio_failure, has_media_type, json_change,
    optional_field, parse_duty, parse_pin, refuse_cross_site,
};
pub use line::Watch;
pub use mqtt::Entity;
use reply::{
    escape_html, header, json_error, json_response, method_not_allowed, on_off, respond, see_other,
};
use timers::{Timer, Timers};

use crate::gpio::{Gpio, PinConfig, PinMode};
use crate::http::server::{Request, Response};

/// Methods the page (`/`) and a pin of the API (`/api/pins/N`) accept.
const ALLOW_READ_WRITE: &str = "GET, HEAD, POST";
/// Methods the pin list (`/api/pins`) accepts.
const ALLOW_READ: &str = "GET, HEAD";
/// Where the JSON API lives.
const API_PINS: &str = "/api/pins";
/// The stream of events (server-sent events).
const API_EVENTS: &str = "/api/events";
/// The media type of server-sent events.
const EVENT_STREAM_TYPE: &str = "text/event-stream";
/// The media type of HTML forms.
const FORM_TYPE: &str = "application/x-www-form-urlencoded";
/// The media type the JSON API accepts and answers with.
const JSON_TYPE: &str = "application/json";
/// Room for what follows the cached part of the page (the counter, the script and the
/// closing tags).
const PAGE_TAIL_BYTES: usize = 1024;
/// Sent with every response: the pins change, so nothing may be cached.
const NO_STORE: (&str, &str) = ("Cache-Control", "no-store");
/// HTTP status codes the app answers with.
mod status {
    pub const OK: u16 = 200;
    pub const SEE_OTHER: u16 = 303;
    pub const BAD_REQUEST: u16 = 400;
    pub const UNAUTHORIZED: u16 = 401;
    pub const FORBIDDEN: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    pub const METHOD_NOT_ALLOWED: u16 = 405;
    pub const UNSUPPORTED_MEDIA_TYPE: u16 = 415;
    pub const INTERNAL_SERVER_ERROR: u16 = 500;
    pub const NOT_IMPLEMENTED: u16 = 501;
}

/// The methods of RFC 9110 and PATCH: one of these that a path does not take gets 405 with
/// `Allow`; any other (methods are case-sensitive, so `get` too) gets 501.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// What a cached page shows: each pin's state and duty cycle.
type PageKey = Vec<(PinConfig, bool, Option<u8>)>;

/// The `serve-gpio` application: the pins, the rules for changing them, and every answer.
pub struct App {
    gpio: Box<dyn Gpio>,
    pins: Vec<PinConfig>,
    read_only: bool,
    /// The `Authorization` credentials expected, base64-encoded as clients send them.
    auth: Option<String>,
    /// HTTP requests handled so far (the lab's "Hello #N").
    requests: u64,
    /// The page without its counter, for the pin states (and duties) it shows: rendered
    /// again only when a pin changed.
    page_cache: Option<(PageKey, String)>,
    /// Every change, for the subscribers.
    events: Events,
    /// Where the event stream just started by [`App::handle`] begins in the log.
    stream_from: Option<u64>,
    /// Names given with `--pin N=NAME`.
    names: Vec<(u32, String)>,
    /// Pins to switch back later (`for`).
    timers: Timers,
    /// `--state-file`: where changes are saved.
    store: Option<super::state::Store>,
    /// `--mqtt`: each change's pin and MQTT payload, in order, until taken.
    mqtt_changes: Option<Vec<(u32, String)>>,
}

impl App {
    /// An app serving the pins of `gpio`. With `read_only`, every change is refused; with
    /// `auth` (user, password), every HTTP request needs those Basic credentials, and the
    /// line protocol, which has no way to send them, may only read.
    pub fn new(gpio: Box<dyn Gpio>, read_only: bool, auth: Option<(String, String)>) -> App {
        let pins = gpio.pins().to_vec();
        App {
            gpio,
            pins,
            read_only,
            auth: auth.map(|(user, pass)| auth::encode_credentials(&user, &pass)),
            requests: 0,
            page_cache: None,
            events: Events::new(Instant::now()),
            stream_from: None,
            names: Vec::new(),
            timers: Timers::default(),
            store: None,
            mqtt_changes: None,
        }
    }

    /// The app saving every output's changes to `store` (`--state-file`).
    pub fn with_store(mut self, store: Option<super::state::Store>) -> App {
        self.store = store;
        self
    }

    /// The app with these pin names (`--pin 13=LED`): the page shows "LED (GPIO13)", the
    /// API and events carry `"name"`, and the line protocol and the API's paths take the
    /// name for the number.
    pub fn named(mut self, names: Vec<(u32, String)>) -> App {
        self.names = names;
        self.page_cache = None;
        self
    }

    /// The name of a pin, if it has one.
    fn name_of(&self, pin: u32) -> Option<&str> {
        self.names
            .iter()
            .find(|(p, _)| *p == pin)
            .map(|(_, n)| n.as_str())
    }

    /// A pin by its number or its name (in any case).
    fn pin_by_word(&self, word: &str) -> Option<u32> {
        let word = word.trim();
        parse_pin(word).or_else(|| {
            self.names
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(word))
                .map(|(p, _)| *p)
        })
    }

    /// The event log: where subscribers read from.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Where the event stream that the last response started follows the log from: what a
    /// reconnecting client missed, else everything from now on.
    pub fn stream_cursor(&mut self) -> u64 {
        self.stream_from
            .take()
            .unwrap_or_else(|| self.events.head())
    }

    /// The event log, to take its news.
    pub fn events_mut(&mut self) -> &mut Events {
        &mut self.events
    }

    /// When the app next has something to do on its own: the heartbeat of the event
    /// streams, or a timer.
    pub fn due(&self) -> Instant {
        let beat = self.events.heartbeat_due();
        let first = self.timers.next_due().map_or(beat, |at| at.min(beat));
        let save = self.store.as_ref().and_then(super::state::Store::due);
        save.map_or(first, |at| at.min(first))
    }

    /// Does what is due at `now`: the timers that ran out switch their pins back.
    pub fn on_due(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_due(now) {
            self.timer_ran_out(timer);
        }
        self.events.beat(now);
        if let Some(store) = &mut self.store {
            store.on_due(now);
        }
    }

    /// The descriptors to watch for input edges (see [`Gpio::edge_sources`]).
    pub fn edge_sources(&self) -> Vec<std::os::fd::RawFd> {
        self.gpio.edge_sources()
    }

    /// Edge source `index` is readable: each edge becomes an event.
    pub fn on_edges(&mut self, index: usize) {
        for (pin, on) in self.gpio.take_edges(index) {
            if let Ok(config) = self.served(pin) {
                self.publish(config, on, Cause::Edge, false);
            }
        }
    }

    /// Drives a pin: an output, or a simulated button on an input.
    fn drive(&mut self, config: PinConfig, on: bool) -> anyhow::Result<()> {
        match config.mode {
            PinMode::Output | PinMode::Pwm => self.gpio.write(config.pin, on),
            PinMode::Input => self.gpio.press(config.pin, on),
        }
    }

    fn timer_ran_out(&mut self, timer: Timer) {
        let Ok(config) = self.served(timer.pin) else {
            return;
        };
        let was = self.gpio.read(timer.pin).ok();
        match self.drive(config, timer.to) {
            Ok(()) if was != Some(timer.to) => self.publish(config, timer.to, Cause::Timer, false),
            Ok(()) => {}
            Err(err) => eprintln!(
                "nicksock: GPIO{}: switching back after {} s: {err:#}",
                timer.pin,
                timers::seconds(timer.hold)
            ),
        }
    }

    /// Answers one HTTP request. Every response carries `Cache-Control: no-store`. A `HEAD`
    /// gets the `GET`'s response, body included, and changes nothing: write it with
    /// `Response::encode(…, head_only)`, which leaves the body out but keeps its
    /// Content-Length.
    pub fn handle(&mut self, req: &Request) -> Response {
        self.requests += 1;
        let mut response = if self.authorized(req) {
            self.route(req)
        } else {
            auth::challenge()
        };
        response.headers.push(header(NO_STORE.0, NO_STORE.1));
        response
            .headers
            .push(header("X-Content-Type-Options", "nosniff"));
        response
            .headers
            .push(header("Content-Security-Policy", page::csp()));
        response
    }

    fn authorized(&self, req: &Request) -> bool {
        match &self.auth {
            None => true,
            Some(expected) => auth::check(req.header("authorization"), expected),
        }
    }

    fn route(&mut self, req: &Request) -> Response {
        let path = req.path();
        let method = req.method.as_str();
        let render = if path == "/api" || path.starts_with("/api/") {
            json_error
        } else {
            page::error
        };
        if !KNOWN_METHODS.contains(&method) {
            return render(&Refusal::new(
                status::NOT_IMPLEMENTED,
                format!("unknown method {method} (methods are case-sensitive: GET, HEAD, POST)"),
            ));
        }
        if path == "/" {
            return match method {
                "GET" | "HEAD" => self.page(req),
                "POST" => self.page_post(req),
                _ => method_not_allowed(ALLOW_READ_WRITE, page::error),
            };
        }
        if path == API_EVENTS {
            return match method {
                "GET" | "HEAD" => self.subscribe(req),
                _ => method_not_allowed(ALLOW_READ, json_error),
            };
        }
        if path == API_PINS || path == "/api/pins/" {
            return match method {
                "GET" | "HEAD" => self.api_list(),
                _ => method_not_allowed(ALLOW_READ, json_error),
            };
        }
        let pin = path
            .strip_prefix("/api/pins/")
            .and_then(|word| self.pin_by_word(word));
        if let Some(pin) = pin {
            return match method {
                "GET" | "HEAD" => self.api_pin(pin),
                "POST" => self.api_change(req, pin),
                _ => method_not_allowed(ALLOW_READ_WRITE, json_error),
            };
        }
        render(&Refusal::new(
            status::NOT_FOUND,
            format!("no page at {path}"),
        ))
    }

    /// `GET /`: the page; with `?pin=13&state=on` (the lab's GET exercise) the pin changes
    /// first and the answer is `303 See Other` to `/`, so reloading the page shows the
    /// state again instead of repeating the change (a repeated toggle would undo it).
    /// `HEAD` never changes anything.
    fn page(&mut self, req: &Request) -> Response {
        let pairs = req.query_params();
        let asks_change = pairs.iter().any(|(k, _)| k == "pin" || k == "state");
        if asks_change && req.method == "GET" {
            return match self.form_change(req, &pairs, Cause::Form) {
                Ok(()) => see_other("/"),
                Err(refusal) => page::error(&refusal),
            };
        }
        match self.states() {
            Ok(states) => {
                let html = self.render_page(states);
                respond(status::OK, page::HTML_TYPE, html.into_bytes())
            }
            Err(refusal) => page::error(&refusal),
        }
    }

    /// The page for these pin states. It is kept for the next request while no timer
    /// runs (a timer's count-down changes it every second).
    fn render_page(&mut self, states: Vec<(PinConfig, bool)>) -> String {
        let key: PageKey = states
            .iter()
            .map(|&(config, on)| (config, on, self.gpio.duty(config.pin)))
            .collect();
        let cached = match self.page_cache.take() {
            Some((shown, html)) if shown == key && self.timers.is_empty() => (shown, html),
            _ => {
                let now = Instant::now();
                let views: Vec<page::PinView> = states
                    .iter()
                    .map(|&(config, on)| page::PinView {
                        config,
                        on,
                        name: self.name_of(config.pin),
                        timer: self.timers.get(config.pin).map(|t| (t.to, t.left(now))),
                        duty: self.gpio.duty(config.pin),
                    })
                    .collect();
                let html = page::render_pins(&views, self.read_only, self.gpio.is_simulated());
                (key, html)
            }
        };
        let mut html = String::with_capacity(cached.1.len() + PAGE_TAIL_BYTES);
        html.push_str(&cached.1);
        page::finish(&mut html, self.requests);
        self.page_cache = Some(cached);
        html
    }

    /// `POST /` from the page's forms: `pin=13&state=on|off|toggle`, then `303` to `/`.
    fn page_post(&mut self, req: &Request) -> Response {
        if !has_media_type(req, FORM_TYPE) {
            let refusal = Refusal::new(
                status::UNSUPPORTED_MEDIA_TYPE,
                format!("send the form as {FORM_TYPE}"),
            );
            let mut response = page::error(&refusal);
            response.headers.push(header("Accept-Post", FORM_TYPE));
            return response;
        }
        let pairs = req.form();
        match self.form_change(req, &pairs, Cause::Form) {
            Ok(()) => see_other("/"),
            Err(refusal) => page::error(&refusal),
        }
    }

    fn form_change(
        &mut self,
        req: &Request,
        pairs: &[(String, String)],
        cause: Cause,
    ) -> Result<(), Refusal> {
        let pin = field(pairs, "pin")?;
        let pin = self.pin_by_word(pin).ok_or_else(|| bad_pin(pin))?;
        // The slider's form sends `duty`, the buttons `state`.
        let action = match optional_field(pairs, "duty")? {
            Some(_) if pairs.iter().any(|(k, _)| k == "state") => {
                return Err(Refusal::bad_request(
                    "give either 'state' or 'duty', not both",
                ));
            }
            Some(duty) => Action::Duty(parse_duty(duty)?),
            None => {
                let state = field(pairs, "state")?;
                Action::parse(state).ok_or_else(|| bad_state(state))?
            }
        };
        let hold = optional_field(pairs, "for")?
            .map(timers::parse_hold)
            .transpose()?;
        refuse_cross_site(req)?;
        self.change(pin, Change { action, hold }, cause).map(|_| ())
    }

    /// `GET /api/events`: the start of an event stream, the state of every pin first. The
    /// connection then follows [`App::events`] from its head on.
    /// A client that reconnects with `Last-Event-ID` (browsers' `EventSource` does) gets
    /// just the events it missed, when they are still in the log.
    fn subscribe(&mut self, req: &Request) -> Response {
        let last_seen = req
            .header("last-event-id")
            .and_then(|id| id.trim().parse::<u64>().ok())
            .filter(|&id| self.events.can_resume(id));
        if let Some(id) = last_seen {
            self.stream_from = Some(id);
            let mut response = respond(status::OK, EVENT_STREAM_TYPE, Vec::new());
            response.stream = true;
            return response;
        }
        self.stream_from = None;
        match self.states() {
            Ok(states) => {
                let mut body = String::new();
                let id = self.events.head();
                for (config, on) in states {
                    let doc = self.event_json(config, on, Cause::Initial, false);
                    body.push_str(&events::sse_event(&doc.to_string(), id));
                }
                let mut response = respond(status::OK, EVENT_STREAM_TYPE, body.into_bytes());
                response.stream = true;
                response
            }
            Err(refusal) => json_error(&refusal),
        }
    }

    /// A pin's state as the line protocol says it: `13 on`, or `13 duty 40` for PWM.
    fn line_state(&self, pin: u32, on: bool) -> String {
        match self.gpio.duty(pin) {
            Some(duty) => format!("{pin} duty {duty}"),
            None => format!("{pin} {}", on_off(on)),
        }
    }

    /// A pin's state as the API shows it: number, name, value, mode, and a running timer.
    fn pin_json(&self, config: PinConfig, on: bool) -> Value {
        let mut doc = json!({
            "pin": config.pin,
            "value": u8::from(on),
            "state": on_off(on),
            "active_low": config.active_low,
            "mode": config.mode.as_str(),
        });
        if let Some(name) = self.name_of(config.pin) {
            doc["name"] = json!(name);
        }
        if config.mode == PinMode::Input && self.gpio.is_simulated() {
            doc["simulated"] = json!(true);
        }
        if let Some(duty) = self.gpio.duty(config.pin) {
            doc["duty"] = json!(duty);
        }
        if let Some(timer) = self.timers.get(config.pin) {
            doc["timer"] = json!({
                "to": on_off(timer.to),
                "seconds_left": timer.left(Instant::now()),
            });
        }
        doc
    }

    /// A pin's state as an event says it: what the API says, why, whether it cancelled a
    /// timer, and the request counter.
    fn event_json(&self, config: PinConfig, on: bool, cause: Cause, cancelled: bool) -> Value {
        let mut doc = self.pin_json(config, on);
        doc["cause"] = json!(cause.as_str());
        if cancelled {
            doc["timer_cancelled"] = json!(true);
        }
        doc["requests"] = json!(self.requests);
        doc
    }

    /// Tells every subscriber a pin's new state.
    fn publish(&mut self, config: PinConfig, on: bool, cause: Cause, cancelled: bool) {
        if let Some(store) = &mut self.store {
            store.note(config, on, self.gpio.duty(config.pin));
        }
        let doc = self.event_json(config, on, cause, cancelled).to_string();
        let line = self.line_state(config.pin, on);
        self.events.publish(&doc, &line);
        if self.mqtt_changes.is_some() {
            let payload = self.mqtt_payload(config.pin, on);
            if let Some(changes) = &mut self.mqtt_changes {
                changes.push((config.pin, payload));
            }
        }
    }

    /// `GET /api/pins`: every pin.
    fn api_list(&mut self) -> Response {
        match self.states() {
            Ok(states) => {
                let pins: Vec<Value> = states.iter().map(|&(c, on)| self.pin_json(c, on)).collect();
                json_response(status::OK, &json!({ "pins": pins }))
            }
            Err(refusal) => json_error(&refusal),
        }
    }

    /// `GET /api/pins/N`: one pin.
    fn api_pin(&mut self, pin: u32) -> Response {
        let state = self
            .served(pin)
            .and_then(|config| Ok((config, self.read(pin)?)));
        match state {
            Ok((config, on)) => json_response(status::OK, &self.pin_json(config, on)),
            Err(refusal) => json_error(&refusal),
        }
    }

    /// `POST /api/pins/N` with `{"value":1}`, `{"state":"on"}` or `{"action":"toggle"}`:
    /// the pin afterwards.
    fn api_change(&mut self, req: &Request, pin: u32) -> Response {
        let changed = self.served(pin).and_then(|config| {
            if !has_media_type(req, JSON_TYPE) {
                return Err(Refusal::new(
                    status::UNSUPPORTED_MEDIA_TYPE,
                    format!("send the change as {JSON_TYPE}"),
                ));
            }
            let change = json_change(&req.body)?;
            refuse_cross_site(req)?;
            Ok((config, self.change(pin, change, Cause::Api)?))
        });
        match changed {
            Ok((config, on)) => json_response(status::OK, &self.pin_json(config, on)),
            Err(refusal) => json_error(&refusal),
        }
    }

    /// The pin's configuration, if it is served; nothing else is ever touched.
    fn served(&self, pin: u32) -> Result<PinConfig, Refusal> {
        self.pins
            .iter()
            .find(|p| p.pin == pin)
            .copied()
            .ok_or_else(|| {
                Refusal::new(
                    status::FORBIDDEN,
                    format!("pin {pin} is not served (serving {})", self.pin_list()),
                )
            })
    }

    fn pin_list(&self) -> String {
        let pins: Vec<String> = self.pins.iter().map(|p| p.pin.to_string()).collect();
        pins.join(", ")
    }

    fn read(&mut self, pin: u32) -> Result<bool, Refusal> {
        self.gpio.read(pin).map_err(gpio_failure)
    }

    fn states(&mut self) -> Result<Vec<(PinConfig, bool)>, Refusal> {
        let App { gpio, pins, .. } = self;
        pins.iter()
            .map(|&config| Ok((config, gpio.read(config.pin).map_err(gpio_failure)?)))
            .collect()
    }

    /// Carries out `change` on `pin` if the rules allow it; returns the pin's new value. A
    /// change of value, a timer set and a timer cancelled are published as an event with
    /// its `cause`.
    fn change(&mut self, pin: u32, change: Change, cause: Cause) -> Result<bool, Refusal> {
        let config = self.served(pin)?;
        if self.read_only {
            return Err(Refusal::new(
                status::FORBIDDEN,
                "read-only: changes are refused",
            ));
        }
        if config.mode == PinMode::Input && !self.gpio.is_simulated() {
            return Err(Refusal::new(
                status::FORBIDDEN,
                format!("GPIO{pin} is an input: it can be read, not driven"),
            ));
        }
        let before = (self.gpio.read(pin).ok(), self.gpio.duty(pin));
        let on = match change.action {
            Action::On => true,
            Action::Off => false,
            Action::Toggle => !self.read(pin)?,
            Action::Duty(duty) if config.mode == PinMode::Pwm => {
                self.gpio.set_duty(pin, duty).map_err(gpio_failure)?;
                duty > 0
            }
            Action::Duty(_) => {
                return Err(Refusal::bad_request(format!(
                    "GPIO{pin} is not a PWM pin (serve it with --pwm {pin})"
                )));
            }
        };
        if !matches!(change.action, Action::Duty(_)) {
            // An output, or (simulated pins only) an input pressed like a button.
            self.drive(config, on).map_err(gpio_failure)?;
        }
        let changed = before != (Some(on), self.gpio.duty(pin));
        // A later change replaces the timer of an earlier one.
        let cancelled = self.timers.cancel(pin).is_some();
        if let Some(hold) = change.hold {
            self.timers.set(Timer {
                pin,
                at: Instant::now() + hold,
                to: !on,
                hold,
            });
        }
        if changed || cancelled || change.hold.is_some() {
            self.publish(config, on, cause, cancelled);
        }
        Ok(on)
    }
}
