//! The Linux GPIO character device (uAPI v2, through gpiocdev): the real pins on a
//! Raspberry Pi. Lines are found by name or header label ([`super::locate`]) and requested
//! once, with consumer `nicksock`, for the server's whole life, so no other program can
//! flip them behind our back and `gpioinfo` shows who holds them. A PWM pin with a hardware
//! PWM channel muxed to it ([`super::hwpwm`]) is driven by that channel and never requested
//! as a line (a request would switch the pin back to GPIO); the other PWM pins share one
//! software PWM thread.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd as _, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use gpiocdev::line::{EdgeDetection, EdgeKind, Value};
use gpiocdev::{Chip, Request};

use super::hwpwm::{self, HwPwm, Lookup};
use super::locate::{ChipDesc, Found, locate};
use super::pwm::SoftPwm;
use super::{Gpio, Options, PinConfig, PinMode, is_input, not_pwm, not_served};
use crate::error::{Kind, Tag as _, fail};

/// The consumer name the kernel shows for our lines (`gpioinfo`).
pub const CONSUMER: &str = "nicksock";

/// Whether the machine has any GPIO character device (`auto` then picks this backend).
pub fn chips_present() -> bool {
    gpiocdev::chip::chips().is_ok_and(|chips| !chips.is_empty())
}

/// One requested line. One request per line rather than one per chip: each pin has its
/// own direction and active level, a failure (busy, permission) names exactly one pin, and
/// an input can later get its own edge-event fd to register with the event loop.
#[derive(Debug)]
struct Line {
    config: PinConfig,
    /// `/dev/gpiochip0 [pinctrl-rp1] line 13`, for messages.
    place: String,
    offset: u32,
    /// Shared with the PWM thread for a PWM pin.
    request: Arc<Request>,
}

/// Pins on the kernel's GPIO character devices, held until dropped.
#[derive(Debug)]
pub struct Cdev {
    pins: Vec<PinConfig>,
    lines: Vec<Line>,
    /// The lines with edge detection (the inputs), by their index in `lines`.
    edge_lines: Vec<usize>,
    /// The PWM pins, in the order of the PWM thread's pins.
    pwm_pins: Vec<u32>,
    /// The thread that plays the PWM pins' duty cycles (when there are any).
    pwm: Option<SoftPwm>,
    /// The PWM pins driven by a hardware channel instead (they have no line).
    hw: Vec<HwPwm>,
    /// Why a software PWM pin has no hardware channel, where the machine has PWM chips.
    soft_why: Reasons,
}

/// Pins and why each has no hardware PWM channel.
type Reasons = Vec<(u32, String)>;

/// Edge events taken from one line per wake-up at most: more than the kernel buffers (16
/// per line by default), so that each wake-up drains the line.
const MAX_EDGES: usize = 1024;

impl Cdev {
    /// Finds and requests every pin (outputs start off; inputs report both edges,
    /// debounced for `debounce` unless it is zero; PWM pins on their hardware channel where
    /// one is muxed to them under `options.sysfs_root`, else software PWM). `chip_filter`
    /// is `--chip`: a chip's name, label or path, to search only there.
    pub fn open(chip_filter: Option<&str>, pins: &[PinConfig], options: Options) -> Result<Cdev> {
        let (hw, soft_why) = hardware_pwm(pins, &options)?;
        let paths = gpiocdev::chip::chips().tag(Kind::Gpio, "listing GPIO chips in /dev")?;
        let mut chips = BTreeMap::new();
        let mut descs = Vec::with_capacity(paths.len());
        for path in paths {
            let chip = open_chip(&path)?;
            descs.push(describe_chip(&chip)?);
            chips.insert(path, chip);
        }
        let filter = chip_filter.map(canonical_filter);
        let mut lines = Vec::with_capacity(pins.len());
        for &config in pins {
            if hw.iter().any(|h| h.pin() == config.pin) {
                continue;
            }
            let location = locate(config.pin, &descs, filter.as_deref())?;
            let Some(chip) = chips.get(&location.chip.path) else {
                let path = location.chip.path.display();
                return Err(fail(Kind::Gpio, format!("GPIO chip {path} went away")));
            };
            let how = match location.found {
                Found::ByName => "",
                Found::ByHeaderLabel => " (by header label)",
                Found::ByChipOption => " (by offset on --chip)",
            };
            let place = format!("{} line {}{how}", location.chip, location.offset);
            let request = request_line(chip, location.offset, config, options.debounce, &place)?;
            lines.push(Line {
                config,
                place,
                offset: location.offset,
                request: Arc::new(request),
            });
        }
        let edge_lines = (0..lines.len())
            .filter(|&i| lines[i].config.mode == PinMode::Input)
            .collect();
        let pwm_lines: Vec<(Arc<Request>, u32)> = lines
            .iter()
            .filter(|l| l.config.mode == PinMode::Pwm)
            .map(|l| (Arc::clone(&l.request), l.offset))
            .collect();
        let pwm_pins = lines
            .iter()
            .filter(|l| l.config.mode == PinMode::Pwm)
            .map(|l| l.config.pin)
            .collect();
        let soft_pins = pwm_lines.len();
        let pwm = if pwm_lines.is_empty() {
            None
        } else {
            let set = move |i: usize, high: bool| {
                if let Some((request, offset)) = pwm_lines.get(i) {
                    // A failure here is seen by the next read or write on the loop.
                    let _ = request.set_value(*offset, Value::from(high));
                }
            };
            let pwm = SoftPwm::start(soft_pins, options.pwm_hz, set)
                .tag(Kind::Gpio, "starting the PWM thread")?;
            Some(pwm)
        };
        Ok(Cdev {
            pins: pins.to_vec(),
            lines,
            edge_lines,
            pwm_pins,
            pwm,
            hw,
            soft_why,
        })
    }

    fn hw_of(&self, pin: u32) -> Option<&HwPwm> {
        self.hw.iter().find(|h| h.pin() == pin)
    }

    /// The PWM thread and the pin's place among its pins.
    fn pwm_of(&self, pin: u32) -> Option<(&SoftPwm, usize)> {
        let index = self.pwm_pins.iter().position(|&p| p == pin)?;
        Some((self.pwm.as_ref()?, index))
    }

    fn line(&self, pin: u32) -> Result<&Line> {
        self.lines
            .iter()
            .find(|l| l.config.pin == pin)
            .ok_or_else(|| not_served(pin))
    }
}

impl Gpio for Cdev {
    fn read(&mut self, pin: u32) -> Result<bool> {
        if let Some(hw) = self.hw_of(pin) {
            return Ok(hw.duty() > 0);
        }
        if let Some((pwm, i)) = self.pwm_of(pin) {
            return Ok(pwm.duty(i) > 0);
        }
        let line = self.line(pin)?;
        let value = line
            .request
            .value(line.offset)
            .tag(Kind::Gpio, format!("reading GPIO{pin} ({})", line.place))?;
        Ok(bool::from(value))
    }

    fn write(&mut self, pin: u32, on: bool) -> Result<()> {
        if self.hw_of(pin).is_some() {
            return self.set_duty(pin, if on { 100 } else { 0 });
        }
        let line = self.line(pin)?;
        if line.config.mode == PinMode::Input {
            return Err(is_input(pin));
        }
        if line.config.mode == PinMode::Pwm {
            return self.set_duty(pin, if on { 100 } else { 0 });
        }
        line.request
            .set_value(line.offset, Value::from(on))
            .tag(Kind::Gpio, format!("setting GPIO{pin} ({})", line.place))
    }

    fn describe(&self) -> String {
        let pins: Vec<String> = self
            .pins
            .iter()
            .filter_map(|p| {
                if let Some(hw) = self.hw_of(p.pin) {
                    return Some(format!("GPIO{} ({})", p.pin, hw.describe()));
                }
                let l = self.lines.iter().find(|l| l.config.pin == p.pin)?;
                let pwm = match (l.config.mode, &self.pwm) {
                    (PinMode::Pwm, Some(pwm)) => {
                        let why = self
                            .soft_why
                            .iter()
                            .find(|(pin, _)| *pin == p.pin)
                            .map(|(_, why)| format!("; {why}"))
                            .unwrap_or_default();
                        format!(" (software PWM, {} Hz{why})", pwm.hz())
                    }
                    _ => String::new(),
                };
                Some(format!("GPIO{} = {}{pwm}", l.config.pin, l.place))
            })
            .collect();
        format!("GPIO character device: {}", pins.join(", "))
    }

    fn pins(&self) -> &[PinConfig] {
        &self.pins
    }

    fn set_duty(&mut self, pin: u32, duty: u8) -> Result<()> {
        if let Some(hw) = self.hw.iter_mut().find(|h| h.pin() == pin) {
            return hw.set(duty);
        }
        let (pwm, i) = self.pwm_of(pin).ok_or_else(|| not_pwm(pin))?;
        pwm.set(i, duty);
        Ok(())
    }

    fn duty(&self, pin: u32) -> Option<u8> {
        if let Some(hw) = self.hw_of(pin) {
            return Some(hw.duty());
        }
        self.pwm_of(pin).map(|(pwm, i)| pwm.duty(i))
    }

    fn edge_sources(&self) -> Vec<RawFd> {
        self.edge_lines
            .iter()
            .map(|&i| self.lines[i].request.as_raw_fd())
            .collect()
    }

    /// Reads the line's edge events until none is left (the loop's wake-up is
    /// edge-triggered: what is left unread would wake no one).
    fn take_edges(&mut self, index: usize) -> Vec<(u32, bool)> {
        let Some(line) = self.edge_lines.get(index).and_then(|&i| self.lines.get(i)) else {
            return Vec::new();
        };
        let mut edges = Vec::new();
        while edges.len() < MAX_EDGES && line.request.has_edge_event().unwrap_or(false) {
            match line.request.read_edge_event() {
                // With an active-low line the kernel reports edges of the logical value.
                Ok(event) => edges.push((line.config.pin, event.kind == EdgeKind::Rising)),
                Err(_) => break,
            }
        }
        edges
    }
}

/// Opens the hardware PWM channel of each PWM pin that has one, and says why each of the
/// others has none (where the machine has PWM chips at all). Two pins never share a
/// channel: the later one stays on software PWM.
fn hardware_pwm(pins: &[PinConfig], options: &Options) -> Result<(Vec<HwPwm>, Reasons)> {
    let mut hw: Vec<HwPwm> = Vec::new();
    let mut soft_why = Vec::new();
    for config in pins.iter().filter(|p| p.mode == PinMode::Pwm) {
        match hwpwm::find(&options.sysfs_root, config.pin) {
            Lookup::Hardware(channel) => {
                if let Some(taken) = hw.iter().find(|h| *h.channel() == channel) {
                    let why = format!("{channel} is GPIO{}'s", taken.pin());
                    soft_why.push((config.pin, why));
                    continue;
                }
                let pwm = HwPwm::open(channel, config.pin, options.pwm_hz, config.active_low)?;
                hw.push(pwm);
            }
            Lookup::Software(why) => soft_why.push((config.pin, why)),
            Lookup::NoChip => {}
        }
    }
    Ok((hw, soft_why))
}

fn open_chip(path: &Path) -> Result<Chip> {
    Chip::from_path(path).map_err(|e| {
        let why = if is_permission_denied(&e) {
            "permission denied: add yourself to the gpio group (sudo usermod -aG gpio $USER, \
             then log in again) or add a udev rule giving that group /dev/gpiochip*"
                .to_string()
        } else {
            e.to_string()
        };
        fail(Kind::Gpio, format!("opening {}: {why}", path.display()))
    })
}

fn is_permission_denied(err: &gpiocdev::Error) -> bool {
    match err {
        gpiocdev::Error::Os(errno) => {
            io::Error::from_raw_os_error(errno.0).kind() == io::ErrorKind::PermissionDenied
        }
        _ => false,
    }
}

fn describe_chip(chip: &Chip) -> Result<ChipDesc> {
    let path = chip.path().to_path_buf();
    let info = chip
        .info()
        .tag(Kind::Gpio, format!("reading {}", path.display()))?;
    let line_names = (0..info.num_lines)
        .map(|offset| chip.line_info(offset).map(|l| l.name).unwrap_or_default())
        .collect();
    Ok(ChipDesc {
        path,
        name: info.name,
        label: info.label,
        line_names,
    })
}

/// `--chip /dev/gpiochip4` may be a symlink (early Pi 5 kernels kept one): compare the
/// real path, as the chip list holds real paths.
fn canonical_filter(filter: &str) -> String {
    if !filter.contains('/') {
        return filter.to_string();
    }
    std::fs::canonicalize(filter)
        .map(PathBuf::into_os_string)
        .ok()
        .and_then(|p| p.into_string().ok())
        .unwrap_or_else(|| filter.to_string())
}

fn request_line(
    chip: &Chip,
    offset: u32,
    config: PinConfig,
    debounce: Duration,
    place: &str,
) -> Result<Request> {
    let pin = config.pin;
    if let Some(busy) = busy_message(chip, offset, pin, place) {
        return Err(fail(Kind::Gpio, busy));
    }
    let mut builder = Request::builder();
    builder
        .on_chip(chip.path())
        .with_consumer(CONSUMER)
        .with_line(offset);
    match config.mode {
        PinMode::Output | PinMode::Pwm => builder.as_output(Value::Inactive),
        PinMode::Input => {
            builder
                .as_input()
                .with_edge_detection(EdgeDetection::BothEdges);
            if !debounce.is_zero() {
                builder.with_debounce_period(debounce);
            }
            &mut builder
        }
    };
    if config.active_low {
        builder.as_active_low();
    }
    builder.request().map_err(|e| {
        // Another program may have taken the line since we looked.
        let message = busy_message(chip, offset, pin, place)
            .unwrap_or_else(|| format!("requesting GPIO{pin} ({place}): {e}"));
        fail(Kind::Gpio, message)
    })
}

/// Says who holds the line, if anyone does.
fn busy_message(chip: &Chip, offset: u32, pin: u32, place: &str) -> Option<String> {
    let info = chip.line_info(offset).ok()?;
    if !info.used {
        return None;
    }
    let holder = if info.consumer.is_empty() {
        "another driver".to_string()
    } else {
        format!("'{}'", info.consumer)
    };
    Some(format!(
        "GPIO{pin} ({place}) is busy: held by {holder}; stop that program or remove the \
         overlay that claims it (e.g. a PWM or audio dtoverlay in /boot/firmware/config.txt)"
    ))
}
