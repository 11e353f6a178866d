//! MQTT feed: each frame's record (the same JSON as `edgepose infer`'s
//! lines, see [`super::json`]) published to a broker, for fleets of boards.
//! The spec's options, the topics and status payloads, the counts and
//! troubleshooting are in docs/outputs.md.
//!
//! The frame loop never waits on the network: [`Sink::emit`] serialises the
//! record and appends it to a bounded queue (`buffer` records; when full the
//! oldest is dropped and counted), then hands what it can to the `rumqttc`
//! client without blocking. The client's event loop runs on its own thread
//! (`mqtt-net`), which reconnects with exponential backoff (100 ms doubling
//! up to `backoff_max`). On a lost connection, publishes the broker had not
//! acknowledged are taken back into the queue (ahead of newer records) and
//! sent again after the reconnect, so with QoS 1/2 every record is either
//! acknowledged or counted as dropped; with QoS 0 a record counts as
//! published once written to the socket.
//!
//! At start the sink waits for the first connection attempt (at most about
//! 6 s): a broker that refuses the login or a TLS certificate that does not
//! verify fails the run with one line; an unreachable broker is only logged
//! and retried in the background. At the end ([`Sink::flush`]) it waits up
//! to `flush_timeout` seconds for the queue to drain; what is still
//! undelivered then counts as dropped.
//!
//! The password comes from `password_file=PATH` or the environment variable
//! [`PASSWORD_ENV`], never from the command line (it would show in `ps`).
//!
//! Each record costs one heap allocation (the payload, owned by the MQTT
//! client until written); the queue and bookkeeping are pre-allocated.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rumqttc::{
    Client, ConnectReturnCode, Connection, ConnectionError, Event, Incoming, LastWill, MqttOptions,
    Outgoing, QoS, Request, TlsConfiguration, Transport,
};
use serde::Serialize;

use super::json::Record;
use super::{Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::spec::Spec;

/// Environment variable holding the broker password (used with `username=`
/// when no `password_file=` is given).
pub const PASSWORD_ENV: &str = "EDGEPOSE_MQTT_PASSWORD";

/// Requests the sink keeps in the client's channel at most.
const CHANNEL: usize = 32;
/// Largest record published; bigger ones are dropped and counted.
const MAX_PAYLOAD: usize = 4 << 20;
/// Publishes awaiting acknowledgement (QoS 1/2) at most.
const INFLIGHT: u16 = 100;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// How long `open` waits for the first connection attempt.
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(6);
/// How long shutdown waits for the offline status to be acknowledged and
/// for the network thread to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);
/// Status messages are published at least once.
const STATUS_QOS: QoS = QoS::AtLeastOnce;

/// TLS settings: CA file (system roots when absent), optional client cert.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Parsed `mqtt://` sink options.
#[derive(Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    pub device_id: String,
    pub topic: String,
    pub status_topic: String,
    pub qos: QoS,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: Option<TlsFiles>,
    pub buffer: usize,
    pub keep_alive: Duration,
    pub status_interval: Duration,
    pub flush_timeout: Duration,
    pub backoff_max: Duration,
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("broker", &self.broker())
            .field("topic", &self.topic)
            .field("qos", &self.qos)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls)
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

fn valid_topic_part(s: &str) -> bool {
    !s.is_empty() && !s.contains(['+', '#', '\0'])
}

/// The machine's host name, for the default device id.
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

fn seconds(
    spec: &mut Spec,
    key: &'static str,
    default: f64,
    min: f64,
) -> Result<Duration, SinkError> {
    let expected = format!("a number of seconds >= {min}");
    let v = spec.take_parse::<f64>(key, &expected)?.unwrap_or(default);
    if !(v.is_finite() && v >= min && v <= 86_400.0) {
        return Err(spec.invalid(key, &v.to_string(), &expected).into());
    }
    Ok(Duration::from_secs_f64(v))
}

impl MqttConfig {
    /// Parses the spec's target and options; `env_password` is the value of
    /// [`PASSWORD_ENV`] (passed in so tests need not touch the environment).
    pub fn from_spec(spec: &mut Spec, env_password: Option<String>) -> Result<Self, SinkError> {
        let tls = spec
            .take_parse::<bool>("tls", "true or false")?
            .unwrap_or(false);
        let (host, port) = split_host_port(&spec.target).ok_or_else(|| {
            spec.error("expected mqtt://HOST[:PORT] (e.g. mqtt://broker.local:1883)")
        })?;
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| spec.error(format!("port {p:?}: expected 1..65535")))?,
            None if tls => 8883,
            None => 1883,
        };
        let device_id = match spec.take("device_id") {
            Some(d) => d,
            None => hostname().ok_or_else(|| {
                spec.error("cannot read the host name for the device id; give device_id=NAME")
            })?,
        };
        if !valid_topic_part(&device_id) || device_id.contains('/') {
            return Err(spec
                .invalid(
                    "device_id",
                    &device_id,
                    "a name without '/', '+' or '#' (set device_id= if the host name has them)",
                )
                .into());
        }
        let topic = spec
            .take("topic")
            .unwrap_or_else(|| format!("edgepose/{device_id}/poses"));
        if !valid_topic_part(&topic) {
            return Err(spec
                .invalid("topic", &topic, "a topic name without '+' or '#'")
                .into());
        }
        let status_topic = format!("edgepose/{device_id}/status");
        if topic == status_topic {
            return Err(spec
                .invalid("topic", &topic, "a topic other than the status topic")
                .into());
        }
        let qos = match spec.take_parse::<u8>("qos", "0, 1 or 2")? {
            None | Some(1) => QoS::AtLeastOnce,
            Some(0) => QoS::AtMostOnce,
            Some(2) => QoS::ExactlyOnce,
            Some(q) => return Err(spec.invalid("qos", &q.to_string(), "0, 1 or 2").into()),
        };
        let client_id = spec
            .take("client_id")
            .unwrap_or_else(|| format!("edgepose-{device_id}"));
        if client_id.is_empty() {
            return Err(spec.invalid("client_id", "", "a non-empty id").into());
        }
        if spec.take("password").is_some() {
            return Err(spec
                .error(format!(
                    "password= is not accepted on the command line (it would show in the \
                     process list); use password_file=PATH or the {PASSWORD_ENV} variable"
                ))
                .into());
        }
        let username = spec.take("username");
        let password = match spec.take("password_file") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    spec.invalid("password_file", &path, &format!("a readable file ({e})"))
                })?;
                Some(text.trim_end_matches(['\r', '\n']).to_string())
            }
            None => env_password.filter(|_| username.is_some()),
        };
        if password.is_some() && username.is_none() {
            return Err(spec
                .error(
                    "password_file= needs username= (MQTT sends a password only with a user name)",
                )
                .into());
        }
        let file = |spec: &mut Spec, key: &'static str| -> Result<Option<PathBuf>, SinkError> {
            match spec.take(key) {
                None => Ok(None),
                Some(p) if std::path::Path::new(&p).is_file() => Ok(Some(PathBuf::from(p))),
                Some(p) => Err(spec.invalid(key, &p, "an existing PEM file").into()),
            }
        };
        let ca = file(spec, "ca")?;
        let cert = file(spec, "cert")?;
        let key = file(spec, "key")?;
        if cert.is_some() != key.is_some() {
            return Err(spec
                .error("cert= and key= go together (client certificate and its private key)")
                .into());
        }
        if !tls && (ca.is_some() || cert.is_some()) {
            return Err(spec.error("ca=, cert= and key= need tls=true").into());
        }
        let buffer = spec
            .take_parse::<usize>("buffer", "a number of records >= 1")?
            .unwrap_or(256);
        if buffer == 0 || buffer > 1_000_000 {
            return Err(spec
                .invalid(
                    "buffer",
                    &buffer.to_string(),
                    "a number of records, 1..1000000",
                )
                .into());
        }
        let keep_alive = spec
            .take_parse::<u16>("keep_alive", "whole seconds, 1..65535")?
            .unwrap_or(30);
        if keep_alive == 0 {
            return Err(spec
                .invalid("keep_alive", "0", "whole seconds, 1..65535")
                .into());
        }
        let status_interval = seconds(spec, "status_interval", 10.0, 0.1)?;
        let flush_timeout = seconds(spec, "flush_timeout", 10.0, 0.0)?;
        let backoff_max = seconds(spec, "backoff_max", 5.0, 0.1)?;
        Ok(Self {
            host,
            port,
            device_id,
            topic,
            status_topic,
            qos,
            client_id,
            username,
            password,
            tls: tls.then_some(TlsFiles { ca, cert, key }),
            buffer,
            keep_alive: Duration::from_secs(keep_alive.into()),
            status_interval,
            flush_timeout,
            backoff_max: backoff_max.max(BACKOFF_MIN),
        })
    }

    /// `host:port`, for messages.
    pub fn broker(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn error(&self, why: impl Into<String>) -> SinkError {
        SinkError::Mqtt {
            broker: self.broker(),
            why: why.into(),
        }
    }

    /// Client options: credentials, last will, TLS.
    fn options(&self) -> Result<MqttOptions, SinkError> {
        let mut o = MqttOptions::new(self.client_id.clone(), self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive)
            .set_clean_session(true)
            .set_inflight(INFLIGHT)
            .set_max_packet_size(64 * 1024, MAX_PAYLOAD + 64 * 1024)
            .set_last_will(LastWill::new(
                self.status_topic.clone(),
                status_json(&StatusMsg {
                    state: "offline",
                    device_id: &self.device_id,
                    reason: Some("connection lost"),
                    ..StatusMsg::default()
                }),
                STATUS_QOS,
                true,
            ));
        if let Some(user) = &self.username {
            o.set_credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &self.tls {
            let cfg = self.rustls_config(tls)?;
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(cfg),
            )));
        }
        Ok(o)
    }

    fn rustls_config(&self, tls: &TlsFiles) -> Result<rustls::ClientConfig, SinkError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca {
            Some(ca) => {
                let certs = CertificateDer::pem_file_iter(ca)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| self.error(format!("ca={}: {e}", ca.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(self.error(format!(
                        "ca={}: no usable PEM certificate in the file",
                        ca.display()
                    )));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(self.error(
                        "tls=true without ca=: no system CA certificates found; give ca=PATH",
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| self.error(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| self.error(format!("cert={}: {e}", cert.display())))?;
                if chain.is_empty() {
                    return Err(self.error(format!(
                        "cert={}: no PEM certificate in the file",
                        cert.display()
                    )));
                }
                let key_der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| self.error(format!("key={}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| self.error(format!("cert=/key=: {e}")))
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(target: &str) -> Option<(String, Option<&str>)> {
    let target = target.trim_end_matches('/');
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        return (!host.is_empty()).then(|| (host.to_string(), port));
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (target, None),
    };
    (!host.is_empty() && !host.contains(['/', ':', '@'])).then(|| (host.to_string(), port))
}

/// Status payload (`edgepose/<device>/status`).
#[derive(Serialize, Default)]
struct StatusMsg<'a> {
    state: &'a str,
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reconnects: Option<u64>,
}

fn status_json(m: &StatusMsg<'_>) -> Vec<u8> {
    // A struct of strings and numbers always serialises.
    serde_json::to_vec(m).unwrap_or_default()
}

/// What was handed to the client, in order, until its PUBLISH went out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Handed {
    Record { sent_before: bool },
    Status { offline: bool },
}

/// A queued record; `sent` when a PUBLISH of it already went out (and it
/// came back after a lost connection).
struct Rec {
    payload: Vec<u8>,
    sent: bool,
}

/// Counters for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct MqttCounts {
    /// Records emitted by the pipeline.
    pub records: u64,
    /// Records whose PUBLISH went out (each counted once).
    pub published: u64,
    /// Records the broker acknowledged (PUBACK for QoS 1, PUBREC for QoS 2).
    pub acknowledged: u64,
    /// Records given up: buffer overflow, oversize, or undelivered at exit.
    pub dropped: u64,
    /// Successful connections after a lost one.
    pub reconnects: u64,
    /// PUBLISHes sent again after a reconnect.
    pub resent: u64,
    /// Connection attempts the broker refused (credentials, authorisation).
    pub refused: u64,
}

/// Outcome of the first connection attempt.
#[derive(Debug, Clone, PartialEq)]
enum First {
    Connected,
    Unreachable(String),
    Refused(String),
}

struct State {
    client: Option<Client>,
    connected: bool,
    ever_connected: bool,
    closing: bool,
    abandoned: bool,
    net_done: bool,
    first: Option<First>,
    queue: VecDeque<Rec>,
    handed: VecDeque<Handed>,
    /// Publishes with a packet id, awaiting their acknowledgement.
    inflight: Vec<Option<Handed>>,
    meta: Option<(String, String)>,
    status_due: bool,
    /// When the last `online` status was handed over.
    last_status: Instant,
    /// Time and record count of the last frame-rate sample.
    fps_mark: (Instant, u64),
    fps: f64,
    offline_acked: bool,
    /// Logging state: an outage / a drop streak is reported once.
    outage: Option<(Instant, String)>,
    dropping: bool,
    c: MqttCounts,
}

struct Shared {
    cfg: MqttConfig,
    state: Mutex<State>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn records_outstanding(&self) -> bool {
        !self.queue.is_empty()
            || self
                .handed
                .iter()
                .chain(self.inflight.iter().flatten())
                .any(|h| matches!(h, Handed::Record { .. }))
    }

    fn drop_oldest_over(&mut self, cfg: &MqttConfig) {
        while self.queue.len() > cfg.buffer {
            self.queue.pop_front();
            self.c.dropped += 1;
            if !self.dropping {
                self.dropping = true;
                log::warn!(
                    "MQTT broker {}: buffer full ({} records): dropping the oldest until the \
                     broker takes records again",
                    cfg.broker(),
                    cfg.buffer
                );
            }
        }
    }

    fn status_payload(&self, cfg: &MqttConfig, state: &str, reason: Option<&str>) -> Vec<u8> {
        status_json(&StatusMsg {
            state,
            device_id: &cfg.device_id,
            reason,
            topic: Some(&cfg.topic),
            model: self.meta.as_ref().map(|m| m.0.as_str()),
            runtime: self.meta.as_ref().map(|m| m.1.as_str()),
            fps: Some((self.fps * 10.0).round() / 10.0),
            frames: Some(self.c.records),
            published: Some(self.c.published),
            dropped: Some(self.c.dropped),
            reconnects: Some(self.c.reconnects),
        })
    }

    /// Hands queued work to the client while connected and the channel has
    /// room; never blocks.
    fn pump(&mut self, cfg: &MqttConfig) {
        if !self.connected || self.abandoned {
            return;
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        if self.status_due && self.meta.is_some() && !self.closing && self.handed.len() < CHANNEL {
            let now = Instant::now();
            // The frame rate over the last half second or more.
            let dt = now.duration_since(self.fps_mark.0).as_secs_f64();
            if dt >= 0.5 {
                self.fps = (self.c.records - self.fps_mark.1) as f64 / dt;
                self.fps_mark = (now, self.c.records);
            }
            let payload = self.status_payload(cfg, "online", None);
            if client
                .try_publish(cfg.status_topic.clone(), STATUS_QOS, true, payload)
                .is_ok()
            {
                self.handed.push_back(Handed::Status { offline: false });
                self.status_due = false;
                self.last_status = now;
            }
        }
        while self.handed.len() < CHANNEL {
            let Some(rec) = self.queue.pop_front() else {
                break;
            };
            match client.try_publish(cfg.topic.clone(), cfg.qos, false, rec.payload) {
                Ok(()) => self.handed.push_back(Handed::Record {
                    sent_before: rec.sent,
                }),
                Err(rumqttc::ClientError::TryRequest(Request::Publish(p)))
                | Err(rumqttc::ClientError::Request(Request::Publish(p))) => {
                    self.queue.push_front(Rec {
                        payload: p.payload.into(),
                        sent: rec.sent,
                    });
                    break;
                }
                Err(_) => break,
            }
        }
    }

    fn acked(&mut self, pkid: u16) {
        let Some(slot) = self.inflight.get_mut(usize::from(pkid)) else {
            return;
        };
        match slot.take() {
            Some(Handed::Record { .. }) if !self.abandoned => self.c.acknowledged += 1,
            Some(Handed::Status { offline: true }) => self.offline_acked = true,
            _ => {}
        }
    }

    /// Book-keeping for one event of the client.
    fn on_event(&mut self, cfg: &MqttConfig, event: Event) {
        match event {
            Event::Incoming(Incoming::ConnAck(_)) => {
                self.connected = true;
                if self.ever_connected {
                    self.c.reconnects += 1;
                }
                self.ever_connected = true;
                if let Some((since, _)) = self.outage.take() {
                    log::warn!(
                        "MQTT broker {}: connected after {:.1} s; sending {} buffered records",
                        cfg.broker(),
                        since.elapsed().as_secs_f64(),
                        self.queue.len()
                    );
                } else {
                    log::info!("MQTT broker {}: connected", cfg.broker());
                }
                self.dropping = false;
                self.first.get_or_insert(First::Connected);
                self.status_due = self.meta.is_some();
                self.pump(cfg);
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                let h = self.handed.pop_front();
                if let Some(Handed::Record { sent_before }) = h {
                    if sent_before {
                        self.c.resent += 1;
                    } else if !self.abandoned {
                        self.c.published += 1;
                    }
                }
                if pkid != 0 {
                    if let (Some(h), Some(slot)) = (h, self.inflight.get_mut(usize::from(pkid))) {
                        *slot = Some(h);
                    }
                }
                self.pump(cfg);
            }
            Event::Incoming(Incoming::PubAck(a)) => self.acked(a.pkid),
            Event::Incoming(Incoming::PubRec(a)) => self.acked(a.pkid),
            _ => {}
        }
    }

    /// After a lost connection: the client's unacknowledged and unsent
    /// publishes come back to the front of the queue, oldest first.
    fn take_back(&mut self, cfg: &MqttConfig, pending: VecDeque<Request>) {
        let mut back = Vec::new();
        for req in pending {
            let Request::Publish(p) = req else { continue };
            let sent = if p.pkid != 0 {
                true
            } else {
                // Never processed: it is the oldest entry still in `handed`.
                match self.handed.pop_front() {
                    Some(Handed::Record { sent_before }) => sent_before,
                    _ => false,
                }
            };
            if p.topic == cfg.topic && !self.abandoned {
                back.push(Rec {
                    payload: p.payload.into(),
                    sent,
                });
            }
        }
        self.handed.clear();
        self.inflight.iter_mut().for_each(|s| *s = None);
        for rec in back.into_iter().rev() {
            self.queue.push_front(rec);
        }
        self.drop_oldest_over(cfg);
    }
}

/// The TLS error somewhere in `e`'s chain of sources (rustls errors reach
/// us inside I/O errors, at the handshake or on the first read after it).
fn tls_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(t) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// Why a connection attempt failed, in words, and whether the broker
/// refused us or TLS failed (as opposed to the broker not being reachable).
fn describe(e: &ConnectionError, was_connected: bool) -> (String, bool) {
    if let Some(t) = tls_cause(e) {
        return (format!("TLS: {t}"), true);
    }
    match e {
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => "bad user name or password",
                ConnectReturnCode::NotAuthorized => "not authorized",
                ConnectReturnCode::BadClientId => "client id rejected",
                ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not supported",
                ConnectReturnCode::ServiceUnavailable => {
                    return ("refused the connection: service unavailable".into(), false)
                }
                ConnectReturnCode::Success => "refused",
            };
            (format!("refused the connection: {why}"), true)
        }
        ConnectionError::Tls(rumqttc::TlsError::Io(io)) | ConnectionError::Io(io) => {
            (format!("not reachable ({io})"), false)
        }
        ConnectionError::Tls(t) => (format!("TLS: {t}"), true),
        ConnectionError::NetworkTimeout => ("not reachable (timed out)".into(), false),
        ConnectionError::NotConnAck(p) => (
            format!("not answering as an MQTT broker (expected CONNACK, got {p:?})"),
            false,
        ),
        other if was_connected => (format!("connection lost ({other})"), false),
        other => (format!("connection failed ({other})"), false),
    }
}

/// The network thread: drives the client's event loop, reconnects with
/// backoff, and takes unacknowledged publishes back after a loss.
fn net_loop(shared: Arc<Shared>, mut conn: Connection) {
    let cfg = &shared.cfg;
    let mut backoff = BACKOFF_MIN;
    loop {
        let polled = conn.recv();
        let mut st = shared.lock();
        match polled {
            Err(_) => break, // the client is gone: shutting down
            Ok(Ok(event)) => {
                let stop = st.closing && matches!(event, Event::Outgoing(Outgoing::Disconnect));
                if matches!(event, Event::Incoming(Incoming::ConnAck(_))) {
                    backoff = BACKOFF_MIN;
                }
                st.on_event(cfg, event);
                shared.cv.notify_all();
                if stop {
                    break;
                }
            }
            Ok(Err(e)) => {
                // Events read before the failure still count.
                let stale: Vec<Event> = conn.eventloop.state.events.drain(..).collect();
                for ev in stale {
                    st.on_event(cfg, ev);
                }
                let was_connected = st.connected;
                st.connected = false;
                conn.eventloop.clean();
                let pending = std::mem::take(&mut conn.eventloop.pending);
                st.take_back(cfg, pending);
                let (why, refused) = describe(&e, was_connected);
                if refused {
                    st.c.refused += 1;
                }
                if st.first.is_none() {
                    st.first = Some(if refused {
                        First::Refused(why.clone())
                    } else {
                        First::Unreachable(why.clone())
                    });
                    if refused {
                        shared.cv.notify_all();
                        break;
                    }
                }
                if st.closing {
                    break;
                }
                let fresh = st.outage.as_ref().is_none_or(|(_, w)| *w != why);
                if was_connected || fresh {
                    let level = if refused {
                        log::Level::Error
                    } else {
                        log::Level::Warn
                    };
                    log::log!(
                        level,
                        "MQTT broker {}: {why}; retrying (backoff up to {:.1} s), buffering up to {} records",
                        cfg.broker(),
                        cfg.backoff_max.as_secs_f64(),
                        cfg.buffer
                    );
                }
                if was_connected || st.outage.is_none() {
                    st.outage = Some((Instant::now(), why));
                } else if let Some(o) = st.outage.as_mut() {
                    o.1 = why;
                }
                shared.cv.notify_all();
                let deadline = Instant::now() + backoff;
                while !st.closing {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    st = shared
                        .cv
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                if st.closing {
                    break;
                }
                backoff = (backoff * 2).min(cfg.backoff_max);
            }
        }
    }
    let mut st = shared.lock();
    st.connected = false;
    st.net_done = true;
    shared.cv.notify_all();
}

/// The MQTT sink (see the module docs).
pub struct MqttSink {
    shared: Arc<Shared>,
    net: Option<std::thread::JoinHandle<()>>,
    last_len: usize,
    finished: bool,
}

impl MqttSink {
    /// Opens `mqtt://...`: parses the options, starts the network thread and
    /// waits for the first connection attempt. A refused login or a TLS
    /// failure is an error; an unreachable broker is retried.
    pub fn open(spec: &mut Spec) -> Result<Self, SinkError> {
        let cfg = MqttConfig::from_spec(spec, std::env::var(PASSWORD_ENV).ok())?;
        // Misspelt options are reported before any connection is made.
        spec.finish()?;
        Self::start(cfg)
    }

    /// Starts the sink with parsed options.
    pub fn start(cfg: MqttConfig) -> Result<Self, SinkError> {
        let options = cfg.options()?;
        let (client, conn) = Client::new(options, CHANNEL);
        let state = State {
            client: Some(client),
            connected: false,
            ever_connected: false,
            closing: false,
            abandoned: false,
            net_done: false,
            first: None,
            queue: VecDeque::with_capacity(cfg.buffer + 1),
            handed: VecDeque::with_capacity(CHANNEL + 1),
            inflight: vec![None; usize::from(INFLIGHT) + 1],
            meta: None,
            status_due: false,
            last_status: Instant::now(),
            fps_mark: (Instant::now(), 0),
            fps: 0.0,
            offline_acked: false,
            outage: None,
            dropping: false,
            c: MqttCounts::default(),
        };
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::new(state),
            cv: Condvar::new(),
        });
        let s2 = Arc::clone(&shared);
        let net = std::thread::Builder::new()
            .name("mqtt-net".into())
            .spawn(move || net_loop(s2, conn))
            .map_err(|e| {
                shared
                    .cfg
                    .error(format!("cannot start the network thread: {e}"))
            })?;
        let mut sink = Self {
            shared,
            net: Some(net),
            last_len: 1024,
            finished: false,
        };
        let first = {
            let deadline = Instant::now() + FIRST_ATTEMPT_WAIT;
            let mut st = sink.shared.lock();
            while st.first.is_none() && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                st = sink
                    .shared
                    .cv
                    .wait_timeout(st, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            st.first.clone()
        };
        match first {
            Some(First::Refused(why)) => {
                sink.finished = true;
                sink.stop_thread();
                Err(sink.shared.cfg.error(why))
            }
            Some(First::Connected) => Ok(sink),
            Some(First::Unreachable(_)) | None => {
                // Logged by the network thread; records are buffered.
                Ok(sink)
            }
        }
    }

    /// Counters so far.
    pub fn counts(&self) -> MqttCounts {
        self.shared.lock().c
    }

    /// Ends the network thread (client dropped, thread woken), waiting a
    /// bounded time.
    fn stop_thread(&mut self) {
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut st = self.shared.lock();
        st.closing = true;
        st.client = None;
        self.shared.cv.notify_all();
        while !st.net_done && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            st = self
                .shared
                .cv
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let done = st.net_done;
        drop(st);
        if let Some(h) = self.net.take() {
            if done {
                let _ = h.join();
            } else {
                log::debug!("MQTT network thread still busy at exit; leaving it");
            }
        }
    }
}

impl Sink for MqttSink {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        let cfg = &self.shared.cfg;
        let mut payload = Vec::with_capacity(self.last_len + 256);
        serde_json::to_writer(
            &mut payload,
            &Record {
                source: frame.origin,
                result,
                meta,
            },
        )
        .map_err(|e| cfg.error(format!("cannot serialise record: {e}")))?;
        self.last_len = payload.len();
        let mut st = self.shared.lock();
        st.c.records += 1;
        if st.meta.is_none() {
            st.meta = Some((meta.model_id.clone(), meta.runtime.clone()));
            st.status_due = true;
            st.last_status = Instant::now();
            st.fps_mark = (Instant::now(), st.c.records - 1);
        }
        if payload.len() > MAX_PAYLOAD {
            st.c.dropped += 1;
            log::warn!(
                "MQTT: record {} is {} bytes, over the {} byte limit: dropped",
                result.seq,
                payload.len(),
                MAX_PAYLOAD
            );
            return Ok(());
        }
        st.queue.push_back(Rec {
            payload,
            sent: false,
        });
        st.drop_oldest_over(cfg);
        if st.last_status.elapsed() >= cfg.status_interval {
            st.status_due = true;
        }
        st.pump(cfg);
        Ok(())
    }

    /// Waits up to `flush_timeout` for every record to be delivered; what is
    /// left then is counted as dropped (not an error: a lost broker is a
    /// runtime fault).
    fn flush(&mut self) -> Result<(), SinkError> {
        if self.finished {
            return Ok(());
        }
        let cfg = &self.shared.cfg;
        let deadline = Instant::now() + cfg.flush_timeout;
        let mut st = self.shared.lock();
        st.pump(cfg);
        let mut told = false;
        while st.records_outstanding() {
            let now = Instant::now();
            if now >= deadline || st.net_done {
                break;
            }
            if !told && !st.connected {
                told = true;
                log::warn!(
                    "MQTT broker {}: not connected; waiting up to {:.1} s to deliver {} buffered records",
                    cfg.broker(),
                    (deadline - now).as_secs_f64(),
                    st.queue.len()
                );
            }
            st = self
                .shared
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if st.records_outstanding() {
            let left = st.queue.len()
                + st.handed
                    .iter()
                    .chain(st.inflight.iter().flatten())
                    .filter(|h| matches!(h, Handed::Record { .. }))
                    .count();
            st.c.dropped += left as u64;
            st.queue.clear();
            st.abandoned = true;
            log::warn!(
                "MQTT broker {}: {left} records not delivered before shutdown (counted as dropped)",
                cfg.broker()
            );
        }
        Ok(())
    }

    fn name(&self) -> String {
        "mqtt".into()
    }

    fn summary(&self) -> Option<String> {
        let cfg = &self.shared.cfg;
        let c = self.counts();
        let acked = if cfg.qos == QoS::AtMostOnce {
            String::new()
        } else {
            format!(" acknowledged={}", c.acknowledged)
        };
        let refused = if c.refused > 0 {
            format!(" refused={}", c.refused)
        } else {
            String::new()
        };
        Some(format!(
            "mqtt {} {}: records={} published={}{acked} dropped={} reconnects={} resent={}{refused}",
            cfg.broker(),
            cfg.topic,
            c.records,
            c.published,
            c.dropped,
            c.reconnects,
            c.resent
        ))
    }
}

impl Drop for MqttSink {
    /// Clean shutdown: a retained `offline` status (waited for briefly),
    /// DISCONNECT (so the broker does not send the last will), thread ended.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let cfg = &self.shared.cfg;
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut st = self.shared.lock();
        st.closing = true;
        if st.connected {
            let payload = st.status_payload(cfg, "offline", Some("shutdown"));
            let sent = st.client.as_ref().is_some_and(|c| {
                c.try_publish(cfg.status_topic.clone(), STATUS_QOS, true, payload)
                    .is_ok()
            });
            if sent {
                st.handed.push_back(Handed::Status { offline: true });
                while !st.offline_acked && st.connected && Instant::now() < deadline {
                    let left = deadline.saturating_duration_since(Instant::now());
                    st = self
                        .shared
                        .cv
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            if let Some(c) = st.client.as_ref() {
                let _ = c.try_disconnect();
            }
        }
        drop(st);
        self.stop_thread();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, env: Option<&str>) -> Result<MqttConfig, SinkError> {
        let mut spec = Spec::parse(s).unwrap();
        let c = MqttConfig::from_spec(&mut spec, env.map(str::to_string))?;
        spec.finish()?;
        Ok(c)
    }

    #[test]
    fn defaults_and_options() {
        let c = parse("mqtt://broker.local?device_id=cam1", None).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("broker.local", 1883));
        assert_eq!(c.topic, "edgepose/cam1/poses");
        assert_eq!(c.status_topic, "edgepose/cam1/status");
        assert_eq!(c.client_id, "edgepose-cam1");
        assert_eq!(c.qos, QoS::AtLeastOnce);
        assert_eq!(c.buffer, 256);
        assert_eq!(c.tls, None);
        assert_eq!(c.password, None);

        let c = parse(
            "mqtt://10.0.0.2:1884?topic=a/b&device_id=d&qos=0&client_id=x&buffer=8&keep_alive=5&flush_timeout=0&backoff_max=0.5",
            None,
        )
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.topic.as_str()),
            ("10.0.0.2", 1884, "a/b")
        );
        assert_eq!(
            (c.qos, c.client_id.as_str(), c.buffer),
            (QoS::AtMostOnce, "x", 8)
        );
        assert_eq!(c.keep_alive, Duration::from_secs(5));
        assert_eq!(c.flush_timeout, Duration::ZERO);
        assert_eq!(c.backoff_max, Duration::from_millis(500));

        let c = parse("mqtt://[::1]?tls=true&device_id=d", None).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 8883));
        assert_eq!(c.broker(), "[::1]:8883");

        // The device id defaults to the host name.
        let c = parse("mqtt://h", None).unwrap();
        assert_eq!(Some(c.device_id), hostname());
    }

    #[test]
    fn password_from_file_or_environment_never_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let c = parse(
            &format!(
                "mqtt://h?device_id=d&username=u&password_file={}",
                pw.display()
            ),
            Some("env"),
        )
        .unwrap();
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = parse("mqtt://h?device_id=d&username=u", Some("env")).unwrap();
        assert_eq!(c.password.as_deref(), Some("env"));
        // Without a user name the variable is not used.
        let c = parse("mqtt://h?device_id=d", Some("env")).unwrap();
        assert_eq!(c.password, None);
        let e = parse("mqtt://h?device_id=d&username=u&password=x", None).unwrap_err();
        assert!(e.to_string().contains("password= is not accepted"), "{e}");
        assert!(e.to_string().contains(PASSWORD_ENV), "{e}");
    }

    #[test]
    fn bad_options_are_named() {
        for (spec, needle) in [
            ("mqtt://", "expected mqtt://HOST[:PORT]"),
            ("mqtt://h:99999?device_id=d", "port \"99999\""),
            ("mqtt://h?device_id=a/b", "device_id=a/b"),
            ("mqtt://h?device_id=d&topic=x/#", "topic=x/#"),
            ("mqtt://h?device_id=d&qos=3", "qos=3: expected 0, 1 or 2"),
            ("mqtt://h?device_id=d&buffer=0", "buffer=0"),
            ("mqtt://h?device_id=d&keep_alive=0", "keep_alive=0"),
            (
                "mqtt://h?device_id=d&ca=/nonexistent.pem",
                "ca=/nonexistent.pem",
            ),
            (
                "mqtt://h?device_id=d&password_file=/nonexistent",
                "password_file",
            ),
            (
                "mqtt://h?device_id=d&topic=edgepose/d/status",
                "status topic",
            ),
            (
                "mqtt://h?device_id=d&colour=red",
                "unknown option \"colour\"",
            ),
        ] {
            let e = parse(spec, None).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn status_payloads() {
        let will = status_json(&StatusMsg {
            state: "offline",
            device_id: "cam1",
            reason: Some("connection lost"),
            ..StatusMsg::default()
        });
        assert_eq!(
            std::str::from_utf8(&will).unwrap(),
            r#"{"state":"offline","device_id":"cam1","reason":"connection lost"}"#
        );
    }

    fn state(buffer: usize) -> (MqttConfig, State) {
        let cfg = parse(&format!("mqtt://h?device_id=d&buffer={buffer}"), None).unwrap();
        let st = State {
            client: None,
            connected: false,
            ever_connected: false,
            closing: false,
            abandoned: false,
            net_done: false,
            first: None,
            queue: VecDeque::new(),
            handed: VecDeque::new(),
            inflight: vec![None; usize::from(INFLIGHT) + 1],
            meta: None,
            status_due: false,
            last_status: Instant::now(),
            fps_mark: (Instant::now(), 0),
            fps: 0.0,
            offline_acked: false,
            outage: None,
            dropping: false,
            c: MqttCounts::default(),
        };
        (cfg, st)
    }

    #[test]
    fn taken_back_publishes_go_first_and_the_oldest_are_dropped() {
        let (cfg, mut st) = state(3);
        for i in 2..4u8 {
            st.queue.push_back(Rec {
                payload: vec![i],
                sent: false,
            });
        }
        // One record went out (pkid 5) and waits for its ack; one more and a
        // status sit unprocessed in the channel.
        st.handed.push_back(Handed::Status { offline: false });
        st.handed.push_back(Handed::Record { sent_before: true });
        st.inflight[5] = Some(Handed::Record { sent_before: false });
        let mut p0 = rumqttc::Publish::new("edgepose/d/poses", QoS::AtLeastOnce, vec![0u8]);
        p0.pkid = 5;
        let status = rumqttc::Publish::new("edgepose/d/status", QoS::AtLeastOnce, vec![9u8]);
        let p1 = rumqttc::Publish::new("edgepose/d/poses", QoS::AtLeastOnce, vec![1u8]);
        let pending = VecDeque::from([
            Request::Publish(p0),
            Request::Publish(status),
            Request::Publish(p1),
        ]);
        st.take_back(&cfg, pending);
        // [0 (sent), 1 (sent before), 2, 3] over a bound of 3: 0 is dropped.
        let got: Vec<(u8, bool)> = st.queue.iter().map(|r| (r.payload[0], r.sent)).collect();
        assert_eq!(got, vec![(1, true), (2, false), (3, false)]);
        assert_eq!(st.c.dropped, 1);
        assert!(st.handed.is_empty());
        assert!(st.inflight.iter().all(Option::is_none));
    }

    #[test]
    fn events_count_published_acknowledged_and_resent_once() {
        let (cfg, mut st) = state(8);
        st.handed.push_back(Handed::Record { sent_before: false });
        st.handed.push_back(Handed::Record { sent_before: true });
        st.handed.push_back(Handed::Status { offline: true });
        st.on_event(&cfg, Event::Outgoing(Outgoing::Publish(1)));
        st.on_event(&cfg, Event::Outgoing(Outgoing::Publish(2)));
        st.on_event(&cfg, Event::Outgoing(Outgoing::Publish(3)));
        assert_eq!((st.c.published, st.c.resent), (1, 1));
        st.on_event(
            &cfg,
            Event::Incoming(Incoming::PubAck(rumqttc::PubAck::new(2))),
        );
        st.on_event(
            &cfg,
            Event::Incoming(Incoming::PubAck(rumqttc::PubAck::new(2))),
        );
        assert_eq!(st.c.acknowledged, 1);
        assert!(!st.offline_acked);
        st.on_event(
            &cfg,
            Event::Incoming(Incoming::PubAck(rumqttc::PubAck::new(3))),
        );
        assert!(st.offline_acked);
        st.on_event(
            &cfg,
            Event::Incoming(Incoming::PubRec(rumqttc::PubRec::new(1))),
        );
        assert_eq!(st.c.acknowledged, 2);
        assert!(!st.records_outstanding());
    }
}
