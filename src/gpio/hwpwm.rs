//! Hardware PWM through the kernel's sysfs PWM interface (`/sys/class/pwm`, the ABI of the
//! kernel's `Documentation/ABI/testing/sysfs-class-pwm`). A `--pwm` pin that a PWM block of
//! the SoC is muxed to (the `pwm-2chan` overlay on a Pi) is driven by that block's channel
//! instead of software PWM on its GPIO line: steady edges, no timing thread.
//!
//! A pin counts only when the device tree says the block's pins include it: two header pins
//! share each channel (GPIO12 and GPIO18 are both channel 0 on a Pi 4), and driving the
//! channel muxed to the other pin would light the wrong LED. Anything that cannot be read
//! leaves the pin on software PWM. Every path starts at a root that tests point at a fake
//! tree (`/` on a real machine).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use anyhow::Result;

use crate::error::{Kind, fail};

/// The PWM blocks known, by device-tree compatible: which channel drives each header pin.
const BLOCKS: [(&str, &[(u32, u32)]); 2] = [
    // Pi 1 to 4 (the Pi 4's block lists "brcm,bcm2711-pwm" first, then this): channel 0
    // on GPIO12 (alt0) or GPIO18 (alt5), channel 1 on GPIO13 (alt0) or GPIO19 (alt5).
    ("brcm,bcm2835-pwm", &[(12, 0), (13, 1), (18, 0), (19, 1)]),
    // Pi 5: RP1's pwm0 has four channels, on GPIO12, 13 (a0), 18 and 19 (a3). Its pwm1
    // (the fan's) is muxed to no header pin, which the pin check finds.
    ("raspberrypi,rp1-pwm", &[(12, 0), (13, 1), (18, 2), (19, 3)]),
];

/// How often, and how many times, to look whether udev has made an exported channel's
/// files writable (it changes their group asynchronously): 2 s in all.
const EXPORT_POLL: Duration = Duration::from_millis(10);
const EXPORT_TRIES: u32 = 200;

/// Directories of the device tree looked through at most, when finding a pinctrl node (a
/// Pi's tree has a few hundred).
const MAX_NODES: usize = 100_000;
/// How deep the device tree is looked through.
const MAX_DEPTH: usize = 32;

/// A channel of a PWM chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The chip's directory: `/sys/class/pwm/pwmchip0`.
    pub chip: PathBuf,
    /// The channel's number on the chip.
    pub index: u32,
}

impl fmt::Display for Channel {
    /// `pwmchip0 channel 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} channel {}", file_name(&self.chip), self.index)
    }
}

/// What [`find`] found for a pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The hardware channel muxed to the pin.
    Hardware(Channel),
    /// No PWM chip on this machine: software PWM, and nothing worth saying about it.
    NoChip,
    /// PWM chips exist but none drives the pin: software PWM, for this short reason.
    Software(String),
}

/// Why one chip does not drive the pin; the later variants say more, and win.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Miss {
    /// Not a PWM block we know, or one with no channel for the pin.
    Unknown,
    /// The block has a channel for the pin, but its pins are others.
    NotMuxed,
    /// The chip has fewer channels than the table says (chip name, channel).
    NoChannel(String, u32),
    /// Something needed to decide could not be read (chip name).
    Unreadable(String),
}

impl Miss {
    fn reason(&self, pin: u32) -> String {
        match self {
            Miss::Unknown => format!("no hardware PWM channel for GPIO{pin}"),
            Miss::NotMuxed => format!("no PWM channel muxed to GPIO{pin}"),
            Miss::NoChannel(chip, index) => format!("{chip} has no channel {index}"),
            Miss::Unreadable(chip) => format!("cannot read {chip}'s pin mux"),
        }
    }
}

/// Finds the hardware PWM channel muxed to BCM GPIO `pin` under `root`.
pub fn find(root: &Path, pin: u32) -> Lookup {
    let chips = pwm_chips(&root.join("sys/class/pwm"));
    if chips.is_empty() {
        return Lookup::NoChip;
    }
    let mut best = Miss::Unknown;
    for chip in chips {
        match chip_channel(root, &chip, pin) {
            Ok(index) => return Lookup::Hardware(Channel { chip, index }),
            Err(miss) => best = best.max(miss),
        }
    }
    Lookup::Software(best.reason(pin))
}

/// `pwmchip*` under the class directory, by number.
fn pwm_chips(class: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(class) else {
        return Vec::new();
    };
    let mut chips: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let number = name.to_str()?.strip_prefix("pwmchip")?.parse().ok()?;
            Some((number, e.path()))
        })
        .collect();
    chips.sort();
    chips.into_iter().map(|(_, path)| path).collect()
}

/// The channel of `chip` that drives `pin`, if the chip is a block we know, has the
/// channel, and is muxed to the pin.
fn chip_channel(root: &Path, chip: &Path, pin: u32) -> Result<u32, Miss> {
    let of_node = chip.join("device/of_node");
    let compatible = fs::read(of_node.join("compatible")).unwrap_or_default();
    let index = channel_for(&compatible, pin).ok_or(Miss::Unknown)?;
    let name = file_name(chip);
    let npwm: u32 = fs::read_to_string(chip.join("npwm"))
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| Miss::Unreadable(name.clone()))?;
    if index >= npwm {
        return Err(Miss::NoChannel(name, index));
    }
    let pins = muxed_pins(root, &of_node).ok_or(Miss::Unreadable(name))?;
    if pins.contains(&pin) {
        Ok(index)
    } else {
        Err(Miss::NotMuxed)
    }
}

/// The channel for `pin` of the first known block among `compatible`'s strings.
fn channel_for(compatible: &[u8], pin: u32) -> Option<u32> {
    let block = compatible.split(|&b| b == 0).find_map(|c| {
        BLOCKS
            .iter()
            .find(|(name, _)| name.as_bytes() == c)
            .map(|(_, pins)| pins)
    })?;
    block.iter().find(|(p, _)| *p == pin).map(|&(_, ch)| ch)
}

/// The pins the controller at `of_node` is muxed to: those of the pinctrl nodes its
/// `pinctrl-0` names (and of their children, where a node groups its pins in
/// subnodes). None when any of it cannot be read or found.
fn muxed_pins(root: &Path, of_node: &Path) -> Option<Vec<u32>> {
    let mut phandles = be_u32s(&fs::read(of_node.join("pinctrl-0")).ok()?)?;
    phandles.sort_unstable();
    phandles.dedup();
    let base = [
        root.join("proc/device-tree"),
        root.join("sys/firmware/devicetree/base"),
    ]
    .into_iter()
    .find(|p| p.is_dir())?;
    let nodes = nodes_with_phandles(&base, &phandles);
    if nodes.len() < phandles.len() {
        return None;
    }
    let mut pins = Vec::new();
    for node in nodes {
        pins.extend(node_pins(&node));
        for child in subdirs(&node) {
            pins.extend(node_pins(&child));
        }
    }
    Some(pins)
}

/// The device-tree nodes under `base` whose phandle is one of `wanted`, one per phandle.
fn nodes_with_phandles(base: &Path, wanted: &[u32]) -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    let mut stack = vec![(base.to_path_buf(), 0)];
    let mut seen = 0;
    while let Some((dir, depth)) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES || found.len() == wanted.len() {
            break;
        }
        let phandle = fs::read(dir.join("phandle"))
            .or_else(|_| fs::read(dir.join("linux,phandle")))
            .ok()
            .and_then(|b| be_u32s(&b))
            .and_then(|v| v.first().copied());
        if let Some(p) = phandle
            && wanted.contains(&p)
            && found.iter().all(|(q, _)| *q != p)
        {
            found.push((p, dir.clone()));
        }
        if depth < MAX_DEPTH {
            stack.extend(subdirs(&dir).into_iter().map(|d| (d, depth + 1)));
        }
    }
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// The directories in `dir`, symbolic links not followed (a node's children).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// The pins a pinctrl node lists: `brcm,pins` (big-endian numbers, the bcm2835 pin
/// controller's binding) and `pins` (names such as `gpio18`, the generic binding RP1 uses).
fn node_pins(node: &Path) -> Vec<u32> {
    let mut pins = fs::read(node.join("brcm,pins"))
        .ok()
        .and_then(|b| be_u32s(&b))
        .unwrap_or_default();
    if let Ok(names) = fs::read(node.join("pins")) {
        pins.extend(names.split(|&b| b == 0).filter_map(|n| {
            std::str::from_utf8(n)
                .ok()?
                .strip_prefix("gpio")?
                .parse::<u32>()
                .ok()
        }));
    }
    pins
}

/// A device-tree cell list: big-endian u32s. None unless whole cells, at least one.
fn be_u32s(bytes: &[u8]) -> Option<Vec<u32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// A hardware PWM channel driving one pin, exported and enabled until dropped (then
/// disabled and unexported).
#[derive(Debug)]
pub struct HwPwm {
    channel: Channel,
    /// The channel's directory: `pwmchip0/pwm1`.
    dir: PathBuf,
    pin: u32,
    hz: u32,
    /// In nanoseconds.
    period: u64,
    active_low: bool,
    /// The logical duty, 0 to 100 %.
    duty: u8,
}

impl HwPwm {
    /// Exports `channel` (unless it is already), sets its period for `hz` and enables it at
    /// 0 % (off: with `active_low`, the line stays high).
    pub fn open(channel: Channel, pin: u32, hz: u32, active_low: bool) -> Result<HwPwm> {
        let dir = channel.chip.join(format!("pwm{}", channel.index));
        if !dir.is_dir() {
            let export = channel.chip.join("export");
            match write_attr(&export, &channel.index.to_string()) {
                Ok(()) => {}
                // Exported meanwhile: fine, it is there.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => return Err(attr_error(pin, &channel.index.to_string(), &export, &e)),
            }
        }
        wait_writable(&dir.join("enable"), pin)?;
        let hz = hz.max(1);
        let pwm = HwPwm {
            channel,
            dir,
            pin,
            hz,
            period: 1_000_000_000 / u64::from(hz),
            active_low,
            duty: 0,
        };
        // From here a failure drops `pwm`, which unexports the channel again.
        pwm.start()?;
        Ok(pwm)
    }

    /// Period, then duty, then enable: the duty first goes to 0 so that it is never above
    /// the period (the kernel refuses that), whatever the period was.
    fn start(&self) -> Result<()> {
        self.put("duty_cycle", 0)?;
        let polarity = self.dir.join("polarity");
        if fs::read_to_string(&polarity).is_ok_and(|p| p.trim() == "inversed") {
            // Active-low is done by inverting the duty; the polarity changes only while
            // the channel is disabled.
            self.put("enable", 0)?;
            self.put("polarity", "normal")?;
        }
        self.put("period", self.period)?;
        self.put("duty_cycle", self.duty_ns(0))?;
        self.put("enable", 1)
    }

    /// Sets the duty, 0 to 100 %.
    pub fn set(&mut self, duty: u8) -> Result<()> {
        let duty = duty.min(100);
        self.put("duty_cycle", self.duty_ns(duty))?;
        self.duty = duty;
        Ok(())
    }

    /// The duty last set.
    pub fn duty(&self) -> u8 {
        self.duty
    }

    /// The pin it drives.
    pub fn pin(&self) -> u32 {
        self.pin
    }

    /// The channel it drives.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// `hardware PWM pwmchip0 channel 1, 200 Hz`.
    pub fn describe(&self) -> String {
        format!("hardware PWM {}, {} Hz", self.channel, self.hz)
    }

    /// The high time for a logical duty, in nanoseconds.
    fn duty_ns(&self, duty: u8) -> u64 {
        let duty = duty.min(100);
        let high = if self.active_low { 100 - duty } else { duty };
        self.period * u64::from(high) / 100
    }

    fn put(&self, attr: &str, value: impl fmt::Display) -> Result<()> {
        let path = self.dir.join(attr);
        let text = value.to_string();
        write_attr(&path, &text).map_err(|e| attr_error(self.pin, &text, &path, &e))
    }
}

impl Drop for HwPwm {
    /// Leaves the channel disabled (its line low) and unexported.
    fn drop(&mut self) {
        let _ = write_attr(&self.dir.join("duty_cycle"), "0");
        let _ = write_attr(&self.dir.join("enable"), "0");
        let _ = write_attr(
            &self.channel.chip.join("unexport"),
            &self.channel.index.to_string(),
        );
    }
}

/// Writes a sysfs attribute; a missing one is an error, never created.
fn write_attr(path: &Path, text: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Waits until udev has let us write `path` (a freshly exported channel's attribute).
fn wait_writable(path: &Path, pin: u32) -> Result<()> {
    let mut last = None;
    for _ in 0..EXPORT_TRIES {
        match OpenOptions::new().write(true).open(path) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                last = Some(e);
                thread::sleep(EXPORT_POLL);
            }
            Err(e) => return Err(file_error(pin, "opening", path, &e)),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::from(io::ErrorKind::TimedOut));
    Err(file_error(pin, "waiting for", path, &e))
}

fn attr_error(pin: u32, text: &str, path: &Path, e: &io::Error) -> anyhow::Error {
    file_error(pin, &format!("writing {text} to"), path, e)
}

/// `hardware PWM for GPIO18: writing 0 to /sys/class/pwm/pwmchip0/export: why`.
fn file_error(pin: u32, doing: &str, path: &Path, e: &io::Error) -> anyhow::Error {
    let why = if e.kind() == io::ErrorKind::PermissionDenied {
        "permission denied: join the gpio group (sudo usermod -aG gpio $USER, then log in \
         again), which Raspberry Pi OS's udev rules give /sys/class/pwm"
            .to_string()
    } else if e.raw_os_error() == Some(libc::EROFS) {
        "read-only file system (a systemd unit with ProtectKernelTunables=yes makes /sys \
         read-only)"
            .to_string()
    } else {
        e.to_string()
    };
    fail(
        Kind::Gpio,
        format!(
            "hardware PWM for GPIO{pin}: {doing} {}: {why}",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;
    use crate::gpio::{Backend, Options, PinConfig, PinMode, open_with};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fake root in the temporary directory, removed when dropped.
    struct Tree {
        root: PathBuf,
    }

    impl Tree {
        fn new(name: &str) -> Tree {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let unique = format!(
                "nicksock-hwpwm-{}-{name}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let root = std::env::temp_dir().join(unique);
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).unwrap();
            Tree { root }
        }

        fn file(&self, path: &str, bytes: &[u8]) {
            let path = self.root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }

        fn read(&self, path: &str) -> String {
            fs::read_to_string(self.root.join(path)).unwrap()
        }

        /// A PWM chip: its class files, and each channel already exported (a plain
        /// directory cannot react to `export`).
        fn chip(&self, chip: &str, npwm: u32) {
            let dir = format!("sys/class/pwm/{chip}");
            self.file(&format!("{dir}/export"), b"");
            self.file(&format!("{dir}/unexport"), b"");
            self.file(&format!("{dir}/npwm"), format!("{npwm}\n").as_bytes());
            for ch in 0..npwm {
                for attr in ["period", "duty_cycle", "enable"] {
                    self.file(&format!("{dir}/pwm{ch}/{attr}"), b"0\n");
                }
            }
        }

        /// A Raspberry Pi 4 with `dtoverlay=pwm-2chan`: pwmchip0 is the bcm2711 PWM block,
        /// its of_node a link into the device tree as in sysfs, muxed to GPIO18 and 19.
        fn pi4(name: &str) -> Tree {
            let t = Tree::new(name);
            t.chip("pwmchip0", 2);
            let node = "proc/device-tree/soc/pwm@7e20c000";
            t.file(
                &format!("{node}/compatible"),
                b"brcm,bcm2711-pwm\0brcm,bcm2835-pwm\0",
            );
            t.file(&format!("{node}/pinctrl-0"), &0x8au32.to_be_bytes());
            let pins = "proc/device-tree/soc/gpio@7e200000/pwm_pins";
            t.file(&format!("{pins}/phandle"), &0x8au32.to_be_bytes());
            t.file(&format!("{pins}/brcm,pins"), &cells(&[18, 19]));
            t.file(&format!("{pins}/brcm,function"), &cells(&[2, 2]));
            // Another node with pins 12 and 13, which the PWM block does not name.
            let spi = "proc/device-tree/soc/gpio@7e200000/other_pins";
            t.file(&format!("{spi}/phandle"), &0x8bu32.to_be_bytes());
            t.file(&format!("{spi}/brcm,pins"), &cells(&[12, 13]));
            fs::create_dir_all(t.root.join("sys/class/pwm/pwmchip0/device")).unwrap();
            std::os::unix::fs::symlink(
                t.root.join(node),
                t.root.join("sys/class/pwm/pwmchip0/device/of_node"),
            )
            .unwrap();
            t
        }

        /// A Raspberry Pi 5: pwmchip0 is RP1's pwm1 (the fan, on GPIO45), pwmchip1 its
        /// pwm0 muxed to GPIO18 and 12 by the generic `pins` strings, in subnodes; the
        /// device tree only under /sys/firmware.
        fn pi5(name: &str) -> Tree {
            let t = Tree::new(name);
            let base = "sys/firmware/devicetree/base/axi/pcie@120000/rp1";
            t.chip("pwmchip0", 4);
            t.file(
                "sys/class/pwm/pwmchip0/device/of_node/compatible",
                b"raspberrypi,rp1-pwm\0",
            );
            t.file(
                "sys/class/pwm/pwmchip0/device/of_node/pinctrl-0",
                &cells(&[0x20]),
            );
            t.file(
                &format!("{base}/gpio@d0000/fan_pins/phandle"),
                &cells(&[0x20]),
            );
            t.file(&format!("{base}/gpio@d0000/fan_pins/pins"), b"gpio45\0");
            t.chip("pwmchip1", 4);
            t.file(
                "sys/class/pwm/pwmchip1/device/of_node/compatible",
                b"raspberrypi,rp1-pwm\0",
            );
            t.file(
                "sys/class/pwm/pwmchip1/device/of_node/pinctrl-0",
                &cells(&[0x21]),
            );
            let group = format!("{base}/gpio@d0000/pwm0_pins");
            t.file(&format!("{group}/phandle"), &cells(&[0x21]));
            t.file(&format!("{group}/pin18/pins"), b"gpio18\0");
            t.file(&format!("{group}/pin18/function"), b"pwm0\0");
            t.file(&format!("{group}/pin12/pins"), b"gpio12\0");
            t
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    fn cells(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn hardware(t: &Tree, pin: u32) -> Option<(String, u32)> {
        match find(&t.root, pin) {
            Lookup::Hardware(ch) => Some((file_name(&ch.chip), ch.index)),
            _ => None,
        }
    }

    #[test]
    fn a_pi4_drives_only_the_pins_its_pwm_block_is_muxed_to() {
        let t = Tree::pi4("pi4");
        assert_eq!(hardware(&t, 18), Some(("pwmchip0".into(), 0)));
        assert_eq!(hardware(&t, 19), Some(("pwmchip0".into(), 1)));
        // Same channels, but the overlay muxed 18 and 19: software PWM, and why.
        for pin in [12, 13] {
            assert_eq!(
                find(&t.root, pin),
                Lookup::Software(format!("no PWM channel muxed to GPIO{pin}"))
            );
        }
        assert_eq!(
            find(&t.root, 17),
            Lookup::Software("no hardware PWM channel for GPIO17".into())
        );
    }

    #[test]
    fn a_pi5_uses_rp1_pwm0_channels_by_pin_names() {
        let t = Tree::pi5("pi5");
        assert_eq!(hardware(&t, 18), Some(("pwmchip1".into(), 2)));
        assert_eq!(hardware(&t, 12), Some(("pwmchip1".into(), 0)));
        assert_eq!(
            find(&t.root, 19),
            Lookup::Software("no PWM channel muxed to GPIO19".into())
        );
    }

    #[test]
    fn without_pwm_chips_there_is_nothing_to_say() {
        let t = Tree::new("none");
        assert_eq!(find(&t.root, 18), Lookup::NoChip);
        fs::create_dir_all(t.root.join("sys/class/pwm")).unwrap();
        assert_eq!(find(&t.root, 18), Lookup::NoChip);
    }

    #[test]
    fn what_cannot_be_read_or_is_missing_leaves_software_pwm() {
        let t = Tree::pi4("unreadable");
        let of_node = "proc/device-tree/soc/pwm@7e20c000";
        // A channel the chip does not have.
        t.file("sys/class/pwm/pwmchip0/npwm", b"1\n");
        assert_eq!(
            find(&t.root, 19),
            Lookup::Software("pwmchip0 has no channel 1".into())
        );
        t.file("sys/class/pwm/pwmchip0/npwm", b"2\n");
        // A phandle no node has, then a pinctrl-0 that is not whole cells.
        t.file(&format!("{of_node}/pinctrl-0"), &cells(&[0x99]));
        let unreadable = Lookup::Software("cannot read pwmchip0's pin mux".into());
        assert_eq!(find(&t.root, 18), unreadable);
        t.file(&format!("{of_node}/pinctrl-0"), &[0, 0, 0x8a]);
        assert_eq!(find(&t.root, 18), unreadable);
        fs::remove_file(t.root.join(of_node).join("pinctrl-0")).unwrap();
        assert_eq!(find(&t.root, 18), unreadable);
        // The pinctrl node gone.
        t.file(&format!("{of_node}/pinctrl-0"), &cells(&[0x8a]));
        assert!(hardware(&t, 18).is_some());
        fs::remove_dir_all(t.root.join("proc/device-tree/soc/gpio@7e200000")).unwrap();
        assert_eq!(find(&t.root, 18), unreadable);
        // A block we do not know.
        t.file(&format!("{of_node}/compatible"), b"vendor,other-pwm\0");
        assert_eq!(
            find(&t.root, 18),
            Lookup::Software("no hardware PWM channel for GPIO18".into())
        );
    }

    #[test]
    fn a_channel_is_set_up_driven_and_released() {
        let t = Tree::pi4("drive");
        let Lookup::Hardware(channel) = find(&t.root, 19) else {
            panic!("GPIO19 is muxed");
        };
        let ch = "sys/class/pwm/pwmchip0/pwm1";
        t.file(&format!("{ch}/polarity"), b"inversed\n");
        let mut pwm = HwPwm::open(channel, 19, 200, false).unwrap();
        assert_eq!(pwm.describe(), "hardware PWM pwmchip0 channel 1, 200 Hz");
        assert_eq!(t.read(&format!("{ch}/period")), "5000000");
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "0");
        assert_eq!(t.read(&format!("{ch}/enable")), "1");
        assert_eq!(t.read(&format!("{ch}/polarity")), "normal");
        pwm.set(40).unwrap();
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "2000000");
        assert_eq!(pwm.duty(), 40);
        pwm.set(100).unwrap();
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "5000000");
        drop(pwm);
        assert_eq!(t.read(&format!("{ch}/enable")), "0");
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "0");
        assert_eq!(t.read("sys/class/pwm/pwmchip0/unexport"), "1");
        // Nothing was exported: the channel was there already.
        assert_eq!(t.read("sys/class/pwm/pwmchip0/export"), "");
    }

    #[test]
    fn active_low_inverts_the_duty() {
        let t = Tree::pi4("active-low");
        let Lookup::Hardware(channel) = find(&t.root, 18) else {
            panic!("GPIO18 is muxed");
        };
        let mut pwm = HwPwm::open(channel, 18, 1000, true).unwrap();
        let duty = "sys/class/pwm/pwmchip0/pwm0/duty_cycle";
        assert_eq!(t.read("sys/class/pwm/pwmchip0/pwm0/period"), "1000000");
        assert_eq!(t.read(duty), "1000000", "off is high when active-low");
        pwm.set(40).unwrap();
        assert_eq!(t.read(duty), "600000");
        pwm.set(100).unwrap();
        assert_eq!(t.read(duty), "0");
    }

    #[test]
    fn a_channel_not_exported_is_exported_and_failures_name_the_file_and_pin() {
        let t = Tree::pi4("export");
        let Lookup::Hardware(channel) = find(&t.root, 18) else {
            panic!("GPIO18 is muxed");
        };
        fs::remove_dir_all(t.root.join("sys/class/pwm/pwmchip0/pwm0")).unwrap();
        fs::remove_file(t.root.join("sys/class/pwm/pwmchip0/export")).unwrap();
        let err = HwPwm::open(channel.clone(), 18, 200, false).unwrap_err();
        assert_eq!(exit_code(&err), 9);
        let text = err.to_string();
        assert!(
            text.contains("GPIO18") && text.contains("pwmchip0/export"),
            "{text}"
        );
        // The export is written; the channel's files appear (here, before it looks).
        t.file("sys/class/pwm/pwmchip0/export", b"");
        for attr in ["period", "duty_cycle", "enable"] {
            t.file(&format!("sys/class/pwm/pwmchip0/pwm0/{attr}"), b"0\n");
        }
        fs::rename(
            t.root.join("sys/class/pwm/pwmchip0/pwm0"),
            t.root.join("sys/class/pwm/pwmchip0/pwm0.later"),
        )
        .unwrap();
        let later = t.root.join("sys/class/pwm/pwmchip0");
        let appear = thread::spawn(move || {
            // The kernel's part: the directory appears once the export is written.
            for _ in 0..500 {
                if fs::read_to_string(later.join("export")).is_ok_and(|e| e == "0") {
                    return fs::rename(later.join("pwm0.later"), later.join("pwm0")).is_ok();
                }
                thread::sleep(Duration::from_millis(2));
            }
            false
        });
        let mut pwm = HwPwm::open(channel, 18, 200, false).unwrap();
        assert!(appear.join().unwrap(), "export was written");
        assert_eq!(t.read("sys/class/pwm/pwmchip0/pwm0/enable"), "1");
        // A write the kernel refuses fails with the file and the pin.
        fs::remove_file(t.root.join("sys/class/pwm/pwmchip0/pwm0/duty_cycle")).unwrap();
        let err = pwm.set(50).unwrap_err().to_string();
        assert!(
            err.contains("GPIO18") && err.contains("pwm0/duty_cycle"),
            "{err}"
        );
        assert_eq!(pwm.duty(), 0, "a failed write leaves the duty as it was");
    }

    /// The character-device backend on a fake root: a pin with a channel is driven by it
    /// and needs no GPIO chip (this machine may have none).
    #[test]
    fn cdev_drives_a_muxed_pwm_pin_through_its_channel() {
        let t = Tree::pi4("cdev");
        let pin = PinConfig {
            mode: PinMode::Pwm,
            ..PinConfig::output(18)
        };
        let options = Options {
            sysfs_root: t.root.clone(),
            ..Options::default()
        };
        let (mut gpio, line) = open_with(Backend::Cdev, None, &[pin], options).unwrap();
        assert_eq!(
            line,
            "gpio: GPIO character device: GPIO18 (hardware PWM pwmchip0 channel 0, 200 Hz) \
             (--backend cdev)"
        );
        gpio.set_duty(18, 40).unwrap();
        assert_eq!(gpio.duty(18), Some(40));
        assert!(gpio.read(18).unwrap());
        let ch = "sys/class/pwm/pwmchip0/pwm0";
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "2000000");
        gpio.write(18, false).unwrap();
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "0");
        assert!(!gpio.read(18).unwrap());
        gpio.write(18, true).unwrap();
        assert_eq!(t.read(&format!("{ch}/duty_cycle")), "5000000");
        assert!(gpio.set_duty(19, 10).is_err(), "GPIO19 is not served");
        drop(gpio);
        assert_eq!(t.read(&format!("{ch}/enable")), "0");
        assert_eq!(t.read("sys/class/pwm/pwmchip0/unexport"), "0");
    }
}
