//! The `mqtt://` spec: broker address, topics, QoS, client id,
//! credentials, TLS files, buffer and timing options, checked into a
//! [`MqttConfig`] before anything connects.

use std::path::PathBuf;
use std::time::Duration;

use super::BACKOFF_MIN;
use crate::sink::SinkError;
use crate::spec::{parse_in_range, Spec};

/// Environment variable holding the broker password (used with `username=`
/// when no `password_file=` is given).
pub const PASSWORD_ENV: &str = "EDGEPOSE_MQTT_PASSWORD";

/// MQTT quality of service of the records (`qos=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    /// 0: at most once (fire and forget).
    AtMostOnce,
    /// 1: at least once (acknowledged by the broker).
    AtLeastOnce,
    /// 2: exactly once.
    ExactlyOnce,
}

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
    pub qos: Qos,
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

impl MqttConfig {
    /// Parses the spec's target and options; `env_password` is the value of
    /// [`PASSWORD_ENV`] (passed in so tests need not touch the environment).
    pub fn from_spec(spec: &mut Spec, env_password: Option<String>) -> Result<Self, SinkError> {
        let tls = spec.take_bool("tls")?.unwrap_or(false);
        let (host, port) = split_host_port(&spec.target).ok_or_else(|| {
            spec.error("expected mqtt://HOST[:PORT] (e.g. mqtt://broker.local:1883)")
        })?;
        let port = match port {
            Some(p) => parse_in_range(p, &(1..=u16::MAX), "a TCP port")
                .map_err(|expected| spec.error(format!("port {p:?}: expected {expected}")))?,
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
        let qos = spec
            .take_choice(
                "qos",
                &[
                    ("0", Qos::AtMostOnce),
                    ("1", Qos::AtLeastOnce),
                    ("2", Qos::ExactlyOnce),
                ],
            )?
            .unwrap_or(Qos::AtLeastOnce);
        let client_id = spec
            .take_with("client_id", "a non-empty id", |v| {
                (!v.is_empty()).then(|| v.to_string())
            })?
            .unwrap_or_else(|| format!("edgepose-{device_id}"));
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
                let text =
                    crate::files::read_text(std::path::Path::new(&path), crate::files::SECRET)
                        .map_err(|e| {
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
        let file = |spec: &mut Spec, key: &'static str| {
            spec.take_with(key, "an existing PEM file", |p| {
                std::path::Path::new(p).is_file().then(|| PathBuf::from(p))
            })
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
            .take_in_range("buffer", 1..=1_000_000, "a number of records")?
            .unwrap_or(256);
        let keep_alive = spec
            .take_in_range("keep_alive", 1..=u16::MAX, "whole seconds")?
            .unwrap_or(30);
        let day = 86_400.0;
        let status_interval = spec
            .take_seconds("status_interval", 0.1..=day)?
            .unwrap_or(Duration::from_secs(10));
        let flush_timeout = spec
            .take_seconds("flush_timeout", 0.0..=day)?
            .unwrap_or(Duration::from_secs(10));
        let backoff_max = spec
            .take_seconds("backoff_max", 0.1..=day)?
            .unwrap_or(Duration::from_secs(5));
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

    pub(super) fn error(&self, why: impl Into<String>) -> SinkError {
        SinkError::Mqtt {
            broker: self.broker(),
            why: why.into(),
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
        assert_eq!(c.qos, Qos::AtLeastOnce);
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
            (Qos::AtMostOnce, "x", 8)
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
}
