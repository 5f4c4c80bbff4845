//! The line protocol of `serve-gpio` (lab L5): any line but a blank one gets exactly one
//! reply line (a blank one gets none), and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nicksock::cmd::serve_gpio::app::App;
use nicksock::gpio::{self, Backend};

fuzz_target!(|input: &[u8]| {
    let pins = gpio::pin_configs(&[13], &[26], &[]).expect("pins");
    let (pins, _) = gpio::open(Backend::Sim, None, &pins).expect("sim");
    let mut app = App::new(pins, input.first() == Some(&b'R'), None);
    for line in input.split(|&b| b == b'\n').take(64) {
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
