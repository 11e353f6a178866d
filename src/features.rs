//! The optional backends, each a cargo feature (Cargo.toml `[features]`, all
//! on by default), and whether this build has it. A spec that names a
//! backend this build left out is an error naming its feature
//! ([`crate::spec::Spec::not_built`]); `edgepose probe` lists them all.

use serde::Serialize;

/// One optional backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// The cargo feature that builds it.
    pub feature: &'static str,
    /// What it is, for messages.
    pub what: &'static str,
    /// Whether this build has it.
    pub built: bool,
}

/// Every optional backend.
pub const BACKENDS: [Backend; 4] = [
    Backend {
        feature: "v4l2",
        what: "V4L2 cameras",
        built: cfg!(feature = "v4l2"),
    },
    Backend {
        feature: "mqtt",
        what: "the MQTT sink",
        built: cfg!(feature = "mqtt"),
    },
    Backend {
        feature: "http",
        what: "the web preview sink",
        built: cfg!(feature = "http"),
    },
    Backend {
        feature: "display",
        what: "the SSD1306, ST7789/ILI9341 and framebuffer display sinks",
        built: cfg!(feature = "display"),
    },
];

/// What the backend of `feature` is ("" for a name that is not one).
pub fn what(feature: &str) -> &'static str {
    BACKENDS
        .iter()
        .find(|b| b.feature == feature)
        .map_or("", |b| b.what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_is_a_feature_of_the_manifest_and_the_default() {
        let manifest = include_str!("../Cargo.toml");
        let default = manifest
            .lines()
            .find(|l| l.starts_with("default = "))
            .expect("Cargo.toml has a default feature list");
        for b in BACKENDS {
            assert!(
                manifest.contains(&format!("\n{} = [", b.feature)),
                "feature {} is not in Cargo.toml",
                b.feature
            );
            assert!(
                default.contains(&format!("\"{}\"", b.feature)),
                "feature {} is not on by default",
                b.feature
            );
            assert!(!what(b.feature).is_empty());
        }
        assert_eq!(what("nonesuch"), "");
    }
}
