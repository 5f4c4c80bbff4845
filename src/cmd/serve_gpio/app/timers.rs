//! Timers of `for`: `pin=13&state=on&for=5` switches the pin and, five seconds later,
//! back. One timer per pin: a later change of the pin replaces (or cancels) it. They run on
//! the event loop through the app's [`App::due`](super::App::due), with no thread.

use std::time::{Duration, Instant};

use super::Refusal;

/// The longest `for`: a day.
pub const MAX_HOLD_SECS: f64 = 86_400.0;

/// A pin to switch back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timer {
    pub pin: u32,
    /// When.
    pub at: Instant,
    /// The state it switches the pin to: the opposite of the one it was switched to.
    pub to: bool,
    /// The `for` it was set with.
    pub hold: Duration,
}

impl Timer {
    /// Seconds left at `now`, to a tenth.
    pub fn left(&self, now: Instant) -> f64 {
        (self.at.saturating_duration_since(now).as_secs_f64() * 10.0).ceil() / 10.0
    }
}

/// The running timers, at most one per pin.
#[derive(Debug, Default)]
pub struct Timers {
    list: Vec<Timer>,
}

impl Timers {
    /// Sets a pin's timer, replacing any it had.
    pub fn set(&mut self, timer: Timer) {
        self.cancel(timer.pin);
        self.list.push(timer);
    }

    /// Takes a pin's timer away; returns it if there was one.
    pub fn cancel(&mut self, pin: u32) -> Option<Timer> {
        let at = self.list.iter().position(|t| t.pin == pin)?;
        Some(self.list.swap_remove(at))
    }

    /// A pin's running timer.
    pub fn get(&self, pin: u32) -> Option<&Timer> {
        self.list.iter().find(|t| t.pin == pin)
    }

    /// Whether no timer runs.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// When the earliest timer runs out.
    pub fn next_due(&self) -> Option<Instant> {
        self.list.iter().map(|t| t.at).min()
    }

    /// Removes and returns a timer that has run out at `now`, the earliest first.
    pub fn take_due(&mut self, now: Instant) -> Option<Timer> {
        let (index, _) = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, t)| t.at <= now)
            .min_by_key(|(_, t)| t.at)?;
        Some(self.list.swap_remove(index))
    }
}

/// A `for` field: seconds, more than 0 and at most a day, decimals allowed (`0.5`).
pub fn parse_hold(text: &str) -> Result<Duration, Refusal> {
    let text = text.trim();
    let secs: Option<f64> = text
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= MAX_HOLD_SECS);
    secs.map(Duration::from_secs_f64).ok_or_else(|| {
        Refusal::bad_request(format!(
            "'for': '{text}' is not a number of seconds (more than 0, at most {MAX_HOLD_SECS})"
        ))
    })
}

/// A duration in seconds as people write it: `5`, `0.5`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{}", (s * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_positive_seconds_up_to_a_day() {
        assert_eq!(parse_hold("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_hold(" 0.25 ").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_hold("86400").unwrap(), Duration::from_secs(86_400));
        for bad in ["0", "-1", "abc", "", "inf", "NaN", "86401", "1e9", "5s"] {
            let err = parse_hold(bad).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
            assert!(err.message.starts_with("'for': "), "{}", err.message);
        }
    }

    #[test]
    fn one_timer_per_pin_and_the_earliest_runs_out_first() {
        let now = Instant::now();
        let timer = |pin, secs| Timer {
            pin,
            at: now + Duration::from_secs(secs),
            to: false,
            hold: Duration::from_secs(secs),
        };
        let mut timers = Timers::default();
        timers.set(timer(13, 9));
        timers.set(timer(19, 3));
        timers.set(timer(13, 5));
        assert_eq!(timers.next_due(), Some(now + Duration::from_secs(3)));
        assert_eq!(timers.take_due(now + Duration::from_secs(2)), None);
        let later = now + Duration::from_secs(6);
        assert_eq!(timers.take_due(later).map(|t| t.pin), Some(19));
        assert_eq!(timers.take_due(later).map(|t| t.hold.as_secs()), Some(5));
        assert!(timers.is_empty(), "the replaced timer of 13 is gone");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5");
        assert_eq!(seconds(Duration::from_secs(5)), "5");
    }
}
