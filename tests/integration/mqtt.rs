//! `serve-gpio --mqtt` against a real broker: mosquitto started per test (plain, TLS with a
//! `gen-cert` CA and a client certificate, a password file), with `mosquitto_sub` and
//! `mosquitto_pub` as Home Assistant's side: discovery configs, commands, states published
//! retained, the last will, a broker restarted mid-run, wrong credentials.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_gpio::{Served, curl};
use crate::util::*;

/// How long a message may take to come before a test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// A mosquitto of the test's own. It listens on a Unix socket in the test's directory, and
/// `nicksock relay` holds the TCP port of 127.0.0.1 its clients use, from an ephemeral bind
/// to the end of the test: no port is chosen while free and bound later, and a broker
/// started again (on the same socket) is behind the same port.
struct Broker {
    mosquitto: Proc,
    _relay: Proc,
    port: u16,
    conf: PathBuf,
    /// `--cafile` etc. for its clients, with TLS.
    client_args: Vec<String>,
}

impl Broker {
    /// Starts mosquitto with `extra` configuration lines in `dir` (its database there too),
    /// or `None` (a SKIP) when mosquitto is not installed.
    fn start(dir: &Path, extra: &str) -> Option<Broker> {
        if !Path::new("/usr/sbin/mosquitto").exists() {
            skip("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)");
            return None;
        }
        if !have("mosquitto_sub") || !have("mosquitto_pub") {
            return None;
        }
        // Started as root, mosquitto becomes the user `mosquitto`, who could read neither
        // the test's key files nor its database folder: it stays who we are.
        let me = Command::new("id").arg("-un").output().expect("id -un");
        let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
        let socket = dir.join("mqtt.sock");
        let conf = dir.join("mosquitto.conf");
        // `listener 0 PATH`: a Unix socket; the listener's TLS options in `extra` apply to it.
        let text = format!(
            "user {me}\nlistener 0 {}\npersistence true\npersistence_location {}/\n\
             log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n\
             log_type information\n{extra}\n",
            socket.display(),
            dir.display()
        );
        std::fs::write(&conf, text).expect("mosquitto.conf");
        let mosquitto = Self::run(&conf);
        let socket = socket.to_str().expect("a UTF-8 path");
        let mut relay = Proc::spawn(nicksock(&["relay", "127.0.0.1", "0", "--to-unix", socket]));
        let port = relay.wait_ready(1)[0].port();
        Some(Broker {
            mosquitto,
            _relay: relay,
            port,
            conf,
            client_args: Vec::new(),
        })
    }

    /// Runs mosquitto with `conf`, once it says it is running (its listener is open).
    fn run(conf: &Path) -> Proc {
        let mut cmd = Command::new("/usr/sbin/mosquitto");
        cmd.arg("-c").arg(conf);
        let mut mosquitto = Proc::spawn(cmd);
        mosquitto.wait_line("running");
        mosquitto
    }

    /// Stops it with SIGTERM (it saves its sessions and queued messages) and waits.
    fn stop(&mut self) {
        self.mosquitto.signal("TERM");
        self.mosquitto.wait();
    }

    /// Starts it again on the same socket and database.
    fn restart(&mut self) {
        self.mosquitto = Self::run(&self.conf);
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `mosquitto_pub ARGS` to this broker, at QoS 1.
    fn publish(&self, topic: &str, payload: &str) {
        let out = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1"])
            .args(&self.client_args)
            .args(["-t", topic, "-m", payload])
            .output()
            .expect("mosquitto_pub");
        assert!(
            out.status.success(),
            "mosquitto_pub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A `mosquitto_sub` of `topics`.
    fn subscribe(&self, topics: &[&str]) -> Sub {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1"])
            .args(&self.client_args)
            // topic, retained flag and payload, one message a line.
            .args(["-F", "%t|%r|%p"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Sub {
            child,
            rx,
            unread: Default::default(),
        }
    }
}

/// A message as `mosquitto_sub -F '%t|%r|%p'` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    topic: String,
    retained: bool,
    payload: String,
}

struct Sub {
    child: Child,
    rx: Receiver<String>,
    /// Messages that came while another was waited for, in order.
    unread: std::cell::RefCell<Vec<Message>>,
}

impl Sub {
    /// Takes the first message `want` accepts, of those that came and were not taken yet
    /// or that come within [`PATIENCE`]; panics listing what came.
    fn wait(&self, what: &str, want: impl Fn(&Message) -> bool) -> Message {
        let mut unread = self.unread.borrow_mut();
        if let Some(i) = unread.iter().position(&want) {
            return unread.remove(i);
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.rx.recv_timeout(left) else {
                panic!("no message: {what}; came: {unread:?}");
            };
            let mut parts = line.splitn(3, '|');
            let m = Message {
                topic: parts.next().unwrap_or_default().to_string(),
                retained: parts.next() == Some("1"),
                payload: parts.next().unwrap_or_default().to_string(),
            };
            if want(&m) {
                return m;
            }
            unread.push(m);
        }
    }

    /// Waits for `payload` on `topic`.
    fn wait_for(&self, topic: &str, payload: &str) -> Message {
        self.wait(&format!("{topic} {payload}"), |m| {
            m.topic == topic && m.payload == payload
        })
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve-gpio` on simulated pins with `--mqtt URL`, once it says it is connected.
fn serve(url: &str, args: &[&str]) -> Served {
    let mut all = vec!["--mqtt", url];
    all.extend_from_slice(args);
    let mut served = Served::start(&all);
    served.proc.wait_line("mqtt: connected to");
    served
}

fn post_json(served: &Served, path: &str, body: &str) -> Value {
    curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        &served.url(path),
    ])
    .json()
}

fn pin_value(served: &Served, pin: u32) -> Value {
    curl(&[&served.url(&format!("/api/pins/{pin}"))]).json()
}

#[test]
fn mqtt_states_commands_and_home_assistant_discovery_with_mosquitto() {
    let dir = tempdir();
    let Some(broker) = Broker::start(dir.path(), "allow_anonymous true") else {
        return;
    };
    // Home Assistant's side, subscribed before serve-gpio starts.
    let ha = broker.subscribe(&["homeassistant/#", "test/pi/#"]);
    let served = serve(
        &broker.url(),
        &[
            "--pin",
            "13=LED",
            "--pwm",
            "18",
            "--input",
            "21=Button",
            "--mqtt-topic",
            "test/pi",
            "--ha-discovery",
        ],
    );
    // Discovery: one config per entity, each JSON with the documented keys.
    let mut configs = Vec::new();
    for (component, object) in [
        ("switch", "gpio13"),
        ("light", "gpio18"),
        ("binary_sensor", "gpio21"),
        ("button", "gpio21_press"),
    ] {
        let m = ha.wait(&format!("the {component} config"), |m| {
            m.topic.starts_with(&format!("homeassistant/{component}/"))
                && m.topic.ends_with(&format!("/{object}/config"))
        });
        let doc: Value = serde_json::from_str(&m.payload).expect("a config is JSON");
        for key in ["name", "unique_id", "availability_topic", "device"] {
            assert!(doc.get(key).is_some(), "{component}: no {key}: {doc}");
        }
        assert_eq!(doc["availability_topic"], "test/pi/status");
        assert_eq!(doc["device"]["model"], "serve-gpio");
        configs.push(doc);
    }
    assert_eq!(configs[0]["name"], "LED");
    assert_eq!(configs[0]["command_topic"], "test/pi/13/set");
    assert_eq!(configs[0]["state_topic"], "test/pi/13/state");
    assert_eq!(configs[1]["brightness_command_topic"], "test/pi/18/set");
    assert_eq!(configs[1]["brightness_scale"], 100);
    assert_eq!(configs[2]["state_topic"], "test/pi/21/state");
    assert_eq!(configs[3]["command_topic"], "test/pi/21/set");
    assert_eq!(configs[3]["payload_press"], "PRESS");
    // Every entity is in the one device.
    let ids: Vec<&Value> = configs
        .iter()
        .map(|c| &c["device"]["identifiers"])
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let unique: std::collections::HashSet<&str> = configs
        .iter()
        .map(|c| c["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), 4);
    ha.wait_for("test/pi/status", "online");
    ha.wait_for("test/pi/13/state", "OFF");

    // A command by mosquitto_pub: the pin changes, the page's event stream says so, and
    // the state comes back retained.
    let events = crate::gpio_events::Subscriber::start(&[&served.url("/api/events")]);
    let first = events.next();
    assert_eq!(first["cause"], "initial");
    broker.publish("test/pi/13/set", "ON");
    let event = (0..4)
        .map(|_| events.next())
        .find(|e| e["pin"] == 13 && e["cause"] == "mqtt")
        .expect("an mqtt event for pin 13");
    assert_eq!(event["state"], "on");
    assert_eq!(pin_value(&served, 13)["value"], 1);
    ha.wait_for("test/pi/13/state", "ON");
    // By name.
    broker.publish("test/pi/LED/set", "off");
    ha.wait_for("test/pi/13/state", "OFF");
    // With a hold: on for a while, then off by the timer, both published.
    broker.publish("test/pi/13/set", "ON for 0.2");
    ha.wait_for("test/pi/13/state", "ON");
    ha.wait_for("test/pi/13/state", "OFF");
    // A change made over HTTP is published, and retained for whoever comes later.
    post_json(&served, "/api/pins/13", r#"{"state":"on"}"#);
    ha.wait_for("test/pi/13/state", "ON");
    let later = broker.subscribe(&["test/pi/13/state"]);
    let m = later.wait_for("test/pi/13/state", "ON");
    assert!(m.retained, "{m:?}");
    // PWM: a duty in percent, published as the duty.
    broker.publish("test/pi/18/set", "40");
    ha.wait_for("test/pi/18/state", "40");
    assert_eq!(pin_value(&served, 18)["duty"], 40);
    // A simulated button pressed from Home Assistant: down, then up again.
    broker.publish("test/pi/21/set", "PRESS");
    ha.wait_for("test/pi/21/state", "ON");
    ha.wait_for("test/pi/21/state", "OFF");
    // A command that is not one: said on stderr, nothing changes, the client goes on.
    let mut served = served;
    broker.publish("test/pi/13/set", "SIDEWAYS");
    let said = served.proc.wait_line("SIDEWAYS");
    assert!(said.contains("not a command"), "{said}");
    broker.publish("test/pi/13/set", "TOGGLE");
    ha.wait_for("test/pi/13/state", "OFF");
    // A pin that is not served is refused as over HTTP.
    broker.publish("test/pi/5/set", "ON");
    let said = served.proc.wait_line("5/set");
    assert!(said.contains("not served"), "{said}");
}

#[test]
fn mqtt_read_only_refuses_commands_and_still_publishes() {
    let dir = tempdir();
    let Some(broker) = Broker::start(dir.path(), "allow_anonymous true") else {
        return;
    };
    let sub = broker.subscribe(&["ro/#"]);
    let mut served = serve(
        &broker.url(),
        &["--pin", "13", "--read-only", "--mqtt-topic", "ro"],
    );
    sub.wait_for("ro/13/state", "OFF");
    broker.publish("ro/13/set", "ON");
    let said = served.proc.wait_line("13/set");
    assert!(said.contains("read-only"), "{said}");
    assert_eq!(pin_value(&served, 13)["value"], 0);
}

#[test]
fn mqtt_last_will_and_a_broker_restarted_mid_run() {
    let dir = tempdir();
    let Some(mut broker) = Broker::start(dir.path(), "allow_anonymous true") else {
        return;
    };
    let mut served = serve(
        &broker.url(),
        &[
            "--pin",
            "13",
            "--pin",
            "19",
            "--mqtt-topic",
            "r/pi",
            "--mqtt-client-id",
            "restart-test",
        ],
    );
    {
        let sub = broker.subscribe(&["r/pi/#"]);
        sub.wait_for("r/pi/status", "online");
    }
    let events = crate::gpio_events::Subscriber::start(&[&served.url("/api/events")]);
    // The broker goes away (saving its sessions) and comes back: the page works
    // meanwhile, and a command published at QoS 1 before serve-gpio is back is carried out
    // once it is. (serve-gpio is stopped while the broker restarts and the command is
    // published, so it cannot be back before.)
    broker.stop();
    served.proc.wait_line("mqtt: lost");
    assert_eq!(pin_value(&served, 13)["value"], 0);
    served.proc.signal("STOP");
    broker.restart();
    broker.publish("r/pi/13/set", "TOGGLE");
    // A marker after it: the broker keeps a session's messages in order.
    broker.publish("r/pi/19/set", "ON");
    served.proc.signal("CONT");
    served.proc.wait_line("mqtt: connected again");
    let sub = broker.subscribe(&["r/pi/#"]);
    sub.wait_for("r/pi/19/state", "ON");
    // Once: every change of pin 13 the page's stream saw, up to the marker.
    let mut changes_13 = Vec::new();
    loop {
        let e = events.next();
        if e["pin"] == 19 && e["cause"] == "mqtt" {
            break;
        }
        if e["pin"] == 13 && e["cause"] != "initial" {
            changes_13.push((e["state"].clone(), e["cause"].clone()));
        }
    }
    assert_eq!(changes_13, [("on".into(), "mqtt".into())]);
    assert_eq!(pin_value(&served, 13)["value"], 1);
    // Killed without a word: the broker publishes the last will.
    served.proc.signal("KILL");
    sub.wait_for("r/pi/status", "offline");
    let later = broker.subscribe(&["r/pi/status"]);
    assert!(later.wait_for("r/pi/status", "offline").retained);
}

#[test]
fn mqtt_wrong_credentials_are_a_clear_error_and_the_page_works() {
    let dir = tempdir();
    let passwords = dir.path().join("passwords");
    let made = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args(["pi", "s3cret-word"])
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        _ => {
            skip("mosquitto_passwd did not run");
            return;
        }
    }
    let extra = format!(
        "allow_anonymous false\npassword_file {}",
        passwords.display()
    );
    let Some(broker) = Broker::start(dir.path(), &extra) else {
        return;
    };
    let wrong = format!("mqtt://pi:not-it@127.0.0.1:{}", broker.port);
    let mut served = Served::start(&["--pin", "13", "--mqtt", &wrong]);
    let said = served.proc.wait_line("nicksock: mqtt:");
    assert!(
        said.contains("not authorized") || said.contains("bad user name or password"),
        "{said}"
    );
    assert!(!said.contains("not-it"), "the password was shown: {said}");
    // The page is served all the same.
    assert_eq!(pin_value(&served, 13)["value"], 0);
    drop(served);
    // The right password, from the environment (off the command line and out of ps), and
    // masked in --trace.
    let right = format!("mqtt://pi:s3cret-word@127.0.0.1:{}", broker.port);
    let trace = dir.path().join("trace.txt");
    let mut cmd = nicksock(&[
        "serve-gpio",
        "--trace-ascii",
        trace.to_str().unwrap(),
        "--backend",
        "sim",
        "127.0.0.1",
        "--port",
        "0",
        "--pin",
        "13",
        "--mqtt-topic",
        "auth/pi",
    ]);
    cmd.env("NICKSOCK_MQTT", &right);
    let mut proc = Proc::spawn(cmd);
    let line = proc.wait_line("mqtt: connected to");
    assert!(!line.contains("s3cret"), "{line}");
    assert!(
        line.contains(&format!("mqtt://127.0.0.1:{}", broker.port)),
        "{line}"
    );
    let traced = String::from_utf8_lossy(&file_bytes(&trace)).into_owned();
    assert!(traced.contains("MQTT"), "the CONNECT is traced: {traced}");
    assert!(
        !traced.contains("s3cret"),
        "the password is in the trace: {traced}"
    );
    assert!(traced.contains("***********"), "{traced}");
}

#[test]
fn mqtts_to_a_broker_with_a_gen_cert_ca_and_a_client_certificate() {
    let dir = tempdir();
    let d = dir.path();
    let path = |name: &str| d.join(name).display().to_string();
    gen_cert(d, &["--ca", "Test CA"]);
    gen_cert(
        d,
        &[
            "--ca-cert",
            &path("ca.pem"),
            "--ca-key",
            &path("ca-key.pem"),
            "127.0.0.1",
        ],
    );
    gen_cert(
        d,
        &[
            "--client",
            "--ca-cert",
            &path("ca.pem"),
            "--ca-key",
            &path("ca-key.pem"),
            "pi",
        ],
    );
    let extra = format!(
        "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true",
        path("ca.pem"),
        path("cert.pem"),
        path("cert-key.pem")
    );
    let Some(mut broker) = Broker::start(d, &extra) else {
        return;
    };
    broker.client_args = [
        "--cafile",
        &path("ca.pem"),
        "--cert",
        &path("client.pem"),
        "--key",
        &path("client-key.pem"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let sub = broker.subscribe(&["tls/pi/#"]);
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let served = serve(
        &url,
        &[
            "--pin",
            "13",
            "--mqtt-topic",
            "tls/pi",
            "--mqtt-cacert",
            &path("ca.pem"),
            "--mqtt-cert",
            &path("client.pem"),
            "--mqtt-key",
            &path("client-key.pem"),
        ],
    );
    sub.wait_for("tls/pi/status", "online");
    broker.publish("tls/pi/13/set", "ON");
    sub.wait_for("tls/pi/13/state", "ON");
    assert_eq!(pin_value(&served, 13)["value"], 1);
    drop(served);
    // Without the CA the broker's certificate is refused, clearly, and tried again later.
    let mut served = Served::start(&["--pin", "13", "--mqtt", &url]);
    let said = served.proc.wait_line("nicksock: mqtt:");
    assert!(said.contains("certificate"), "{said}");
}

#[test]
fn a_pin_left_off_the_command_line_leaves_home_assistant_at_the_next_start() {
    let dir = tempdir();
    let Some(broker) = Broker::start(dir.path(), "allow_anonymous true") else {
        return;
    };
    let ha = broker.subscribe(&["homeassistant/#"]);
    let first = serve(
        &broker.url(),
        &[
            "--pin",
            "13",
            "--pin",
            "19",
            "--ha-discovery",
            "--mqtt-topic",
            "rm/pi",
        ],
    );
    let old = ha.wait("gpio19's config", |m| {
        m.topic.ends_with("/gpio19/config") && !m.payload.is_empty()
    });
    drop(first);
    let _second = serve(
        &broker.url(),
        &["--pin", "13", "--ha-discovery", "--mqtt-topic", "rm/pi"],
    );
    // An empty retained config: Home Assistant removes the entity.
    ha.wait("gpio19's config removed", |m| {
        m.topic == old.topic && m.payload.is_empty()
    });
    let later = broker.subscribe(&["homeassistant/#"]);
    let kept = later.wait("gpio13's config", |m| m.topic.ends_with("/gpio13/config"));
    assert!(kept.retained && !kept.payload.is_empty());
}

#[test]
fn bad_mqtt_options_are_usage_errors() {
    for (args, says) in [
        (&["--mqtt", "http://127.0.0.1"][..], "scheme"),
        (&["--mqtt", "mqtt://127.0.0.1/path"][..], "no path"),
        (
            &["--mqtt", "mqtt://127.0.0.1", "--mqtt-topic", "a/+/b"][..],
            "--mqtt-topic",
        ),
        (&["--mqtt", "not a url"][..], "--mqtt"),
        (&["--mqtt-topic", "x"][..], "--mqtt"),
    ] {
        let mut all = vec!["serve-gpio", "--backend", "sim", "--pin", "13"];
        all.extend_from_slice(args);
        let done = run(&all, b"");
        done.assert_code(2);
        assert!(done.stderr.contains(says), "{args:?}: {}", done.stderr);
    }
}
