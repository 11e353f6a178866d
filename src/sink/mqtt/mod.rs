//! MQTT feed: each frame's record (the same JSON as `edgepose infer`'s
//! lines, see [`super::json`]) published to a broker, for fleets of boards.
//! The spec's options, the topics and status payloads, the counts and
//! troubleshooting are in docs/outputs.md.
//!
//! The frame loop never waits on the network: [`Sink::emit`] serialises the
//! record and appends it to a bounded queue (`buffer` records; when full the
//! oldest is dropped and counted; the sink's only queue: `run` puts none in
//! front of it), then hands what it can to the `rumqttc` client without
//! blocking. The client's event loop runs on its own thread
//! (`mqtt-net`), which reconnects with exponential backoff (100 ms doubling
//! up to `backoff_max`, [`crate::backoff`]). On a lost connection, publishes the broker had not
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
//!
//! Files: `config` (the spec), `state` (queue, counters, status
//! messages), `net` (client options, TLS, the network thread; the only
//! files that name `rumqttc` and `rustls` types) and this one (the sink).

mod config;
mod net;
mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::json::Record;
use super::{Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::spec::Spec;
use state::{First, Handed, Rec, Shared};

pub use config::{MqttConfig, Qos, TlsFiles, PASSWORD_ENV};
pub use state::MqttCounts;

/// Largest record published; bigger ones are dropped and counted.
const MAX_PAYLOAD: usize = 4 << 20;
/// The first wait before reconnecting (doubling up to `backoff_max`).
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// How long `open` waits for the first connection attempt.
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(6);
/// How long shutdown waits for the offline status to be acknowledged and
/// for the network thread to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

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
        let (shared, net) = net::start(cfg)?;
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
                st = sink.shared.wait(st, deadline);
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
            st = self.shared.wait(st, deadline);
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
            st = self.shared.wait(st, deadline);
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

    /// The record buffer (`buffer=`) is the sink's queue; emit never waits
    /// on the network.
    fn own_queue(&self) -> bool {
        true
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.counts().dropped)
    }

    fn summary(&self) -> Option<String> {
        let cfg = &self.shared.cfg;
        let c = self.counts();
        let acked = if cfg.qos == Qos::AtMostOnce {
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
            if st.publish_offline(cfg) {
                while !st.offline_acked && st.connected && Instant::now() < deadline {
                    st = self.shared.wait(st, deadline);
                }
            }
            st.disconnect();
        }
        drop(st);
        self.stop_thread();
    }
}
