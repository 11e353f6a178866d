//! `spec`: arbitrary text as a `--source`/`--sink` specification
//! (`KIND:TARGET?key=value&...`, `edgepose::spec`): parsed, then read by the
//! option parsers that open nothing (a camera's `v4l2:` options, a serial
//! port's, MQTT's) and by every typed getter with ranges like the real ones
//! (sizes, rates, seconds, milliseconds, choices, booleans). Nothing may
//! panic (durations from seconds or milliseconds of any size included),
//! every value a getter returns must be inside its range, and `finish`
//! must refuse exactly the keys nobody took.
#![no_main]

use edgepose::spec::Spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(spec) = Spec::parse(&text) else {
        return;
    };
    // The parsers of the real endpoints (none opens anything).
    let _ = edgepose::source::v4l2::CameraConfig::from_spec(&mut spec.clone());
    let _ = edgepose::sink::serial::PortOptions::from_spec(&mut spec.clone());
    if !text.contains("password_file") {
        // (password_file= reads a file: left out, the fuzzer could name a FIFO.)
        let _ = edgepose::sink::mqtt::MqttConfig::from_spec(&mut spec.clone(), None);
    }
    // The typed getters on keys a..f.
    let mut s = spec.clone();
    if let Ok(Some(v)) = s.take_in_range("a", 1u32..=16384, "pixels") {
        assert!((1..=16384).contains(&v));
    }
    if let Ok(Some(v)) = s.take_in_range("b", 0.01f64..=1000.0, "frames per second") {
        assert!(v.is_finite() && (0.01..=1000.0).contains(&v));
    }
    if let Ok(Some(d)) = s.take_seconds("c", 0.0..=86_400.0) {
        assert!(d.as_secs_f64() <= 86_400.0);
    }
    if let Ok(Some(d)) = s.take_millis("d", 0..=600_000) {
        assert!(d.as_millis() <= 600_000);
    }
    let _ = s.take_choice("e", &[("x", 1u8), ("y", 2)]);
    let _ = s.take_bool("f");
    let left = s.finish();
    let named_other = spec_keys(&text)
        .iter()
        .any(|k| !["a", "b", "c", "d", "e", "f"].contains(&k.as_str()));
    assert_eq!(left.is_err(), named_other, "{text:?}: {left:?}");
});

/// The keys of the query part, as the parser splits them.
fn spec_keys(text: &str) -> Vec<String> {
    let Some((_, q)) = text.split_once('?') else {
        return Vec::new();
    };
    q.split('&')
        .filter(|s| !s.is_empty())
        .filter_map(|i| i.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}
