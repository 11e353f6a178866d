//! Retry timing for devices that come and go: the serial port (sink and
//! `listen`), display panels, the MQTT broker and V4L2 cameras all reopen
//! through a [`Backoff`]: after a failure the next attempt waits a delay
//! that starts at a minimum and doubles with each further failure up to a
//! maximum; a success starts it over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest single sleep of [`Backoff::sleep`] between looks at its stop flag.
const SLICE: Duration = Duration::from_millis(50);

/// Exponential backoff between attempts to (re)open a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    /// The wait after the next failure.
    delay: Duration,
    /// When the next attempt is due; `None`: at once.
    retry_at: Option<Instant>,
}

impl Backoff {
    /// Waits from `min` doubling up to `max` (at least `min`).
    pub const fn new(min: Duration, max: Duration) -> Self {
        let max = if max.as_nanos() < min.as_nanos() {
            min
        } else {
            max
        };
        Self {
            min,
            max,
            delay: min,
            retry_at: None,
        }
    }

    /// An attempt failed at `now`: the next one is due after the current
    /// delay, which doubles (up to the maximum) for the failure after.
    /// Returns the wait.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let wait = self.delay;
        self.retry_at = Some(now.checked_add(wait).unwrap_or(now));
        self.delay = self.delay.saturating_mul(2).min(self.max);
        wait
    }

    /// An attempt worked: the next failure waits the minimum again, and an
    /// attempt may be made at once.
    pub fn reset(&mut self) {
        self.delay = self.min;
        self.retry_at = None;
    }

    /// Allows the next attempt at once (keeping the delay), e.g. a last
    /// try before shutting down.
    pub fn retry_now(&mut self) {
        self.retry_at = None;
    }

    /// Whether an attempt may be made at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }

    /// When the next attempt is due (`None`: at once).
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Sleeps until the next attempt is due, looking at `stop` at least
    /// every 50 ms; false when `stop` ended the wait.
    pub fn sleep(&self, stop: Option<&AtomicBool>) -> bool {
        self.sleep_with(stop, || {})
    }

    /// [`Backoff::sleep`], calling `tick` before every slice of the wait
    /// (a camera's sign of life for the watchdog, [`crate::notify`]).
    pub fn sleep_with(&self, stop: Option<&AtomicBool>, mut tick: impl FnMut()) -> bool {
        let stopped = || stop.is_some_and(|s| s.load(Ordering::Relaxed));
        let Some(at) = self.retry_at else {
            return !stopped();
        };
        loop {
            if stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= at {
                return true;
            }
            tick();
            std::thread::sleep((at - now).min(SLICE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_to_the_maximum_and_starts_over_after_a_success() {
        let mut b = Backoff::new(50 * MS, 300 * MS);
        let t = Instant::now();
        assert!(b.due(t), "nothing failed yet: at once");
        let waits: Vec<_> = (0..5).map(|_| b.failed(t)).collect();
        assert_eq!(waits, [50 * MS, 100 * MS, 200 * MS, 300 * MS, 300 * MS]);
        assert_eq!(b.retry_at(), Some(t + 300 * MS));
        assert!(!b.due(t + 299 * MS));
        assert!(b.due(t + 300 * MS));
        b.reset();
        assert!(b.due(t));
        assert_eq!(b.failed(t), 50 * MS);
        // retry_now allows an attempt but keeps the doubling.
        b.retry_now();
        assert!(b.due(t));
        assert_eq!(b.failed(t), 100 * MS);
    }

    #[test]
    fn a_maximum_below_the_minimum_is_the_minimum_and_nothing_overflows() {
        let mut b = Backoff::new(200 * MS, 10 * MS);
        assert_eq!(b.max(), 200 * MS);
        assert_eq!(b.failed(Instant::now()), 200 * MS);
        assert_eq!(b.failed(Instant::now()), 200 * MS);
        let mut huge = Backoff::new(Duration::MAX / 2, Duration::MAX);
        let t = Instant::now();
        huge.failed(t);
        huge.failed(t);
        assert_eq!(huge.failed(t), Duration::MAX, "no overflow panic");
    }

    #[test]
    fn sleep_waits_until_due_or_stopped() {
        let mut b = Backoff::new(60 * MS, 60 * MS);
        assert!(b.sleep(None), "nothing pending: no wait");
        let t = Instant::now();
        b.failed(t);
        assert!(b.sleep(None));
        assert!(t.elapsed() >= 60 * MS);
        b.failed(Instant::now());
        let stop = AtomicBool::new(true);
        let t = Instant::now();
        assert!(!b.sleep(Some(&stop)));
        assert!(t.elapsed() < 60 * MS);
    }
}
