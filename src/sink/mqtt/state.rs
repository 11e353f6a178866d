//! The MQTT sink's state machine: the bounded queue of serialised records
//! (the sink's one queue), what was handed to the client and is awaiting
//! its PUBLISH or acknowledgement, the counters of the summary, and the
//! retained status messages. The network thread feeds it the client's
//! events; [`Sink::emit`](crate::sink::Sink::emit) feeds it records.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use rumqttc::{Client, Event, Incoming, Outgoing, QoS, Request};
use serde::Serialize;

use super::config::{MqttConfig, Qos};

/// Requests the sink keeps in the client's channel at most.
pub(super) const CHANNEL: usize = 32;
/// Publishes awaiting acknowledgement (QoS 1/2) at most.
pub(super) const INFLIGHT: u16 = 100;
/// Status messages are published at least once.
pub(super) const STATUS_QOS: QoS = QoS::AtLeastOnce;

/// Status payload (`edgepose/<device>/status`).
#[derive(Serialize, Default)]
pub(super) struct StatusMsg<'a> {
    pub(super) state: &'a str,
    pub(super) device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) runtime: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) fps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) frames: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) published: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reconnects: Option<u64>,
}

pub(super) fn status_json(m: &StatusMsg<'_>) -> Vec<u8> {
    // A struct of strings and numbers always serialises.
    serde_json::to_vec(m).unwrap_or_default()
}

/// What was handed to the client, in order, until its PUBLISH went out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Handed {
    Record { sent_before: bool },
    Status { offline: bool },
}

/// A queued record; `sent` when a PUBLISH of it already went out (and it
/// came back after a lost connection).
pub(super) struct Rec {
    pub(super) payload: Vec<u8>,
    pub(super) sent: bool,
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
pub(super) enum First {
    Connected,
    Unreachable(String),
    Refused(String),
}

pub(super) struct State {
    pub(super) client: Option<Client>,
    pub(super) connected: bool,
    pub(super) ever_connected: bool,
    pub(super) closing: bool,
    pub(super) abandoned: bool,
    pub(super) net_done: bool,
    pub(super) first: Option<First>,
    pub(super) queue: VecDeque<Rec>,
    pub(super) handed: VecDeque<Handed>,
    /// Publishes with a packet id, awaiting their acknowledgement.
    pub(super) inflight: Vec<Option<Handed>>,
    pub(super) meta: Option<(String, String)>,
    pub(super) status_due: bool,
    /// When the last `online` status was handed over.
    pub(super) last_status: Instant,
    /// Time and record count of the last frame-rate sample.
    pub(super) fps_mark: (Instant, u64),
    pub(super) fps: f64,
    pub(super) offline_acked: bool,
    /// Logging state: an outage / a drop streak is reported once.
    pub(super) outage: Option<(Instant, String)>,
    pub(super) dropping: bool,
    pub(super) c: MqttCounts,
}

pub(super) struct Shared {
    pub(super) cfg: MqttConfig,
    pub(super) state: Mutex<State>,
    pub(super) cv: Condvar,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until woken (a change of the state) or `deadline`.
    pub(super) fn wait<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> MutexGuard<'a, State> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.cv
            .wait_timeout(st, left)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }
}

/// The client's QoS for ours.
pub(super) fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
        Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

impl State {
    /// Nothing connected or queued yet; `client` hands publishes to the
    /// network thread (`None` in tests).
    pub(super) fn new(client: Option<Client>, buffer: usize) -> Self {
        Self {
            client,
            connected: false,
            ever_connected: false,
            closing: false,
            abandoned: false,
            net_done: false,
            first: None,
            queue: VecDeque::with_capacity(buffer + 1),
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
        }
    }

    /// Hands the retained `offline`/`shutdown` status to the client;
    /// false when it could not take it.
    pub(super) fn publish_offline(&mut self, cfg: &MqttConfig) -> bool {
        let payload = self.status_payload(cfg, "offline", Some("shutdown"));
        let sent = self.client.as_ref().is_some_and(|c| {
            c.try_publish(cfg.status_topic.clone(), STATUS_QOS, true, payload)
                .is_ok()
        });
        if sent {
            self.handed.push_back(Handed::Status { offline: true });
        }
        sent
    }

    /// Asks the client to send DISCONNECT (so the broker does not publish
    /// the last will).
    pub(super) fn disconnect(&self) {
        if let Some(c) = self.client.as_ref() {
            let _ = c.try_disconnect();
        }
    }

    pub(super) fn records_outstanding(&self) -> bool {
        !self.queue.is_empty()
            || self
                .handed
                .iter()
                .chain(self.inflight.iter().flatten())
                .any(|h| matches!(h, Handed::Record { .. }))
    }

    pub(super) fn drop_oldest_over(&mut self, cfg: &MqttConfig) {
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

    pub(super) fn status_payload(
        &self,
        cfg: &MqttConfig,
        state: &str,
        reason: Option<&str>,
    ) -> Vec<u8> {
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
    pub(super) fn pump(&mut self, cfg: &MqttConfig) {
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
            match client.try_publish(cfg.topic.clone(), qos(cfg.qos), false, rec.payload) {
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
    pub(super) fn on_event(&mut self, cfg: &MqttConfig, event: Event) {
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
    pub(super) fn take_back(&mut self, cfg: &MqttConfig, pending: VecDeque<Request>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

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
        let mut spec = Spec::parse(&format!("mqtt://h?device_id=d&buffer={buffer}")).unwrap();
        let cfg = MqttConfig::from_spec(&mut spec, None).unwrap();
        let st = State::new(None, buffer);
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
