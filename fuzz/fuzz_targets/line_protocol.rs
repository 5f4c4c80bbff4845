//! The line protocol of `serve-gpio` (lab L5): any line but a blank one gets exactly one
//! reply line (a blank one gets none), and nothing panics. An output named LED, a PWM pin
//! and an input, so `duty`, `for`, names, `watch` and timers running out are all reached.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use nicksock::cmd::serve_gpio::app::App;
use nicksock::gpio::{self, Backend};

fuzz_target!(|input: &[u8]| {
    let pins = gpio::pin_configs(&[13, 12], &[26], &[]).expect("pins");
    let pins = gpio::with_pwm(pins, &[12]).expect("pwm");
    let (pins, _) = gpio::open(Backend::Sim, None, &pins).expect("sim");
    let mut app = App::new(pins, input.first() == Some(&b'R'), None).named(vec![(13, "LED".into())]);
    let mut later = Instant::now();
    for line in input.split(|&b| b == b'\n').take(64) {
        // Now and then a while passes: timers run out.
        if line.first() == Some(&b'~') {
            later += Duration::from_secs(3600);
            app.on_due(later);
        }
        let line = String::from_utf8_lossy(line);
        let reply = app.handle_line(&line);
        if line.trim().is_empty() {
            assert!(reply.is_empty(), "{reply:?}");
            continue;
        }
        assert!(reply.ends_with('\n'), "{reply:?}");
        assert_eq!(reply.matches('\n').count(), 1, "{reply:?}");
    }
});
