//! The responses the app builds: JSON documents and errors, redirects, `405` with `Allow`,
//! and text made safe for HTML.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::input::Refusal;
use super::{JSON_TYPE, status};
use crate::http::server::{HeaderText, Response};

pub(super) fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

pub(super) fn json_response(status: u16, doc: &Value) -> Response {
    let mut body = doc.to_string().into_bytes();
    body.push(b'\n');
    respond(status, JSON_TYPE, body)
}

pub(super) fn json_error(refusal: &Refusal) -> Response {
    json_response(refusal.status, &json!({ "error": refusal.message }))
}

pub(super) fn method_not_allowed(allow: &str, render: fn(&Refusal) -> Response) -> Response {
    let refusal = Refusal::new(
        status::METHOD_NOT_ALLOWED,
        format!("method not allowed here (allowed: {allow})"),
    );
    let mut response = render(&refusal);
    response.headers.push(header("Allow", allow.to_string()));
    response
}

pub(super) fn see_other(location: &str) -> Response {
    let mut response = respond(
        status::SEE_OTHER,
        "text/plain; charset=utf-8",
        format!("see {location}\n").into_bytes(),
    );
    response
        .headers
        .push(header("Location", location.to_string()));
    response
}

pub(super) fn respond(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
    // Room for the headers every response gets (see `handle`).
    let mut headers = Vec::with_capacity(5);
    headers.push(header("Content-Type", content_type));
    Response {
        status,
        headers,
        body,
        stream: false,
    }
}

pub(super) fn header(name: &'static str, value: impl Into<HeaderText>) -> (HeaderText, HeaderText) {
    (name.into(), value.into())
}

/// Escapes text for HTML content and quoted attribute values.
pub(super) fn escape_html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}
