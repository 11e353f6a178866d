//! systemd service notifications (`sd_notify(3)`), for `Type=notify` units
//! with a watchdog (`dist/edgepose.service`).
//!
//! - [`ready`] sends `READY=1` once the model is loaded and the pipeline can
//!   take frames: systemd reports the unit started only then, so units
//!   ordered after it never see a half-started service.
//! - `WATCHDOG=1` is sent when systemd asked for a watchdog (`WatchdogSec=`
//!   sets `WATCHDOG_USEC`, and `WATCHDOG_PID` when present names this
//!   process), at most every half watchdog period, and only from the frame
//!   loop when it proves progress:
//!   - [`watchdog`], after every processed frame;
//!   - [`watchdog_idle`], while the loop waits for a frame, when the capture
//!     side showed a sign of life since the last ping ([`capture_alive`]:
//!     the capture thread after a read that gave no frame, a skipped one,
//!     and a source while it waits for or reopens its device). So a camera being retried for `give_up_s`
//!     keeps the service alive, while a hung invoke, a sink that blocks the
//!     loop, a deadlock or a capture thread stuck in a read stops the pings,
//!     and systemd restarts the service after `WatchdogSec=`.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) all of these do nothing. A failed
//! send is logged, never fatal: the service keeps running and systemd's own
//! timeout decides. The environment is read once; between pings each call
//! costs an atomic add or a clock read and allocates nothing (a ping, at
//! most twice a watchdog period, builds its small message).
//!
//! The unit's timeouts, `give_up_s` and troubleshooting a service that does
//! not start or keeps restarting are in docs/cross-building-and-deployment.md.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// Signs of life from the capture side, counted.
static CAPTURE_BEATS: AtomicU64 = AtomicU64::new(0);

/// When pings are due and whether one is earned: the decisions of the
/// watchdog, apart from the clock and the socket.
#[derive(Debug)]
struct Pacer {
    /// Half the watchdog period (systemd's recommended ping interval).
    interval: Duration,
    /// Time origin for `next_due_ns`.
    start: Instant,
    /// Nanoseconds after `start` when the next ping is due (0: now).
    next_due_ns: AtomicU64,
    /// [`CAPTURE_BEATS`] at the last ping.
    beats_at_ping: AtomicU64,
}

impl Pacer {
    fn new(interval: Duration, start: Instant) -> Self {
        Self {
            interval,
            start,
            next_due_ns: AtomicU64::new(0),
            beats_at_ping: AtomicU64::new(0),
        }
    }

    /// Whether a ping goes out at `now`: it is due, and either a frame was
    /// just processed or the capture side's `beats` moved since the last
    /// ping. Books the ping when it does.
    fn ping(&self, now: Instant, frame_done: bool, beats: u64) -> bool {
        let t = now.saturating_duration_since(self.start).as_nanos() as u64;
        if t < self.next_due_ns.load(Ordering::Relaxed) {
            return false;
        }
        if !frame_done && beats == self.beats_at_ping.load(Ordering::Relaxed) {
            return false;
        }
        self.next_due_ns.store(
            t.saturating_add(self.interval.as_nanos() as u64),
            Ordering::Relaxed,
        );
        self.beats_at_ping.store(beats, Ordering::Relaxed);
        true
    }
}

static WATCHDOG: OnceLock<Option<Pacer>> = OnceLock::new();

fn watchdog_state() -> Option<&'static Pacer> {
    WATCHDOG
        .get_or_init(|| {
            std::env::var_os("NOTIFY_SOCKET")?;
            let period = sd_notify::watchdog_enabled()?;
            log::info!(
                "systemd watchdog: {period:?}, pinging every {:?} while frames or the camera's retries go on",
                period / 2
            );
            Some(Pacer::new(period / 2, Instant::now()))
        })
        .as_ref()
}

/// Tells systemd the service is ready (`READY=1`); nothing outside systemd.
pub fn ready() {
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready]) {
        log::warn!("cannot notify systemd (READY=1): {e}");
    }
}

/// A sign of life from the capture side that delivered no frame: called by
/// the capture thread after a read that gave no frame (a skipped one) and
/// by a source while it waits for or reopens its device (at least every few
/// seconds). A delivered frame needs none: processing it proves the same.
/// An atomic add; nothing else.
pub fn capture_alive() {
    CAPTURE_BEATS.fetch_add(1, Ordering::Relaxed);
}

fn send(frame_done: bool) {
    let Some(w) = watchdog_state() else {
        return;
    };
    if !w.ping(
        Instant::now(),
        frame_done,
        CAPTURE_BEATS.load(Ordering::Relaxed),
    ) {
        return;
    }
    if let Err(e) = sd_notify::notify(&[NotifyState::Watchdog]) {
        log::warn!("cannot notify systemd (WATCHDOG=1): {e}");
    }
}

/// The frame loop processed a frame: pings systemd's watchdog when one is
/// configured and half its period has passed since the last ping.
pub fn watchdog() {
    send(true);
}

/// The frame loop is waiting for a frame (call it on each wake-up): pings
/// as [`watchdog`] does, but only when the capture side showed a sign of
/// life ([`capture_alive`]) since the last ping.
pub fn watchdog_idle() {
    send(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn frames_ping_every_half_period() {
        let t0 = Instant::now();
        let p = Pacer::new(15 * S, t0);
        assert!(p.ping(t0, true, 0), "the first frame pings");
        assert!(!p.ping(t0 + 14 * S, true, 0), "inside the half period");
        assert!(p.ping(t0 + 15 * S, true, 0));
        assert!(!p.ping(t0 + 29 * S, true, 0));
    }

    #[test]
    fn an_idle_loop_pings_only_while_the_capture_side_lives() {
        let t0 = Instant::now();
        let p = Pacer::new(15 * S, t0);
        assert!(p.ping(t0, true, 3));
        // A camera being retried: signs of life keep coming, so do pings.
        assert!(!p.ping(t0 + 10 * S, false, 4), "not due yet");
        assert!(p.ping(t0 + 15 * S, false, 5));
        assert!(p.ping(t0 + 31 * S, false, 9));
        // The capture thread stuck in a read: no sign of life, no ping,
        // however long the loop keeps waking up.
        for s in [46, 60, 90, 600] {
            assert!(!p.ping(t0 + s * S, false, 9), "{s} s");
        }
        // It comes back: the next wake-up pings at once.
        assert!(p.ping(t0 + 601 * S, false, 10));
        // A processed frame always counts as progress.
        assert!(p.ping(t0 + 616 * S, true, 10));
    }
}
