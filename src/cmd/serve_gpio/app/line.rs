//! The plain-TCP line protocol of the LED lab (L5): `on`, `off`, `toggle`, `status`, each
//! with an optional pin, and `help`. One reply line per command line; a mistake gets an
//! `error: …` line and the connection stays usable. `watch` makes the connection a
//! subscriber: from then on every change comes as one more line, `13 on`, between the
//! replies (whole lines, never mixed); `unwatch` ends that.

use super::events::Cause;
use super::{Action, App, Change, Refusal, on_off, parse_duty, timers};

/// The reply to `help`.
const HELP: &str = "commands: on [PIN] [for SECS], off [PIN] [for SECS], toggle [PIN] [for SECS], \
                    duty [PIN] 0-100 [for SECS], status [PIN], watch, unwatch, help \
                    (PIN: a number or a name)";

/// A command of the line protocol.
enum Command {
    Change(Action),
    Duty,
    Status,
    Help,
    Watch,
    Unwatch,
}

/// What a line asks of its connection besides the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Nothing.
    Same,
    /// Follow the events from this cursor on.
    From(u64),
    /// Stop following them.
    Stop,
}

impl App {
    /// Answers one line of the line protocol (case-insensitive, surrounding spaces and a
    /// CR ignored). Returns the reply, newline-terminated, to write back as is; a blank line
    /// gets an empty reply (nothing to write).
    pub fn handle_line(&mut self, line: &str) -> String {
        self.line_reply(line).0
    }

    /// [`App::handle_line`], and whether the connection is to start or stop watching.
    pub fn line_reply(&mut self, line: &str) -> (String, Watch) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            [] => return (String::new(), Watch::Same),
            [command, rest @ ..] => self.line_command(command, rest),
        };
        match reply {
            Ok((text, watch)) => (format!("{text}\n"), watch),
            Err(refusal) => (format!("error: {}\n", refusal.message), Watch::Same),
        }
    }

    fn line_command(&mut self, command: &str, args: &[&str]) -> Result<(String, Watch), Refusal> {
        let command = match command.to_ascii_lowercase().as_str() {
            "status" => Command::Status,
            "help" => Command::Help,
            "watch" => Command::Watch,
            "unwatch" => Command::Unwatch,
            "duty" => Command::Duty,
            word => Action::parse(word).map(Command::Change).ok_or_else(|| {
                Refusal::bad_request(format!("unknown command '{command}' ({HELP})"))
            })?,
        };
        // `for SECS` at the end, for a change.
        let (args, hold) = match args {
            [rest @ .., word, secs] if word.eq_ignore_ascii_case("for") => {
                if !matches!(command, Command::Change(_) | Command::Duty) {
                    return Err(Refusal::bad_request(
                        "only on, off, toggle and duty take 'for'",
                    ));
                }
                (rest, Some(timers::parse_hold(secs)?))
            }
            _ => (args, None),
        };
        // `duty [PIN] PCT`: the percentage is the last word.
        let (command, args) = match (command, args) {
            (Command::Duty, [pin @ .., pct]) => {
                (Command::Change(Action::Duty(parse_duty(pct)?)), pin)
            }
            other => other,
        };
        let pin = match args {
            [] => None,
            [pin] => Some(self.pin_by_word(pin).ok_or_else(|| super::bad_pin(pin))?),
            [_, extra, ..] => {
                return Err(Refusal::bad_request(format!(
                    "unexpected '{extra}': give at most one pin (and 'for SECS')"
                )));
            }
        };
        let same = |text: String| (text, Watch::Same);
        match (command, pin) {
            (Command::Help, _) => Ok(same(HELP.to_string())),
            // Left only when no percentage was given.
            (Command::Duty, _) => Err(Refusal::bad_request(
                "'duty' needs a percentage: duty [PIN] 0-100",
            )),
            (Command::Status, None) => Ok(same(self.status_all()?)),
            (Command::Status, Some(pin)) => {
                self.served(pin)?;
                let on = self.read(pin)?;
                Ok(same(self.line_state(pin, on)))
            }
            (Command::Watch, Some(pin)) => Err(Refusal::bad_request(format!(
                "'watch' follows every pin; drop the '{pin}'"
            ))),
            (Command::Watch, None) => {
                let now = self.status_all()?;
                let from = self.events.head();
                Ok((format!("watching: {now}"), Watch::From(from)))
            }
            (Command::Unwatch, _) => Ok(("not watching".to_string(), Watch::Stop)),
            // The line protocol has no credentials: with `--auth` it may only read.
            (Command::Change(_), _) if self.auth.is_some() && !self.read_only => Err(Refusal::new(
                super::status::FORBIDDEN,
                "the line protocol is read-only while --auth is set (it has no password); \
                     change pins over HTTP",
            )),
            (Command::Change(action), pin) => {
                let pin = self.default_pin(pin)?;
                let on = self.change(pin, Change { action, hold }, Cause::Line)?;
                let back = hold.map_or(String::new(), |hold| {
                    format!(", {} in {} s", on_off(!on), timers::seconds(hold))
                });
                Ok(same(format!("{}{back}", self.line_state(pin, on))))
            }
        }
    }

    /// Every pin's state: `13 on, 19 off`.
    fn status_all(&mut self) -> Result<String, Refusal> {
        let states = self.states()?;
        let all: Vec<String> = states
            .iter()
            .map(|(c, on)| self.line_state(c.pin, *on))
            .collect();
        Ok(all.join(", "))
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
