//! The network side of the MQTT sink, where the `rumqttc` and `rustls`
//! types live: the client's options (credentials, last will, TLS), the
//! network thread that drives the client's event loop and reconnects with
//! backoff, and the wording of connection failures.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use rumqttc::{
    Client, ConnectReturnCode, Connection, ConnectionError, Event, Incoming, LastWill, MqttOptions,
    Outgoing, TlsConfiguration, Transport,
};

use super::config::{MqttConfig, TlsFiles};
use super::state::{status_json, First, Shared, State, StatusMsg, CHANNEL, INFLIGHT, STATUS_QOS};
use super::{BACKOFF_MIN, MAX_PAYLOAD};
use crate::backoff::Backoff;
use crate::sink::SinkError;

/// Creates the client for `cfg` and starts the network thread (`mqtt-net`).
pub(super) fn start(cfg: MqttConfig) -> Result<(Arc<Shared>, JoinHandle<()>), SinkError> {
    let options = options(&cfg)?;
    let (client, conn) = Client::new(options, CHANNEL);
    let state = State::new(Some(client), cfg.buffer);
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
    Ok((shared, net))
}

/// Client options: credentials, last will, TLS.
fn options(cfg: &MqttConfig) -> Result<MqttOptions, SinkError> {
    let mut o = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    o.set_keep_alive(cfg.keep_alive)
        .set_clean_session(true)
        .set_inflight(INFLIGHT)
        .set_max_packet_size(64 * 1024, MAX_PAYLOAD + 64 * 1024)
        .set_last_will(LastWill::new(
            cfg.status_topic.clone(),
            status_json(&StatusMsg {
                state: "offline",
                device_id: &cfg.device_id,
                reason: Some("connection lost"),
                ..StatusMsg::default()
            }),
            STATUS_QOS,
            true,
        ));
    if let Some(user) = &cfg.username {
        o.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &cfg.tls {
        let rustls = rustls_config(cfg, tls)?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(rustls),
        )));
    }
    Ok(o)
}

fn rustls_config(cfg: &MqttConfig, tls: &TlsFiles) -> Result<rustls::ClientConfig, SinkError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // Each file read with a cap first: the PEM parser reads a line at a
    // time, and a file without newlines (/dev/zero) would have no end.
    let pem = |key: &str, path: &std::path::Path| {
        crate::files::read(path, crate::files::SECRET)
            .map_err(|e| cfg.error(format!("{key}={}: {e}", path.display())))
    };
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca {
        Some(ca) => {
            let certs = CertificateDer::pem_slice_iter(&pem("ca", ca)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| cfg.error(format!("ca={}: {e}", ca.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(cfg.error(format!(
                    "ca={}: no usable PEM certificate in the file",
                    ca.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(cfg
                    .error("tls=true without ca=: no system CA certificates found; give ca=PATH"));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg.error(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(&pem("cert", cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| cfg.error(format!("cert={}: {e}", cert.display())))?;
            if chain.is_empty() {
                return Err(cfg.error(format!(
                    "cert={}: no PEM certificate in the file",
                    cert.display()
                )));
            }
            let key_der = PrivateKeyDer::from_pem_slice(&pem("key", key)?)
                .map_err(|e| cfg.error(format!("key={}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| cfg.error(format!("cert=/key=: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
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
pub(super) fn describe(e: &ConnectionError, was_connected: bool) -> (String, bool) {
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
        // The TCP connection was made, then the TLS handshake broke off:
        // what a plain-text MQTT port does with a TLS client hello.
        ConnectionError::Tls(rumqttc::TlsError::Io(io)) => (
            format!(
                "TLS handshake failed: the broker closed the connection ({io}); \
                 is this a plain-text MQTT port? tls=true needs the broker's TLS listener \
                 (usually port 8883)"
            ),
            true,
        ),
        ConnectionError::Io(io) => (format!("not reachable ({io})"), false),
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
    let mut backoff = Backoff::new(BACKOFF_MIN, cfg.backoff_max);
    loop {
        let polled = conn.recv();
        let mut st = shared.lock();
        match polled {
            Err(_) => break, // the client is gone: shutting down
            Ok(Ok(event)) => {
                let stop = st.closing && matches!(event, Event::Outgoing(Outgoing::Disconnect));
                if matches!(event, Event::Incoming(Incoming::ConnAck(_))) {
                    backoff.reset();
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
                backoff.failed(Instant::now());
                while !st.closing {
                    let now = Instant::now();
                    let Some(deadline) = backoff.retry_at().filter(|&t| t > now) else {
                        break;
                    };
                    st = shared.wait(st, deadline);
                }
                if st.closing {
                    break;
                }
            }
        }
    }
    let mut st = shared.lock();
    st.connected = false;
    st.net_done = true;
    shared.cv.notify_all();
}
