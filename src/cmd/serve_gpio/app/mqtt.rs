//! The app's side of `--mqtt`: a pin's state as its MQTT payload, every change in order for
//! the client to publish, the commands of `PREFIX/PIN/set`, and the pins as the entities
//! Home Assistant's discovery announces. The MQTT connection itself is
//! `serve_gpio::mqtt`'s.

use std::time::Duration;

use super::events::Cause;
use super::{Action, App, Change, Refusal, on_off, parse_duty, timers};
use crate::gpio::{PinConfig, PinMode};

/// The commands `PREFIX/PIN/set` takes, for the refusal of another.
const COMMANDS: &str = "ON, OFF, TOGGLE, a duty 0-100, PRESS; 'for SECS' after any";

/// How long a `PRESS` holds a simulated button down.
pub const PRESS_HOLD: Duration = Duration::from_millis(500);

/// A served pin as discovery announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub config: PinConfig,
    /// `--pin 13=LED`'s name.
    pub name: Option<String>,
    /// An input of the simulated backend: it can be pressed like a button.
    pub pressable: bool,
}

impl App {
    /// From now on every change is kept for [`App::take_mqtt_changes`].
    pub fn with_mqtt(mut self) -> App {
        self.mqtt_changes = Some(Vec::new());
        self
    }

    /// The changes since the last call, in order: pin and payload.
    pub fn take_mqtt_changes(&mut self) -> Vec<(u32, String)> {
        self.mqtt_changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// A pin's state as its MQTT state topic carries it: `ON` or `OFF`, a PWM pin's duty
    /// cycle in percent.
    pub fn mqtt_payload(&self, pin: u32, on: bool) -> String {
        match self.gpio.duty(pin) {
            Some(duty) => duty.to_string(),
            None => on_off(on).to_ascii_uppercase(),
        }
    }

    /// Every pin's payload, to publish (retained) on a new connection.
    pub fn mqtt_states(&mut self) -> Result<Vec<(u32, String)>, String> {
        let states = self.states().map_err(|r| r.message)?;
        Ok(states
            .into_iter()
            .map(|(c, on)| (c.pin, self.mqtt_payload(c.pin, on)))
            .collect())
    }

    /// The pins as entities, in the order they were given.
    pub fn entities(&self) -> Vec<Entity> {
        self.pins
            .iter()
            .map(|&config| Entity {
                config,
                name: self.name_of(config.pin).map(str::to_string),
                pressable: config.mode == PinMode::Input && self.gpio.is_simulated(),
            })
            .collect()
    }

    /// Carries out a command sent to `PREFIX/PIN/set`: `ON`, `OFF` or `TOGGLE` (any case),
    /// each with an optional `for SECS`; a duty cycle `0`–`100` for a PWM pin; `PRESS`
    /// for a simulated button (held down for [`PRESS_HOLD`]). `pin` is the topic's level:
    /// a number or a name. `--read-only` and the served pins apply as to HTTP; `--auth`
    /// does not (the broker has its own).
    pub fn mqtt_command(&mut self, pin: &str, payload: &str) -> Result<(), String> {
        self.mqtt_change(pin, payload).map_err(|r| r.message)
    }

    fn mqtt_change(&mut self, pin: &str, payload: &str) -> Result<(), Refusal> {
        let pin = self.pin_by_word(pin).ok_or_else(|| super::bad_pin(pin))?;
        let not_a_command =
            || Refusal::bad_request(format!("'{payload}' is not a command ({COMMANDS})"));
        let words: Vec<&str> = payload.split_whitespace().collect();
        let (words, hold) = match words.as_slice() {
            [rest @ .., word, secs] if word.eq_ignore_ascii_case("for") => {
                (rest, Some(timers::parse_hold(secs)?))
            }
            _ => (&words[..], None),
        };
        let change = match words {
            [word] if word.eq_ignore_ascii_case("press") => {
                let config = self.served(pin)?;
                if config.mode != PinMode::Input || !self.gpio.is_simulated() {
                    return Err(Refusal::bad_request(format!(
                        "PRESS is for a simulated button; GPIO{pin} is not one"
                    )));
                }
                Change {
                    action: Action::On,
                    hold: Some(hold.unwrap_or(PRESS_HOLD)),
                }
            }
            [word] => {
                let action = match Action::parse(word) {
                    Some(action) => action,
                    None if word.starts_with(|c: char| c.is_ascii_digit()) => {
                        Action::Duty(parse_duty(word)?)
                    }
                    None => return Err(not_a_command()),
                };
                Change { action, hold }
            }
            _ => return Err(not_a_command()),
        };
        self.change(pin, change, Cause::Mqtt).map(|_| ())
    }
}
