//! How late software PWM's edges come on this machine: the timing thread of
//! `serve-gpio --pwm` (`nicksock::gpio::pwm`) plays PINS pins at HZ for SECS seconds with
//! duties spread over 5-95 %, switching nothing (the time of a line's ioctl, a few µs, is
//! not in it), and prints the lateness of its edges: mean, 99th percentile, worst.
//!
//!     cargo run --release --example pwm_jitter [HZ] [PINS] [SECS]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nicksock::gpio::pwm::SoftPwm;

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: HZ PINS SECS"))
        .collect();
    let hz = args.first().copied().unwrap_or(200);
    let pins = args.get(1).copied().unwrap_or(4) as usize;
    let secs = args.get(2).copied().unwrap_or(10);
    let switched = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&switched);
    let pwm = SoftPwm::start(pins, hz, move |_, _| {
        count.fetch_add(1, Ordering::Relaxed);
    })
    .expect("the PWM thread");
    for i in 0..pins {
        let duty = 5 + (90 * i / pins.max(2).saturating_sub(1)).min(90);
        pwm.set(i, u8::try_from(duty).unwrap_or(50));
    }
    // The measuring window: the thread plays on its own meanwhile.
    std::thread::sleep(Duration::from_secs(u64::from(secs)));
    let j = pwm.jitter();
    drop(pwm);
    // Every pin rises and falls once a period: the level changes prove the periods ran.
    let switched = switched.load(Ordering::Relaxed);
    let expected = 2 * pins as u64 * u64::from(hz) * u64::from(secs);
    println!(
        "software PWM, {pins} pins at {hz} Hz for {secs} s: {switched} level changes \
         ({expected} expected), {} edges timed; late by mean {:?}, p99 {:?}, p99.9 {:?}, \
         worst {:?} (period {:?})",
        j.edges,
        j.mean(),
        j.quantile(0.99),
        j.quantile(0.999),
        j.max,
        Duration::from_secs(1) / hz
    );
}
