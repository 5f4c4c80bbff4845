//! What clients ask for, read from what they send: a form's fields, a JSON body, a pin's
//! number, a duty cycle; and the [`Refusal`] a request gets when it cannot be carried out.

use std::time::Duration;

use serde_json::Value;

use super::status;
use super::timers;
use crate::http::server::Request;

/// Digits a pin number may have: BCM numbers are small, and this bounds the parse.
pub(super) const MAX_PIN_DIGITS: usize = 4;
/// What a client asked a pin to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    On,
    Off,
    Toggle,
    /// A PWM pin's duty cycle, 0 to 100 %.
    Duty(u8),
}

impl Action {
    /// `on`, `off` or `toggle`, in any case.
    pub(super) fn parse(word: &str) -> Option<Action> {
        match word.to_ascii_lowercase().as_str() {
            "on" => Some(Action::On),
            "off" => Some(Action::Off),
            "toggle" => Some(Action::Toggle),
            _ => None,
        }
    }
}

/// A duty cycle as a client writes it: a whole percentage, 0 to 100, `%` allowed.
pub(super) fn parse_duty(text: &str) -> Result<u8, Refusal> {
    let text = text.trim();
    let digits = text.strip_suffix('%').unwrap_or(text).trim();
    let duty =
        (!digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u8>().ok())
            .flatten()
            .filter(|d| *d <= 100);
    duty.ok_or_else(|| {
        Refusal::bad_request(format!(
            "'duty': '{text}' is not a whole percentage from 0 to 100"
        ))
    })
}

/// A change a client asked for: an action, and maybe a time after which it is undone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Change {
    pub(super) action: Action,
    /// `for`: switch the pin back after this long.
    pub(super) hold: Option<Duration>,
}

/// A request the app will not carry out: the status and why, shown to the client in the
/// form of the route (an HTML page, `{"error":…}`, or an `error: …` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(status::BAD_REQUEST, message)
    }
}

pub(super) fn gpio_failure(err: anyhow::Error) -> Refusal {
    Refusal::new(status::INTERNAL_SERVER_ERROR, format!("{err:#}"))
}

pub(super) fn bad_pin(pin: &str) -> Refusal {
    Refusal::bad_request(format!("'{pin}' is not a GPIO number or a pin's name"))
}

pub(super) fn bad_state(state: &str) -> Refusal {
    Refusal::bad_request(format!("state '{state}' is not on, off or toggle"))
}

/// A browser sends `Sec-Fetch-Site: cross-site` when another site's page submits to us:
/// refuse that change (cross-site request forgery), whatever cookies or Basic credentials
/// the browser would attach.
pub(super) fn refuse_cross_site(req: &Request) -> Result<(), Refusal> {
    match req.header("sec-fetch-site") {
        Some(site) if site.trim().eq_ignore_ascii_case("cross-site") => Err(Refusal::new(
            status::FORBIDDEN,
            "changes from another site's page are refused",
        )),
        _ => Ok(()),
    }
}

/// A BCM GPIO number: decimal digits only (no sign, no spaces), at most
/// [`MAX_PIN_DIGITS`].
pub(super) fn parse_pin(text: &str) -> Option<u32> {
    let text = text.trim();
    let digits = !text.is_empty()
        && text.len() <= MAX_PIN_DIGITS
        && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// The one value of a form field; missing or repeated is a bad request.
pub(super) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Result<&'a str, Refusal> {
    let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value.trim()),
        (None, _) => Err(Refusal::bad_request(format!("the form has no '{name}'"))),
        (Some(_), Some(_)) => Err(Refusal::bad_request(format!(
            "the form gives '{name}' more than once"
        ))),
    }
}

/// The value of a form field that may be left out or empty (None then); repeated is a
/// bad request.
pub(super) fn optional_field<'a>(
    pairs: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, Refusal> {
    if !pairs.iter().any(|(k, _)| k == name) {
        return Ok(None);
    }
    let value = field(pairs, name)?;
    Ok((!value.is_empty()).then_some(value))
}

/// The change a JSON body asks for: exactly one of `value` (0, 1, false, true), `state`
/// or `action` (`on`, `off`, `toggle`), and maybe `for` (seconds, a number or a string).
pub(super) fn json_change(body: &[u8]) -> Result<Change, Refusal> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::bad_request(format!("the body is not JSON: {e}")))?;
    let Value::Object(fields) = doc else {
        return Err(Refusal::bad_request("expected a JSON object"));
    };
    let given: Vec<(&str, &Value)> = ["value", "state", "action", "duty"]
        .into_iter()
        .filter_map(|k| fields.get(k).map(|v| (k, v)))
        .collect();
    let [(key, value)] = given.as_slice() else {
        return Err(Refusal::bad_request(
            "expected exactly one of \"value\", \"state\", \"action\" or \"duty\"",
        ));
    };
    let hold = match fields.get("for") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(timers::parse_hold(text)?),
        Some(Value::Number(n)) => Some(timers::parse_hold(&n.to_string())?),
        Some(other) => {
            return Err(Refusal::bad_request(format!(
                "\"for\": {other} is not a number of seconds"
            )));
        }
    };
    let action = match (*key, value) {
        ("value", Value::Number(n)) if n.as_u64() == Some(1) => Some(Action::On),
        ("value", Value::Number(n)) if n.as_u64() == Some(0) => Some(Action::Off),
        ("value", Value::Bool(on)) => Some(if *on { Action::On } else { Action::Off }),
        ("state" | "action", Value::String(word)) => Action::parse(word),
        ("duty", Value::Number(n)) => {
            let duty = n
                .as_u64()
                .filter(|d| *d <= 100)
                .and_then(|d| u8::try_from(d).ok());
            let duty = duty.ok_or_else(|| {
                Refusal::bad_request(format!(
                    "\"duty\": {n} is not a whole percentage from 0 to 100"
                ))
            })?;
            Some(Action::Duty(duty))
        }
        ("duty", Value::String(text)) => Some(Action::Duty(parse_duty(text)?)),
        _ => None,
    };
    let action = action.ok_or_else(|| {
        Refusal::bad_request(format!(
            "\"{key}\": {value} is not {}",
            match *key {
                "value" => "0 or 1",
                "duty" => "a whole percentage from 0 to 100",
                _ => "\"on\", \"off\" or \"toggle\"",
            }
        ))
    })?;
    Ok(Change { action, hold })
}

/// Whether the request's `Content-Type` is `media_type` (parameters such as `charset`
/// ignored, case-insensitive).
pub(super) fn has_media_type(req: &Request, media_type: &str) -> bool {
    req.header("content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}
