//! The HTTP server: hyper's HTTP/1 server on a one-thread tokio runtime of
//! its own (the `http` thread, at the preview's lower priority). Each
//! connection is a task; each answers one request (no keep-alive). The
//! token, when there is one, is checked on every request before anything
//! else; only `GET` is answered. Past `4 × clients + 8` open connections a
//! connection gets 503 for whatever it asks.
//!
//! Shutting down ([`Server::stop`]) tells every stream to end (a video
//! stream sends its closing boundary) and returns; the server thread waits
//! for them up to [`CLOSE_WAIT`], then drops whatever is left (a client
//! that stopped reading), which closes its socket. [`Server::close`] (and
//! dropping the server) also waits for that thread.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use super::config::Access;
use super::endpoints;
use super::hub::Hub;

/// A response body: a whole one, or a stream fed by a task.
pub type Body = Either<Full<Bytes>, http_body_util::channel::Channel<Bytes>>;

/// How long closing waits for streams to end before dropping them.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Kernel send buffer of each connection: a client that reads slowly has
/// at most this much (a few frames) waiting for it, not seconds of video.
const SEND_BUFFER: usize = 64 * 1024;
/// hyper's own buffer per connection (its minimum is 8 KiB).
const HYPER_BUFFER: usize = 64 * 1024;
/// A client must send its request head within this time.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The running server.
pub struct Server {
    thread: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl Server {
    /// Serves `listener` on a thread of its own.
    pub fn start(listener: std::net::TcpListener, hub: Arc<Hub>) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (shutdown, stop) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || {
                super::encode::lower_priority();
                runtime.block_on(accept(listener, hub, stop));
                // Dropping the runtime drops every task left: their sockets close.
            })?;
        Ok(Self {
            thread: Some(thread),
            shutdown,
        })
    }

    /// Tells every stream and connection to end; does not wait.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Ends every stream and connection and the thread.
    pub fn close(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

/// Accepts connections until shutdown, then waits for them to end.
async fn accept(listener: std::net::TcpListener, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            log::error!("http {}: cannot serve: {e}", hub.local);
            return;
        }
    };
    let open = Arc::new(AtomicUsize::new(0));
    let max_open = 4 * hub.cfg.clients + 8;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
                    let over = open.fetch_add(1, Ordering::Relaxed) >= max_open;
                    let guard = Open(Arc::clone(&open));
                    tasks.spawn(connection(stream, peer, Arc::clone(&hub), over, stop.clone(), guard));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    log::warn!("http {}: accept: {e}", hub.local);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
}

/// Counts an open connection while it lives.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection (one request).
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    hub: Arc<Hub>,
    over: bool,
    stop: watch::Receiver<bool>,
    _open: Open,
) {
    let svc_stop = stop.clone();
    let svc_hub = Arc::clone(&hub);
    let service = service_fn(move |req| {
        let hub = Arc::clone(&svc_hub);
        let stop = svc_stop.clone();
        async move { Ok::<_, Infallible>(answer(req, peer, &hub, over, stop).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .max_buf_size(HYPER_BUFFER)
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = conn.await {
        log::debug!("http {peer}: {e}");
    }
}

/// A short plain-text answer.
pub fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from_static(body.as_bytes()))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The token a request carries: `?token=` or `Authorization: Bearer`.
fn presented(req: &Request<Incoming>) -> Option<&[u8]> {
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::as_bytes)
    });
    from_query.or_else(|| {
        req.headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    })
}

async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    hub: &Arc<Hub>,
    over: bool,
    stop: watch::Receiver<bool>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let resp = route(req, peer, hub, over, stop).await;
    log::debug!("http {peer}: GET {path}: {}", resp.status());
    resp
}

async fn route(
    req: Request<Incoming>,
    peer: SocketAddr,
    hub: &Arc<Hub>,
    over: bool,
    stop: watch::Receiver<bool>,
) -> Response<Body> {
    if let Access::Token(token) = &hub.cfg.access {
        if !presented(&req).is_some_and(|t| token.matches(t)) {
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "a token is required: open the page as /?token=TOKEN (or send Authorization: Bearer TOKEN)\n",
            );
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"edgepose\""),
            );
            return r;
        }
    }
    if req.method() != Method::GET {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n");
        r.headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    if over {
        hub.refuse();
        return endpoints::busy();
    }
    let mut resp = match req.uri().path() {
        "/" | "/index.html" => endpoints::page(hub),
        "/stream.mjpg" => endpoints::video(hub, peer, stop),
        "/records" => endpoints::records(hub, peer, stop),
        "/stats" => endpoints::stats(hub).await,
        "/snapshot.jpg" => endpoints::snapshot(hub).await,
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        hyper::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        hyper::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
