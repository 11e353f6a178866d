//! The web preview's options, read from its spec
//! (`http:ADDR:PORT?fps=..&quality=..&clients=..&token_file=..&open=on`),
//! and who may connect: this machine only (a loopback address, the
//! default), whoever presents the token, or anyone (`open=on`, only when
//! asked for).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::spec::{Spec, SpecError};

/// Port when the spec gives none.
pub const DEFAULT_PORT: u16 = 8080;
/// The environment variable a token may come from (when no `token_file=`).
pub const TOKEN_ENV: &str = "EDGEPOSE_HTTP_TOKEN";
/// Shortest and longest token.
const TOKEN_LEN: std::ops::RangeInclusive<usize> = 16..=256;

/// Checked options of the web preview.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    pub access: Access,
    /// Most frames per second on the video stream.
    pub fps: f64,
    /// JPEG quality, 10 to 95.
    pub quality: u8,
    /// Most clients streaming at once (video and records together).
    pub clients: usize,
}

/// Who may connect.
#[derive(Debug, Clone)]
pub enum Access {
    /// A loopback address without a token: this machine only.
    Local,
    /// Every request must carry the token.
    Token(Token),
    /// `open=on`: anyone who reaches the port.
    Open,
}

/// A token, kept as its SHA-256 digest: requests are compared digest to
/// digest in constant time, so neither the token's bytes nor its length
/// show in the time an answer takes.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    /// Where it came from, for the start-up line.
    pub from: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(from {})", self.from)
    }
}

impl Token {
    /// True when `given` is the token.
    pub fn matches(&self, given: &[u8]) -> bool {
        let d: [u8; 32] = Sha256::digest(given).into();
        d.ct_eq(&self.digest).into()
    }
}

/// Letters, digits and `-._~`: what a URL carries unescaped.
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

const TOKEN_EXPECTED: &str =
    "a token of 16 to 256 letters, digits, '-', '.', '_' or '~' (e.g. from: head -c 24 /dev/urandom | base64 | tr '+/' '-_')";

fn token(text: &str, from: String) -> Option<Token> {
    (TOKEN_LEN.contains(&text.len()) && text.chars().all(token_char)).then(|| Token {
        digest: Sha256::digest(text.as_bytes()).into(),
        from,
    })
}

/// `ADDR:PORT`, `PORT`, `localhost:PORT` or nothing (127.0.0.1:8080).
fn address(target: &str) -> Option<SocketAddr> {
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    if target.is_empty() {
        return Some(SocketAddr::new(local, DEFAULT_PORT));
    }
    if let Ok(port) = target.parse::<u16>() {
        return Some(SocketAddr::new(local, port));
    }
    if let Some(port) = target.strip_prefix("localhost:") {
        return port.parse().ok().map(|p| SocketAddr::new(local, p));
    }
    target.parse().ok()
}

impl HttpConfig {
    /// Reads the options of an `http:` spec; `env_token` is the value of
    /// [`TOKEN_ENV`], if set.
    pub fn from_spec(spec: &mut Spec, env_token: Option<String>) -> Result<Self, SpecError> {
        let addr = address(spec.target.trim_end_matches('/')).ok_or_else(|| {
            spec.error(format!(
                "{:?} is not an address to listen on; expected ADDR:PORT (127.0.0.1:8080, 0.0.0.0:8080, [::]:8080) or a port",
                spec.target
            ))
        })?;
        let fps = spec
            .take_in_range("fps", 0.2..=60.0, "video frames per second")?
            .unwrap_or(10.0);
        let quality = spec
            .take_in_range("quality", 10..=95, "a JPEG quality")?
            .unwrap_or(75);
        let clients = spec
            .take_in_range("clients", 1..=64, "a number of clients")?
            .unwrap_or(8);
        let open = spec.take_bool("open")?.unwrap_or(false);
        if spec.take("token").is_some() {
            return Err(spec.error(format!(
                "token= is not accepted on the command line (it would show in the process \
                 list); use token_file=PATH or the {TOKEN_ENV} variable"
            )));
        }
        let token = match spec.take("token_file") {
            Some(path) => {
                let text = std::fs::read_to_string(Path::new(&path)).map_err(|e| {
                    spec.invalid("token_file", &path, &format!("a readable file ({e})"))
                })?;
                let first = text.lines().next().unwrap_or("").trim();
                Some(token(first, format!("token_file {path}")).ok_or_else(|| {
                    spec.invalid(
                        "token_file",
                        &path,
                        &format!("{TOKEN_EXPECTED} on its first line"),
                    )
                })?)
            }
            None => match env_token {
                Some(t) => Some(token(t.trim(), format!("${TOKEN_ENV}")).ok_or_else(|| {
                    spec.error(format!("${TOKEN_ENV}: expected {TOKEN_EXPECTED}"))
                })?),
                None => None,
            },
        };
        let access = match (token, open) {
            (Some(t), true) => {
                return Err(spec.error(format!(
                    "open=on and a token ({}) exclude each other; give one",
                    t.from
                )))
            }
            (Some(t), false) => Access::Token(t),
            (None, true) => Access::Open,
            (None, false) if addr.ip().is_loopback() => Access::Local,
            (None, false) => {
                return Err(spec.error(format!(
                    "serving on {} (not a loopback address) needs a token: give token_file=PATH or set {TOKEN_ENV}; or open=on to let anyone who reaches the port watch",
                    addr.ip()
                )))
            }
        };
        Ok(Self {
            addr,
            access,
            fps,
            quality,
            clients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0123456789abcdef-_.~XYZ";

    fn parse(text: &str, env: Option<&str>) -> Result<HttpConfig, String> {
        let mut spec = Spec::parse(text).unwrap();
        let c =
            HttpConfig::from_spec(&mut spec, env.map(str::to_string)).map_err(|e| e.to_string())?;
        spec.finish().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn addresses_and_defaults() {
        let c = parse("http", None).unwrap();
        assert_eq!(c.addr, "127.0.0.1:8080".parse().unwrap());
        assert!(matches!(c.access, Access::Local));
        assert_eq!((c.fps, c.quality, c.clients), (10.0, 75, 8));
        assert_eq!(parse("http:9000", None).unwrap().addr.port(), 9000);
        assert_eq!(
            parse("http://localhost:81/", None).unwrap().addr,
            "127.0.0.1:81".parse().unwrap()
        );
        assert_eq!(
            parse("http:[::1]:0", None).unwrap().addr,
            "[::1]:0".parse().unwrap()
        );
        for bad in [
            "http:host.lan:80",
            "http:1.2.3.4",
            "http:127.0.0.1:70000",
            "http::",
        ] {
            let e = parse(bad, None).unwrap_err();
            assert!(e.contains("expected ADDR:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn another_address_needs_a_token_or_open() {
        let e = parse("http:0.0.0.0:8080", None).unwrap_err();
        assert!(e.contains("needs a token") && e.contains("open=on"), "{e}");
        assert!(matches!(
            parse("http:0.0.0.0:8080?open=on", None).unwrap().access,
            Access::Open
        ));
        let c = parse("http:0.0.0.0:8080", Some(T)).unwrap();
        let Access::Token(t) = c.access else {
            panic!("token")
        };
        assert!(t.matches(T.as_bytes()));
        assert!(!t.matches(b"0123456789abcdef-_.~XY"));
        assert!(!t.matches(b""));
        assert_eq!(t.from, "$EDGEPOSE_HTTP_TOKEN");
        let e = parse("http:0.0.0.0:8080?open=on", Some(T)).unwrap_err();
        assert!(e.contains("exclude each other"), "{e}");
    }

    #[test]
    fn tokens_come_from_a_file_never_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("token");
        std::fs::write(&good, format!("{T}\nignored\n")).unwrap();
        let c = parse(
            &format!("http:0.0.0.0:1?token_file={}", good.display()),
            None,
        )
        .unwrap();
        assert!(matches!(&c.access, Access::Token(t) if t.matches(T.as_bytes())));
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").unwrap();
        let e = parse(&format!("http:1?token_file={}", short.display()), None).unwrap_err();
        assert!(e.contains("a token of 16 to 256"), "{e}");
        let e = parse("http:1?token_file=/nonexistent/t", None).unwrap_err();
        assert!(
            e.contains("token_file=/nonexistent/t: expected a readable file"),
            "{e}"
        );
        let e = parse(&format!("http:1?token={T}"), None).unwrap_err();
        assert!(
            e.contains("token= is not accepted") && e.contains("token_file=PATH"),
            "{e}"
        );
        let e = parse("http:1", Some("has space in it, long enough")).unwrap_err();
        assert!(e.contains("EDGEPOSE_HTTP_TOKEN: expected a token"), "{e}");
    }

    #[test]
    fn options_are_range_checked() {
        for (spec, want) in [
            (
                "http:1?fps=0",
                "fps=0: expected video frames per second, 0.2 to 60",
            ),
            (
                "http:1?quality=100",
                "quality=100: expected a JPEG quality, 10 to 95",
            ),
            (
                "http:1?clients=0",
                "clients=0: expected a number of clients, 1 to 64",
            ),
            ("http:1?open=maybe", "open=maybe: expected on or off"),
            ("http:1?colour=red", "unknown option \"colour\""),
        ] {
            let e = parse(spec, None).unwrap_err();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }
}
