//! The web preview: `--sink http:ADDR:PORT?options` serves a page with the
//! live annotated video, the persons, frame rate, latencies and drops
//! (`/`), the video as MJPEG (`/stream.mjpg`), the records as Server-Sent
//! Events (`/records`), the run's statistics (`/stats`) and the newest
//! annotated frame (`/snapshot.jpg`). What it serves and how to use it:
//! docs/preview.md.
//!
//! The frame loop only hands things over and never waits ([`HttpSink`]):
//! the newest frame into a one-frame slot for the encoder thread
//! ([`encode`]), each record into a ring every records client reads at its
//! own pace ([`hub`]). Nobody watching costs a few atomic loads per frame:
//! no pixels are kept, nothing is encoded or serialised, nothing allocated.
//! The server ([`server`], [`endpoints`]) runs on a thread of its own.

mod config;
mod encode;
mod endpoints;
mod hub;
mod server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use config::{Access, HttpConfig, DEFAULT_PORT, TOKEN_ENV};
pub use endpoints::{BOUNDARY, STALL};
pub use hub::RECORD_RING;

use super::{Sink, SinkError};
use crate::display::Skeleton;
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::report::RunReport;
use crate::spec::Spec;
use hub::{lock, Hub, Report};

/// How often the frame loop hands over a report while `/stats` is read.
const REPORT_EVERY: Duration = Duration::from_millis(500);
/// Reports stop this long after the last `/stats` request.
const REPORT_INTEREST_MS: u64 = 5000;

/// The `http` sink.
pub struct HttpSink {
    hub: Arc<Hub>,
    server: Option<server::Server>,
    encoder: Option<JoinHandle<()>>,
    /// A record's JSON line (reused).
    line: Vec<u8>,
    /// When the next video frame is due (the `fps=` cap).
    due: Option<Instant>,
    interval: Duration,
    /// The last frame's time and the smoothed time between frames.
    last_emit: Option<Instant>,
    frame_dt: Duration,
    /// The last report handed over: when, and the frames then.
    last_report: Option<(Instant, u64)>,
    summary: Option<String>,
}

impl HttpSink {
    /// Opens the preview an `http:` spec names: checks the options, binds
    /// the address (a port in use is an error here, not later), starts the
    /// server and the encoder, and says on stderr where it serves and who
    /// may connect.
    pub fn open(spec: &mut Spec) -> Result<Self, SinkError> {
        let cfg = HttpConfig::from_spec(spec, std::env::var(TOKEN_ENV).ok())?;
        spec.finish()?;
        let addr = cfg.addr;
        let err = |why: String| SinkError::Http {
            addr: addr.to_string(),
            why,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "; another program serves on this port: pick another"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "; ports below 1024 need root (or CAP_NET_BIND_SERVICE): pick a port above 1023"
                }
                std::io::ErrorKind::AddrNotAvailable => {
                    "; no network interface of this machine has this address"
                }
                _ => "",
            };
            err(format!("cannot listen: {e}{hint}"))
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| err(format!("cannot listen: {e}")))?;
        let jpeg =
            encode::compressor(cfg.quality).map_err(|e| err(format!("JPEG encoder: {e}")))?;
        let interval = Duration::from_secs_f64(1.0 / cfg.fps);
        let hub = Arc::new(Hub::new(cfg, local));
        let server = server::Server::start(listener, Arc::clone(&hub))
            .map_err(|e| err(format!("cannot start the server: {e}")))?;
        let worker = Arc::clone(&hub);
        let encoder = std::thread::Builder::new()
            .name("http-jpeg".into())
            .spawn(move || encode::run(worker, jpeg))
            .map_err(|e| err(format!("cannot start the encoder: {e}")))?;
        eprintln!("edgepose: {}", serving(&hub.cfg.access, local));
        Ok(Self {
            hub,
            server: Some(server),
            encoder: Some(encoder),
            line: Vec::with_capacity(16 * 1024),
            due: None,
            interval,
            last_emit: None,
            frame_dt: Duration::ZERO,
            last_report: None,
            summary: None,
        })
    }

    /// The address served (the port the system chose for port 0).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.hub.local
    }

    /// Ends the streams and the encoder; the summary line is made here,
    /// with the final counts. The connections close on the server's thread
    /// (a client that stopped reading within [`server::CLOSE_WAIT`]), which
    /// dropping the sink waits for: the run's time does not include it.
    fn close(&mut self) {
        if let Some(s) = &self.server {
            s.stop();
        }
        self.hub.closing.store(true, Ordering::Relaxed);
        {
            let _p = lock(&self.hub.pending);
            self.hub.pending_cv.notify_all();
        }
        if let Some(t) = self.encoder.take() {
            let _ = t.join();
        }
        let dropped = self.hub.dropped();
        let c = lock(&self.hub.clients);
        self.summary = Some(format!(
            "http {}: {} requests, {} refused, {} frames encoded, {} dropped for slow clients",
            self.hub.local,
            c.requests + c.live.len() as u64,
            c.refused,
            self.hub.encoded.load(Ordering::Relaxed),
            dropped
        ));
    }

    /// Hands the newest frame to the encoder when one is due and a client
    /// (or a snapshot) is ready for it, and tells the capture thread
    /// whether the next frames' pixels may be needed: only when a frame is
    /// about due and someone is ready for it, so a client that stopped
    /// reading costs no conversion either.
    fn offer_frame(&mut self, frame: &Frame<'_>, result: &FrameResult) {
        let hub = &self.hub;
        let now = Instant::now();
        if let Some(last) = self.last_emit.replace(now) {
            // Smoothed time between frames.
            self.frame_dt = self.frame_dt.mul_f64(0.9) + (now - last).mul_f64(0.1);
        }
        let snapshot = hub.snapshots_waiting.load(Ordering::Relaxed) > 0;
        let ready = snapshot || hub.ready.load(Ordering::Relaxed) > 0;
        let soon = snapshot || self.due.is_none_or(|d| now + 2 * self.frame_dt >= d);
        hub.pixels.store(ready && soon, Ordering::Relaxed);
        if hub.video_clients.load(Ordering::Relaxed) == 0 && !snapshot {
            return;
        }
        if !snapshot && self.due.is_some_and(|d| now < d) {
            return;
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        let has_pixels = !frame.pixels.is_empty() && frame.pixels.len() == w * h * 3;
        if ready && !has_pixels {
            // Asked for above: the next frame brings them.
            return;
        }
        self.due = Some(match self.due {
            Some(d) if d + self.interval > now => d + self.interval,
            _ => now + self.interval,
        });
        hub.ticks.fetch_add(1, Ordering::Relaxed);
        if !ready {
            // Every client is still busy with an earlier frame: this one
            // is dropped for all of them (counted from the ticks).
            return;
        }
        // The encoder holds the lock only to swap buffers; if it does
        // right now, this frame is skipped rather than waited for.
        let Ok(mut p) = hub.pending.try_lock() else {
            return;
        };
        p.pixels.clear();
        p.pixels.extend_from_slice(frame.pixels);
        p.scene.set(result, None);
        p.scene.width = frame.width;
        p.scene.height = frame.height;
        p.seq = frame.seq;
        p.fresh = true;
        drop(p);
        hub.pending_cv.notify_one();
    }

    /// Sends the record to the records clients.
    fn offer_record(&mut self, frame: &Frame<'_>, result: &FrameResult, meta: &RecordMeta) {
        if self.hub.record_clients.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Err(e) = super::json::write_line(&mut self.line, frame.origin, result, meta) {
            log::warn!("http: cannot serialise record {}: {e}", result.seq);
            return;
        }
        let mut event = Vec::with_capacity(self.line.len() + 8);
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&self.line);
        event.push(b'\n');
        // Never waits: a client that falls behind loses its oldest.
        self.hub.published.fetch_add(1, Ordering::Relaxed);
        let _ = self.hub.records.send(Bytes::from(event));
    }
}

/// The start-up line: where, and who may connect.
fn serving(access: &Access, local: std::net::SocketAddr) -> String {
    match access {
        Access::Local => format!(
            "web preview on http://{local}/ (this machine only; another address needs token_file= or open=on)"
        ),
        Access::Token(t) => format!(
            "web preview on http://{local}/ for clients with the token ({}): open http://{local}/?token=TOKEN",
            t.from
        ),
        Access::Open => format!(
            "web preview on http://{local}/ with NO token (open=on): anyone who can reach this port can watch"
        ),
    }
}

impl Sink for HttpSink {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        if self.hub.meta.get().is_none() {
            let _ = self
                .hub
                .meta
                .set((meta.model_id.clone(), meta.runtime.clone()));
            let _ = self.hub.skeleton.set(Skeleton::new(meta));
        }
        self.offer_record(frame, result, meta);
        self.offer_frame(frame, result);
        Ok(())
    }

    /// Closes the server: the run is over.
    fn flush(&mut self) -> Result<(), SinkError> {
        self.close();
        Ok(())
    }

    fn name(&self) -> String {
        "http".into()
    }

    fn own_queue(&self) -> bool {
        true
    }

    fn pixels_on_demand(&self) -> Option<Arc<AtomicBool>> {
        Some(Arc::clone(&self.hub.pixels))
    }

    fn wants_live_report(&self) -> bool {
        if self
            .last_report
            .is_some_and(|(at, ..)| at.elapsed() < REPORT_EVERY)
        {
            return false;
        }
        let asked = self.hub.report_wanted.load(Ordering::Relaxed);
        asked > 0 && self.hub.now_ms().saturating_sub(asked) < REPORT_INTEREST_MS
    }

    fn live_report(&mut self, report: &RunReport) {
        let now = Instant::now();
        let fps = match self.last_report {
            Some((at, frames)) if now > at => {
                report.frames.saturating_sub(frames) as f64 / (now - at).as_secs_f64()
            }
            _ if report.wall_s > 0.0 => report.frames as f64 / report.wall_s,
            _ => 0.0,
        };
        self.last_report = Some((now, report.frames));
        match serde_json::to_vec(report) {
            Ok(json) => {
                self.hub.report.send_replace(Some(Report {
                    json: Bytes::from(json),
                    delegate: report.delegate.summary(),
                    fps: (fps * 10.0).round() / 10.0,
                    at: now,
                }));
            }
            Err(e) => log::warn!("http: cannot serialise the run report: {e}"),
        }
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.hub.dropped())
    }

    fn summary(&self) -> Option<String> {
        self.summary.clone()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        if self.encoder.is_some() {
            self.close();
        }
        if let Some(mut s) = self.server.take() {
            s.close();
        }
    }
}
