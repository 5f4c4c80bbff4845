//! GPIO pins behind a small trait, with two backends: the Linux character device and
//! simulated pins in memory. Callers see logical values only: a pin that is "on" is active,
//! whatever its wiring (`--active-low` is applied by the backend).

#[cfg(target_os = "linux")]
pub mod cdev;
#[cfg(target_os = "linux")]
pub mod hwpwm;
pub mod locate;
pub mod pwm;
pub mod sim;

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::error::{Kind, fail};

/// How long an input must hold a new level before its edge counts (`--debounce`): a
/// push button bounces for a millisecond or two.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(5);

/// Which GPIO implementation to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The character device where a chip exists, else simulated pins.
    #[default]
    Auto,
    /// The Linux GPIO character device.
    Cdev,
    /// Simulated pins in memory.
    Sim,
}

/// Whether the program drives a pin or only watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinMode {
    /// Driven by us (the LED of the lab). Starts off.
    #[default]
    Output,
    /// Driven by the outside world; we only read it.
    Input,
    /// Driven by us with a duty cycle (an LED's brightness); on is 100 %, off 0 %.
    Pwm,
}

impl PinMode {
    /// The mode's name as the JSON API and the page show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PinMode::Output => "output",
            PinMode::Input => "input",
            PinMode::Pwm => "pwm",
        }
    }

    /// Whether we drive the pin (an output, PWM or not).
    pub fn is_output(self) -> bool {
        self != PinMode::Input
    }
}

/// One pin the server may touch, as the command line configured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinConfig {
    /// The BCM GPIO number (GPIO13 is physical header pin 33).
    pub pin: u32,
    /// The pin is on when its line is low.
    pub active_low: bool,
    /// Output (driven by us) or input (read only).
    pub mode: PinMode,
}

impl PinConfig {
    /// An active-high output: the default for `--pin N`.
    pub fn output(pin: u32) -> PinConfig {
        PinConfig {
            pin,
            active_low: false,
            mode: PinMode::Output,
        }
    }
}

/// How the backends set up their pins, beyond the pins themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long an input's new level must hold before its edge counts (zero: not at all).
    pub debounce: Duration,
    /// The frequency of PWM, software or hardware.
    pub pwm_hz: u32,
    /// Where `sys/class/pwm` and the device tree (`proc/device-tree`) are looked for
    /// hardware PWM channels: `/`, or a fake tree in tests.
    pub sysfs_root: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            debounce: DEFAULT_DEBOUNCE,
            pwm_hz: pwm::DEFAULT_HZ,
            sysfs_root: PathBuf::from("/"),
        }
    }
}

/// Marks the `pwm` pins of `configs` as PWM outputs, adding those not there yet (after the
/// outputs). An input cannot be PWM.
pub fn with_pwm(mut configs: Vec<PinConfig>, pwm: &[u32]) -> Result<Vec<PinConfig>> {
    for &pin in pwm {
        match configs.iter_mut().find(|c| c.pin == pin) {
            Some(c) if c.mode == PinMode::Input => {
                return Err(fail(
                    Kind::Usage,
                    format!("GPIO{pin} is given as both --pwm and --input: choose one"),
                ));
            }
            Some(c) => c.mode = PinMode::Pwm,
            None => {
                let at = configs
                    .iter()
                    .position(|c| c.mode == PinMode::Input)
                    .unwrap_or(configs.len());
                configs.insert(
                    at,
                    PinConfig {
                        mode: PinMode::Pwm,
                        ..PinConfig::output(pin)
                    },
                );
            }
        }
    }
    Ok(configs)
}

/// Longest pin name `--pin N=NAME` takes.
pub const MAX_NAME: usize = 32;

/// A pin as the command line gives it: `13`, or `13=LED` to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinArg {
    /// The BCM GPIO number.
    pub pin: u32,
    /// What the page, the API, the events and the line protocol call it.
    pub name: Option<String>,
}

impl std::str::FromStr for PinArg {
    type Err = String;

    /// `N` or `N=NAME`: NAME is 1 to [`MAX_NAME`] letters, digits, `_` or `-`, starting
    /// with a letter (so it is never mistaken for a pin number).
    fn from_str(text: &str) -> Result<PinArg, String> {
        let (number, name) = match text.split_once('=') {
            Some((number, name)) => (number, Some(name)),
            None => (text, None),
        };
        let pin = number
            .parse()
            .map_err(|_| format!("'{number}' is not a GPIO number (write N or N=NAME)"))?;
        if let Some(name) = name {
            let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
            let allowed = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !starts_with_letter || !allowed || name.len() > MAX_NAME {
                return Err(format!(
                    "pin name '{name}': use 1 to {MAX_NAME} letters, digits, '_' or '-', \
                     starting with a letter"
                ));
            }
        }
        Ok(PinArg {
            pin,
            name: name.map(str::to_string),
        })
    }
}

/// The names given with `--pin N=NAME` and `--input N=NAME`, pin by pin. A name used twice
/// (in any case) or a pin named twice differently is refused.
pub fn pin_names<'a>(args: impl IntoIterator<Item = &'a PinArg>) -> Result<Vec<(u32, String)>> {
    let mut names: Vec<(u32, String)> = Vec::new();
    for arg in args {
        let Some(name) = &arg.name else { continue };
        if let Some((pin, _)) = names.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
            if *pin != arg.pin {
                return Err(fail(
                    Kind::Usage,
                    format!(
                        "the name '{name}' is given to GPIO{pin} and GPIO{}",
                        arg.pin
                    ),
                ));
            }
            continue;
        }
        if let Some((_, other)) = names.iter().find(|(p, _)| *p == arg.pin) {
            return Err(fail(
                Kind::Usage,
                format!("GPIO{} is named both '{other}' and '{name}'", arg.pin),
            ));
        }
        names.push((arg.pin, name.clone()));
    }
    Ok(names)
}

/// Builds the pin list from `--pin` (outputs), `--input` and `--active-low`: outputs in the
/// order given, then inputs, duplicates dropped. A pin given as both output and input, or an
/// `--active-low` pin that is not served, is a mistake worth stopping for (a typo would
/// otherwise drive the LED inverted, or drive a line wired as an input).
pub fn pin_configs(outputs: &[u32], inputs: &[u32], active_low: &[u32]) -> Result<Vec<PinConfig>> {
    if let Some(both) = inputs.iter().find(|n| outputs.contains(n)) {
        return Err(fail(
            Kind::Usage,
            format!("GPIO{both} is given as both --pin (output) and --input: choose one"),
        ));
    }
    if let Some(stray) = active_low
        .iter()
        .find(|n| !outputs.contains(n) && !inputs.contains(n))
    {
        return Err(fail(
            Kind::Usage,
            format!("--active-low {stray}: pin {stray} is not served (add --pin {stray})"),
        ));
    }
    let modes = outputs
        .iter()
        .map(|&pin| (pin, PinMode::Output))
        .chain(inputs.iter().map(|&pin| (pin, PinMode::Input)));
    let mut configs: Vec<PinConfig> = Vec::with_capacity(outputs.len() + inputs.len());
    for (pin, mode) in modes {
        if configs.iter().all(|c| c.pin != pin) {
            configs.push(PinConfig {
                pin,
                active_low: active_low.contains(&pin),
                mode,
            });
        }
    }
    Ok(configs)
}

/// A set of GPIO pins, each configured once at start and held for the program's life.
///
/// Values are logical: `true` is on (active). Every method refuses a pin that is not in
/// [`Gpio::pins`], so nothing else can ever be touched.
pub trait Gpio {
    /// Reads the pin's logical value (for an output, the value last written).
    fn read(&mut self, pin: u32) -> Result<bool>;
    /// Drives an output pin on or off; an input pin is refused.
    fn write(&mut self, pin: u32, on: bool) -> Result<()>;
    /// One line saying what the pins are: the backend, and for each pin its chip and line.
    fn describe(&self) -> String;
    /// The pins served, in the order given on the command line.
    fn pins(&self) -> &[PinConfig];

    /// Descriptors that become readable when an input changes (the kernel's edge events),
    /// for the event loop to watch; source `i` is the `i`th.
    fn edge_sources(&self) -> Vec<RawFd> {
        Vec::new()
    }

    /// Edge source `index` is readable: takes every edge event it holds, as (pin, new
    /// logical value), oldest first.
    fn take_edges(&mut self, index: usize) -> Vec<(u32, bool)> {
        let _ = index;
        Vec::new()
    }

    /// Whether inputs are simulated, so that [`Gpio::press`] may drive them.
    fn is_simulated(&self) -> bool {
        false
    }

    /// Drives a simulated input from outside, as a button would (on: pressed, active);
    /// a real input is refused.
    fn press(&mut self, pin: u32, on: bool) -> Result<()> {
        let _ = on;
        Err(is_input(pin))
    }

    /// Sets a PWM pin's duty cycle, 0 to 100 %.
    fn set_duty(&mut self, pin: u32, duty: u8) -> Result<()> {
        let _ = duty;
        Err(not_pwm(pin))
    }

    /// A PWM pin's duty cycle (None for other pins).
    fn duty(&self, pin: u32) -> Option<u8> {
        let _ = pin;
        None
    }
}

/// Opens the backend asked for and configures `pins` on it. Returns the pins and a line for
/// stderr that says which backend was chosen and why (`auto` picks the character device
/// where a `/dev/gpiochip*` exists, else simulated pins).
pub fn open(
    backend: Backend,
    chip: Option<&str>,
    pins: &[PinConfig],
) -> Result<(Box<dyn Gpio>, String)> {
    open_with(backend, chip, pins, Options::default())
}

/// [`open`] with these [`Options`].
pub fn open_with(
    backend: Backend,
    chip: Option<&str>,
    pins: &[PinConfig],
    options: Options,
) -> Result<(Box<dyn Gpio>, String)> {
    match backend {
        Backend::Sim => Ok(open_sim(pins, "--backend sim")),
        Backend::Cdev => open_cdev(chip, pins, options, "--backend cdev"),
        Backend::Auto if cdev_present() => {
            open_cdev(chip, pins, options, "auto: found a GPIO chip")
        }
        Backend::Auto => Ok(open_sim(pins, "auto: no /dev/gpiochip* on this machine")),
    }
}

fn open_sim(pins: &[PinConfig], why: &str) -> (Box<dyn Gpio>, String) {
    let gpio = sim::Sim::new(pins);
    let line = format!("gpio: {} ({why})", gpio.describe());
    (Box::new(gpio), line)
}

#[cfg(target_os = "linux")]
fn cdev_present() -> bool {
    cdev::chips_present()
}

#[cfg(not(target_os = "linux"))]
fn cdev_present() -> bool {
    false
}

#[cfg(target_os = "linux")]
fn open_cdev(
    chip: Option<&str>,
    pins: &[PinConfig],
    options: Options,
    why: &str,
) -> Result<(Box<dyn Gpio>, String)> {
    let gpio = cdev::Cdev::open(chip, pins, options)?;
    let line = format!("gpio: {} ({why})", gpio.describe());
    Ok((Box::new(gpio), line))
}

#[cfg(not(target_os = "linux"))]
fn open_cdev(
    _chip: Option<&str>,
    _pins: &[PinConfig],
    _options: Options,
    _why: &str,
) -> Result<(Box<dyn Gpio>, String)> {
    Err(fail(
        Kind::Gpio,
        "the GPIO character device exists only on Linux: use --backend sim",
    ))
}

/// The error for a pin that is not served; backends return it before touching anything.
fn not_served(pin: u32) -> anyhow::Error {
    fail(Kind::Gpio, format!("pin {pin} is not served"))
}

/// The error for a duty cycle asked of a pin that is not PWM.
fn not_pwm(pin: u32) -> anyhow::Error {
    fail(
        Kind::Gpio,
        format!("GPIO{pin} is not a PWM pin (serve it with --pwm {pin})"),
    )
}

/// The error for a write to an input pin.
fn is_input(pin: u32) -> anyhow::Error {
    fail(
        Kind::Gpio,
        format!("GPIO{pin} is an input: it can be read, not driven"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    #[test]
    fn pin_configs_keep_order_drop_duplicates_and_mark_active_low() {
        let configs = pin_configs(&[19, 13, 19], &[], &[13]).unwrap();
        assert_eq!(
            configs,
            vec![
                PinConfig::output(19),
                PinConfig {
                    active_low: true,
                    ..PinConfig::output(13)
                },
            ]
        );
    }

    #[test]
    fn active_low_for_a_pin_not_served_is_refused() {
        let err = pin_configs(&[13], &[], &[14]).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert!(err.to_string().contains("--pin 14"), "{err}");
    }

    #[test]
    fn inputs_follow_outputs_and_may_be_active_low() {
        let configs = pin_configs(&[13], &[26, 6, 26], &[6]).unwrap();
        let input = |pin, active_low| PinConfig {
            pin,
            active_low,
            mode: PinMode::Input,
        };
        assert_eq!(
            configs,
            vec![PinConfig::output(13), input(26, false), input(6, true)]
        );
    }

    #[test]
    fn a_pin_both_output_and_input_is_refused() {
        let err = pin_configs(&[13], &[13], &[]).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert!(err.to_string().contains("both --pin"), "{err}");
    }

    #[test]
    fn pins_may_be_named_with_plain_words() {
        let arg: PinArg = "13=LED".parse().unwrap();
        assert_eq!((arg.pin, arg.name.as_deref()), (13, Some("LED")));
        assert_eq!("26".parse::<PinArg>().unwrap().name, None);
        for bad in ["13=", "13=1st", "13=a b", "13=<b>", "x=LED", "13=a\u{e9}"] {
            assert!(bad.parse::<PinArg>().is_err(), "{bad}");
        }
        let long = format!("13={}", "a".repeat(MAX_NAME + 1));
        assert!(long.parse::<PinArg>().is_err());
    }

    #[test]
    fn a_name_means_one_pin_and_a_pin_has_one_name() {
        let args =
            |list: &[&str]| -> Vec<PinArg> { list.iter().map(|a| a.parse().unwrap()).collect() };
        let names = pin_names(&args(&["13=LED", "26=button", "13=LED", "19"])).unwrap();
        assert_eq!(names, vec![(13, "LED".into()), (26, "button".into())]);
        let err = pin_names(&args(&["13=LED", "19=led"])).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert!(err.to_string().contains("GPIO13 and GPIO19"), "{err}");
        let err = pin_names(&args(&["13=LED", "13=Lamp"])).unwrap_err();
        assert!(err.to_string().contains("named both"), "{err}");
    }

    #[test]
    fn sim_backend_says_it_was_chosen() {
        let (gpio, line) = open(Backend::Sim, None, &[PinConfig::output(13)]).unwrap();
        assert_eq!(gpio.pins(), &[PinConfig::output(13)]);
        assert!(line.contains("simulated"), "{line}");
        assert!(line.contains("--backend sim"), "{line}");
    }

    #[test]
    fn auto_falls_back_to_sim_without_a_chip() {
        if cdev_present() {
            return; // a machine with real GPIO chips: auto rightly picks them
        }
        let (_, line) = open(Backend::Auto, None, &[PinConfig::output(13)]).unwrap();
        assert!(line.contains("simulated"), "{line}");
        assert!(line.contains("auto"), "{line}");
    }

    #[test]
    fn cdev_without_a_chip_is_a_gpio_error() {
        if cdev_present() {
            return;
        }
        let err = open(Backend::Cdev, None, &[PinConfig::output(13)])
            .err()
            .expect("no chip, no cdev backend");
        assert_eq!(exit_code(&err), 9);
    }
}
