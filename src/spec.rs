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
//! keys it knows with the typed getters ([`Spec::take_in_range`],
//! [`Spec::take_seconds`], [`Spec::take_millis`], [`Spec::take_choice`],
//! [`Spec::take_bool`], [`Spec::take_with`]) or as text ([`Spec::take`]) and
//! then calls [`Spec::finish`], which rejects any key left over, so a
//! misspelt option is an error rather than silently ignored.
//!
//! Every number is range-checked by its getter, and every getter words its
//! error the same way: `SPEC: key=value: expected WHAT` with, for numbers,
//! `WHAT, LOW to HIGH` and, for choices, `a, b or c`. Durations come from a
//! range with a finite, non-negative cap, so converting them never fails.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

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
    #[error("{spec}: this edgepose was built without the `{feature}` feature ({what}); rebuild with `cargo build --features {feature}` (it is on by default)")]
    NotBuilt {
        spec: String,
        feature: &'static str,
        what: &'static str,
    },
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

    /// `text` as a plain path: no kind, no options, whatever characters it
    /// holds (for a name that exists on disk, such as `what?.jpg`).
    pub fn path(text: &str) -> Self {
        Self {
            text: text.to_string(),
            kind: None,
            target: text.to_string(),
            options: BTreeMap::new(),
            known: Vec::new(),
        }
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

    /// Takes option `key` as a number in `range`; `what` says what it
    /// counts ("a number of records"), the error adds the range.
    pub fn take_in_range<T>(
        &mut self,
        key: &'static str,
        range: RangeInclusive<T>,
        what: &str,
    ) -> Result<Option<T>, SpecError>
    where
        T: FromStr + PartialOrd + Display,
    {
        match self.take(key) {
            None => Ok(None),
            Some(v) => parse_in_range(&v, &range, what)
                .map(Some)
                .map_err(|expected| self.invalid(key, &v, &expected)),
        }
    }

    /// Takes option `key` as seconds (a decimal number) in `range`, whose
    /// bounds must be finite and non-negative.
    pub fn take_seconds(
        &mut self,
        key: &'static str,
        range: RangeInclusive<f64>,
    ) -> Result<Option<Duration>, SpecError> {
        debug_assert!(*range.start() >= 0.0 && range.end().is_finite());
        Ok(self
            .take_in_range(key, range, "seconds")?
            .map(Duration::from_secs_f64))
    }

    /// Takes option `key` as whole milliseconds in `range`.
    pub fn take_millis(
        &mut self,
        key: &'static str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<Duration>, SpecError> {
        Ok(self
            .take_in_range(key, range, "milliseconds")?
            .map(Duration::from_millis))
    }

    /// Takes option `key` as one of `choices` (name, value).
    pub fn take_choice<T: Copy>(
        &mut self,
        key: &'static str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, SpecError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => parse_choice(&v, choices)
                .map(Some)
                .map_err(|expected| self.invalid(key, &v, &expected)),
        }
    }

    /// Takes option `key` as a switch: `on`/`off` (also `true`/`false`,
    /// `1`/`0`).
    pub fn take_bool(&mut self, key: &'static str) -> Result<Option<bool>, SpecError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                "on" | "true" | "1" => Ok(Some(true)),
                "off" | "false" | "0" => Ok(Some(false)),
                _ => Err(self.invalid(key, &v, "on or off")),
            },
        }
    }

    /// Takes option `key` and reads it with `parse` (for forms no other
    /// getter knows, such as `0x3c`); `what` describes valid values.
    pub fn take_with<T>(
        &mut self,
        key: &'static str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, SpecError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match parse(&v) {
                Some(t) => Ok(Some(t)),
                None => Err(self.invalid(key, &v, what)),
            },
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

    /// The error for a spec whose backend this build left out; `feature`
    /// is the cargo feature that builds it ([`crate::features`]).
    pub fn not_built(&self, feature: &'static str) -> SpecError {
        SpecError::NotBuilt {
            spec: self.text.clone(),
            feature,
            what: crate::features::what(feature),
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

/// `value` as a number in `range`; the error is what was expected
/// (`WHAT, LOW to HIGH`). Also the value parser of command-line options
/// that share a spec option's range.
pub fn parse_in_range<T>(value: &str, range: &RangeInclusive<T>, what: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display,
{
    match value.parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("{what}, {} to {}", range.start(), range.end())),
    }
}

/// `value` as one of `choices`; the error is what was expected
/// (`a, b or c`).
pub fn parse_choice<T: Copy>(value: &str, choices: &[(&str, T)]) -> Result<T, String> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|&(_, v)| v)
        .ok_or_else(|| one_of(choices.iter().map(|(name, _)| *name)))
}

/// `a, b or c`.
pub fn one_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
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
    fn a_backend_this_build_left_out_is_one_line_naming_its_feature() {
        let e = Spec::parse("mqtt://broker:1883?topic=t")
            .unwrap()
            .not_built("mqtt")
            .to_string();
        assert_eq!(
            e,
            "mqtt://broker:1883?topic=t: this edgepose was built without the `mqtt` feature \
             (the MQTT sink); rebuild with `cargo build --features mqtt` (it is on by default)"
        );
    }

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

    fn one(text: &str) -> Spec {
        Spec::parse(&format!("x:/t?{text}")).unwrap()
    }

    fn err(e: SpecError) -> String {
        e.to_string().split_once(": ").unwrap().1.to_string()
    }

    #[test]
    fn numbers_are_range_checked_with_one_wording() {
        let mut s = one("n=64&m=65&f=nan&g=inf&h=-1&k=0.5");
        let r = 1..=64;
        assert_eq!(
            s.take_in_range("n", r.clone(), "records").unwrap(),
            Some(64)
        );
        assert_eq!(
            err(s.take_in_range("m", r, "records").unwrap_err()),
            "m=65: expected records, 1 to 64"
        );
        assert_eq!(s.take_in_range("x", 0.0..=1.0, "a fraction").unwrap(), None);
        for key in ["f", "g", "h"] {
            let e = s.take_in_range(key, 0.0..=1.0, "a fraction").unwrap_err();
            assert!(err(e).ends_with("expected a fraction, 0 to 1"), "{key}");
        }
        assert_eq!(s.take_in_range("k", 0.0..=1.0, "f").unwrap(), Some(0.5));
        s.finish().unwrap();
    }

    #[test]
    fn durations_are_finite_non_negative_and_capped() {
        let mut s = one("a=1.5&b=-0&c=1e300&d=-1&e=250&f=10001&g=NaN");
        assert_eq!(
            s.take_seconds("a", 0.0..=60.0).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            s.take_seconds("b", 0.0..=60.0).unwrap(),
            Some(Duration::ZERO)
        );
        for key in ["c", "d", "g"] {
            let e = s.take_seconds(key, 0.0..=60.0).unwrap_err();
            assert!(err(e).ends_with("expected seconds, 0 to 60"), "{key}");
        }
        assert_eq!(
            s.take_millis("e", 0..=10_000).unwrap(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            err(s.take_millis("f", 0..=10_000).unwrap_err()),
            "f=10001: expected milliseconds, 0 to 10000"
        );
    }

    #[test]
    fn choices_switches_and_custom_forms() {
        let mut s = one("p=odd&q=mark&on=on&off=0&bad=maybe&addr=0x3c&bad_addr=zz");
        let parity = [("none", 0), ("odd", 1), ("even", 2)];
        assert_eq!(s.take_choice("p", &parity).unwrap(), Some(1));
        assert_eq!(
            err(s.take_choice("q", &parity).unwrap_err()),
            "q=mark: expected none, odd or even"
        );
        assert_eq!(s.take_bool("on").unwrap(), Some(true));
        assert_eq!(s.take_bool("off").unwrap(), Some(false));
        assert_eq!(
            err(s.take_bool("bad").unwrap_err()),
            "bad=maybe: expected on or off"
        );
        let hex = |v: &str| u8::from_str_radix(v.strip_prefix("0x")?, 16).ok();
        assert_eq!(s.take_with("addr", "an address", hex).unwrap(), Some(0x3c));
        assert_eq!(
            err(s.take_with("bad_addr", "an address", hex).unwrap_err()),
            "bad_addr=zz: expected an address"
        );
        assert_eq!(one_of(["a"].into_iter()), "a");
        assert_eq!(one_of(["1", "2"].into_iter()), "1 or 2");
    }
}
