//! Helpers for the web preview's tests (tests/http.rs, tests/http_browser.rs):
//! a recording whose frames change, `edgepose run` with an `http` sink on a
//! port the system picks, and a plain HTTP/1.1 client on `TcpStream` (the
//! request as bytes, the answer's head parsed, chunked bodies undone) that
//! reads MJPEG parts and Server-Sent Events as they come.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::common::{edgepose, sample, Flavour};

/// One test at a time in a binary: runs share two cores, and one test
/// measures the frame rate.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Width, height and distinct frames of [`recording`].
pub const REC_W: u32 = 640;
pub const REC_H: u32 = 360;
pub const REC_DISTINCT: usize = 48;

/// A raw MJPEG recording of `frames` frames: zidane.jpg (two people) at
/// 640×360 with a 40×40 black-in-white marker that moves 12 px a frame
/// along the top edge, 48 positions round. Consecutive frames differ in
/// the marker only. Made once and kept in cargo's test scratch directory
/// (target/tmp), since a run must last while a test talks to it.
pub fn recording(frames: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("preview-{frames}.mjpg"));
    if path.exists() {
        return path;
    }
    let base = image::open(sample("samples/zidane.jpg"))
        .expect("zidane.jpg (run scripts/setup.sh)")
        .resize_exact(REC_W, REC_H, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let jpegs: Vec<Vec<u8>> = (0..REC_DISTINCT)
        .map(|i| {
            let mut img = base.clone();
            let x0 = 8 + 12 * i as u32;
            for y in 8..48 {
                for x in x0..x0 + 40 {
                    let inner = (x0 + 10..x0 + 30).contains(&x) && (18..38).contains(&y);
                    let v = if inner { 0 } else { 255 };
                    img.put_pixel(x, y, image::Rgb([v, v, v]));
                }
            }
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
                .encode(img.as_raw(), REC_W, REC_H, image::ExtendedColorType::Rgb8)
                .unwrap();
            out
        })
        .collect();
    let part = dir.join(format!("preview-{frames}.mjpg.{}", std::process::id()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&part).unwrap());
    for i in 0..frames {
        f.write_all(&jpegs[i % REC_DISTINCT]).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    std::fs::rename(&part, &path).unwrap();
    path
}

/// Frames of a recording that must outlast a test's talk with the run:
/// at the fastest rates measured here (about 300 frames/s) 8 s.
pub const LONG: usize = 2400;

/// `edgepose run` over a recording with an `http` sink.
pub struct Preview {
    pub child: Child,
    pub port: u16,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Preview {
    /// Starts `run --quiet --source raw:REC --sink http:127.0.0.1:0?OPTS`
    /// with `extra` arguments and `env`, and waits for the start-up line.
    pub fn start(rec: &Path, opts: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = edgepose(Flavour::Litert);
        cmd.args(["run", "--quiet", "--source"])
            .arg(format!("raw:{}?format=MJPG", rec.display()))
            .arg("--sink")
            .arg(format!("http:127.0.0.1:0?{opts}"))
            .args(extra)
            .env_remove("EDGEPOSE_HTTP_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start edgepose");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let keep = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("edgepose: web preview on http://127.0.0.1:")
                {
                    let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
                    let _ = tx.send(port);
                }
                keep.lock().unwrap().push(line);
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!("no start-up line; stderr: {:?}", lines.lock().unwrap());
            }
        };
        Self {
            child,
            port,
            stderr: lines,
        }
    }

    /// Sends SIGTERM and waits (at most 20 s) for the exit.
    pub fn stop(self) -> (ExitStatus, Vec<String>) {
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        self.wait(Duration::from_secs(20))
    }

    /// Waits for the exit; kills the child after `limit`.
    pub fn wait(self, limit: Duration) -> (ExitStatus, Vec<String>) {
        let (status, stderr, _) = self.wait_cpu(limit);
        (status, stderr)
    }

    /// [`Preview::wait`], also returning the CPU time the process used
    /// (user + system, its threads together).
    pub fn wait_cpu(mut self, limit: Duration) -> (ExitStatus, Vec<String>, Duration) {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + limit;
        let pid = self.child.id() as libc::pid_t;
        loop {
            let mut status = 0;
            // SAFETY: a zeroed rusage is valid; wait4 on our own child.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if r == pid {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                let t = |v: libc::timeval| {
                    Duration::from_secs(v.tv_sec as u64) + Duration::from_micros(v.tv_usec as u64)
                };
                let cpu = t(usage.ru_utime) + t(usage.ru_stime);
                return (
                    ExitStatus::from_raw(status),
                    self.stderr.lock().unwrap().clone(),
                    cpu,
                );
            }
            assert_eq!(r, 0, "wait4: {}", std::io::Error::last_os_error());
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "edgepose did not exit; stderr: {:?}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A GET of `path` on the preview.
    pub fn get(&self, path: &str) -> Response {
        request(self.port, "GET", path, &[])
    }

    /// The preview's `/stats` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        let r = self.get("/stats");
        assert_eq!(r.status, 200, "/stats");
        serde_json::from_slice(&r.body()).unwrap()
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The head of an answer and a reader of its (de-chunked) body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
}

/// Sends `METHOD path` with `headers` on a new connection and reads the
/// answer's head.
pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = connect(port);
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    head(s)
}

/// A connection with a read timeout, so a test never hangs.
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads an answer's head from `s`.
pub fn head(s: TcpStream) -> Response {
    try_head(s).expect("an answer")
}

/// [`head`], or the error that ended the connection first.
pub fn try_head(s: TcpStream) -> std::io::Result<Response> {
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| std::io::Error::other(format!("header {l:?}")))?;
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(Response {
        status,
        headers,
        reader,
    })
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as it comes (chunked transfer coding undone).
    pub fn reader(self) -> Box<dyn BufRead + Send> {
        let chunked = self.header("transfer-encoding") == Some("chunked");
        let length = self
            .header("content-length")
            .map(|n| n.parse::<u64>().unwrap());
        match (chunked, length) {
            (true, _) => Box::new(BufReader::new(Chunked {
                inner: self.reader,
                left: 0,
                done: false,
            })),
            (false, Some(n)) => Box::new(BufReader::new(self.reader.take(n))),
            (false, None) => Box::new(self.reader),
        }
    }

    /// The whole body.
    pub fn body(self) -> Vec<u8> {
        self.try_body().expect("the whole body")
    }

    /// [`Response::body`], or the error that ended the connection first.
    pub fn try_body(self) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.reader().read_to_end(&mut v)?;
        Ok(v)
    }
}

/// The chunked transfer coding, undone.
struct Chunked {
    inner: BufReader<TcpStream>,
    left: usize,
    done: bool,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF after the previous chunk.
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            if line.is_empty() {
                self.done = true;
                return Ok(0);
            }
            self.left = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| std::io::Error::other(format!("chunk size {line:?}")))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        if n == 0 {
            self.done = true;
        }
        self.left -= n;
        Ok(n)
    }
}

/// One part of a `multipart/x-mixed-replace` stream.
#[derive(Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Reads the next part, checking its boundary line and length; `None` at
/// the closing boundary or the end of the stream.
pub fn next_part(r: &mut dyn BufRead, boundary: &str) -> Option<Part> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let l = line.trim_end();
    if l == format!("--{boundary}--") {
        return None;
    }
    assert_eq!(l, format!("--{boundary}"), "boundary line");
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .expect("part without Content-Length")
        .1
        .parse()
        .unwrap();
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    let mut crlf = [0; 2];
    r.read_exact(&mut crlf).unwrap();
    assert_eq!(&crlf, b"\r\n", "part ends with CRLF");
    Some(Part { headers, body })
}

/// One Server-Sent Events block: its `data` (joined), or a comment.
#[derive(Debug, PartialEq)]
pub enum Event {
    Data(String),
    Comment(String),
    Other(String),
}

/// Reads the next event block; `None` at the end of the stream.
pub fn next_event(r: &mut dyn BufRead) -> Option<Event> {
    let mut data: Vec<String> = Vec::new();
    let mut other = None;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if !data.is_empty() {
                return Some(Event::Data(data.join("\n")));
            }
            if let Some(o) = other.take() {
                return Some(o);
            }
            continue;
        }
        if let Some(c) = l.strip_prefix(':') {
            other = Some(Event::Comment(c.trim().to_string()));
        } else if let Some(d) = l.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
        } else {
            other = Some(Event::Other(l.to_string()));
        }
    }
}
