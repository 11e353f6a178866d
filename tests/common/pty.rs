//! Pseudo-terminals for the serial tests: a pty pair stands in for a
//! USB-serial link (the program under test opens the slave end like a
//! UART, the test reads the master end); a reader thread on the master
//! that can pause (a stalled receiver) and close it (the port vanishes);
//! and the wire decoder over what arrived.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use edgepose_wire as wire;

/// A pseudo-terminal pair; the test keeps a slave descriptor open so the
/// master never sees a hang-up while the program under test reopens.
pub struct Pty {
    pub master: Option<OwnedFd>,
    pub slave: Option<OwnedFd>,
    pub path: String,
}

pub fn pty() -> Pty {
    let (mut m, mut s): (libc::c_int, libc::c_int) = (-1, -1);
    // SAFETY: openpty writes two descriptors; no name buffer is passed.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just returned to us and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    for fd in [m, s] {
        // Not inherited by the programs under test, or closing the master
        // here would not make the port vanish for them.
        // SAFETY: fcntl on descriptors owned above.
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) },
            0
        );
    }
    let mut name = [0 as libc::c_char; 256];
    // SAFETY: the buffer and its length are valid.
    let r = unsafe { libc::ttyname_r(slave.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    assert_eq!(r, 0, "ttyname_r");
    // SAFETY: ttyname_r wrote a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Pty {
        master: Some(master),
        slave: Some(slave),
        path,
    }
}

/// Whether the serial ioctls work on the pty `p`. They return ENOSYS under
/// qemu-user, which does not translate `TCGETS2`: the test then fails
/// unless the run declared `termios2` unavailable ([`super::skip`]), when it
/// records the skip and returns. Any other failure fails the test.
///
/// The probe asks on the test's own slave descriptor rather than opening
/// the path: an open through `serialport` takes an exclusive `flock` and
/// sets `TIOCEXCL`, and a child that another test thread forks in that
/// moment holds the lock until it execs, so the program's own open right
/// after would find the port locked.
pub fn serial_ioctls_work(p: &Pty) -> bool {
    let fd = p
        .slave
        .as_ref()
        .expect("the probe runs before the test gives up its slave descriptor")
        .as_raw_fd();
    super::skip::available(super::skip::Part::Termios2, || {
        // SAFETY: termios2 is plain integers and arrays; all zeros is valid.
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        // SAFETY: fd is the open slave descriptor; t is a valid termios2.
        if unsafe { libc::ioctl(fd, libc::TCGETS2, &mut t) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOSYS) => Err(format!(
                "the serial ioctls on a pty return ENOSYS here: {e}"
            )),
            _ => panic!("TCGETS2 on pty slave {}: {e}", p.path),
        }
    })
}

/// Reads a master descriptor on a thread until stopped, or (with
/// `close_after`) until that many `0x00` delimiters arrived, when it closes
/// the master: the port vanishes for the slave's user. [`Reader::pause`]
/// stops reading but keeps the master open: a receiver that stalls.
pub struct Reader {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    handle: JoinHandle<Vec<u8>>,
}

pub fn reader(master: OwnedFd, close_after: Option<usize>) -> Reader {
    let stop = Arc::new(AtomicBool::new(false));
    let paused = Arc::new(AtomicBool::new(false));
    let (flag, pause) = (Arc::clone(&stop), Arc::clone(&paused));
    let handle = std::thread::spawn(move || {
        let fd: RawFd = master.as_raw_fd();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let stopping = flag.load(Ordering::Relaxed);
            if pause.load(Ordering::Relaxed) && !stopping {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, if stopping { 0 } else { 20 }) };
            if r > 0 && p.revents & libc::POLLIN != 0 {
                // SAFETY: buf is valid for its length.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    out.extend_from_slice(&buf[..n as usize]);
                    if let Some(k) = close_after {
                        if out.iter().filter(|b| **b == 0).count() >= k {
                            drop(master);
                            return out;
                        }
                    }
                    continue;
                }
                std::thread::sleep(Duration::from_millis(5));
            } else if stopping {
                return out;
            } else if r > 0 {
                // Hang-up: no slave open (yet); wait for one.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    Reader {
        stop,
        paused,
        handle,
    }
}

impl Reader {
    /// Stops reading, keeping the master open: what the program writes
    /// piles up in the pty until its buffer is full.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::Relaxed);
    }

    /// Reads what is left, closes the master and returns every byte read.
    pub fn finish(self) -> Vec<u8> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("reader thread")
    }
}

/// Decodes a binary capture with the library's deframer: sequence numbers
/// of good frames, and the number of bad pieces.
pub fn decode_capture(bytes: &[u8]) -> (Vec<u32>, usize) {
    let mut buf = vec![0u8; wire::MAX_PAYLOAD_LEN + 64];
    let mut d = wire::Deframer::new(&mut buf);
    let (mut seqs, mut bad) = (Vec::new(), 0);
    for &b in bytes {
        match d.feed(b) {
            Some(wire::Event::Frame(f)) => seqs.push(f.seq()),
            Some(wire::Event::Error(_)) => bad += 1,
            Some(wire::Event::Skipped(_)) => bad += 1,
            None => {}
        }
    }
    (seqs, bad)
}

pub fn symlink(target: &str, link: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}
