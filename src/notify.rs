//! systemd service notifications (`sd_notify(3)`), for `Type=notify` units
//! with a watchdog (`dist/edgepose.service`).
//!
//! - [`ready`] sends `READY=1` once the model is loaded and the pipeline can
//!   take frames: systemd reports the unit started only then, so units
//!   ordered after it never see a half-started service.
//! - [`watchdog`] is called once per processed frame. It sends `WATCHDOG=1`
//!   when systemd asked for a watchdog (`WatchdogSec=` sets `WATCHDOG_USEC`,
//!   and `WATCHDOG_PID` when present names this process), at most every
//!   half watchdog period. A frame loop that stops (a camera that hangs, a
//!   runtime that deadlocks) then stops the pings, and systemd restarts the
//!   service after `WatchdogSec=`.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) both do nothing. A failed send is
//! logged, never fatal: the service keeps running and systemd's own timeout
//! decides. The environment is read once; between pings [`watchdog`] costs
//! one clock read per frame and allocates nothing (a ping, at most twice a
//! watchdog period, builds its small message).
//!
//! The unit, and troubleshooting a service that does not start or keeps
//! restarting, are in docs/cross-building-and-deployment.md.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The watchdog as systemd configured it for this process.
struct Watchdog {
    /// Half the watchdog period (systemd's recommended ping interval).
    interval: Duration,
    /// Time origin for `next_due_ns`.
    start: Instant,
    /// Nanoseconds after `start` when the next ping is due (0: now).
    next_due_ns: AtomicU64,
}

static WATCHDOG: OnceLock<Option<Watchdog>> = OnceLock::new();

fn watchdog_state() -> Option<&'static Watchdog> {
    WATCHDOG
        .get_or_init(|| {
            std::env::var_os("NOTIFY_SOCKET")?;
            let period = sd_notify::watchdog_enabled()?;
            log::info!(
                "systemd watchdog: {period:?}, pinging every {:?}",
                period / 2
            );
            Some(Watchdog {
                interval: period / 2,
                start: Instant::now(),
                next_due_ns: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Tells systemd the service is ready (`READY=1`); nothing outside systemd.
pub fn ready() {
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready]) {
        log::warn!("cannot notify systemd (READY=1): {e}");
    }
}

/// Pings systemd's watchdog (`WATCHDOG=1`) when one is configured and half
/// its period has passed since the last ping; call once per frame.
pub fn watchdog() {
    let Some(w) = watchdog_state() else {
        return;
    };
    let now = w.start.elapsed().as_nanos() as u64;
    if now < w.next_due_ns.load(Ordering::Relaxed) {
        return;
    }
    w.next_due_ns.store(
        now.saturating_add(w.interval.as_nanos() as u64),
        Ordering::Relaxed,
    );
    if let Err(e) = sd_notify::notify(&[NotifyState::Watchdog]) {
        log::warn!("cannot notify systemd (WATCHDOG=1): {e}");
    }
}
