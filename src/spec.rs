//! Endpoint specifications: the one-string form in which sources and sinks
//! are named on the command line and in the config file.
//!
//! ```text
//! KIND:TARGET?key=value&key=value
//! v4l2:/dev/video0?format=MJPG&width=640&height=480&fps=30
//! serial:/dev/ttyUSB0?baud=115200&encoding=binary
//! mqtt://broker.local:1883?topic=edgepose/cam1/poses
//! json
//! /dev/video0                     (no kind: the consumer decides)
//! ```
//!
//! The kind is lower-case letters, digits and `-`; a `//` right after the
//! colon is dropped (URL style). Keys may appear once. A consumer takes the
//! keys it knows with [`Spec::take`] / [`Spec::take_parse`] and then calls
//! [`Spec::finish`], which rejects any key left over, so a misspelt option
//! is an error rather than silently ignored.

use std::collections::BTreeMap;
use std::str::FromStr;

/// Errors in a specification string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("{spec}: key {key:?} given twice; give each option once")]
    Duplicate { spec: String, key: String },
    #[error("{spec}: option {item:?} is not key=value")]
    NotKeyValue { spec: String, item: String },
    #[error("{spec}: unknown option {key:?}; expected one of: {expected}")]
    Unknown {
        spec: String,
        key: String,
        expected: String,
    },
    #[error("{spec}: {key}={value}: expected {expected}")]
    Invalid {
        spec: String,
        key: String,
        value: String,
        expected: String,
    },
    #[error("{spec}: {what}")]
    Other { spec: String, what: String },
}

/// A parsed specification; options are consumed by the backend that opens it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The string as given, for messages.
    pub text: String,
    /// `None` when the string has no `kind:` prefix.
    pub kind: Option<String>,
    /// What follows the kind (a path, a host:port, ...); may be empty.
    pub target: String,
    options: BTreeMap<String, String>,
    known: Vec<&'static str>,
}

fn is_kind(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

impl Spec {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let (head, query) = match text.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (text, None),
        };
        let (kind, target) = match head.split_once(':') {
            Some((k, rest)) if is_kind(k) => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                (Some(k.to_string()), rest.to_string())
            }
            _ if query.is_none() && is_kind(head) && !head.contains('/') => {
                // A bare word such as `json` is a kind without a target;
                // a bare path (`frames`, `bus.jpg`) is not a kind.
                if head.contains('.') {
                    (None, head.to_string())
                } else {
                    (Some(head.to_string()), String::new())
                }
            }
            _ => (None, head.to_string()),
        };
        let mut options = BTreeMap::new();
        if let Some(q) = query {
            for item in q.split('&').filter(|s| !s.is_empty()) {
                let (k, v) = item.split_once('=').ok_or_else(|| SpecError::NotKeyValue {
                    spec: text.to_string(),
                    item: item.to_string(),
                })?;
                if options.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(SpecError::Duplicate {
                        spec: text.to_string(),
                        key: k.to_string(),
                    });
                }
            }
        }
        Ok(Self {
            text: text.to_string(),
            kind,
            target,
            options,
            known: Vec::new(),
        })
    }

    /// Takes option `key` as a string.
    pub fn take(&mut self, key: &'static str) -> Option<String> {
        self.known.push(key);
        self.options.remove(key)
    }

    /// Takes option `key` and parses it; `expected` describes valid values.
    pub fn take_parse<T: FromStr>(
        &mut self,
        key: &'static str,
        expected: &str,
    ) -> Result<Option<T>, SpecError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.invalid(key, &v, expected)),
        }
    }

    /// An [`SpecError::Invalid`] for `key=value`.
    pub fn invalid(&self, key: &str, value: &str, expected: &str) -> SpecError {
        SpecError::Invalid {
            spec: self.text.clone(),
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// An error about this spec as a whole.
    pub fn error(&self, what: impl Into<String>) -> SpecError {
        SpecError::Other {
            spec: self.text.clone(),
            what: what.into(),
        }
    }

    /// Fails if any option was not taken.
    pub fn finish(&self) -> Result<(), SpecError> {
        match self.options.keys().next() {
            None => Ok(()),
            Some(k) => Err(SpecError::Unknown {
                spec: self.text.clone(),
                key: k.clone(),
                expected: if self.known.is_empty() {
                    "no options".to_string()
                } else {
                    self.known.join(", ")
                },
            }),
        }
    }
}

impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_targets_and_options() {
        let mut s = Spec::parse("v4l2:/dev/video0?format=MJPG&width=640").unwrap();
        assert_eq!(s.kind.as_deref(), Some("v4l2"));
        assert_eq!(s.target, "/dev/video0");
        assert_eq!(s.take("format").as_deref(), Some("MJPG"));
        assert_eq!(s.take_parse::<u32>("width", "pixels").unwrap(), Some(640));
        assert_eq!(s.take_parse::<u32>("height", "pixels").unwrap(), None);
        s.finish().unwrap();

        let s = Spec::parse("mqtt://host:1883?topic=a/b").unwrap();
        assert_eq!(s.kind.as_deref(), Some("mqtt"));
        assert_eq!(s.target, "host:1883");

        let s = Spec::parse("json").unwrap();
        assert_eq!((s.kind.as_deref(), s.target.as_str()), (Some("json"), ""));
        for path in ["/dev/video0", "bus.jpg", "frames/", "./x:y.jpg", "Data"] {
            let s = Spec::parse(path).unwrap();
            assert_eq!(s.kind, None, "{path}");
            assert_eq!(s.target, path);
        }
    }

    #[test]
    fn bad_options_are_named() {
        let mut s = Spec::parse("serial:/dev/ttyS0?baud=fast&parity=none").unwrap();
        let e = s
            .take_parse::<u32>("baud", "a number of bits/s")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "serial:/dev/ttyS0?baud=fast&parity=none: baud=fast: expected a number of bits/s"
        );
        let e = s.finish().unwrap_err();
        assert!(e.to_string().contains("unknown option \"parity\""), "{e}");
        assert!(e.to_string().contains("expected one of: baud"), "{e}");
        assert!(matches!(
            Spec::parse("json?a=1&a=2"),
            Err(SpecError::Duplicate { .. })
        ));
        assert!(matches!(
            Spec::parse("json?a"),
            Err(SpecError::NotKeyValue { .. })
        ));
    }
}
