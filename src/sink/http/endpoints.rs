//! What each path answers: the page, the MJPEG stream, the records as
//! Server-Sent Events, the statistics and a snapshot. A stream's body is
//! fed by a task of its own, which ends when the client goes, stalls for
//! [`STALL`], or the server closes.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::{Channel, Sender};
use http_body_util::{Either, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::config::Access;
use super::hub::{Endpoint, Hub, Joined, Ready};
use super::server::{text, Body};

/// The page: one file, no outside resources.
const PAGE: &str = include_str!("page.html");
/// The multipart boundary of the video stream.
pub const BOUNDARY: &str = "edgepose-frame";
/// A client that takes longer than this for one frame or record is
/// dropped (it still counts against `clients=` until then).
pub const STALL: Duration = Duration::from_secs(10);
/// How long a snapshot waits for a frame when nobody is watching.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(3);
/// How long `/stats` waits for a fresh report.
const REPORT_WAIT: Duration = Duration::from_millis(1500);
/// An idle event stream sends a comment this often (proxies and
/// browsers close silent connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn with_type(mut r: Response<Body>, content_type: &'static str) -> Response<Body> {
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn whole(data: Bytes) -> Response<Body> {
    Response::new(Either::Left(Full::new(data)))
}

/// 503: too many clients.
pub fn busy() -> Response<Body> {
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many clients are watching (clients= bounds them); try again later\n",
    );
    r.headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

pub fn page(hub: &Hub) -> Response<Body> {
    hub.served();
    let mut r = with_type(
        whole(Bytes::from_static(PAGE.as_bytes())),
        "text/html; charset=utf-8",
    );
    // Nothing from elsewhere: the page works offline, and cannot leak.
    r.headers_mut().insert(
        hyper::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    r
}

/// A stream's response, fed by `feed` on a task of its own.
fn stream<F>(content_type: &'static str, feed: impl FnOnce(Sender<Bytes>) -> F) -> Response<Body>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, body) = Channel::new(1);
    tokio::spawn(feed(tx));
    with_type(Response::new(Either::Right(body)), content_type)
}

/// Sends `parts` within [`STALL`]; false when the client is gone, stalled,
/// or the server is closing.
async fn send(tx: &mut Sender<Bytes>, parts: &[Bytes], stop: &mut watch::Receiver<bool>) -> bool {
    let all = async {
        for p in parts {
            tx.send_data(p.clone()).await?;
        }
        Ok::<_, http_body_util::channel::SendError>(())
    };
    tokio::select! {
        r = tokio::time::timeout(STALL, all) => matches!(r, Ok(Ok(()))),
        _ = stop.changed() => false,
    }
}

/// `/stream.mjpg`: annotated frames as `multipart/x-mixed-replace`.
pub fn video(hub: &Arc<Hub>, peer: SocketAddr, stop: watch::Receiver<bool>) -> Response<Body> {
    let Some(joined) = hub.join(Endpoint::Video, peer) else {
        return busy();
    };
    let hub = Arc::clone(hub);
    stream(
        "multipart/x-mixed-replace; boundary=edgepose-frame",
        move |tx| video_feed(hub, joined, tx, stop),
    )
}

async fn video_feed(
    hub: Arc<Hub>,
    joined: Joined,
    mut tx: Sender<Bytes>,
    mut stop: watch::Receiver<bool>,
) {
    let mut frames = hub.jpeg.subscribe();
    // The newest frame right away when it is recent, so the picture shows
    // at once; otherwise the next one.
    let recent = Duration::from_secs_f64((2.0 / hub.cfg.fps).max(1.0));
    let fresh = frames
        .borrow()
        .as_ref()
        .is_some_and(|j| j.at.elapsed() < recent);
    if fresh {
        frames.mark_changed();
    } else {
        frames.mark_unchanged();
    }
    loop {
        {
            let _ready = Ready::new(&hub.ready);
            tokio::select! {
                r = frames.changed() => if r.is_err() { break },
                _ = stop.changed() => break,
            }
        }
        let Some(jpeg) = frames.borrow_and_update().clone() else {
            continue;
        };
        let head = format!(
            "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame-Seq: {}\r\n\r\n",
            jpeg.data.len(),
            jpeg.seq
        );
        let parts = [Bytes::from(head), jpeg.data, Bytes::from_static(b"\r\n")];
        if !send(&mut tx, &parts, &mut stop).await {
            break;
        }
        joined.client.sent.fetch_add(1, Ordering::Relaxed);
    }
    // A clean end for a client still reading.
    let _ = tx.try_send(hyper::body::Frame::data(Bytes::from(format!(
        "--{BOUNDARY}--\r\n"
    ))));
    drop(joined);
}

/// `/records`: each frame's record (the JSON sink's line) as an event.
pub fn records(hub: &Arc<Hub>, peer: SocketAddr, stop: watch::Receiver<bool>) -> Response<Body> {
    // Subscribed first, so every record offered after joining reaches it.
    let rx = hub.records.subscribe();
    let Some(joined) = hub.join(Endpoint::Records, peer) else {
        return busy();
    };
    stream("text/event-stream", move |tx| {
        records_feed(rx, joined, tx, stop)
    })
}

async fn records_feed(
    mut rx: broadcast::Receiver<Bytes>,
    joined: Joined,
    mut tx: Sender<Bytes>,
    mut stop: watch::Receiver<bool>,
) {
    // Tells the browser how long to wait before reconnecting.
    if !send(
        &mut tx,
        &[Bytes::from_static(b"retry: 2000\n\n")],
        &mut stop,
    )
    .await
    {
        return;
    }
    loop {
        let event = tokio::select! {
            r = tokio::time::timeout(KEEP_ALIVE, rx.recv()) => r,
            _ = stop.changed() => break,
        };
        let part = match event {
            Err(_) => Bytes::from_static(b": keep-alive\n\n"),
            Ok(Ok(ev)) => ev,
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                // Counted from what was offered; the client is told.
                Bytes::from(format!(": {n} records dropped\n\n"))
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
        };
        let is_record = part.starts_with(b"data:");
        if !send(&mut tx, &[part], &mut stop).await {
            break;
        }
        if is_record {
            joined.client.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `/snapshot.jpg`: the newest annotated frame (a fresh one is made when
/// nobody watches the video).
pub async fn snapshot(hub: &Arc<Hub>) -> Response<Body> {
    hub.served();
    let mut frames = hub.jpeg.subscribe();
    let recent = Duration::from_secs_f64((2.0 / hub.cfg.fps).max(1.0));
    let fresh = frames
        .borrow_and_update()
        .as_ref()
        .filter(|j| j.at.elapsed() < recent)
        .cloned();
    let jpeg = match fresh {
        Some(j) => Some(j),
        None => {
            let _waiting = hub.wait_snapshot();
            match tokio::time::timeout(SNAPSHOT_WAIT, frames.changed()).await {
                Ok(Ok(())) => frames.borrow().clone(),
                _ => None,
            }
        }
    };
    match jpeg {
        Some(j) => with_type(whole(j.data), "image/jpeg"),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no frame came within 3 s: is the source delivering frames?\n",
        ),
    }
}

/// One streaming client in `/stats`.
#[derive(Serialize)]
struct ClientView {
    id: u64,
    endpoint: Endpoint,
    peer: String,
    seconds: f64,
    sent: u64,
    dropped: u64,
}

/// The preview's own part of `/stats`.
#[derive(Serialize)]
struct Preview {
    address: String,
    access: &'static str,
    fps_max: f64,
    quality: u8,
    clients_max: usize,
    clients: Vec<ClientView>,
    /// Requests answered besides the streams, and streams ended.
    requests: u64,
    refused: u64,
    /// Drops of all clients, live and gone.
    dropped: u64,
    frames_offered: u64,
    records_offered: u64,
    frames_encoded: u64,
    encode_ms: f64,
}

/// `/stats`: `{"model", "runtime", "delegate", "fps", "run": RunReport,
/// "preview"}` (`fps` and `run` are `null` until the first report).
pub async fn stats(hub: &Arc<Hub>) -> Response<Body> {
    hub.served();
    hub.report_wanted.store(hub.now_ms(), Ordering::Relaxed);
    let mut reports = hub.report.subscribe();
    let stale = reports
        .borrow_and_update()
        .as_ref()
        .is_none_or(|r| r.at.elapsed() > REPORT_WAIT);
    if stale {
        let _ = tokio::time::timeout(REPORT_WAIT, reports.changed()).await;
    }
    let report = reports.borrow().clone();
    let offered = hub.offered();
    let preview = {
        let c = super::hub::lock(&hub.clients);
        Preview {
            address: hub.local.to_string(),
            access: match hub.cfg.access {
                Access::Local => "local",
                Access::Token(_) => "token",
                Access::Open => "open",
            },
            fps_max: hub.cfg.fps,
            quality: hub.cfg.quality,
            clients_max: hub.cfg.clients,
            clients: c
                .live
                .iter()
                .map(|x| ClientView {
                    id: x.id,
                    endpoint: x.endpoint,
                    peer: x.peer.to_string(),
                    seconds: (x.since.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                    sent: x.sent.load(Ordering::Relaxed),
                    dropped: x.dropped(offered),
                })
                .collect(),
            requests: c.requests,
            refused: c.refused,
            dropped: c.dropped_gone + c.live.iter().map(|x| x.dropped(offered)).sum::<u64>(),
            frames_offered: offered.frames,
            records_offered: offered.records,
            frames_encoded: hub.encoded.load(Ordering::Relaxed),
            encode_ms: hub.encode_us.load(Ordering::Relaxed) as f64 / 1e3,
        }
    };
    let (model, runtime) = hub
        .meta
        .get()
        .map_or(("", ""), |(m, r)| (m.as_str(), r.as_str()));
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"model\":");
    let _ = serde_json::to_writer(&mut out, model);
    out.extend_from_slice(b",\"runtime\":");
    let _ = serde_json::to_writer(&mut out, runtime);
    out.extend_from_slice(b",\"delegate\":");
    let _ = serde_json::to_writer(&mut out, &report.as_ref().map(|r| r.delegate.as_str()));
    out.extend_from_slice(b",\"fps\":");
    let _ = serde_json::to_writer(&mut out, &report.as_ref().map(|r| r.fps));
    out.extend_from_slice(b",\"run\":");
    match &report {
        Some(r) => out.extend_from_slice(&r.json),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"preview\":");
    let _ = serde_json::to_writer(&mut out, &preview);
    out.push(b'}');
    with_type(whole(Bytes::from(out)), "application/json")
}
