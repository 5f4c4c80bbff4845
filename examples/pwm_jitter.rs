//! How late software PWM's edges come on this machine: the timing thread of
//! `serve-gpio --pwm` (`nicksock::gpio::pwm`) plays PINS pins at HZ for SECS seconds with
//! duties spread over 5-95 %, switching nothing (the time of a line's ioctl, a few µs, is
//! not in it), and prints the lateness of its edges (mean, 99th percentile, worst) and, from
//! the time of every switch, each pin's real frequency and duty against the one asked for.
//!
//!     cargo run --release --example pwm_jitter [HZ] [PINS] [SECS]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    // Every switch with its time, room made beforehand so the thread never waits on memory.
    let log: Arc<Mutex<Vec<(usize, bool, Instant)>>> = Arc::new(Mutex::new(Vec::with_capacity(
        4 * pins * hz as usize * secs as usize + 64,
    )));
    let writer = Arc::clone(&log);
    let pwm = SoftPwm::start(pins, hz, move |pin, high| {
        let at = Instant::now();
        count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut log) = writer.lock() {
            log.push((pin, high, at));
        }
    })
    .expect("the PWM thread");
    let duties: Vec<u8> = (0..pins)
        .map(|i| {
            let duty = 5 + (90 * i / pins.max(2).saturating_sub(1)).min(90);
            u8::try_from(duty).unwrap_or(50)
        })
        .collect();
    for (i, &duty) in duties.iter().enumerate() {
        pwm.set(i, duty);
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
    let log = log.lock().expect("the switch log");
    for (pin, &duty) in duties.iter().enumerate() {
        let (freq, measured) = measure(&log, pin);
        println!(
            "  pin {pin}: asked {duty} % at {hz} Hz, played {measured:.2} % \
             (error {:+.2} points) at {freq:.3} Hz",
            measured - f64::from(duty)
        );
    }
}

/// A pin's frequency and duty as played: over whole periods, from its first rise to its
/// last, the rises per second and the share of the time it was high.
fn measure(log: &[(usize, bool, Instant)], pin: usize) -> (f64, f64) {
    let switches: Vec<(bool, Instant)> = log
        .iter()
        .filter(|(p, _, _)| *p == pin)
        .map(|&(_, high, at)| (high, at))
        .collect();
    let first = switches.iter().position(|(high, _)| *high);
    let last = switches.iter().rposition(|(high, _)| *high);
    let (Some(first), Some(last)) = (first, last) else {
        return (0.0, 0.0);
    };
    if last <= first {
        return (0.0, 0.0);
    }
    let window = &switches[first..=last];
    let span = window[window.len() - 1].1 - window[0].1;
    let mut high_time = Duration::ZERO;
    let mut rises = 0u32;
    for pair in window.windows(2) {
        if pair[0].0 {
            high_time += pair[1].1 - pair[0].1;
        }
        if pair[1].0 && !pair[0].0 {
            rises += 1;
        }
    }
    let secs = span.as_secs_f64();
    (
        f64::from(rises) / secs,
        100.0 * high_time.as_secs_f64() / secs,
    )
}
