//! The plain-TCP line protocol of the LED lab (L5): `on`, `off`, `toggle`, `status`, each
//! with an optional pin, and `help`. One reply line per command line; a mistake gets an
//! `error: …` line and the connection stays usable.

use super::{Action, App, Refusal, on_off, parse_pin};

/// The reply to `help`.
const HELP: &str = "commands: on [PIN], off [PIN], toggle [PIN], status [PIN], help";

/// A command of the line protocol.
enum Command {
    Change(Action),
    Status,
    Help,
}

impl App {
    /// Answers one line of the line protocol (case-insensitive, surrounding spaces and a
    /// CR ignored). Returns the reply, newline-terminated, to write back as is; a blank line
    /// gets an empty reply (nothing to write).
    pub fn handle_line(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            [] => return String::new(),
            [command, rest @ ..] => self.line_command(command, rest),
        };
        match reply {
            Ok(text) => format!("{text}\n"),
            Err(refusal) => format!("error: {}\n", refusal.message),
        }
    }

    fn line_command(&mut self, command: &str, args: &[&str]) -> Result<String, Refusal> {
        let command = match command.to_ascii_lowercase().as_str() {
            "status" => Command::Status,
            "help" => Command::Help,
            word => Action::parse(word).map(Command::Change).ok_or_else(|| {
                Refusal::bad_request(format!("unknown command '{command}' ({HELP})"))
            })?,
        };
        let pin = match args {
            [] => None,
            [pin] => Some(parse_pin(pin).ok_or_else(|| super::bad_pin(pin))?),
            [_, extra, ..] => {
                return Err(Refusal::bad_request(format!(
                    "unexpected '{extra}': give at most one pin"
                )));
            }
        };
        match (command, pin) {
            (Command::Help, _) => Ok(HELP.to_string()),
            (Command::Status, None) => {
                let states = self.states()?;
                let all: Vec<String> = states
                    .iter()
                    .map(|(c, on)| format!("{} {}", c.pin, on_off(*on)))
                    .collect();
                Ok(all.join(", "))
            }
            (Command::Status, Some(pin)) => {
                self.served(pin)?;
                Ok(format!("{pin} {}", on_off(self.read(pin)?)))
            }
            // The line protocol has no credentials: with `--auth` it may only read.
            (Command::Change(_), _) if self.auth.is_some() && !self.read_only => Err(Refusal::new(
                super::status::FORBIDDEN,
                "the line protocol is read-only while --auth is set (it has no password); \
                     change pins over HTTP",
            )),
            (Command::Change(action), pin) => {
                let pin = self.default_pin(pin)?;
                let on = self.change(pin, action)?;
                Ok(format!("{pin} {}", on_off(on)))
            }
        }
    }

    /// The pin a change without one means: the only pin served.
    fn default_pin(&self, pin: Option<u32>) -> Result<u32, Refusal> {
        match (pin, self.pins.as_slice()) {
            (Some(pin), _) => Ok(pin),
            (None, [only]) => Ok(only.pin),
            (None, _) => Err(Refusal::bad_request(format!(
                "several pins are served ({}): say which, e.g. 'on {}'",
                self.pin_list(),
                self.pins.first().map_or(0, |p| p.pin)
            ))),
        }
    }
}
