//! `serve-gpio --backend cdev` with a PWM pin that has a hardware PWM channel, on a fake
//! `/sys/class/pwm` and device tree (the hidden `--sys-root`): the pin is driven through the
//! channel's files and needs no GPIO chip, so this runs on any Linux machine. What the
//! files say is what the kernel would have been told; no real PWM block is involved.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use crate::util::*;

/// A Raspberry Pi 4 with `dtoverlay=pwm-2chan` (PWM0 muxed to GPIO18 and 19) under `root`.
/// `exported`: the channels' directories exist already (a plain directory cannot react
/// to a write to `export` as the kernel does).
fn pi4_tree(root: &Path, exported: bool) {
    let put = |path: &str, bytes: &[u8]| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
    };
    let chip = "sys/class/pwm/pwmchip0";
    put(&format!("{chip}/export"), b"");
    put(&format!("{chip}/unexport"), b"");
    put(&format!("{chip}/npwm"), b"2\n");
    if exported {
        for ch in 0..2 {
            for attr in ["period", "duty_cycle", "enable"] {
                put(&format!("{chip}/pwm{ch}/{attr}"), b"0\n");
            }
        }
    }
    put(
        &format!("{chip}/device/of_node/compatible"),
        b"brcm,bcm2711-pwm\0brcm,bcm2835-pwm\0",
    );
    put(
        &format!("{chip}/device/of_node/pinctrl-0"),
        &0x8au32.to_be_bytes(),
    );
    let pins = "proc/device-tree/soc/gpio@7e200000/pwm_pins";
    put(&format!("{pins}/phandle"), &0x8au32.to_be_bytes());
    let listed: Vec<u8> = [18u32, 19].iter().flat_map(|p| p.to_be_bytes()).collect();
    put(&format!("{pins}/brcm,pins"), &listed);
}

fn read(root: &Path, path: &str) -> String {
    fs::read_to_string(root.join(path)).expect("read")
}

/// Sends one line-protocol command and returns its reply line.
fn command(addr: SocketAddr, words: &str) -> String {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(PATIENCE)).expect("timeout");
    c.write_all(format!("{words}\n").as_bytes()).expect("send");
    let mut reply = String::new();
    BufReader::new(c).read_line(&mut reply).expect("reply");
    reply
}

#[test]
fn a_pwm_pin_with_a_hardware_channel_is_driven_through_sysfs() {
    let dir = tempdir();
    let root = dir.path();
    pi4_tree(root, true);
    let mut proc = Proc::spawn(nicksock(&[
        "serve-gpio",
        "--backend",
        "cdev",
        "--sys-root",
        &root.display().to_string(),
        "--pwm",
        "18=LED",
        "--pwm-hz",
        "1000",
        "127.0.0.1",
        "--port",
        "0",
        "--line-port",
        "0",
    ]));
    let said = proc.wait_line("gpio: ");
    assert_eq!(
        said,
        "gpio: GPIO character device: GPIO18 (hardware PWM pwmchip0 channel 0, 1000 Hz) \
         (--backend cdev)"
    );
    let mut line = None;
    for _ in 0..2 {
        let ready = proc.wait_line("listening on ");
        if ready.ends_with("(line protocol)") {
            line = Some(ready_addr(&ready));
        }
    }
    let line = line.expect("a line-protocol ready line");
    let ch = "sys/class/pwm/pwmchip0/pwm0";
    assert_eq!(read(root, &format!("{ch}/period")), "1000000");
    assert_eq!(read(root, &format!("{ch}/enable")), "1");
    assert_eq!(command(line, "duty LED 40"), "18 duty 40\n");
    assert_eq!(read(root, &format!("{ch}/duty_cycle")), "400000");
    assert_eq!(command(line, "off 18"), "18 duty 0\n");
    assert_eq!(read(root, &format!("{ch}/duty_cycle")), "0");
    proc.signal("TERM");
    proc.wait().assert_code(0);
    assert_eq!(read(root, &format!("{ch}/enable")), "0");
    assert_eq!(read(root, "sys/class/pwm/pwmchip0/unexport"), "0");
}

#[test]
fn a_channel_that_cannot_be_exported_is_a_gpio_error_naming_the_file() {
    let dir = tempdir();
    let root = dir.path();
    pi4_tree(root, false);
    fs::remove_file(root.join("sys/class/pwm/pwmchip0/export")).expect("rm export");
    let done = run(
        &[
            "serve-gpio",
            "--backend",
            "cdev",
            "--sys-root",
            &root.display().to_string(),
            "--pwm",
            "19",
            "127.0.0.1",
            "--port",
            "0",
        ],
        b"",
    );
    done.assert_code(9);
    assert!(
        done.stderr.contains("GPIO19") && done.stderr.contains("pwmchip0/export"),
        "{}",
        done.stderr
    );
}
