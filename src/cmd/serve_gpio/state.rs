//! Pin states that survive a restart (`--state-file`, `--restore`): each output's level and
//! each PWM pin's duty, saved as JSON when they change and applied at start before anything
//! is served, by a per-pin policy like ESPHome's `restore_mode`. Inputs are never restored.
//!
//! The file is written whole or not at all (`crate::atomic`: a temporary file beside it,
//! then a rename), readable by its owner only, at most once per [`SAVE_EVERY`] (a burst of
//! changes is one write; an SD card is not worn by a blinking LED), and once more at exit
//! when a change is still unsaved. A file that is missing, truncated or not ours is a
//! warning, never a refusal to start: the pins take their defaults.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::error::{Kind, Tag as _};
use crate::gpio::{Gpio, PinConfig, PinMode};

/// The least time between two writes of the file.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);
/// The mode of the file: it says what the pins do, for its owner only.
const FILE_MODE: u32 = 0o600;
/// The format's name and version in the file, so that another program's JSON is not taken
/// for ours.
const FORMAT: &str = "nicksock-gpio-state";
const VERSION: u64 = 1;

/// What a pin starts as (`--restore`), as ESPHome's `restore_mode` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The saved state, else off.
    Restore,
    /// Off (the default without `--state-file`).
    Off,
    /// On (a PWM pin at full duty).
    On,
}

/// One `--restore [PIN=]POLICY`: for one pin, or for every pin without one of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreArg {
    pub pin: Option<u32>,
    pub policy: Policy,
}

impl FromStr for RestoreArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (pin, word) = match text.split_once('=') {
            Some((pin, word)) => {
                let pin = pin
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{pin}' is not a GPIO number (in '{text}')"))?;
                (Some(pin), word)
            }
            None => (None, text),
        };
        let policy = match word.trim().to_ascii_lowercase().as_str() {
            "restore" => Policy::Restore,
            "off" => Policy::Off,
            "on" => Policy::On,
            _ => {
                return Err(format!(
                    "'{word}' is not a policy: restore, off or on (as in 13=on)"
                ));
            }
        };
        Ok(RestoreArg { pin, policy })
    }
}

/// A pin's saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub on: bool,
    /// The duty of a PWM pin, percent.
    pub duty: Option<u8>,
}

/// The policy of `pin`: its own `--restore`, else the last one without a pin, else
/// `restore` with a state file and `off` without.
pub fn policy_of(pin: u32, args: &[RestoreArg], has_file: bool) -> Policy {
    args.iter()
        .rev()
        .find(|a| a.pin == Some(pin))
        .or_else(|| args.iter().rev().find(|a| a.pin.is_none()))
        .map_or(
            if has_file {
                Policy::Restore
            } else {
                Policy::Off
            },
            |a| a.policy,
        )
}

/// Reads the state file: the saved pins, and a warning when the file is missing or cannot
/// be used (the pins then take their defaults).
pub fn load(path: &Path) -> (BTreeMap<u32, Saved>, Option<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let warning = format!(
                "{}: no saved pin states yet: the pins start with their defaults",
                path.display()
            );
            return (BTreeMap::new(), Some(warning));
        }
        Err(e) => {
            let warning = format!(
                "{}: cannot read the saved pin states ({e}): the pins start with their \
                 defaults",
                path.display()
            );
            return (BTreeMap::new(), Some(warning));
        }
    };
    match parse(&text) {
        Ok(saved) => (saved, None),
        Err(why) => {
            let warning = format!(
                "{}: {why}: the saved pin states are ignored, the pins start with their \
                 defaults",
                path.display()
            );
            (BTreeMap::new(), Some(warning))
        }
    }
}

/// The pins of a state file's text.
fn parse(text: &str) -> Result<BTreeMap<u32, Saved>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    if doc["format"] != FORMAT || doc["version"] != VERSION {
        return Err(format!("not a {FORMAT} file of version {VERSION}"));
    }
    let Some(pins) = doc["pins"].as_object() else {
        return Err("no \"pins\" object".into());
    };
    let mut saved = BTreeMap::new();
    for (pin, state) in pins {
        let pin: u32 = pin
            .parse()
            .map_err(|_| format!("'{pin}' is not a GPIO number"))?;
        let on = state["on"]
            .as_bool()
            .ok_or_else(|| format!("GPIO{pin} has no \"on\""))?;
        let duty = match &state["duty"] {
            Value::Null => None,
            d => Some(
                d.as_u64()
                    .and_then(|d| u8::try_from(d).ok())
                    .filter(|d| *d <= 100)
                    .ok_or_else(|| format!("GPIO{pin}'s duty is not 0 to 100"))?,
            ),
        };
        saved.insert(pin, Saved { on, duty });
    }
    Ok(saved)
}

/// Puts every output and PWM pin in the state its policy says, before anything is served.
/// Returns one line per pin for stderr (`-v`).
pub fn apply(
    gpio: &mut dyn Gpio,
    args: &[RestoreArg],
    has_file: bool,
    saved: &BTreeMap<u32, Saved>,
) -> Result<Vec<String>> {
    let pins: Vec<PinConfig> = gpio.pins().to_vec();
    let mut lines = Vec::new();
    for config in pins {
        let pin = config.pin;
        let (on, duty, from) = match (policy_of(pin, args, has_file), saved.get(&pin)) {
            (_, _) if config.mode == PinMode::Input => continue,
            (Policy::Restore, Some(s)) => (s.on, s.duty, "restored"),
            (Policy::Restore | Policy::Off, _) => (false, Some(0), "off"),
            (Policy::On, _) => (true, Some(100), "on"),
        };
        let what = format!("starting GPIO{pin}");
        match config.mode {
            PinMode::Pwm => {
                let duty = duty.unwrap_or(if on { 100 } else { 0 });
                gpio.set_duty(pin, duty).tag(Kind::Gpio, &what)?;
                lines.push(format!("GPIO{pin}: duty {duty}% ({from})"));
            }
            _ => {
                gpio.write(pin, on).tag(Kind::Gpio, &what)?;
                let level = if on { "on" } else { "off" };
                lines.push(format!("GPIO{pin}: {level} ({from})"));
            }
        }
    }
    Ok(lines)
}

/// The state file while serving: the pins' states as last changed, written when due.
pub struct Store {
    path: PathBuf,
    pins: BTreeMap<u32, Saved>,
    /// When the first change not yet written was made.
    pending: Option<Instant>,
    /// When the file was last written.
    last: Option<Instant>,
    /// The last write failed: said once, until one succeeds.
    failing: bool,
}

impl Store {
    /// A store for `path`, holding what the pins are now.
    pub fn new(path: PathBuf, gpio: &mut dyn Gpio) -> Store {
        let mut store = Store {
            path,
            pins: BTreeMap::new(),
            pending: Some(Instant::now()),
            last: None,
            failing: false,
        };
        let pins: Vec<PinConfig> = gpio.pins().to_vec();
        for config in pins.iter().filter(|c| c.mode != PinMode::Input) {
            if let Ok(on) = gpio.read(config.pin) {
                store.pins.insert(
                    config.pin,
                    Saved {
                        on,
                        duty: gpio.duty(config.pin),
                    },
                );
            }
        }
        store
    }

    /// A pin changed (inputs are not kept).
    pub fn note(&mut self, config: PinConfig, on: bool, duty: Option<u8>) {
        if config.mode == PinMode::Input {
            return;
        }
        let state = Saved { on, duty };
        if self.pins.insert(config.pin, state) != Some(state) {
            self.pending.get_or_insert_with(Instant::now);
        }
    }

    /// When the next write is due, if a change waits.
    pub fn due(&self) -> Option<Instant> {
        let changed = self.pending?;
        Some(self.last.map_or(changed, |at| changed.max(at + SAVE_EVERY)))
    }

    /// Writes the file if a change waits and the last write is long enough ago.
    pub fn on_due(&mut self, now: Instant) {
        if self.due().is_some_and(|at| at <= now) {
            self.save(now);
        }
    }

    /// Writes the file now. A failure is said on stderr (once until a write succeeds) and
    /// tried again at the next change: serving goes on.
    fn save(&mut self, now: Instant) {
        self.last = Some(now);
        match self.write() {
            Ok(()) => {
                self.pending = None;
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    eprintln!("nicksock: warning: {e:#}");
                }
                self.failing = true;
                // Not again before the next change.
                self.pending = None;
            }
        }
    }

    fn write(&self) -> Result<()> {
        let pins: serde_json::Map<String, Value> = self
            .pins
            .iter()
            .map(|(pin, s)| {
                let state = match s.duty {
                    Some(duty) => json!({ "on": s.on, "duty": duty }),
                    None => json!({ "on": s.on }),
                };
                (pin.to_string(), state)
            })
            .collect();
        let doc = json!({ "format": FORMAT, "version": VERSION, "pins": pins });
        let what = format!("saving the pin states to {}", self.path.display());
        let mut file = crate::atomic::beside(&self.path, FILE_MODE).tag(Kind::File, &what)?;
        writeln!(file, "{doc}").tag(Kind::File, &what)?;
        crate::atomic::put_in_place(file, &self.path, true).tag(Kind::File, &what)
    }
}

impl Drop for Store {
    /// At exit, a change not yet written is.
    fn drop(&mut self) {
        if self.pending.is_some() {
            self.save(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_per_pin_then_global_then_by_the_file() {
        let args: Vec<RestoreArg> = ["on", "13=restore", "18=off"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(policy_of(13, &args, false), Policy::Restore);
        assert_eq!(policy_of(18, &args, true), Policy::Off);
        assert_eq!(policy_of(5, &args, true), Policy::On);
        assert_eq!(policy_of(5, &[], true), Policy::Restore);
        assert_eq!(policy_of(5, &[], false), Policy::Off);
        assert!("13=maybe".parse::<RestoreArg>().is_err());
        assert!("x=on".parse::<RestoreArg>().is_err());
    }

    #[test]
    fn only_our_own_whole_file_is_read() {
        let good = r#"{"format":"nicksock-gpio-state","version":1,"pins":{"13":{"on":true},"18":{"on":true,"duty":40}}}"#;
        let pins = parse(good).unwrap();
        assert_eq!(
            pins[&13],
            Saved {
                on: true,
                duty: None
            }
        );
        assert_eq!(pins[&18].duty, Some(40));
        assert!(parse(&good[..good.len() - 3]).is_err());
        assert!(parse(r#"{"pins":{}}"#).is_err());
        assert!(parse(&good.replace("40", "400")).is_err());
        assert!(parse("").is_err());
    }
}
