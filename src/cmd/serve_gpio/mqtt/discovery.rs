//! Home Assistant's MQTT discovery (its "MQTT" integration, the documented keys of each
//! platform): one retained config per entity on
//! `DISCOVERY/COMPONENT/NODE/OBJECT/config`, every entity in one device (the host), all of
//! them available exactly while `PREFIX/status` says `online` (the last will says
//! `offline`). An entity whose pin left the command line is removed with an empty retained
//! config, which Home Assistant reads as "delete".

use serde_json::{Value, json};

use crate::cmd::serve_gpio::app::Entity;
use crate::gpio::PinMode;

/// Where discovery configs go, and the device they describe.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// `--ha-prefix`: `homeassistant`.
    pub prefix: String,
    /// The node id in the topics and unique ids: the host name with anything but
    /// `[A-Za-z0-9_-]` made `_`.
    pub node: String,
    /// The device's name: the host name.
    pub device: String,
    /// `--read-only`: outputs are announced as sensors, with no commands.
    pub read_only: bool,
}

/// A node id as Home Assistant takes it: `[A-Za-z0-9_-]` only (the client id's).
pub fn node_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() { "nicksock".into() } else { id }
}

impl Discovery {
    /// The filter that finds this device's configs, old ones included.
    pub fn filter(&self) -> String {
        format!("{}/+/{}/+/config", self.prefix, self.node)
    }

    /// Every entity's config topic and JSON document, for the pins served now.
    pub fn configs(&self, topic_prefix: &str, entities: &[Entity]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for entity in entities {
            let pin = entity.config.pin;
            let label = entity.name.clone().unwrap_or_else(|| format!("GPIO{pin}"));
            let state = format!("{topic_prefix}/{pin}/state");
            let set = format!("{topic_prefix}/{pin}/set");
            let (component, mut doc) = match entity.config.mode {
                // Read-only: what the pins are, and no way to change them.
                PinMode::Output | PinMode::Input if self.read_only => (
                    "binary_sensor",
                    json!({ "state_topic": state, "payload_on": "ON", "payload_off": "OFF" }),
                ),
                PinMode::Pwm if self.read_only => (
                    "sensor",
                    json!({ "state_topic": state, "unit_of_measurement": "%" }),
                ),
                PinMode::Output => (
                    "switch",
                    json!({ "command_topic": set, "state_topic": state,
                            "payload_on": "ON", "payload_off": "OFF" }),
                ),
                // The state topic carries the duty cycle: on when above 0.
                PinMode::Pwm => (
                    "light",
                    json!({ "command_topic": set, "state_topic": state,
                            "state_value_template":
                                "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}",
                            "brightness_command_topic": set,
                            "brightness_state_topic": state,
                            "brightness_scale": 100,
                            "on_command_type": "brightness",
                            "payload_on": "ON", "payload_off": "OFF" }),
                ),
                PinMode::Input => (
                    "binary_sensor",
                    json!({ "state_topic": state, "payload_on": "ON", "payload_off": "OFF" }),
                ),
            };
            let object = format!("gpio{pin}");
            self.complete(&mut doc, &label, &object, topic_prefix);
            out.push((self.topic(component, &object), doc.to_string()));
            if entity.pressable && !self.read_only {
                let object = format!("gpio{pin}_press");
                let mut doc = json!({ "command_topic": set, "payload_press": "PRESS" });
                self.complete(&mut doc, &format!("{label} press"), &object, topic_prefix);
                out.push((self.topic("button", &object), doc.to_string()));
            }
        }
        out
    }

    fn topic(&self, component: &str, object: &str) -> String {
        format!("{}/{component}/{}/{object}/config", self.prefix, self.node)
    }

    /// What every entity's config has: its names, its availability, its device.
    fn complete(&self, doc: &mut Value, label: &str, object: &str, topic_prefix: &str) {
        doc["name"] = json!(label);
        doc["unique_id"] = json!(format!("nicksock_{}_{object}", self.node));
        doc["availability_topic"] = json!(format!("{topic_prefix}/status"));
        doc["payload_available"] = json!("online");
        doc["payload_not_available"] = json!("offline");
        doc["qos"] = json!(1);
        doc["device"] = json!({
            "identifiers": [format!("nicksock_{}", self.node)],
            "name": self.device,
            "manufacturer": "nicksock",
            "model": "serve-gpio",
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpio::PinConfig;

    fn entity(pin: u32, mode: PinMode, name: Option<&str>, pressable: bool) -> Entity {
        Entity {
            config: PinConfig {
                pin,
                mode,
                active_low: false,
            },
            name: name.map(str::to_string),
            pressable,
        }
    }

    #[test]
    fn each_kind_of_pin_is_its_platform() {
        let d = Discovery {
            prefix: "homeassistant".into(),
            node: node_id("pi.lan"),
            device: "pi.lan".into(),
            read_only: false,
        };
        assert_eq!(d.node, "pi_lan");
        assert_eq!(d.filter(), "homeassistant/+/pi_lan/+/config");
        let configs = d.configs(
            "nicksock/pi",
            &[
                entity(13, PinMode::Output, Some("LED"), false),
                entity(18, PinMode::Pwm, None, false),
                entity(21, PinMode::Input, Some("Button"), true),
            ],
        );
        let topics: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/switch/pi_lan/gpio13/config",
                "homeassistant/light/pi_lan/gpio18/config",
                "homeassistant/binary_sensor/pi_lan/gpio21/config",
                "homeassistant/button/pi_lan/gpio21_press/config",
            ]
        );
        let doc: Value = serde_json::from_str(&configs[0].1).unwrap();
        assert_eq!(doc["name"], "LED");
        assert_eq!(doc["command_topic"], "nicksock/pi/13/set");
        assert_eq!(doc["state_topic"], "nicksock/pi/13/state");
        assert_eq!(doc["availability_topic"], "nicksock/pi/status");
        assert_eq!(doc["unique_id"], "nicksock_pi_lan_gpio13");
        assert_eq!(doc["device"]["identifiers"][0], "nicksock_pi_lan");
        let light: Value = serde_json::from_str(&configs[1].1).unwrap();
        assert_eq!(light["name"], "GPIO18");
        assert_eq!(light["brightness_scale"], 100);
        let button: Value = serde_json::from_str(&configs[3].1).unwrap();
        assert_eq!(button["payload_press"], "PRESS");
        assert_eq!(node_id(""), "nicksock");
        // Read-only: sensors only.
        let d = Discovery {
            read_only: true,
            ..d
        };
        let configs = d.configs(
            "p",
            &[
                entity(13, PinMode::Output, None, false),
                entity(18, PinMode::Pwm, None, false),
                entity(21, PinMode::Input, None, true),
            ],
        );
        let topics: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/binary_sensor/pi_lan/gpio13/config",
                "homeassistant/sensor/pi_lan/gpio18/config",
                "homeassistant/binary_sensor/pi_lan/gpio21/config",
            ]
        );
        assert!(
            configs
                .iter()
                .all(|(_, doc)| !doc.contains("command_topic"))
        );
    }
}
