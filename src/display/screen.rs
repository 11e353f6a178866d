//! The display thread: a [`Panel`] driven from its own thread so that a
//! slow bus never holds up the pipeline. This one-frame mailbox is the
//! display sink's only queue (`run` puts no other in front of it).
//!
//! [`DisplaySink::show`] copies the frame's persons into the mailbox and
//! returns; the display thread draws whatever is newest. A frame replaced
//! in the mailbox before the thread got to it is counted as skipped.
//! `max_fps` caps the refresh rate (a frame that arrives sooner waits in the
//! mailbox and may be replaced). Bus errors (a display unplugged, a NACK)
//! are counted, the panel is re-initialised after a back-off (0.2 s
//! doubling to 5 s, [`crate::backoff`]), and frames in between are skipped:
//! never fatal. The summary says frames drawn / skipped / errors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::panel::{Painter, Panel, PanelError};
use super::render::{Scene, Skeleton};
use crate::backoff::Backoff;
use crate::frame::{FrameResult, RecordMeta};

/// Counters the summary reports.
#[derive(Debug, Default)]
struct Counters {
    drawn: AtomicU64,
    skipped: AtomicU64,
    errors: AtomicU64,
    reconnects: AtomicU64,
}

struct Mailbox {
    scene: Scene,
    skeleton: Option<Arc<Skeleton>>,
    /// A frame waits in `scene`.
    pending: bool,
    /// The thread is drawing.
    busy: bool,
    /// Draw the pending frame now, ignoring the refresh cap (flush).
    urgent: bool,
    stop: bool,
    last_error: Option<String>,
}

struct Shared {
    mailbox: Mutex<Mailbox>,
    wake: Condvar,
    counters: Counters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        // A panic in the display thread must not take the pipeline down.
        self.mailbox.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counters of a display sink, as the summary reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DisplayStats {
    pub drawn: u64,
    pub skipped: u64,
    pub errors: u64,
    pub reconnects: u64,
}

/// A panel drawn from its own thread (a sink: see `crate::sink::display`).
pub struct DisplaySink {
    name: String,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    skeleton_sent: bool,
    last_ts: Option<f64>,
    fps: Option<f32>,
}

const MAX_PERSONS: usize = 32;
/// Re-initialisation after a bus error: 0.2 s doubling to 5 s.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
/// The slowest refresh cap: one frame an hour (`max_fps` above 0 and below
/// this is taken as this).
const MIN_FPS: f64 = 1.0 / 3600.0;

impl DisplaySink {
    /// Starts the display thread for `painter`, whose panel is connected.
    pub fn start<P: Panel>(painter: Painter<P>, max_fps: f32) -> Result<Self, PanelError> {
        let name = painter.panel.name().to_string();
        let shared = Arc::new(Shared {
            mailbox: Mutex::new(Mailbox {
                scene: Scene::with_capacity(MAX_PERSONS),
                skeleton: None,
                pending: false,
                busy: false,
                urgent: false,
                stop: false,
                last_error: None,
            }),
            wake: Condvar::new(),
            counters: Counters::default(),
        });
        let interval =
            (max_fps > 0.0).then(|| Duration::from_secs_f64(1.0 / f64::from(max_fps).max(MIN_FPS)));
        let s = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("edgepose-display".into())
            .spawn(move || worker(painter, s, interval))
            .map_err(PanelError::Thread)?;
        Ok(Self {
            name,
            shared,
            worker: Some(worker),
            skeleton_sent: false,
            last_ts: None,
            fps: None,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> DisplayStats {
        let c = &self.shared.counters;
        DisplayStats {
            drawn: c.drawn.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
        }
    }

    fn update_fps(&mut self, ts: f64) {
        if let Some(prev) = self.last_ts {
            let dt = ts - prev;
            if dt > 0.0 {
                let inst = (1000.0 / dt) as f32;
                self.fps = Some(match self.fps {
                    Some(f) => 0.9 * f + 0.1 * inst,
                    None => inst,
                });
            }
        }
        self.last_ts = Some(ts);
    }
}

fn worker<P: Panel>(mut painter: Painter<P>, shared: Arc<Shared>, interval: Option<Duration>) {
    let mut scene = Scene::with_capacity(MAX_PERSONS);
    let mut last_draw: Option<Instant> = None;
    let mut backoff = BACKOFF;
    let counters = &shared.counters;
    loop {
        let mut mb = shared.lock();
        // Wait for a frame, then for the refresh cap.
        loop {
            if mb.stop && !mb.pending {
                return;
            }
            if !mb.pending {
                mb = shared.wake.wait(mb).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            let due = match (interval, last_draw) {
                (Some(i), Some(t)) if !mb.urgent && !mb.stop => Some(t + i),
                _ => None,
            };
            match due {
                Some(due) if Instant::now() < due => {
                    let wait = due - Instant::now();
                    mb = shared
                        .wake
                        .wait_timeout(mb, wait)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                _ => break,
            }
        }
        std::mem::swap(&mut scene, &mut mb.scene);
        mb.pending = false;
        mb.busy = true;
        let skeleton = mb.skeleton.clone();
        drop(mb);

        let outcome = match skeleton {
            None => Ok(false),
            Some(_) if !painter.panel.connected() && !backoff.due(Instant::now()) => Ok(false),
            Some(sk) => (|| {
                if !painter.panel.connected() {
                    painter.panel.connect()?;
                    counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    log::warn!("{}: display back", painter.panel.name());
                }
                painter.draw(&scene, &sk).map(|()| true)
            })(),
        };
        last_draw = Some(Instant::now());
        let mut mb = shared.lock();
        match outcome {
            Ok(true) => {
                counters.drawn.fetch_add(1, Ordering::Relaxed);
                backoff.reset();
            }
            Ok(false) => {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let n = counters.errors.fetch_add(1, Ordering::Relaxed);
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                if n == 0 {
                    log::warn!("{e}; retrying in the background");
                } else {
                    log::debug!("{e}");
                }
                backoff.failed(Instant::now());
                mb.last_error = Some(e.to_string());
            }
        }
        mb.busy = false;
        drop(mb);
        shared.wake.notify_all();
    }
}

impl DisplaySink {
    /// Puts a frame's persons in the mailbox (replacing one the thread has
    /// not drawn yet) and returns at once.
    pub fn show(&mut self, result: &FrameResult, meta: &RecordMeta) {
        self.update_fps(result.timestamp_ms);
        let skeleton = (!self.skeleton_sent).then(|| Arc::new(Skeleton::new(meta)));
        let mut mb = self.shared.lock();
        if let Some(s) = skeleton {
            mb.skeleton = Some(s);
            self.skeleton_sent = true;
        }
        if mb.pending {
            self.shared.counters.skipped.fetch_add(1, Ordering::Relaxed);
        }
        mb.scene.set(result, self.fps);
        mb.pending = true;
        drop(mb);
        self.shared.wake.notify_all();
    }

    /// Waits until the newest frame is on the panel (or given up on).
    pub fn settle(&mut self) {
        let mut mb = self.shared.lock();
        mb.urgent = true;
        self.shared.wake.notify_all();
        while mb.pending || mb.busy {
            if self.worker.as_ref().is_none_or(|w| w.is_finished()) {
                // The display thread is gone (it panicked): nothing to wait for.
                break;
            }
            mb = self
                .shared
                .wake
                .wait_timeout(mb, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        mb.urgent = false;
    }

    /// The summary line: frames drawn, skipped, bus errors, reconnects and
    /// the last error.
    pub fn report(&self) -> String {
        let s = self.stats();
        let mut line = format!(
            "{}: {} frames drawn, {} skipped, {} bus errors",
            self.name, s.drawn, s.skipped, s.errors
        );
        if s.reconnects > 0 {
            line += &format!(", {} reconnects", s.reconnects);
        }
        if let Some(e) = &self.shared.lock().last_error {
            line += &format!(" (last: {e})");
        }
        line
    }
}

impl Drop for DisplaySink {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
