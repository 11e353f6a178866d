//! A real MQTT broker and subscriber for the tests: Debian's mosquitto
//! (installed by `scripts/setup-mqtt.sh`) started with its own config file
//! on a free loopback port (persistence on, so a subscriber's session and
//! queued messages survive a broker restart), and a rumqttc client that
//! subscribes to `edgepose/cam1/#` on its own thread.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, Incoming, MqttOptions, QoS};
use serde_json::Value;

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
pub const MOSQUITTO_PASSWD: &str = "/usr/bin/mosquitto_passwd";
pub const LONG: Duration = Duration::from_secs(90);

pub fn must_have(tool: &str) {
    assert!(
        Path::new(tool).exists(),
        "{tool} not found: run scripts/setup.sh (scripts/setup-mqtt.sh) first"
    );
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits until `cond` holds, polling; panics with `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------ broker

/// A mosquitto process with its own config, data directory and port.
pub struct Broker {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker; `extra` is appended to its config (listener
    /// options, authentication).
    pub fn start(extra: &str) -> Self {
        must_have(MOSQUITTO);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = format!(
            "# written by tests/mqtt.rs\n\
             user root\n\
             persistence true\n\
             persistence_location {}/\n\
             log_dest stderr\n\
             log_type error\nlog_type warning\nlog_type notice\n\
             listener {port} 127.0.0.1\n\
             {extra}\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut b = Broker {
            dir,
            port,
            child: None,
        };
        b.resume();
        b
    }

    /// Adds `extra` to the config (takes effect at the next start).
    pub fn reconfigure(&self, extra: &str) {
        let conf = self.path("mosquitto.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(extra);
        text.push('\n');
        std::fs::write(conf, text).unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// (Re)starts the process on the same port and waits until it listens.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("mosquitto.log"))
            .unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.path("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let port = self.port;
        wait_until(Duration::from_secs(20), "mosquitto to listen", || {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "mosquitto exited ({st}): {}",
                    std::fs::read_to_string(self.path("mosquitto.log")).unwrap_or_default()
                );
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Stops the broker with SIGTERM (it saves its sessions) and waits.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("broker running");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ------------------------------------------------------------------ subscriber

#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: Value,
    pub retain: bool,
}

#[derive(Default)]
pub struct Inbox {
    pub msgs: Vec<Msg>,
    pub subscribed: bool,
    /// The connection's last error, for the message of a wait that timed
    /// out.
    pub last_error: Option<String>,
    /// Set when the subscriber is dropped: its thread stops even if it
    /// never connected.
    closing: bool,
}

/// A subscriber to `edgepose/cam1/#` (QoS 1) on its own thread. With
/// `persistent` its session (subscription and queued messages) outlives
/// broker restarts.
pub struct Sub {
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    client: Client,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sub {
    pub fn new(port: u16, id: &str, persistent: bool) -> Self {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_clean_session(!persistent)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(16 << 20, 64 << 10);
        let (client, mut conn) = Client::new(o, 16);
        let inbox = Arc::new((Mutex::new(Inbox::default()), Condvar::new()));
        let (ib, c2) = (Arc::clone(&inbox), client.clone());
        let thread = std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = c2.try_subscribe("edgepose/cam1/#", QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        ib.0.lock().unwrap().subscribed = true;
                        ib.1.notify_all();
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let payload = serde_json::from_slice(&p.payload).unwrap_or_else(|e| {
                            panic!("{}: not JSON ({e})", String::from_utf8_lossy(&p.payload))
                        });
                        ib.0.lock().unwrap().msgs.push(Msg {
                            topic: p.topic.clone(),
                            payload,
                            retain: p.retain,
                        });
                        ib.1.notify_all();
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        let mut inbox = ib.0.lock().unwrap();
                        if inbox.closing {
                            break;
                        }
                        inbox.last_error = Some(e.to_string());
                        drop(inbox);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        });
        let s = Sub {
            inbox,
            client,
            thread: Some(thread),
        };
        s.wait("the subscription", |ib| ib.subscribed);
        s
    }

    pub fn wait(&self, what: &str, mut cond: impl FnMut(&Inbox) -> bool) {
        let end = Instant::now() + LONG;
        let mut ib = self.inbox.0.lock().unwrap();
        while !cond(&ib) {
            let now = Instant::now();
            assert!(
                now < end,
                "timed out waiting for {what} (last connection error: {:?})",
                ib.last_error
            );
            ib = self.inbox.1.wait_timeout(ib, end - now).unwrap().0;
        }
    }

    /// Forgets the messages received so far.
    pub fn clear(&self) {
        self.inbox.0.lock().unwrap().msgs.clear();
    }

    pub fn msgs(&self) -> Vec<Msg> {
        self.inbox.0.lock().unwrap().msgs.clone()
    }

    pub fn records(&self) -> Vec<Value> {
        records(&self.msgs())
    }

    pub fn statuses(&self) -> Vec<Value> {
        self.msgs()
            .into_iter()
            .filter(|m| m.topic == "edgepose/cam1/status")
            .map(|m| m.payload)
            .collect()
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        if let Ok(mut ib) = self.inbox.0.lock() {
            ib.closing = true;
        }
        let _ = self.client.try_disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn records(msgs: &[Msg]) -> Vec<Value> {
    msgs.iter()
        .filter(|m| m.topic == "edgepose/cam1/poses")
        .map(|m| m.payload.clone())
        .collect()
}
