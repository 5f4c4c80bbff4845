//! Software PWM: one timing thread for every PWM pin of the character device, at one
//! frequency. Each period it raises every pin with a duty above 0 %, then lowers each at its
//! own fraction of the period, sleeping in between on absolute deadlines (no drift). A
//! pin at 0 % or 100 % is a steady level: when every pin is, the thread parks and costs
//! nothing until a duty changes. The lateness of every edge is measured ([`Jitter`]).
//!
//! The line is switched through a closure, so the timing can be measured without a chip
//! (`examples/pwm_jitter.rs`).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The default frequency: fast enough that an LED does not flicker to the eye.
pub const DEFAULT_HZ: u32 = 200;
/// The highest frequency software PWM is offered at (beyond it, the edges' lateness is a
/// large part of the period).
pub const MAX_HZ: u32 = 2000;
/// Width of one bucket of the lateness histogram.
const BUCKET: Duration = Duration::from_micros(10);
/// Buckets of the histogram; the last holds everything later.
const BUCKETS: usize = 201;

/// How late the edges came: count, mean, 99th percentile and worst.
#[derive(Debug, Clone)]
pub struct Jitter {
    /// Edges timed.
    pub edges: u64,
    total: Duration,
    /// The latest edge.
    pub max: Duration,
    histogram: Vec<u64>,
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter {
            edges: 0,
            total: Duration::ZERO,
            max: Duration::ZERO,
            histogram: vec![0; BUCKETS],
        }
    }
}

impl Jitter {
    fn record(&mut self, late: Duration) {
        self.edges += 1;
        self.total += late;
        self.max = self.max.max(late);
        let bucket = (late.as_nanos() / BUCKET.as_nanos()).min(BUCKETS as u128 - 1);
        self.histogram[bucket as usize] += 1;
    }

    /// The mean lateness.
    pub fn mean(&self) -> Duration {
        if self.edges == 0 {
            return Duration::ZERO;
        }
        self.total / u32::try_from(self.edges).unwrap_or(u32::MAX)
    }

    /// The lateness that `fraction` (0.99) of the edges beat, to the next 10 µs.
    pub fn quantile(&self, fraction: f64) -> Duration {
        let wanted = (self.edges as f64 * fraction).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.histogram.iter().enumerate() {
            seen += n;
            if seen >= wanted && seen > 0 {
                return BUCKET * (i as u32 + 1);
            }
        }
        self.max
    }
}

/// The timing thread and the duties it plays.
#[derive(Debug)]
pub struct SoftPwm {
    hz: u32,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    duties: Vec<AtomicU8>,
    stop: AtomicBool,
    jitter: Mutex<Jitter>,
}

impl SoftPwm {
    /// Starts the thread for `pins` pins at `hz`, all at 0 %. `set(i, high)` switches pin
    /// `i`; it is called only when the level changes.
    pub fn start(
        pins: usize,
        hz: u32,
        set: impl FnMut(usize, bool) + Send + 'static,
    ) -> io::Result<SoftPwm> {
        let hz = hz.clamp(1, MAX_HZ);
        let shared = Arc::new(Shared {
            duties: (0..pins).map(|_| AtomicU8::new(0)).collect(),
            stop: AtomicBool::new(false),
            jitter: Mutex::new(Jitter::default()),
        });
        let run = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("nicksock-pwm".into())
            .spawn(move || play(&run, hz, set))?;
        Ok(SoftPwm {
            hz,
            shared,
            thread: Some(thread),
        })
    }

    /// The frequency it plays at.
    pub fn hz(&self) -> u32 {
        self.hz
    }

    /// Sets pin `index`'s duty, 0 to 100 %; takes effect from the next period.
    pub fn set(&self, index: usize, duty: u8) {
        if let Some(d) = self.shared.duties.get(index) {
            d.store(duty.min(100), Ordering::Relaxed);
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
    }

    /// Pin `index`'s duty.
    pub fn duty(&self, index: usize) -> u8 {
        self.shared
            .duties
            .get(index)
            .map_or(0, |d| d.load(Ordering::Relaxed))
    }

    /// How late the edges have come so far.
    pub fn jitter(&self) -> Jitter {
        self.shared
            .jitter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for SoftPwm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// The thread: periods until told to stop.
fn play(shared: &Shared, hz: u32, mut set: impl FnMut(usize, bool)) {
    // Wake-ups as close to the deadline as the kernel can: the default slack is 50 µs.
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    let period = Duration::from_secs(1) / hz;
    let mut levels: Vec<Option<bool>> = vec![None; shared.duties.len()];
    let mut put = |i: usize, high: bool| {
        if levels[i] != Some(high) {
            set(i, high);
            levels[i] = Some(high);
        }
    };
    let mut next = Instant::now();
    let mut late = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let duties: Vec<u8> = shared
            .duties
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .collect();
        if duties.iter().all(|&d| d == 0 || d >= 100) {
            for (i, &d) in duties.iter().enumerate() {
                put(i, d > 0);
            }
            thread::park();
            next = Instant::now();
            continue;
        }
        let start = next;
        for (i, &d) in duties.iter().enumerate() {
            put(i, d > 0);
        }
        for (at, i) in falls(&duties, period) {
            late.push(sleep_until(start + at));
            put(i, false);
        }
        next = start + period;
        late.push(sleep_until(next));
        // Far behind (the machine was busy): start afresh rather than rush to catch up.
        if Instant::now() > next + period {
            next = Instant::now();
        }
        let mut jitter = shared.jitter.lock().unwrap_or_else(PoisonError::into_inner);
        for l in late.drain(..) {
            jitter.record(l);
        }
    }
}

/// When in a period each pin falls (after rising at its start): the pins between 0 and
/// 100 %, earliest first.
fn falls(duties: &[u8], period: Duration) -> Vec<(Duration, usize)> {
    let mut falls: Vec<(Duration, usize)> = duties
        .iter()
        .enumerate()
        .filter(|&(_, &d)| d > 0 && d < 100)
        .map(|(i, &d)| (period * u32::from(d) / 100, i))
        .collect();
    falls.sort_unstable();
    falls
}

/// Sleeps until `at`; returns how late it woke.
fn sleep_until(at: Instant) -> Duration {
    let now = Instant::now();
    if at > now {
        thread::sleep(at - now);
    }
    Instant::now().saturating_duration_since(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_pin_at_40_percent_is_high_for_40_percent_of_each_period() {
        let (tx, rx) = mpsc::channel();
        let pwm = SoftPwm::start(2, 100, move |i, high| {
            let _ = tx.send((i, high, Instant::now()));
        })
        .unwrap();
        pwm.set(0, 40);
        pwm.set(1, 100);
        assert_eq!((pwm.duty(0), pwm.duty(1), pwm.hz()), (40, 100, 100));
        let mut rises = Vec::new();
        let mut highs = Vec::new();
        let mut last_rise = None;
        let mut steady_high = false;
        while rises.len() < 12 {
            let (i, high, at) = rx.recv_timeout(Duration::from_secs(5)).expect("edges");
            match (i, high) {
                (1, true) => steady_high = true,
                // Its first level may be low: the thread can start before the duties are set.
                (1, false) if steady_high => panic!("pin 1 at 100 % never falls"),
                (1, false) => {}
                (_, true) => {
                    rises.push(at);
                    last_rise = Some(at);
                }
                (_, false) => highs.extend(last_rise.map(|r| at - r)),
            }
        }
        drop(pwm);
        assert!(steady_high);
        // Periods of 10 ms, never rushed (a period starts afresh when the thread was late).
        // The edges are timed when the callback runs: a first rise that came late and a
        // last one on time make the span shorter by that lateness (CI saw 9.82 ms a period
        // over 10 periods with the machine busy: the first rise 1.8 ms late). 9 ms allows
        // 10 ms of it; a thread that rushed to catch up would make periods of a fraction of
        // 10 ms.
        let span = *rises.last().unwrap() - rises[1];
        let mean_period = span / (rises.len() as u32 - 2);
        assert!(
            mean_period >= Duration::from_micros(9_000),
            "{mean_period:?}"
        );
        // High for 40 % of the 10 ms period, within ±10 points (the VM saw ±3; a busy test
        // machine wakes the thread late now and then, which the median of the periods
        // passes over; examples/pwm_jitter measures how late on a quiet one).
        highs.sort_unstable();
        let median_high = highs[highs.len() / 2];
        let duty = median_high.as_secs_f64() / 0.010 * 100.0;
        assert!(
            (30.0..=50.0).contains(&duty),
            "high for {duty:.1} % of the period (median of {highs:?})"
        );
    }

    #[test]
    fn each_pin_falls_at_its_duty_of_the_period_earliest_first() {
        let period = Duration::from_millis(5);
        assert_eq!(
            falls(&[40, 0, 100, 10, 99], period),
            vec![
                (Duration::from_micros(500), 3),
                (Duration::from_millis(2), 0),
                (Duration::from_micros(4950), 4),
            ]
        );
        assert!(
            falls(&[0, 100], period).is_empty(),
            "steady levels never fall"
        );
    }

    #[test]
    fn steady_levels_park_the_thread() {
        let (tx, rx) = mpsc::channel();
        let pwm = SoftPwm::start(1, 200, move |_, high| {
            let _ = tx.send(high);
        })
        .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
        pwm.set(0, 100);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        // Parked: no edge, and no timing, while the level holds.
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        assert_eq!(pwm.jitter().edges, 0);
    }

    #[test]
    fn jitter_quantiles_come_from_the_histogram() {
        let mut j = Jitter::default();
        for us in [5, 15, 15, 25, 3000] {
            j.record(Duration::from_micros(us));
        }
        assert_eq!(j.edges, 5);
        assert_eq!(j.max, Duration::from_micros(3000));
        assert_eq!(j.quantile(0.5), Duration::from_micros(20));
        assert_eq!(j.quantile(1.0), Duration::from_micros(2010));
        assert_eq!(j.mean(), Duration::from_micros(612));
    }
}
