//! What the frame loop, the encoder thread and the server share: the
//! one-frame slot the frame loop fills for the encoder, the newest JPEG
//! (one `watch` slot that every video client reads: each client takes the
//! newest when it is ready for one, so a slow client skips frames and never
//! holds anyone up), the records (a `broadcast` ring of [`RECORD_RING`]
//! events with one read position per client: a client that falls behind
//! loses its oldest, counted), the newest run report, and the clients with
//! their counters.
//!
//! The frame loop only ever tries a lock (`try_lock`) and sends into
//! channels that never wait, so nothing a client does reaches it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::config::HttpConfig;
use crate::display::{Scene, Skeleton};

/// Records kept for each client that falls behind.
pub const RECORD_RING: usize = 64;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One frame for the encoder: the picture and what to draw on it.
#[derive(Default)]
pub struct Pending {
    pub pixels: Vec<u8>,
    pub scene: Scene,
    pub seq: u64,
    /// Set by the frame loop, cleared by the encoder when it takes it.
    pub fresh: bool,
}

/// An encoded, annotated frame.
#[derive(Debug, Clone)]
pub struct Jpeg {
    pub data: Bytes,
    pub seq: u64,
    pub at: Instant,
}

/// The newest run report, as JSON.
#[derive(Debug, Clone)]
pub struct Report {
    pub json: Bytes,
    /// What ran on the delegate, in words.
    pub delegate: String,
    /// Frames per second since the report before.
    pub fps: f64,
    pub at: Instant,
}

/// What a client streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Endpoint {
    #[serde(rename = "/stream.mjpg")]
    Video,
    #[serde(rename = "/records")]
    Records,
}

/// One streaming client.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub endpoint: Endpoint,
    pub peer: SocketAddr,
    pub since: Instant,
    /// Video frames or records offered before this client came.
    pub first: u64,
    pub sent: AtomicU64,
}

impl Client {
    /// What this client missed: video frames offered while it was still
    /// busy with an earlier one, records it fell too far behind for (a
    /// frame or record on its way counts until it is sent). `offered` are
    /// the hub's [`Offered`] counts.
    pub fn dropped(&self, offered: Offered) -> u64 {
        let total = match self.endpoint {
            Endpoint::Video => offered.frames,
            Endpoint::Records => offered.records,
        };
        total
            .saturating_sub(self.first)
            .saturating_sub(self.sent.load(Ordering::Relaxed))
    }
}

/// Video frames and records offered to the clients so far.
#[derive(Debug, Clone, Copy)]
pub struct Offered {
    pub frames: u64,
    pub records: u64,
}

/// The clients now streaming, and the totals of those gone.
#[derive(Default)]
pub struct Clients {
    pub live: Vec<Arc<Client>>,
    pub next_id: u64,
    /// Clients served in all (streams, snapshots, pages, statistics).
    pub requests: u64,
    /// Drops of the clients that have left.
    pub dropped_gone: u64,
    /// Requests answered 503 (too many clients).
    pub refused: u64,
    /// Snapshot requests waiting for a frame.
    pub snapshots_waiting: usize,
}

/// Shared state of one web preview.
pub struct Hub {
    pub cfg: HttpConfig,
    /// The address actually bound (the port when 0 was asked for).
    pub local: SocketAddr,
    pub started: Instant,
    /// Model and runtime (from the first frame's meta).
    pub meta: OnceLock<(String, String)>,
    pub skeleton: OnceLock<Skeleton>,
    /// Read by the capture thread: keep the frames' RGB pixels (set by the
    /// frame loop when a video frame is about due and a client is ready,
    /// and when a client or snapshot request comes).
    pub pixels: Arc<AtomicBool>,
    /// Frame loop → encoder.
    pub pending: Mutex<Pending>,
    pub pending_cv: Condvar,
    pub jpeg: watch::Sender<Option<Jpeg>>,
    pub records: broadcast::Sender<Bytes>,
    pub report: watch::Sender<Option<Report>>,
    /// Milliseconds after `started` of the last `/stats` request.
    pub report_wanted: AtomicU64,
    pub clients: Mutex<Clients>,
    /// Counts the frame loop reads on every frame (kept in step with
    /// `clients` under its lock).
    pub video_clients: AtomicUsize,
    pub record_clients: AtomicUsize,
    pub snapshots_waiting: AtomicUsize,
    /// Video clients waiting for their next frame.
    pub ready: AtomicUsize,
    /// Video frames offered (at most `fps` a second while anyone watches).
    pub ticks: AtomicU64,
    /// Records offered (every frame's while anyone reads them).
    pub published: AtomicU64,
    pub encoded: AtomicU64,
    /// Microseconds the last encode (overlay and JPEG) took.
    pub encode_us: AtomicU64,
    pub closing: AtomicBool,
}

impl Hub {
    pub fn new(cfg: HttpConfig, local: SocketAddr) -> Self {
        Self {
            cfg,
            local,
            started: Instant::now(),
            meta: OnceLock::new(),
            skeleton: OnceLock::new(),
            pixels: Arc::new(AtomicBool::new(false)),
            pending: Mutex::new(Pending::default()),
            pending_cv: Condvar::new(),
            jpeg: watch::Sender::new(None),
            records: broadcast::Sender::new(RECORD_RING),
            report: watch::Sender::new(None),
            report_wanted: AtomicU64::new(0),
            clients: Mutex::new(Clients::default()),
            video_clients: AtomicUsize::new(0),
            record_clients: AtomicUsize::new(0),
            snapshots_waiting: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            ticks: AtomicU64::new(0),
            published: AtomicU64::new(0),
            encoded: AtomicU64::new(0),
            encode_us: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the preview started.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Publishes the counts the frame loop reads (under the clients lock).
    fn publish(&self, c: &Clients) {
        let video = c
            .live
            .iter()
            .filter(|c| c.endpoint == Endpoint::Video)
            .count();
        self.video_clients.store(video, Ordering::Relaxed);
        self.record_clients
            .store(c.live.len() - video, Ordering::Relaxed);
        self.snapshots_waiting
            .store(c.snapshots_waiting, Ordering::Relaxed);
        if video > 0 || c.snapshots_waiting > 0 {
            // Pixels from the next frame on; the frame loop refines this.
            self.pixels.store(true, Ordering::Relaxed);
        }
    }

    /// A new streaming client, or `None` when `clients=` are streaming
    /// already (the request is then refused, and counted).
    pub fn join(self: &Arc<Self>, endpoint: Endpoint, peer: SocketAddr) -> Option<Joined> {
        let mut c = lock(&self.clients);
        if c.live.len() >= self.cfg.clients {
            c.refused += 1;
            return None;
        }
        c.next_id += 1;
        let offered = self.offered();
        let client = Arc::new(Client {
            id: c.next_id,
            endpoint,
            peer,
            since: Instant::now(),
            first: match endpoint {
                Endpoint::Video => offered.frames,
                Endpoint::Records => offered.records,
            },
            sent: AtomicU64::new(0),
        });
        c.live.push(Arc::clone(&client));
        self.publish(&c);
        Some(Joined {
            hub: Arc::clone(self),
            client,
        })
    }

    /// Counts a request refused for the connection bound.
    pub fn refuse(&self) {
        lock(&self.clients).refused += 1;
    }

    /// Counts a request answered.
    pub fn served(&self) {
        lock(&self.clients).requests += 1;
    }

    /// A snapshot request waits for a frame until the guard is dropped.
    pub fn wait_snapshot(self: &Arc<Self>) -> SnapshotWait {
        let mut c = lock(&self.clients);
        c.snapshots_waiting += 1;
        self.publish(&c);
        SnapshotWait(Arc::clone(self))
    }

    /// What has been offered so far.
    pub fn offered(&self) -> Offered {
        Offered {
            frames: self.ticks.load(Ordering::Relaxed),
            records: self.published.load(Ordering::Relaxed),
        }
    }

    /// Drops of every client, live and gone.
    pub fn dropped(&self) -> u64 {
        let offered = self.offered();
        let c = lock(&self.clients);
        c.dropped_gone + c.live.iter().map(|c| c.dropped(offered)).sum::<u64>()
    }
}

/// A streaming client's registration; dropping it (the stream ended, or
/// its task was cancelled) removes the client.
pub struct Joined {
    hub: Arc<Hub>,
    pub client: Arc<Client>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        let offered = self.hub.offered();
        let mut c = lock(&self.hub.clients);
        c.live.retain(|x| !Arc::ptr_eq(x, &self.client));
        c.dropped_gone += self.client.dropped(offered);
        c.requests += 1;
        self.hub.publish(&c);
    }
}

/// A snapshot request waiting for a frame.
pub struct SnapshotWait(Arc<Hub>);

impl Drop for SnapshotWait {
    fn drop(&mut self) {
        let mut c = lock(&self.0.clients);
        c.snapshots_waiting -= 1;
        self.0.publish(&c);
    }
}

/// Counts a video client as ready for a frame while it lives.
pub struct Ready<'a>(&'a AtomicUsize);

impl<'a> Ready<'a> {
    pub fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
