//! Which chip and line offset a BCM GPIO number is, decided from chip descriptions alone so
//! the rules are tested without hardware. The Pi 5 renumbered its chips twice
//! (gpiochip4 → gpiochip0 → gpiochip11+), so a pin is found by the names and labels that
//! stayed put, never by a chip number.

use std::fmt;
use std::path::PathBuf;

use anyhow::Result;

use crate::error::{Kind, fail};

/// Labels of the chip that carries the 40-pin header's GPIO0..27 at offsets 0..27: Pi 5,
/// Pi 4, and Pi 3 / Zero.
pub const HEADER_LABELS: [&str; 3] = ["pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"];

/// What the kernel tells about one GPIO chip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChipDesc {
    /// The character device (`/dev/gpiochip0`).
    pub path: PathBuf,
    /// The kernel's name for it (`gpiochip0`).
    pub name: String,
    /// What kind of chip it is (`pinctrl-rp1`).
    pub label: String,
    /// The name of each line, by offset (empty where the device tree names none).
    pub line_names: Vec<String>,
}

impl ChipDesc {
    /// The number of lines on the chip.
    pub fn num_lines(&self) -> usize {
        self.line_names.len()
    }

    fn is_header(&self) -> bool {
        HEADER_LABELS.contains(&self.label.as_str())
    }

    fn matches(&self, filter: &str) -> bool {
        self.name == filter || self.label == filter || self.path.as_os_str() == filter
    }

    fn has_offset(&self, offset: u32) -> bool {
        usize::try_from(offset).is_ok_and(|o| o < self.num_lines())
    }
}

impl fmt::Display for ChipDesc {
    /// `path [label] (n lines)`, as `gpiodetect` shows a chip.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] ({} lines)",
            self.path.display(),
            self.label,
            self.num_lines()
        )
    }
}

/// How a pin was found, for the line that says which lines are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A line named `GPIO<n>`.
    ByName,
    /// Offset n on a chip with a Raspberry Pi header label.
    ByHeaderLabel,
    /// Offset n on the chip named with `--chip`.
    ByChipOption,
}

/// Where a pin is: a chip of the list given to [`locate`], and the line's offset on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// The chip that has the line.
    pub chip: &'a ChipDesc,
    /// The line's offset on that chip.
    pub offset: u32,
    /// Which rule found it.
    pub found: Found,
}

/// Finds BCM GPIO `pin` among `chips` (given in `/dev` order), within the chips that
/// `chip_filter` names (by name, label or path) if given:
///
/// 1. the line named `GPIO<pin>` (on a header chip first, if several chips have one);
/// 2. else offset `pin` on the first chip with a header label ([`HEADER_LABELS`]), or with
///    `--chip`, on the first chip it names (the user chose the chip, so its offsets count);
/// 3. else an error that lists the chips found.
pub fn locate<'a>(
    pin: u32,
    chips: &'a [ChipDesc],
    chip_filter: Option<&str>,
) -> Result<Location<'a>> {
    if chips.is_empty() {
        return Err(fail(
            Kind::Gpio,
            "no GPIO chips found (no /dev/gpiochip*): is this a Raspberry Pi with its gpio \
             driver loaded? (--backend sim runs without one)",
        ));
    }
    let candidates: Vec<&ChipDesc> = chips
        .iter()
        .filter(|c| chip_filter.is_none_or(|f| c.matches(f)))
        .collect();
    if let (Some(filter), true) = (chip_filter, candidates.is_empty()) {
        return Err(fail(
            Kind::Gpio,
            format!(
                "no GPIO chip matches --chip {filter}; chips found: {}",
                list(chips)
            ),
        ));
    }
    if let Some(location) = by_name(pin, &candidates) {
        return Ok(location);
    }
    let by_offset = candidates
        .iter()
        .find(|c| (chip_filter.is_some() || c.is_header()) && c.has_offset(pin));
    if let Some(chip) = by_offset {
        let found = if chip_filter.is_some() {
            Found::ByChipOption
        } else {
            Found::ByHeaderLabel
        };
        return Ok(Location {
            chip,
            offset: pin,
            found,
        });
    }
    let where_ = match chip_filter {
        Some(filter) => format!("on --chip {filter}, which has no line {pin}"),
        None => format!(
            "and no Raspberry Pi header chip ({}) has a line {pin}",
            HEADER_LABELS.join(", ")
        ),
    };
    Err(fail(
        Kind::Gpio,
        format!(
            "GPIO{pin}: no line is named GPIO{pin} {where_}; chips found: {} \
             (choose one with --chip)",
            list(chips)
        ),
    ))
}

fn by_name<'a>(pin: u32, candidates: &[&'a ChipDesc]) -> Option<Location<'a>> {
    let name = format!("GPIO{pin}");
    let mut named = candidates.iter().filter_map(|chip| {
        let offset = chip.line_names.iter().position(|n| *n == name)?;
        let offset = u32::try_from(offset).ok()?;
        Some(Location {
            chip,
            offset,
            found: Found::ByName,
        })
    });
    let first = named.next()?;
    if first.chip.is_header() {
        return Some(first);
    }
    Some(named.find(|l| l.chip.is_header()).unwrap_or(first))
}

/// `path [label] (n lines)` for each chip, comma-separated.
pub fn list(chips: &[ChipDesc]) -> String {
    let all: Vec<String> = chips.iter().map(ChipDesc::to_string).collect();
    all.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    /// The header bank's names as the Pi device trees give them.
    fn header_names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| match i {
                0 => "ID_SDA".to_string(),
                1 => "ID_SCL".to_string(),
                _ if i < 28 => format!("GPIO{i}"),
                _ => format!("SOC_{i}"),
            })
            .collect()
    }

    fn chip(num: u32, label: &str, line_names: Vec<String>) -> ChipDesc {
        ChipDesc {
            path: PathBuf::from(format!("/dev/gpiochip{num}")),
            name: format!("gpiochip{num}"),
            label: label.to_string(),
            line_names,
        }
    }

    fn unnamed(n: usize) -> Vec<String> {
        vec![String::new(); n]
    }

    fn soc_bank(num: u32, n: usize) -> ChipDesc {
        let names = (0..n).map(|i| format!("HDMI_{num}_{i}")).collect();
        chip(num, &format!("gpio-brcmstb@107d50{num}"), names)
    }

    /// Pi 5 on kernels 6.6.45 to 6.12: RP1 at gpiochip0, SoC banks at 10+.
    fn pi5_chip0() -> Vec<ChipDesc> {
        vec![
            chip(0, "pinctrl-rp1", header_names(54)),
            soc_bank(10, 32),
            soc_bank(11, 4),
        ]
    }

    /// Pi 5 on later kernels: no gpiochip0, the header bank somewhere past 11.
    fn pi5_chip11() -> Vec<ChipDesc> {
        vec![
            soc_bank(11, 32),
            soc_bank(12, 4),
            chip(13, "pinctrl-rp1", header_names(54)),
        ]
    }

    fn pi4() -> Vec<ChipDesc> {
        vec![
            chip(0, "pinctrl-bcm2711", header_names(58)),
            chip(1, "raspberrypi-exp-gpio", unnamed(8)),
        ]
    }

    fn path_of(l: &Location<'_>) -> String {
        l.chip.path.display().to_string()
    }

    #[test]
    fn pi5_header_found_by_name_wherever_it_is_numbered() {
        let chips = pi5_chip0();
        let l = locate(13, &chips, None).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip0".into(), 13));
        assert_eq!(l.found, Found::ByName);

        let chips = pi5_chip11();
        let l = locate(13, &chips, None).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip13".into(), 13));
        assert_eq!(l.found, Found::ByName);
    }

    #[test]
    fn pi4_and_pi3_found_by_name() {
        let chips = pi4();
        let l = locate(19, &chips, None).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip0".into(), 19));
        let pi3 = vec![chip(0, "pinctrl-bcm2835", header_names(54))];
        let l = locate(2, &pi3, None).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip0".into(), 2));
    }

    #[test]
    fn unnamed_header_chip_found_by_label_at_offset_n() {
        let chips = vec![
            chip(0, "raspberrypi-exp-gpio", unnamed(8)),
            chip(1, "pinctrl-bcm2711", unnamed(58)),
        ];
        let l = locate(13, &chips, None).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip1".into(), 13));
        assert_eq!(l.found, Found::ByHeaderLabel);
    }

    #[test]
    fn a_header_chip_wins_when_several_chips_name_the_line() {
        let mut decoy = soc_bank(4, 32);
        decoy.line_names[3] = "GPIO13".into();
        let chips = vec![decoy, chip(5, "pinctrl-rp1", header_names(54))];
        let l = locate(13, &chips, None).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip5".into(), 13));
    }

    #[test]
    fn chip_option_by_label_name_or_path() {
        let chips = pi5_chip11();
        for filter in ["pinctrl-rp1", "gpiochip13", "/dev/gpiochip13"] {
            let l = locate(13, &chips, Some(filter)).unwrap();
            assert_eq!(
                (path_of(&l), l.offset),
                ("/dev/gpiochip13".into(), 13),
                "{filter}"
            );
        }
    }

    #[test]
    fn chip_option_uses_offsets_on_a_chip_without_names_or_known_label() {
        let chips = pi4();
        let l = locate(5, &chips, Some("raspberrypi-exp-gpio")).unwrap();
        assert_eq!((path_of(&l), l.offset), ("/dev/gpiochip1".into(), 5));
        assert_eq!(l.found, Found::ByChipOption);
        let err = locate(13, &chips, Some("gpiochip1")).unwrap_err();
        assert!(err.to_string().contains("no line 13"), "{err}");
    }

    #[test]
    fn chip_option_restricts_the_search() {
        // GPIO13 exists, but not on the chip asked for: never silently use another chip.
        let chips = pi5_chip0();
        let err = locate(13, &chips, Some("gpiochip11")).unwrap_err();
        assert_eq!(exit_code(&err), 9);
    }

    #[test]
    fn chip_option_that_matches_nothing_lists_the_chips() {
        let err = locate(13, &pi4(), Some("gpiochip4")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("--chip gpiochip4"), "{msg}");
        assert!(
            msg.contains("/dev/gpiochip0 [pinctrl-bcm2711] (58 lines)"),
            "{msg}"
        );
    }

    #[test]
    fn missing_pin_lists_every_chip() {
        let chips = vec![soc_bank(10, 32), chip(11, "other", unnamed(4))];
        let err = locate(13, &chips, None).unwrap_err();
        assert_eq!(exit_code(&err), 9);
        let msg = err.to_string();
        assert!(msg.contains("GPIO13"), "{msg}");
        assert!(
            msg.contains("/dev/gpiochip10 [gpio-brcmstb@107d5010] (32 lines)"),
            "{msg}"
        );
        assert!(msg.contains("/dev/gpiochip11 [other] (4 lines)"), "{msg}");
        assert!(msg.contains("--chip"), "{msg}");
    }

    #[test]
    fn pin_past_the_header_chip_is_missing() {
        let chips = vec![chip(0, "pinctrl-bcm2835", unnamed(54))];
        assert!(locate(54, &chips, None).is_err());
        assert!(locate(53, &chips, None).is_ok());
    }

    #[test]
    fn no_chips_at_all_says_so() {
        let err = locate(13, &[], None).unwrap_err();
        assert!(err.to_string().contains("no GPIO chips"), "{err}");
    }
}
