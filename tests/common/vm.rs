//! The real-kernel test bed from the Rust side: builds a payload, boots the
//! QEMU VM of `scripts/vm/` (Debian's kernel, a busybox initramfs) once, and
//! hands back what the guest said. In the guest, tests get real devices:
//! `/dev/video0` (vivid), `/dev/video10`, `/dev/video11` and `/dev/video12` (v4l2loopback,
//! fed by `v4l2-writer`), `/dev/fb0` (bochs, with [`Vm::display`]) and
//! `/dev/ttyS1`, a raw line to the host whose lines come back in
//! [`VmOutput::serial`]. `scripts/vm/README.md` describes the bed.
//!
//! ```ignore
//! let Some(mut vm) = Vm::new("v4l2-capture info /dev/video0 >/dev/ttyS1") else { return };
//! vm.binary(env!("CARGO_BIN_EXE_edgepose"), "bin/edgepose");
//! let out = vm.run();
//! assert_eq!(out.status, 0, "{}", out.console_tail());
//! ```
//!
//! The guest script runs with `sh` in `/payload`, with `/payload/bin` first
//! on `PATH`; the guest tools `v4l2-writer` and `v4l2-capture` (built from
//! `tests/vm/*.c` for this test run) are always there. A line
//! `@screendump NAME` written to `/dev/ttyS1` (the `vm-screendump NAME`
//! command does it and waits) makes the harness save the display to
//! `NAME.ppm` in the work folder and answer `@done NAME`; those lines are
//! not in `serial`.
//!
//! # Troubleshooting
//! - "run scripts/setup.sh": the kernel, busybox or QEMU is missing; the
//!   setup installs them (`scripts/setup-vm.sh`).
//! - A test that says SKIP: QEMU cannot be installed or run on this machine
//!   (`.cache/vm/unavailable` says why); nothing else skips.
//! - Status 125: the guest died before its exit marker; status 124: the
//!   guest script ran past its time limit. Both panics print the console's
//!   end; `EDGEPOSE_VM_KEEP=1` keeps the work folder (initramfs, console and
//!   serial logs, screendumps) and prints where it is.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{cache, repo};

/// A VM run being prepared: the guest script, the payload and the machine.
pub struct Vm {
    dir: tempfile::TempDir,
    timeout: Duration,
    memory_mb: u32,
    display: Option<(u32, u32)>,
}

/// What one boot produced.
#[derive(Debug)]
pub struct VmOutput {
    /// Exit status of the guest script; 124 when it ran past the time limit,
    /// 125 when the guest ended without reporting one (panic, crash).
    pub status: i32,
    /// Lines the guest wrote to `/dev/ttyS1`, in order, without the
    /// `@screendump` protocol lines.
    pub serial: Vec<String>,
    /// The whole console (`/dev/ttyS0`): kernel messages, the guest script's
    /// stdout and stderr, the init's marker lines.
    pub console: String,
    /// Screendumps taken on the guest's request: name → PPM file.
    pub screendumps: BTreeMap<String, PathBuf>,
    /// Wall time of QEMU from start to power-off, as run.sh measured it.
    pub qemu_time: Option<Duration>,
    /// Guest uptime when the guest script started (kernel boot + drivers).
    pub guest_ready: Option<Duration>,
    /// The work folder: removed when this value is dropped, unless
    /// `EDGEPOSE_VM_KEEP=1`.
    pub workdir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl VmOutput {
    /// The console's last lines, for assertion messages.
    pub fn console_tail(&self) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- console (last {} lines) ---\n{}\n--- serial ---\n{}",
            lines.len() - start,
            lines[start..].join("\n"),
            self.serial.join("\n")
        )
    }

    /// Serial lines that start with `prefix`, with the prefix removed.
    pub fn serial_with(&self, prefix: &str) -> Vec<&str> {
        self.serial
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect()
    }
}

fn vm_cache() -> PathBuf {
    cache().join("vm")
}

/// Whether the bed can run here. `Err` carries the reason to skip: only
/// when QEMU cannot be installed or run on this machine. A missing kernel or
/// busybox, or a QEMU that setup would install, is a failure, not a skip.
fn availability() -> Result<(), String> {
    if super::emulated() {
        // The guest is an x86_64 Debian: the ARM edgepose this suite built
        // cannot run in it. The V4L2, framebuffer and UART code is the same
        // on every target and is tested by the host run of these tests.
        return Err("the tests run as ARM code under qemu-user, and the VM guest is x86_64".into());
    }
    let marker = vm_cache().join("unavailable");
    if let Ok(reason) = fs::read_to_string(&marker) {
        return Err(format!("{} ({})", reason.trim(), marker.display()));
    }
    match Command::new("qemu-system-x86_64").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "qemu-system-x86_64 --version fails: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Err(_) if Path::new("/usr/bin/apt-get").exists() => {
            panic!("qemu-system-x86_64 is not installed: run scripts/setup.sh (scripts/setup-vm.sh installs qemu-system-x86)")
        }
        Err(e) => {
            return Err(format!(
                "qemu-system-x86_64 cannot be started ({e}) and this machine has no apt-get to install it"
            ))
        }
    }
    for f in ["vmlinuz", "busybox", "root/.complete"] {
        let p = vm_cache().join(f);
        assert!(
            p.exists(),
            "VM test bed: {} missing: run scripts/setup.sh",
            p.display()
        );
    }
    Ok(())
}

/// Builds the guest tools (`tests/vm/*.c`) for this test run, once per process.
fn guest_tools() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.as_ref() {
        return p.clone();
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-tools");
    let st = Command::new("bash")
        .arg(repo().join("scripts/vm/build-tools.sh"))
        .arg(&out)
        .status()
        .expect("start scripts/vm/build-tools.sh");
    assert!(st.success(), "scripts/vm/build-tools.sh failed: {st}");
    *built = Some(out.clone());
    out
}

fn copy_file(src: &Path, dest: &Path) {
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(src, dest)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dest.display()));
}

impl Vm {
    /// A VM whose guest runs `script` (POSIX `sh`, in `/payload`). `None`,
    /// after printing the reason, only when QEMU cannot run on this machine.
    pub fn new(script: &str) -> Option<Vm> {
        if let Err(why) = availability() {
            eprintln!("SKIP: VM test bed unavailable: {why}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("edgepose-vm.")
            .tempdir()
            .expect("create the VM work folder");
        let vm = Vm {
            dir,
            timeout: Duration::from_secs(120),
            memory_mb: 1024,
            display: None,
        };
        fs::create_dir_all(vm.payload().join("bin")).unwrap();
        fs::create_dir_all(vm.root()).unwrap();
        fs::write(vm.payload().join("guest.sh"), script).unwrap();
        let tools = guest_tools();
        for tool in ["v4l2-writer", "v4l2-capture"] {
            copy_file(&tools.join(tool), &vm.payload().join("bin").join(tool));
        }
        Some(vm)
    }

    /// The payload folder (becomes `/payload` in the guest).
    pub fn payload(&self) -> PathBuf {
        self.dir.path().join("payload")
    }

    /// The root overlay (copied onto `/` in the guest).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn dest(&self, dest: &str) -> PathBuf {
        assert!(
            !dest.starts_with('/') && !dest.split('/').any(|c| c == ".."),
            "payload path {dest} must be relative, without .."
        );
        self.payload().join(dest)
    }

    /// Copies a host file to `/payload/DEST` (mode kept).
    pub fn file(&mut self, src: impl AsRef<Path>, dest: &str) -> &mut Self {
        copy_file(src.as_ref(), &self.dest(dest));
        self
    }

    /// Writes `data` to `/payload/DEST`.
    pub fn bytes(&mut self, data: &[u8], dest: &str) -> &mut Self {
        let d = self.dest(dest);
        fs::create_dir_all(d.parent().unwrap()).unwrap();
        fs::write(&d, data).unwrap();
        self
    }

    /// Copies a dynamically linked executable or shared library to
    /// `/payload/DEST` without its debug sections, and its library closure
    /// (loader included, `scripts/vm/closure.sh`) onto the guest's `/`, so it
    /// runs there as it does here. Use it for edgepose and for libraries it
    /// `dlopen`s (libLiteRt.so).
    pub fn binary(&mut self, src: impl AsRef<Path>, dest: &str) -> &mut Self {
        let src = src.as_ref();
        let d = self.dest(dest);
        fs::create_dir_all(d.parent().unwrap()).unwrap();
        let stripped = Command::new("objcopy")
            .arg("--strip-debug")
            .arg(src)
            .arg(&d)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !stripped {
            copy_file(src, &d);
        }
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        let st = Command::new("bash")
            .arg(repo().join("scripts/vm/closure.sh"))
            .arg(src)
            .arg(self.root())
            .status()
            .expect("start scripts/vm/closure.sh");
        assert!(st.success(), "closure.sh {} failed", src.display());
        self
    }

    /// Time limit for the guest script (default 120 s); past it the script
    /// is killed and the status is 124.
    pub fn timeout(&mut self, t: Duration) -> &mut Self {
        self.timeout = t;
        self
    }

    /// Guest memory (default 1024 MiB; the initramfs lives in it).
    pub fn memory_mb(&mut self, mb: u32) -> &mut Self {
        self.memory_mb = mb;
        self
    }

    /// Adds a bochs display of `width`×`height` (the guest gets `/dev/fb0`,
    /// 32 bpp XRGB8888, stride `width * 4`) and enables screendumps.
    pub fn display(&mut self, width: u32, height: u32) -> &mut Self {
        self.display = Some((width, height));
        self
    }

    /// Boots the VM once and waits for it to power off.
    pub fn run(self) -> VmOutput {
        let work = self.dir.path().to_path_buf();
        let sock = work.join("serial.sock");
        let qmp = work.join("qmp.sock");
        let console = work.join("console.log");
        let runlog = work.join("run.log");
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/vm/run.sh"))
            .arg("--payload")
            .arg(self.payload())
            .arg("-r")
            .arg(self.root())
            .arg("--workdir")
            .arg(&work)
            .arg("--serial-out")
            .arg(format!("socket:{}", sock.display()))
            .arg("--console")
            .arg(&console)
            .arg("--timeout")
            .arg(self.timeout.as_secs().max(1).to_string())
            .arg("--memory")
            .arg(self.memory_mb.to_string());
        if let Some((w, h)) = self.display {
            cmd.arg("--display")
                .arg(format!("{w}x{h}"))
                .arg("--qmp")
                .arg(&qmp);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&runlog).unwrap());
        let mut child = cmd.spawn().expect("start scripts/vm/run.sh");

        // QEMU waits for this connection before the guest starts; the
        // initramfs is built first, which takes a while for big payloads.
        let start = Instant::now();
        let stream = loop {
            if let Ok(s) = UnixStream::connect(&sock) {
                break Some(s);
            }
            if child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(600) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };

        let mut screendumps = BTreeMap::new();
        let mut serial = Vec::new();
        if let Some(stream) = stream {
            let mut writer = stream.try_clone().unwrap();
            let mut qmp_conn: Option<Qmp> = None;
            for line in BufReader::new(stream).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                if let Some(name) = line.strip_prefix("@screendump ") {
                    let name = name.trim().to_string();
                    let file = work.join(format!("{name}.ppm"));
                    if qmp_conn.is_none() {
                        qmp_conn = Some(Qmp::connect(&qmp));
                    }
                    qmp_conn.as_mut().unwrap().screendump(&file);
                    screendumps.insert(name.clone(), file);
                    // The guest may be gone already; then there is nobody to tell.
                    let _ = writer.write_all(format!("@done {name}\n").as_bytes());
                    continue;
                }
                serial.push(line);
            }
        }
        let exit = child.wait().expect("wait for run.sh");
        let mut log = serial.join("\n");
        log.push('\n');
        fs::write(work.join("serial-out.log"), log).unwrap();
        let runlog_text = fs::read_to_string(&runlog).unwrap_or_default();
        let console_text = fs::read(&console)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let status = exit.code().unwrap_or(125);
        let qemu_time = runlog_text.lines().find_map(|l| {
            let s = l.strip_prefix("run.sh: qemu ran ")?;
            s.split(' ').next()?.parse::<f64>().ok()
        });
        let guest_ready = console_text.lines().find_map(|l| {
            let s = l.split("EDGEPOSE-VM-READY uptime=").nth(1)?;
            s.split(' ').next()?.parse::<f64>().ok()
        });
        let dir = if std::env::var_os("EDGEPOSE_VM_KEEP").is_some() {
            let kept = self.dir.keep();
            eprintln!(
                "EDGEPOSE_VM_KEEP: VM work folder kept at {}",
                kept.display()
            );
            None
        } else {
            Some(self.dir)
        };
        if !console_text.contains("EDGEPOSE-VM-EXIT") {
            eprintln!("run.sh said:\n{runlog_text}");
        }
        VmOutput {
            status,
            serial,
            console: console_text,
            screendumps,
            qemu_time: qemu_time.map(Duration::from_secs_f64),
            guest_ready: guest_ready.map(Duration::from_secs_f64),
            workdir: work,
            _dir: dir,
        }
    }
}

/// A QMP client for the one command the harness needs.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn connect(path: &Path) -> Qmp {
        let s = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("connect to QMP socket {}: {e}", path.display()));
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut q = Qmp {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        q.reply("greeting"); // {"QMP": {...}}
        q.execute(serde_json::json!({"execute": "qmp_capabilities"}));
        q
    }

    /// Reads messages until one that is not an asynchronous event.
    fn reply(&mut self, what: &str) -> serde_json::Value {
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("QMP {what}: {e}"));
            assert!(n > 0, "QMP {what}: QEMU closed the socket");
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("QMP {what}: bad JSON {line}: {e}"));
            if v.get("event").is_none() {
                return v;
            }
        }
    }

    fn execute(&mut self, cmd: serde_json::Value) {
        let name = cmd["execute"].as_str().unwrap_or("?").to_string();
        self.writer
            .write_all(format!("{cmd}\n").as_bytes())
            .unwrap_or_else(|e| panic!("QMP {name}: {e}"));
        let r = self.reply(&name);
        assert!(r.get("return").is_some(), "QMP {name} failed: {r}");
    }

    fn screendump(&mut self, file: &Path) {
        self.execute(serde_json::json!({
            "execute": "screendump",
            "arguments": {"filename": file.to_string_lossy()}
        }));
    }
}

/// A PPM (P6, maxval 255) image: width, height, RGB bytes.
pub fn read_ppm(path: &Path) -> (u32, u32, Vec<u8>) {
    let data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    // Header: "P6" WS width WS height WS maxval, one whitespace byte, pixels.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < data.len() && data[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while i < data.len() && !data[i].is_ascii_whitespace() {
            i += 1;
        }
        assert!(i > s, "{}: truncated PPM header", path.display());
        fields.push(String::from_utf8_lossy(&data[s..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "{}: not a binary PPM", path.display());
    assert_eq!(fields[3], "255", "{}: maxval", path.display());
    let w: u32 = fields[1].parse().unwrap();
    let h: u32 = fields[2].parse().unwrap();
    let pixels = data[i + 1..].to_vec();
    assert_eq!(
        pixels.len(),
        (w * h * 3) as usize,
        "{}: pixel data size",
        path.display()
    );
    (w, h, pixels)
}

/// FNV-1a 64, as the guest tools print it (`fnv=%016x`).
pub fn fnv1a(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}
