//! The app's behaviour seen from a client: requests built by hand, responses checked by
//! status, headers and body, with simulated pins behind.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use super::App;
use crate::error::{Kind, fail};
use crate::gpio::sim::Sim;
use crate::gpio::{Gpio, PinConfig, PinMode};
use crate::http::server::{Request, Response};

const USER: &str = "pi";
const PASS: &str = "s3cret:pw";
/// `pi:s3cret:pw` in base64.
const GOOD_BASIC: &str = "Basic cGk6czNjcmV0OnB3";

fn app_with(pins: &[PinConfig], read_only: bool, auth: bool) -> App {
    let auth = auth.then(|| (USER.to_string(), PASS.to_string()));
    App::new(Box::new(Sim::new(pins)), read_only, auth)
}

fn app(pins: &[u32]) -> App {
    let pins: Vec<PinConfig> = pins.iter().map(|&p| PinConfig::output(p)).collect();
    app_with(&pins, false, false)
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
    Request {
        method: method.to_string(),
        target: target.to_string(),
        version: 1,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn get(target: &str) -> Request {
    request("GET", target, &[], "")
}

fn post_form(body: &str) -> Request {
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    request("POST", "/", &form, body)
}

fn post_json(target: &str, body: &str) -> Request {
    request(
        "POST",
        target,
        &[("Content-Type", "application/json")],
        body,
    )
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

fn text(response: &Response) -> String {
    String::from_utf8(response.body.clone()).expect("the app writes UTF-8")
}

fn json_of(response: &Response) -> Value {
    assert_eq!(header(response, "Content-Type"), Some("application/json"));
    serde_json::from_slice(&response.body).expect("the API answers JSON")
}

/// The pin's value as the JSON API reports it.
fn value(app: &mut App, pin: u32) -> u64 {
    let response = app.handle(&get(&format!("/api/pins/{pin}")));
    assert_eq!(response.status, 200);
    json_of(&response)["value"]
        .as_u64()
        .expect("value is 0 or 1")
}

/// The values of every pin, to show that a refused request changed nothing.
fn values(app: &mut App) -> Value {
    json_of(&app.handle(&get("/api/pins")))
}

// ---- the page -------------------------------------------------------------------------

#[test]
fn page_lists_every_pin_with_its_state_and_plain_form_controls() {
    let mut app = app(&[13, 19]);
    let response = app.handle(&get("/"));
    assert_eq!(response.status, 200);
    assert_eq!(
        header(&response, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&response, "Cache-Control"), Some("no-store"));
    let html = text(&response);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"viewport\""));
    for pin in [13, 19] {
        assert!(
            html.contains(&format!("id=\"pin{pin}-state\">off<")),
            "{html}"
        );
        for state in ["on", "off", "toggle"] {
            assert!(
                html.contains(&format!(
                    "id=\"pin{pin}-{state}\" name=\"state\" value=\"{state}\""
                )),
                "{html}"
            );
        }
        assert!(html.contains(&format!(
            "<input type=\"hidden\" name=\"pin\" value=\"{pin}\">"
        )));
        assert!(html.contains(&format!("<option value=\"{pin}\">GPIO{pin}</option>")));
    }
    assert!(html.contains("<form method=\"post\" action=\"/\">"));
    assert!(html.contains("type=\"radio\" id=\"set-on\" name=\"state\" value=\"on\" checked"));
    // The forms need no script: the page's one script only makes it live.
    assert!(
        !html.contains("onclick") && !html.contains("onsubmit"),
        "{html}"
    );
    assert_eq!(html.matches("<script").count(), 1, "{html}");
}

#[test]
fn the_pages_one_script_is_the_one_its_policy_allows() {
    let response = app(&[13]).handle(&get("/"));
    let html = text(&response);
    let script = html
        .split("<script>")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("a script");
    let hash = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, hash.as_ref());
    let csp = header(&response, "Content-Security-Policy").unwrap();
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(script.contains("/api/events"), "{script}");
}

#[test]
fn page_shows_a_pin_that_was_switched_on() {
    let mut app = app(&[13, 19]);
    app.handle(&post_form("pin=13&state=on"));
    let html = text(&app.handle(&get("/")));
    assert!(html.contains("id=\"pin13-state\">on<"), "{html}");
    assert!(
        html.contains("<li class=\"pin on\" id=\"pin13\">"),
        "{html}"
    );
    assert!(html.contains("id=\"pin19-state\">off<"), "{html}");
}

#[test]
fn page_counts_requests() {
    let mut app = app(&[13]);
    app.handle(&get("/api/pins"));
    let html = text(&app.handle(&get("/")));
    assert!(html.contains("Hello #2"), "{html}");
}

#[test]
fn head_answers_the_get_response_for_the_encoder_to_strip() {
    let mut app = app(&[13]);
    let response = app.handle(&request("HEAD", "/", &[], ""));
    assert_eq!(response.status, 200);
    assert_eq!(
        header(&response, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(text(&response).contains("GPIO13"));
    let wire = String::from_utf8(response.encode(1, true, true)).expect("UTF-8");
    let length = format!("Content-Length: {}\r\n", response.body.len());
    assert!(wire.contains(&length), "{wire}");
    assert!(wire.ends_with("\r\n\r\n"), "{wire}");
    let api = app.handle(&request("HEAD", "/api/pins", &[], ""));
    assert_eq!(api.body, app.handle(&get("/api/pins")).body);
}

#[test]
fn head_with_a_change_query_changes_nothing() {
    let mut app = app(&[13]);
    let response = app.handle(&request("HEAD", "/?pin=13&state=on", &[], ""));
    assert_eq!(response.status, 200);
    assert_eq!(value(&mut app, 13), 0);
}

// ---- POST / (forms) -------------------------------------------------------------------

#[test]
fn form_post_switches_the_pin_and_redirects_to_the_page() {
    let mut app = app(&[13]);
    let response = app.handle(&post_form("pin=13&state=on"));
    assert_eq!(response.status, 303);
    assert_eq!(header(&response, "Location"), Some("/"));
    assert_eq!(header(&response, "Cache-Control"), Some("no-store"));
    assert_eq!(value(&mut app, 13), 1);

    app.handle(&post_form("pin=13&state=off"));
    assert_eq!(value(&mut app, 13), 0);
    app.handle(&post_form("pin=13&state=toggle"));
    assert_eq!(value(&mut app, 13), 1);
    app.handle(&post_form("state=TOGGLE&pin=13"));
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn form_values_are_decoded_plus_and_percent() {
    let mut app = app(&[13]);
    let response = app.handle(&post_form("pin=%31%33&state=t%6Fggle"));
    assert_eq!(response.status, 303);
    assert_eq!(value(&mut app, 13), 1);
    // `+` is a space: trimmed around the value, and other fields are ignored.
    let response = app.handle(&post_form("note=hello+world%21&pin=+13+&state=off"));
    assert_eq!(response.status, 303);
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn form_content_type_may_carry_parameters_and_any_case() {
    let mut app = app(&[13]);
    let ct = [(
        "content-type",
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
    )];
    let response = app.handle(&request("POST", "/", &ct, "pin=13&state=on"));
    assert_eq!(response.status, 303);
    assert_eq!(value(&mut app, 13), 1);
}

#[test]
fn form_for_a_pin_not_served_is_forbidden_and_touches_nothing() {
    let mut app = app(&[13]);
    let before = values(&mut app);
    let response = app.handle(&post_form("pin=14&state=on"));
    assert_eq!(response.status, 403);
    assert!(text(&response).contains("pin 14 is not served"));
    assert_eq!(values(&mut app), before);
}

#[test]
fn invalid_form_values_are_bad_requests_and_change_nothing() {
    let mut app = app(&[13]);
    let before = values(&mut app);
    for body in [
        "pin=13&state=blink",
        "pin=13&state=",
        "pin=13",
        "state=on",
        "pin=abc&state=on",
        "pin=-13&state=on",
        "pin=%2B13&state=on",
        "pin=13.0&state=on",
        "pin=99999999999&state=on",
        "pin=13&pin=13&state=on",
        "pin=13&state=on&state=off",
        "",
    ] {
        let response = app.handle(&post_form(body));
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(
            header(&response, "Content-Type"),
            Some("text/html; charset=utf-8")
        );
    }
    assert_eq!(values(&mut app), before);
}

#[test]
fn form_post_without_the_form_content_type_is_unsupported() {
    let mut app = app(&[13]);
    for headers in [
        &[("Content-Type", "text/plain")][..],
        &[("Content-Type", "application/json")][..],
        &[][..],
    ] {
        let response = app.handle(&request("POST", "/", headers, "pin=13&state=on"));
        assert_eq!(response.status, 415, "{headers:?}");
    }
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn changes_from_another_sites_page_are_refused() {
    let mut app = app(&[13]);
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Sec-Fetch-Site", "cross-site"),
    ];
    let response = app.handle(&request("POST", "/", &headers, "pin=13&state=on"));
    assert_eq!(response.status, 403);
    assert_eq!(value(&mut app, 13), 0);

    let same_origin = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let response = app.handle(&request("POST", "/", &same_origin, "pin=13&state=on"));
    assert_eq!(response.status, 303);
    assert_eq!(value(&mut app, 13), 1);
}

// ---- GET /?pin=…&state=… (the lab's GET exercise) ---------------------------------------

#[test]
fn get_with_a_query_switches_the_pin_and_redirects() {
    let mut app = app(&[13]);
    let response = app.handle(&get("/?pin=13&state=on"));
    assert_eq!(response.status, 303);
    assert_eq!(header(&response, "Location"), Some("/"));
    assert_eq!(value(&mut app, 13), 1);
    assert!(text(&app.handle(&get("/"))).contains("id=\"pin13-state\">on<"));
}

#[test]
fn get_query_errors_change_nothing() {
    let mut app = app(&[13]);
    assert_eq!(app.handle(&get("/?pin=14&state=on")).status, 403);
    assert_eq!(app.handle(&get("/?pin=13&state=dim")).status, 400);
    assert_eq!(app.handle(&get("/?pin=13")).status, 400);
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn get_with_an_unrelated_query_is_just_the_page() {
    let mut app = app(&[13]);
    assert_eq!(app.handle(&get("/?refresh=1")).status, 200);
}

// ---- the JSON API ---------------------------------------------------------------------

#[test]
fn api_lists_every_pin() {
    let pins = [
        PinConfig::output(13),
        PinConfig {
            active_low: true,
            ..PinConfig::output(19)
        },
    ];
    let mut app = app_with(&pins, false, false);
    app.handle(&post_json("/api/pins/19", r#"{"value":1}"#));
    let response = app.handle(&get("/api/pins"));
    assert_eq!(response.status, 200);
    assert_eq!(header(&response, "Cache-Control"), Some("no-store"));
    assert_eq!(
        json_of(&response),
        json!({"pins": [
            {"pin": 13, "value": 0, "state": "off", "active_low": false, "mode": "output"},
            {"pin": 19, "value": 1, "state": "on", "active_low": true, "mode": "output"},
        ]})
    );
}

#[test]
fn api_shows_one_pin() {
    let mut app = app(&[13, 19]);
    let response = app.handle(&get("/api/pins/13"));
    assert_eq!(response.status, 200);
    assert_eq!(
        json_of(&response),
        json!({"pin": 13, "value": 0, "state": "off", "active_low": false, "mode": "output"})
    );
}

#[test]
fn api_changes_a_pin_and_answers_its_new_state() {
    let mut app = app(&[13]);
    let cases = [
        (r#"{"value":1}"#, 1),
        (r#"{"value":0}"#, 0),
        (r#"{"state":"on"}"#, 1),
        (r#"{"state":"off"}"#, 0),
        (r#"{"action":"toggle"}"#, 1),
        (r#"{"action":"toggle"}"#, 0),
        (r#"{"value":true}"#, 1),
        (r#"{"value":false, "comment":"ignored"}"#, 0),
    ];
    for (body, expected) in cases {
        let response = app.handle(&post_json("/api/pins/13", body));
        assert_eq!(response.status, 200, "{body}");
        let doc = json_of(&response);
        assert_eq!(doc["pin"], 13, "{body}");
        assert_eq!(doc["value"], expected, "{body}");
        assert_eq!(doc["state"], if expected == 1 { "on" } else { "off" });
        assert_eq!(value(&mut app, 13), expected, "{body}");
    }
}

#[test]
fn api_refuses_bad_changes_with_a_json_error_and_changes_nothing() {
    let mut app = app(&[13]);
    for body in [
        "",
        "not json",
        "[1]",
        "{}",
        r#"{"value":2}"#,
        r#"{"value":-1}"#,
        r#"{"value":"1"}"#,
        r#"{"value":0.5}"#,
        r#"{"state":"blink"}"#,
        r#"{"action":1}"#,
        r#"{"value":1,"state":"on"}"#,
    ] {
        let response = app.handle(&post_json("/api/pins/13", body));
        assert_eq!(response.status, 400, "{body}");
        assert!(json_of(&response)["error"].is_string(), "{body}");
    }
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn api_needs_the_json_content_type() {
    let mut app = app(&[13]);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let response = app.handle(&request("POST", "/api/pins/13", &form, r#"{"value":1}"#));
    assert_eq!(response.status, 415);
    assert!(json_of(&response)["error"].is_string());
    let charset = [("Content-Type", "application/json; charset=utf-8")];
    let response = app.handle(&request("POST", "/api/pins/13", &charset, r#"{"value":1}"#));
    assert_eq!(response.status, 200);
}

#[test]
fn api_refuses_pins_not_served() {
    let mut app = app(&[13]);
    let response = app.handle(&get("/api/pins/14"));
    assert_eq!(response.status, 403);
    assert_eq!(
        json_of(&response),
        json!({"error": "pin 14 is not served (serving 13)"})
    );
    let response = app.handle(&post_json("/api/pins/14", r#"{"value":1}"#));
    assert_eq!(response.status, 403);
    assert_eq!(value(&mut app, 13), 0);
}

// ---- routing errors -------------------------------------------------------------------

#[test]
fn unknown_paths_are_not_found() {
    let mut app = app(&[13]);
    for target in [
        "/index.html",
        "/api",
        "/api/pins/abc",
        "/api/pins/13/x",
        "/api/leds",
    ] {
        let response = app.handle(&get(target));
        assert_eq!(response.status, 404, "{target}");
        assert_eq!(header(&response, "Cache-Control"), Some("no-store"));
    }
    assert!(json_of(&app.handle(&get("/api/leds")))["error"].is_string());
    let html = text(&app.handle(&get("/%3Cscript%3E")));
    assert!(html.contains("no page at /%3Cscript%3E"));
    let html = text(&app.handle(&get("/<script>")));
    assert!(html.contains("/&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
}

#[test]
fn wrong_methods_are_not_allowed_and_say_what_is() {
    let mut app = app(&[13]);
    let cases = [
        ("PUT", "/", "GET, HEAD, POST"),
        ("DELETE", "/", "GET, HEAD, POST"),
        ("POST", "/api/pins", "GET, HEAD"),
        ("PATCH", "/api/pins/13", "GET, HEAD, POST"),
    ];
    for (method, target, allow) in cases {
        let response = app.handle(&request(method, target, &[], ""));
        assert_eq!(response.status, 405, "{method} {target}");
        assert_eq!(header(&response, "Allow"), Some(allow), "{method} {target}");
    }
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn unknown_methods_are_not_implemented() {
    let mut app = app(&[13]);
    for (method, target) in [("get", "/"), ("head", "/"), ("BREW", "/api/pins/13")] {
        let response = app.handle(&request(method, target, &[], ""));
        assert_eq!(response.status, 501, "{method} {target}");
        let body = String::from_utf8_lossy(&response.body);
        assert!(body.contains("case-sensitive"), "{method} {target}: {body}");
    }
    assert_eq!(value(&mut app, 13), 0);
}

// ---- --read-only ----------------------------------------------------------------------

#[test]
fn read_only_shows_the_pins_without_controls_and_refuses_every_change() {
    let mut app = app_with(&[PinConfig::output(13)], true, false);
    let response = app.handle(&get("/"));
    assert_eq!(response.status, 200);
    let html = text(&response);
    assert!(html.contains("id=\"pin13-state\">off<"));
    assert!(html.contains("Read-only"));
    assert!(!html.contains("<form"), "{html}");
    assert!(!html.contains("<button"), "{html}");

    assert_eq!(app.handle(&post_form("pin=13&state=on")).status, 403);
    assert_eq!(app.handle(&get("/?pin=13&state=on")).status, 403);
    let response = app.handle(&post_json("/api/pins/13", r#"{"value":1}"#));
    assert_eq!(response.status, 403);
    assert!(json_of(&response)["error"].is_string());
    assert_eq!(
        app.handle_line("on"),
        "error: read-only: changes are refused\n"
    );
    assert_eq!(app.handle_line("status"), "13 off\n");
    assert_eq!(value(&mut app, 13), 0);
}

// ---- --auth ---------------------------------------------------------------------------

#[test]
fn auth_guards_every_route() {
    let mut app = app_with(&[PinConfig::output(13)], false, true);
    for req in [
        get("/"),
        get("/api/pins"),
        get("/nowhere"),
        post_form("pin=13&state=on"),
        request("PUT", "/", &[], ""),
    ] {
        let response = app.handle(&req);
        assert_eq!(response.status, 401, "{} {}", req.method, req.target);
        assert_eq!(
            header(&response, "WWW-Authenticate"),
            Some("Basic realm=\"nicksock\"")
        );
        assert_eq!(header(&response, "Cache-Control"), Some("no-store"));
    }
    let wrong = [("Authorization", "Basic cGk6d3Jvbmc=")];
    assert_eq!(app.handle(&request("GET", "/", &wrong, "")).status, 401);

    let good = [("Authorization", GOOD_BASIC)];
    assert_eq!(app.handle(&request("GET", "/", &good, "")).status, 200);
    let form = [
        ("authorization", GOOD_BASIC),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let response = app.handle(&request("POST", "/", &form, "pin=13&state=on"));
    assert_eq!(response.status, 303);
    let response = app.handle(&request("GET", "/api/pins/13", &good, ""));
    assert_eq!(json_of(&response)["value"], 1);
}

// ---- inputs and GPIO failures -------------------------------------------------------------

/// Pins as a real chip has them: inputs are never driven, and their edges come from the
/// "kernel" (queued by the test).
struct Wired {
    sim: Sim,
    edges: Vec<(u32, bool)>,
}

impl Gpio for Wired {
    fn read(&mut self, pin: u32) -> Result<bool> {
        self.sim.read(pin)
    }
    fn write(&mut self, pin: u32, on: bool) -> Result<()> {
        self.sim.write(pin, on)
    }
    fn describe(&self) -> String {
        "wired".to_string()
    }
    fn pins(&self) -> &[PinConfig] {
        self.sim.pins()
    }
    fn edge_sources(&self) -> Vec<std::os::fd::RawFd> {
        vec![-1]
    }
    fn take_edges(&mut self, index: usize) -> Vec<(u32, bool)> {
        assert_eq!(index, 0);
        for &(pin, on) in &self.edges {
            self.sim.press(pin, on).unwrap();
        }
        std::mem::take(&mut self.edges)
    }
}

fn input(pin: u32) -> PinConfig {
    PinConfig {
        mode: PinMode::Input,
        ..PinConfig::output(pin)
    }
}

#[test]
fn real_inputs_are_shown_and_never_driven() {
    let pins = [PinConfig::output(13), input(5)];
    let wired = Wired {
        sim: Sim::new(&pins),
        edges: Vec::new(),
    };
    let mut app = App::new(Box::new(wired), false, None);
    let doc = json_of(&app.handle(&get("/api/pins/5")));
    assert_eq!(doc["mode"], "input");
    assert_eq!(doc.get("simulated"), None);
    let html = text(&app.handle(&get("/")));
    assert!(html.contains("id=\"pin5-state\">off<"));
    assert!(!html.contains("id=\"pin5-on\""), "{html}");
    assert!(!html.contains("<option value=\"5\">"), "{html}");
    let response = app.handle(&post_json("/api/pins/5", r#"{"value":1}"#));
    assert_eq!(response.status, 403);
    assert_eq!(app.handle(&post_form("pin=5&state=on")).status, 403);
    assert!(
        app.handle_line("on 5")
            .starts_with("error: GPIO5 is an input")
    );
}

#[test]
fn each_edge_from_the_kernel_is_an_event() {
    let pins = [PinConfig::output(13), input(5)];
    let wired = Wired {
        sim: Sim::new(&pins),
        edges: vec![(5, true), (5, false), (5, true)],
    };
    let mut app = App::new(Box::new(wired), false, None);
    assert_eq!(app.edge_sources().len(), 1);
    let mut cursor = app.events().head();
    app.on_edges(0);
    let seen: Vec<(String, String)> = events_since(&app, &mut cursor)
        .iter()
        .map(|e| (e["state"].to_string(), e["cause"].to_string()))
        .collect();
    let edge = |state: &str| (format!("\"{state}\""), "\"edge\"".to_string());
    assert_eq!(seen, vec![edge("on"), edge("off"), edge("on")]);
    assert_eq!(value(&mut app, 5), 1);
}

#[test]
fn a_simulated_input_is_a_button_the_page_the_api_and_the_line_can_press() {
    let mut app = app_with(&[PinConfig::output(13), input(5)], false, false);
    let doc = json_of(&app.handle(&get("/api/pins/5")));
    assert_eq!(
        (&doc["mode"], &doc["simulated"]),
        (&json!("input"), &json!(true))
    );
    let html = text(&app.handle(&get("/")));
    assert!(html.contains("simulated button"), "{html}");
    assert!(
        html.contains("id=\"pin5-on\" name=\"state\" value=\"on\">Press<"),
        "{html}"
    );
    let mut cursor = app.events().head();
    assert_eq!(app.handle(&post_form("pin=5&state=on")).status, 303);
    assert_eq!(value(&mut app, 5), 1);
    assert_eq!(app.handle_line("off 5"), "5 off\n");
    let pressed = app.handle(&post_json("/api/pins/5", r#"{"state":"on","for":0.1}"#));
    assert_eq!(json_of(&pressed)["timer"]["to"], "off");
    app.on_due(Instant::now() + Duration::from_secs(1));
    assert_eq!(value(&mut app, 5), 0, "released when its time was up");
    let seen = events_since(&app, &mut cursor);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|e| e["simulated"] == true), "{seen:?}");
    // Read-only refuses a press like any change.
    let mut read_only = app_with(&[input(5)], true, false);
    assert_eq!(
        read_only.handle_line("on 5"),
        "error: read-only: changes are refused\n"
    );
}

/// Pins whose every access fails, as a line does when its chip goes away.
struct Broken(Vec<PinConfig>);

impl Gpio for Broken {
    fn read(&mut self, pin: u32) -> Result<bool> {
        Err(fail(
            Kind::Gpio,
            format!("reading GPIO{pin}: No such device"),
        ))
    }
    fn write(&mut self, pin: u32, _on: bool) -> Result<()> {
        Err(fail(
            Kind::Gpio,
            format!("setting GPIO{pin}: No such device"),
        ))
    }
    fn describe(&self) -> String {
        "broken".to_string()
    }
    fn pins(&self) -> &[PinConfig] {
        &self.0
    }
}

#[test]
fn gpio_failures_are_server_errors_with_the_message() {
    let mut app = App::new(Box::new(Broken(vec![PinConfig::output(13)])), false, None);
    let response = app.handle(&get("/"));
    assert_eq!(response.status, 500);
    assert!(text(&response).contains("reading GPIO13: No such device"));
    let response = app.handle(&get("/api/pins"));
    assert_eq!(response.status, 500);
    assert_eq!(
        json_of(&response),
        json!({"error": "reading GPIO13: No such device"})
    );
    let response = app.handle(&post_json("/api/pins/13", r#"{"value":1}"#));
    assert_eq!(response.status, 500);
    assert_eq!(app.handle(&post_form("pin=13&state=on")).status, 500);
    assert_eq!(
        app.handle_line("on"),
        "error: setting GPIO13: No such device\n"
    );
}

// ---- the line protocol ----------------------------------------------------------------

#[test]
fn line_protocol_drives_the_only_pin_by_default() {
    let mut app = app(&[13]);
    assert_eq!(app.handle_line("on"), "13 on\n");
    assert_eq!(value(&mut app, 13), 1);
    assert_eq!(app.handle_line("status"), "13 on\n");
    assert_eq!(app.handle_line("OFF\r\n"), "13 off\n");
    assert_eq!(app.handle_line("  Toggle  "), "13 on\n");
    assert_eq!(app.handle_line("toggle 13"), "13 off\n");
    assert_eq!(app.handle_line("status 13"), "13 off\n");
    assert_eq!(value(&mut app, 13), 0);
}

#[test]
fn line_protocol_with_several_pins_needs_the_pin_for_changes() {
    let mut app = app(&[13, 19]);
    let reply = app.handle_line("on");
    assert!(
        reply.starts_with("error: several pins are served (13, 19)"),
        "{reply}"
    );
    assert_eq!(app.handle_line("on 19"), "19 on\n");
    assert_eq!(app.handle_line("status"), "13 off, 19 on\n");
    assert_eq!(app.handle_line("status 19"), "19 on\n");
}

#[test]
fn line_protocol_errors_keep_the_connection_usable() {
    let mut app = app(&[13]);
    for line in ["blink", "on 14", "status 14", "on x", "on 13 19", "on -1"] {
        let reply = app.handle_line(line);
        assert!(reply.starts_with("error: "), "{line}: {reply}");
        assert!(
            reply.ends_with('\n') && reply.lines().count() == 1,
            "{reply}"
        );
    }
    assert_eq!(
        app.handle_line("on 14"),
        "error: pin 14 is not served (serving 13)\n"
    );
    assert_eq!(value(&mut app, 13), 0);
    assert_eq!(app.handle_line("on"), "13 on\n");
}

#[test]
fn line_protocol_help_and_blank_lines() {
    let mut app = app(&[13]);
    let help = app.handle_line("HELP");
    assert!(
        help.starts_with("commands: on [PIN] [for SECS], "),
        "{help}"
    );
    for command in [
        "off",
        "toggle",
        "duty [PIN] 0-100",
        "status [PIN]",
        "watch",
        "unwatch",
    ] {
        assert!(help.contains(command), "{help}");
    }
    assert!(
        help.ends_with(")\n") && help.matches('\n').count() == 1,
        "{help}"
    );
    assert_eq!(app.handle_line(""), "");
    assert_eq!(app.handle_line(" \r\n"), "");
}

#[test]
fn line_protocol_only_reads_when_http_needs_a_password() {
    let mut app = app_with(&[PinConfig::output(13)], false, true);
    let reply = app.handle_line("on");
    assert!(
        reply.starts_with("error: the line protocol is read-only"),
        "{reply}"
    );
    assert_eq!(app.handle_line("status"), "13 off\n");
    let authorized = request("GET", "/api/pins/13", &[("Authorization", GOOD_BASIC)], "");
    assert_eq!(json_of(&app.handle(&authorized))["value"], 0);
}

#[test]
fn the_page_shows_every_change_and_counts_every_request() {
    let mut app = app(&[13]);
    let first = text(&app.handle(&get("/")));
    assert!(first.contains("id=\"pin13-state\">off<") && first.contains("Hello #1"));
    app.handle(&post_form("pin=13&state=on"));
    let second = text(&app.handle(&get("/")));
    assert!(second.contains("id=\"pin13-state\">on<"), "{second}");
    assert!(
        second.contains("Hello #3") && second.ends_with("</html>\n"),
        "{second}"
    );
}

// ---- events ---------------------------------------------------------------------------

/// The events published from `cursor` on, as the stream's JSON documents.
fn events_since(app: &App, cursor: &mut u64) -> Vec<Value> {
    let mut out = crate::net::server::Outbox::default();
    app.events()
        .deliver(cursor, &mut out, super::events::Form::Sse)
        .unwrap();
    sse_documents(&String::from_utf8(out.buffer().clone()).unwrap())
}

fn sse_documents(stream: &str) -> Vec<Value> {
    stream
        .split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).expect("each event is JSON"))
        .collect()
}

#[test]
fn the_event_stream_starts_with_every_pin_and_stays_open() {
    let mut app = app(&[13, 19]);
    app.handle(&post_form("pin=19&state=on"));
    let response = app.handle(&get("/api/events"));
    assert_eq!(response.status, 200);
    assert!(response.stream, "the stream stays open");
    assert_eq!(header(&response, "Content-Type"), Some("text/event-stream"));
    let first = sse_documents(&text(&response));
    let states: Vec<(u64, &str, &str)> = first
        .iter()
        .map(|d| {
            let pin = d["pin"].as_u64().unwrap();
            (
                pin,
                d["state"].as_str().unwrap(),
                d["cause"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, vec![(13, "off", "initial"), (19, "on", "initial")]);
    let wire = String::from_utf8(response.encode(1, true, false)).unwrap();
    assert!(!wire.contains("Content-Length"), "{wire}");
    assert!(wire.contains("Connection: close"), "{wire}");
}

#[test]
fn every_change_is_one_event_naming_its_cause() {
    let mut app = app(&[13, 19]);
    let mut cursor = app.events().head();
    app.handle(&post_form("pin=13&state=on"));
    app.handle(&post_json("/api/pins/19", r#"{"state":"on"}"#));
    app.handle_line("toggle 13");
    app.handle(&get("/?pin=19&state=off"));
    let seen: Vec<(u64, String, String)> = events_since(&app, &mut cursor)
        .iter()
        .map(|d| {
            (
                d["pin"].as_u64().unwrap(),
                d["state"].as_str().unwrap().to_string(),
                d["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        (13, "on", "form"),
        (19, "on", "api"),
        (13, "off", "line"),
        (19, "off", "form"),
    ];
    let expected: Vec<(u64, String, String)> = expected
        .iter()
        .map(|(p, s, c)| (*p, s.to_string(), c.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn setting_a_pin_to_its_state_again_is_no_event_and_a_refusal_none_either() {
    let mut app = app(&[13]);
    app.handle(&post_form("pin=13&state=on"));
    let mut cursor = app.events().head();
    app.handle(&post_form("pin=13&state=on"));
    app.handle(&post_form("pin=14&state=on"));
    app.handle_line("off 99");
    assert_eq!(events_since(&app, &mut cursor), Vec::<Value>::new());
}

#[test]
fn read_only_refuses_changes_but_still_streams() {
    let pins = [PinConfig::output(13)];
    let mut app = app_with(&pins, true, false);
    let response = app.handle(&get("/api/events"));
    assert_eq!(response.status, 200);
    assert!(response.stream);
    assert_eq!(sse_documents(&text(&response)).len(), 1);
}

#[test]
fn the_event_stream_needs_the_password_like_every_route() {
    let pins = [PinConfig::output(13)];
    let mut app = app_with(&pins, false, true);
    let refused = app.handle(&get("/api/events"));
    assert_eq!(refused.status, 401);
    assert!(!refused.stream);
    let allowed = app.handle(&request(
        "GET",
        "/api/events",
        &[("Authorization", GOOD_BASIC)],
        "",
    ));
    assert!(allowed.stream);
}

#[test]
fn events_take_only_get_and_head() {
    let mut app = app(&[13]);
    let response = app.handle(&post_json("/api/events", "{}"));
    assert_eq!(response.status, 405);
    assert_eq!(header(&response, "Allow"), Some("GET, HEAD"));
}

#[test]
fn watch_answers_with_the_state_and_follows_from_there() {
    let mut app = app(&[13, 19]);
    let (reply, watch) = app.line_reply("watch");
    assert_eq!(reply, "watching: 13 off, 19 off\n");
    assert_eq!(watch, super::Watch::From(app.events().head()));
    assert_eq!(
        app.line_reply("unwatch"),
        ("not watching\n".to_string(), super::Watch::Stop)
    );
    let (reply, watch) = app.line_reply("watch 13");
    assert!(reply.starts_with("error: "), "{reply}");
    assert_eq!(watch, super::Watch::Same);
}

// ---- names and timers -------------------------------------------------------------------

#[test]
fn a_named_pin_is_shown_and_found_by_its_name() {
    let mut app = app(&[13, 19]).named(vec![(13, "LED".into())]);
    let html = text(&app.handle(&get("/")));
    assert!(
        html.contains("<span class=\"name\">LED (GPIO13)</span>"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"13\">LED (GPIO13)</option>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"name\">GPIO19</span>"),
        "{html}"
    );
    let led = json_of(&app.handle(&get("/api/pins/led")));
    assert_eq!((&led["pin"], &led["name"]), (&json!(13), &json!("LED")));
    assert_eq!(json_of(&app.handle(&get("/api/pins/19"))).get("name"), None);
    assert_eq!(app.handle_line("on Led"), "13 on\n");
    assert_eq!(app.handle(&post_form("pin=LED&state=off")).status, 303);
    assert_eq!(value(&mut app, 13), 0);
    let err = app.handle_line("on lamp");
    assert!(
        err.starts_with("error: 'lamp' is not a GPIO number or a pin's name"),
        "{err}"
    );
}

#[test]
fn for_switches_back_when_its_time_is_up() {
    let mut app = app(&[13]);
    let mut cursor = app.events().head();
    let start = Instant::now();
    assert_eq!(app.handle(&post_form("pin=13&state=on&for=5")).status, 303);
    assert_eq!(value(&mut app, 13), 1);
    let due = app.due();
    assert!(
        due >= start + Duration::from_secs(5) && due <= Instant::now() + Duration::from_secs(5)
    );
    let pin = json_of(&app.handle(&get("/api/pins/13")));
    assert_eq!(pin["timer"]["to"], "off");
    assert!(pin["timer"]["seconds_left"].as_f64().unwrap() <= 5.0);
    let html = text(&app.handle(&get("/")));
    assert!(html.contains("\u{2192} off in "), "{html}");
    app.on_due(due - Duration::from_millis(1));
    assert_eq!(value(&mut app, 13), 1, "not yet");
    app.on_due(due);
    assert_eq!(value(&mut app, 13), 0);
    let seen = events_since(&app, &mut cursor);
    let causes: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| (e["state"].as_str().unwrap(), e["cause"].as_str().unwrap()))
        .collect();
    assert_eq!(causes, vec![("on", "form"), ("off", "timer")]);
    assert_eq!(seen[0]["timer"]["to"], "off");
    assert_eq!(seen[1].get("timer"), None);
    assert!(app.due() > due, "no timer left, only the heartbeat");
}

#[test]
fn a_later_change_cancels_the_timer_and_says_so() {
    let mut app = app(&[13]);
    let mut cursor = app.events().head();
    let reply = app.handle_line("on 13 for 2.5");
    assert_eq!(reply, "13 on, off in 2.5 s\n");
    let changed = app.handle(&post_json("/api/pins/13", r#"{"state":"on"}"#));
    assert_eq!(json_of(&changed).get("timer"), None);
    let seen = events_since(&app, &mut cursor);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1]["timer_cancelled"], true);
    app.on_due(Instant::now() + Duration::from_secs(10));
    assert_eq!(value(&mut app, 13), 1, "the cancelled timer did nothing");
    let json = app.handle(&post_json("/api/pins/13", r#"{"state":"off","for":"0.5"}"#));
    assert_eq!(json_of(&json)["timer"]["to"], "on");
}

#[test]
fn a_bad_for_is_a_400_naming_the_field_everywhere() {
    let mut app = app(&[13]);
    let before = values(&mut app);
    let form = app.handle(&post_form("pin=13&state=on&for=soon"));
    assert_eq!(form.status, 400);
    assert!(
        text(&form).contains("&#39;for&#39;: &#39;soon&#39;"),
        "{}",
        text(&form)
    );
    let json = app.handle(&post_json("/api/pins/13", r#"{"state":"on","for":-1}"#));
    assert_eq!(json.status, 400);
    assert!(
        json_of(&json)["error"]
            .as_str()
            .unwrap()
            .starts_with("'for': '-1'")
    );
    let json = app.handle(&post_json("/api/pins/13", r#"{"state":"on","for":[5]}"#));
    assert_eq!(json.status, 400);
    assert!(
        app.handle_line("on 13 for 0")
            .starts_with("error: 'for': '0'")
    );
    assert!(
        app.handle_line("status for 5")
            .starts_with("error: only on, off")
    );
    assert_eq!(values(&mut app), before, "nothing changed");
    // An empty field (the form always sends it) means no timer.
    assert_eq!(app.handle(&post_form("pin=13&state=on&for=")).status, 303);
    assert_eq!(
        json_of(&app.handle(&get("/api/pins/13"))).get("timer"),
        None
    );
}

// ---- PWM --------------------------------------------------------------------------------

fn pwm(pin: u32) -> PinConfig {
    PinConfig {
        mode: PinMode::Pwm,
        ..PinConfig::output(pin)
    }
}

#[test]
fn a_pwm_pin_takes_a_duty_from_the_slider_the_api_and_the_line() {
    let mut app = app_with(&[pwm(13), PinConfig::output(19)], false, false);
    let mut cursor = app.events().head();
    let html = text(&app.handle(&get("/")));
    assert!(
        html.contains("type=\"range\" id=\"pin13-duty\" name=\"duty\" min=\"0\" max=\"100\""),
        "{html}"
    );
    assert!(!html.contains("id=\"pin19-duty\""), "{html}");
    assert_eq!(app.handle(&post_form("pin=13&duty=40")).status, 303);
    let doc = json_of(&app.handle(&get("/api/pins/13")));
    assert_eq!(
        (&doc["mode"], &doc["duty"], &doc["state"]),
        (&json!("pwm"), &json!(40), &json!("on"))
    );
    assert!(
        text(&app.handle(&get("/"))).contains("value=\"40\"> <output"),
        "the page moved on"
    );
    let api = app.handle(&post_json("/api/pins/13", r#"{"duty":75}"#));
    assert_eq!(json_of(&api)["duty"], 75);
    assert_eq!(app.handle_line("duty 13 10%"), "13 duty 10\n");
    assert_eq!(app.handle_line("off 13"), "13 duty 0\n");
    assert_eq!(app.handle_line("on 13"), "13 duty 100\n");
    assert_eq!(app.handle_line("status"), "13 duty 100, 19 off\n");
    let seen: Vec<u64> = events_since(&app, &mut cursor)
        .iter()
        .map(|e| e["duty"].as_u64().unwrap())
        .collect();
    assert_eq!(seen, vec![40, 75, 10, 0, 100]);
    // The same duty again is no event.
    app.handle_line("duty 13 100");
    assert!(events_since(&app, &mut cursor).is_empty());
}

#[test]
fn bad_duties_are_400s_naming_the_field_and_only_pwm_pins_take_one() {
    let mut app = app_with(&[pwm(13), PinConfig::output(19)], false, false);
    let before = values(&mut app);
    for bad in ["101", "-5", "4.5", "x", ""] {
        let response = app.handle(&post_form(&format!("pin=13&duty={bad}&x=1")));
        if bad.is_empty() {
            // An empty duty field is no duty: the form then needs a state.
            assert_eq!(response.status, 400);
            continue;
        }
        assert_eq!(response.status, 400, "{bad}");
        assert!(
            text(&response).contains("&#39;duty&#39;"),
            "{bad}: {}",
            text(&response)
        );
    }
    let json = app.handle(&post_json("/api/pins/13", r#"{"duty":300}"#));
    assert_eq!(json.status, 400);
    let not_pwm = app.handle(&post_json("/api/pins/19", r#"{"duty":30}"#));
    assert_eq!(not_pwm.status, 400);
    assert!(
        json_of(&not_pwm)["error"]
            .as_str()
            .unwrap()
            .contains("--pwm 19")
    );
    assert_eq!(app.handle(&post_form("pin=13&duty=5&state=on")).status, 400);
    assert!(
        app.handle_line("duty")
            .starts_with("error: 'duty' needs a percentage")
    );
    assert!(
        app.handle_line("duty 13 200")
            .starts_with("error: 'duty': '200'")
    );
    assert_eq!(values(&mut app), before, "nothing changed");
}

#[test]
fn a_client_that_reconnects_with_last_event_id_gets_just_what_it_missed() {
    let mut app = app(&[13]);
    let first = app.handle(&get("/api/events"));
    assert!(
        text(&first).starts_with("id: 0\ndata: "),
        "{}",
        text(&first)
    );
    assert_eq!(app.stream_cursor(), 0);
    app.handle(&post_form("pin=13&state=on"));
    app.handle(&post_form("pin=13&state=off"));
    // It saw the first change (id 1), then lost its connection.
    let again = request("GET", "/api/events", &[("Last-Event-ID", "1")], "");
    let response = app.handle(&again);
    assert!(response.stream);
    assert_eq!(text(&response), "", "no snapshot: the missed events follow");
    let mut cursor = app.stream_cursor();
    let missed = events_since(&app, &mut cursor);
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["state"], "off");
    // An id the log no longer holds (or never did) gets the whole state again.
    let stale = request("GET", "/api/events", &[("Last-Event-ID", "99")], "");
    let response = app.handle(&stale);
    assert_eq!(sse_documents(&text(&response)).len(), 1);
    assert_eq!(app.stream_cursor(), app.events().head());
}
