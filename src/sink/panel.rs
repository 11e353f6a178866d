//! Display sinks: a [`Panel`] (an SSD1306 OLED, an ST7789/ILI9341 TFT, a
//! Linux framebuffer) driven from its own thread so that a slow bus never
//! holds up the pipeline.
//!
//! [`DisplaySink::emit`] copies the frame's persons into a one-frame
//! mailbox and returns; the display thread draws whatever is newest. A
//! frame replaced in the mailbox before the thread got to it is counted as
//! skipped. `max_fps` caps the refresh rate (a frame that arrives sooner
//! waits in the mailbox and may be replaced). Bus errors (a display
//! unplugged, a NACK) are counted, the panel is re-initialised after a
//! back-off (0.2 s doubling to 5 s), and frames in between are skipped:
//! never fatal. The summary says frames drawn / skipped / errors.
//!
//! Options common to every display (`?key=value`): `max_fps` (refresh cap,
//! 0 = none) and `status` (`on`/`off`: the status line of fps, persons and
//! inference time; `off` makes the picture depend on the poses only, for
//! comparisons with golden images).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embedded_graphics::draw_target::DrawTarget;
use embedded_graphics::geometry::OriginDimensions;

use super::display::{render, PanelColour, RenderOptions, Scene, Skeleton};
use super::{Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::spec::Spec;

/// Errors of display panels.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("{panel}: cannot open {path}: {why}{hint}")]
    Open {
        panel: String,
        path: String,
        why: String,
        /// What to check (permissions, wiring), with a leading separator.
        hint: &'static str,
    },
    #[error("{panel}: {what} failed: {why}{hint}")]
    Bus {
        panel: String,
        what: &'static str,
        why: String,
        hint: &'static str,
    },
    #[error("{panel}: {why}")]
    Config { panel: String, why: String },
    #[error("cannot start the display thread: {0}")]
    Thread(std::io::Error),
}

/// A hint for `Open` errors of device files.
pub fn open_hint(e: &std::io::Error, group: &'static str) -> &'static str {
    match (e.kind(), group) {
        (std::io::ErrorKind::PermissionDenied, "i2c") => {
            "; add the user to the i2c group (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::PermissionDenied, "spi") => {
            "; add the user to the spi and gpio groups (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::PermissionDenied, "gpio") => {
            "; add the user to the gpio group (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::PermissionDenied, _) => {
            "; add the user to the video group (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::NotFound, "i2c") => {
            "; is I2C enabled (dtparam=i2c_arm=on) and the bus number right?"
        }
        (std::io::ErrorKind::NotFound, "spi") => {
            "; is SPI enabled (dtparam=spi=on) and the device name right?"
        }
        (std::io::ErrorKind::NotFound, "gpio") => "; check the chip name (ls /dev/gpiochip*)",
        _ => "",
    }
}

/// A display the sink draws on. It owns its bus; [`Panel::connect`]
/// (re)opens and initialises it.
pub trait Panel: Send + 'static {
    type Colour: PanelColour;
    type Canvas: DrawTarget<Color = Self::Colour> + OriginDimensions;
    /// How the panel is named in messages (its spec).
    fn name(&self) -> &str;
    /// Initialises the controller (reopening the bus if it was lost).
    fn connect(&mut self) -> Result<(), PanelError>;
    /// Whether the panel is connected (the last bus operation worked).
    fn connected(&self) -> bool;
    /// Prepares the drawing surface for a new frame (cleared to the
    /// background); `None` while not connected.
    fn begin(&mut self) -> Option<&mut Self::Canvas>;
    /// Sends what was drawn since [`Panel::begin`] to the glass. On error
    /// the panel counts as disconnected until the next `connect`.
    fn show(&mut self) -> Result<(), PanelError>;
}

/// Renders scenes onto a panel (the synchronous part of [`DisplaySink`];
/// tests drive it directly).
pub struct Painter<P: Panel> {
    pub panel: P,
    pub opts: RenderOptions,
}

impl<P: Panel> Painter<P> {
    pub fn new(panel: P, opts: RenderOptions) -> Self {
        Self { panel, opts }
    }

    /// Draws `scene` and sends it to the glass (the panel must be
    /// connected).
    pub fn draw(&mut self, scene: &Scene, skeleton: &Skeleton) -> Result<(), PanelError> {
        let opts = self.opts;
        let Some(canvas) = self.panel.begin() else {
            return Err(PanelError::Bus {
                panel: self.panel.name().to_string(),
                what: "drawing",
                why: "not connected".into(),
                hint: "",
            });
        };
        // Drawing into RAM buffers cannot fail; a panel whose canvas
        // could would report it from `show`.
        let _ = render(canvas, scene, skeleton, &opts);
        self.panel.show()
    }
}

/// Options every display sink takes.
#[derive(Debug, Clone, Copy)]
pub struct CommonOptions {
    /// Refresh cap in frames per second (0 = none).
    pub max_fps: f32,
    pub render: RenderOptions,
}

impl CommonOptions {
    /// Takes `max_fps` and `status` from `spec`.
    pub fn take(spec: &mut Spec, default_fps: f32) -> Result<Self, SinkError> {
        let max_fps = spec
            .take_parse::<f32>("max_fps", "a refresh cap in frames per second (0 = none)")?
            .unwrap_or(default_fps);
        if !(max_fps.is_finite() && max_fps >= 0.0) {
            return Err(spec
                .invalid("max_fps", &max_fps.to_string(), "a number >= 0")
                .into());
        }
        let status = match spec.take("status").as_deref() {
            None | Some("on") | Some("true") | Some("1") => true,
            Some("off") | Some("false") | Some("0") => false,
            Some(v) => return Err(spec.invalid("status", v, "on or off").into()),
        };
        Ok(Self {
            max_fps,
            render: RenderOptions { status },
        })
    }
}

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

/// A panel as a [`Sink`], drawn from its own thread.
pub struct DisplaySink {
    name: String,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    skeleton_sent: bool,
    last_ts: Option<f64>,
    fps: Option<f32>,
}

const MAX_PERSONS: usize = 32;
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

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
        let interval = (max_fps > 0.0).then(|| Duration::from_secs_f32(1.0 / max_fps));
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
    let mut backoff = BACKOFF_MIN;
    let mut retry_at: Option<Instant> = None;
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
            Some(_)
                if !painter.panel.connected() && retry_at.is_some_and(|t| Instant::now() < t) =>
            {
                Ok(false)
            }
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
                backoff = BACKOFF_MIN;
                retry_at = None;
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
                retry_at = Some(Instant::now() + backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                mb.last_error = Some(e.to_string());
            }
        }
        mb.busy = false;
        drop(mb);
        shared.wake.notify_all();
    }
}

impl Sink for DisplaySink {
    fn emit(
        &mut self,
        _frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
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
        Ok(())
    }

    /// Waits until the newest frame is on the panel (or given up on).
    fn flush(&mut self) -> Result<(), SinkError> {
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
        Ok(())
    }

    fn summary(&self) -> Option<String> {
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
        Some(line)
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
