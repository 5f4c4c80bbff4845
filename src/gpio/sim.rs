//! Simulated pins in memory, so that `serve-gpio` runs and is tested anywhere. It keeps the
//! physical level of each line, as a logic probe would see it, and applies active-low like
//! the kernel does, so the inversion is exercised without hardware.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{Gpio, PinConfig, PinMode, is_input, not_served};

/// Simulated pins: every pin starts off (logically), inputs read whatever was last driven
/// onto them from outside with [`Sim::drive`].
#[derive(Debug, Clone)]
pub struct Sim {
    pins: Vec<PinConfig>,
    /// Physical line level per pin: `true` is high.
    levels: BTreeMap<u32, bool>,
    /// Duty cycle per PWM pin, in %. A simulated PWM pin's level is high while its duty is
    /// above 0.
    duties: BTreeMap<u32, u8>,
}

impl Sim {
    /// Simulated `pins`, all off: an active-low pin's line starts high.
    pub fn new(pins: &[PinConfig]) -> Sim {
        let levels = pins.iter().map(|p| (p.pin, p.active_low)).collect();
        let duties = pins
            .iter()
            .filter(|p| p.mode == PinMode::Pwm)
            .map(|p| (p.pin, 0))
            .collect();
        Sim {
            pins: pins.to_vec(),
            levels,
            duties,
        }
    }

    /// The physical level of a pin's line (`true` is high), or `None` if it is not served.
    pub fn level(&self, pin: u32) -> Option<bool> {
        self.levels.get(&pin).copied()
    }

    /// Drives a line from outside, as a button or sensor wired to an input would: sets the
    /// physical level. Refuses pins that are not served.
    pub fn drive(&mut self, pin: u32, high: bool) -> Result<()> {
        let level = self.levels.get_mut(&pin).ok_or_else(|| not_served(pin))?;
        *level = high;
        Ok(())
    }

    fn config(&self, pin: u32) -> Result<&PinConfig> {
        self.pins
            .iter()
            .find(|p| p.pin == pin)
            .ok_or_else(|| not_served(pin))
    }
}

impl Gpio for Sim {
    fn read(&mut self, pin: u32) -> Result<bool> {
        let active_low = self.config(pin)?.active_low;
        let high = self.level(pin).ok_or_else(|| not_served(pin))?;
        Ok(high != active_low)
    }

    fn write(&mut self, pin: u32, on: bool) -> Result<()> {
        let config = *self.config(pin)?;
        if config.mode == PinMode::Input {
            return Err(is_input(pin));
        }
        if config.mode == PinMode::Pwm {
            return self.set_duty(pin, if on { 100 } else { 0 });
        }
        self.drive(pin, on != config.active_low)
    }

    fn describe(&self) -> String {
        let pins: Vec<String> = self
            .pins
            .iter()
            .map(|p| match p.mode {
                PinMode::Pwm => format!("GPIO{} (PWM)", p.pin),
                _ => format!("GPIO{}", p.pin),
            })
            .collect();
        format!("simulated pins in memory: {}", pins.join(", "))
    }

    fn pins(&self) -> &[PinConfig] {
        &self.pins
    }

    fn is_simulated(&self) -> bool {
        true
    }

    fn set_duty(&mut self, pin: u32, duty: u8) -> Result<()> {
        let config = *self.config(pin)?;
        let Some(d) = self.duties.get_mut(&pin) else {
            return Err(super::not_pwm(pin));
        };
        *d = duty.min(100);
        self.drive(pin, (duty > 0) != config.active_low)
    }

    fn duty(&self, pin: u32) -> Option<u8> {
        self.duties.get(&pin).copied()
    }

    /// A simulated button: sets the input line's level as a pressed (on) or released
    /// button would, its active level applied.
    fn press(&mut self, pin: u32, on: bool) -> Result<()> {
        let config = *self.config(pin)?;
        self.drive(pin, on != config.active_low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn active_low(pin: u32) -> PinConfig {
        PinConfig {
            active_low: true,
            ..PinConfig::output(pin)
        }
    }

    #[test]
    fn pins_start_off_and_follow_writes() {
        let mut sim = Sim::new(&[PinConfig::output(13), PinConfig::output(19)]);
        assert!(!sim.read(13).unwrap());
        assert!(!sim.read(19).unwrap());
        sim.write(13, true).unwrap();
        assert!(sim.read(13).unwrap());
        assert!(!sim.read(19).unwrap(), "only the pin written changes");
        sim.write(13, false).unwrap();
        assert!(!sim.read(13).unwrap());
    }

    #[test]
    fn active_low_inverts_the_line_not_the_logical_value() {
        let mut sim = Sim::new(&[active_low(13), PinConfig::output(19)]);
        assert_eq!(sim.level(13), Some(true), "off means high when active-low");
        assert_eq!(sim.level(19), Some(false));
        sim.write(13, true).unwrap();
        assert!(sim.read(13).unwrap());
        assert_eq!(sim.level(13), Some(false), "on means low when active-low");
    }

    #[test]
    fn pins_not_served_are_refused() {
        let mut sim = Sim::new(&[PinConfig::output(13)]);
        assert_eq!(exit_code(&sim.write(14, true).unwrap_err()), 9);
        assert!(sim.read(14).is_err());
        assert!(sim.drive(14, true).is_err());
        assert_eq!(sim.level(14), None);
    }

    #[test]
    fn inputs_read_what_the_outside_drives_and_refuse_writes() {
        let input = PinConfig {
            mode: PinMode::Input,
            ..active_low(5)
        };
        let mut sim = Sim::new(&[input]);
        assert!(!sim.read(5).unwrap());
        sim.drive(5, false).unwrap();
        assert!(sim.read(5).unwrap(), "a low active-low input is on");
        let err = sim.write(5, false).unwrap_err();
        assert!(err.to_string().contains("input"), "{err}");
        assert!(sim.read(5).unwrap(), "a refused write changes nothing");
    }

    #[test]
    fn describe_names_the_pins() {
        let sim = Sim::new(&[PinConfig::output(13), PinConfig::output(19)]);
        assert_eq!(sim.describe(), "simulated pins in memory: GPIO13, GPIO19");
    }
}
