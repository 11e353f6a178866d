//! The serial sink's writer thread: the only user of the port. It takes
//! records from the ring the frame loop fills, writes them, reopens a lost
//! port with the [`Link`]'s backoff and answers flush requests, so the frame
//! loop never waits on the port, only (briefly) on the ring's lock.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serialport::SerialPort;

use super::ring::Queue;
use super::{Encoding, Link, SerialStats};

/// The longest idle wait: the writer looks at its state at least this often.
const IDLE: Duration = Duration::from_millis(500);
/// While a flush waits for the driver to transmit.
const DRAIN_POLL: Duration = Duration::from_millis(2);

/// What the frame loop and the writer share.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: a record, a flush request, stop.
    wake: Condvar,
    /// Wakes [`Shared::flush`]: the writer finished a flush.
    flushed: Condvar,
}

/// The ring and the counters, under one lock.
pub(super) struct State {
    pub(super) queue: Queue,
    /// Counters; the link's are copied in by the writer.
    pub(super) stats: SerialStats,
    /// A record has left the ring and is being written.
    pub(super) in_flight: bool,
    /// A flush asked for, with its deadline.
    flush: Option<Instant>,
    /// Flushes finished so far.
    flushes: u64,
    /// The writer has ended (stop, or it panicked).
    ended: bool,
    stop: bool,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(super) fn new(queue: Queue) -> Self {
        Self {
            state: Mutex::new(State {
                queue,
                stats: SerialStats::default(),
                in_flight: false,
                flush: None,
                flushes: 0,
                ended: false,
                stop: false,
            }),
            wake: Condvar::new(),
            flushed: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Tells the writer there is a record.
    pub(super) fn notify(&self) {
        self.wake.notify_one();
    }

    /// Asks the writer to send what is queued until `deadline` (a lost
    /// port gets one immediate reopen attempt) and waits until it did.
    /// False when the writer is gone.
    pub(super) fn flush(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        if st.ended {
            return false;
        }
        let done = st.flushes;
        st.flush = Some(deadline);
        self.wake.notify_one();
        while st.flushes == done && !st.ended {
            st = self
                .flushed
                .wait_timeout(st, IDLE)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        !st.ended || st.flushes != done
    }

    /// Ends the writer (after the current write, without draining).
    pub(super) fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }
}

/// Marks the writer ended however it leaves (a panic included), so a
/// flush never waits for it.
struct Ended<'a>(&'a Shared);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).ended = true;
        self.0.flushed.notify_all();
    }
}

/// The writer thread's own state: the port and the record on the wire.
pub(super) struct Writer {
    pub(super) shared: Arc<Shared>,
    pub(super) link: Link,
    pub(super) encoding: Encoding,
    /// Longest wait for the port to take bytes before looking again.
    pub(super) slice: Duration,
    /// A delimiter is due before the next record (after every open).
    pub(super) resync: bool,
    /// The record on the wire (a buffer swapped out of the ring) and how
    /// much of it is written.
    record: Vec<u8>,
    written: usize,
    /// The flush being served got its immediate reopen attempt.
    flush_retried: bool,
}

impl Writer {
    pub(super) fn new(
        shared: Arc<Shared>,
        link: Link,
        encoding: Encoding,
        slice: Duration,
        resync: bool,
    ) -> Self {
        let w = Self {
            shared,
            link,
            encoding,
            slice: slice.max(Duration::from_millis(1)),
            resync,
            record: Vec::new(),
            written: 0,
            flush_retried: false,
        };
        // The first open's outcome counts from the start.
        w.publish(&mut w.shared.lock());
        w
    }

    /// Copies the link's counters into the shared ones.
    fn publish(&self, st: &mut State) {
        let c = self.link.counts();
        st.stats.disconnects = c.disconnects;
        st.stats.reconnects = c.reconnects;
        st.stats.failed_opens = c.failed_opens;
    }

    /// The thread's body: until [`Shared::stop`].
    pub(super) fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        let _ended = Ended(&shared);
        loop {
            let flushing = shared.lock().flush.is_some();
            if !self.link.is_open() {
                if flushing && !self.flush_retried {
                    // A flush gets one attempt at once: do not hold up the
                    // exit for a device that is gone.
                    self.flush_retried = true;
                    self.link.retry_now();
                }
                self.try_open();
            }
            let mut st = shared.lock();
            self.publish(&mut st);
            if st.stop {
                return;
            }
            if !st.in_flight && !self.resync && self.driver_has_room(st.queue.front_len()) {
                st.in_flight = st.queue.take_front(&mut self.record);
                self.written = 0;
            }
            let writing = self.link.is_open() && (self.resync || st.in_flight);
            if let Some(deadline) = st.flush {
                if self.flush_done(&mut st, deadline, writing) {
                    // What the flush could not send is dropped: after a
                    // flush every record is sent or dropped.
                    st.stats.dropped += st.queue.clear() as u64;
                    if st.in_flight {
                        st.in_flight = false;
                        st.stats.dropped += 1;
                        // The receiver must not glue its cut-off part to
                        // the next record.
                        self.resync = true;
                    }
                    st.flush = None;
                    st.flushes += 1;
                    self.flush_retried = false;
                    shared.flushed.notify_all();
                    continue;
                }
            }
            if writing {
                drop(st);
                self.write();
                continue;
            }
            let wait = self.idle_wait(&st);
            drop(
                shared
                    .wake
                    .wait_timeout(st, wait)
                    .unwrap_or_else(|p| p.into_inner()),
            );
        }
    }

    fn try_open(&mut self) {
        match self.link.reconnect_if_due(Instant::now()) {
            Ok(false) => {}
            Ok(true) => {
                log::warn!("serial {}: connected", self.link.path());
                self.resync = true;
            }
            Err(e) => log::debug!(
                "serial {}: reopen failed: {}",
                self.link.path(),
                e.description
            ),
        }
    }

    /// Whether a record of `len` bytes may start: the port is open and the
    /// driver's transmit queue holds no more than about one record, so a
    /// slow link carries fresh records, not a backlog.
    fn driver_has_room(&mut self, len: Option<usize>) -> bool {
        let (Some(len), Some(port)) = (len, self.link.port()) else {
            return false;
        };
        port.bytes_to_write().unwrap_or(0) as usize <= len.max(64)
    }

    /// Whether the flush asked for is over: everything written and the
    /// driver's queue sent, or the port gone after its retry, or the
    /// deadline passed (then a stalled driver queue is discarded and
    /// counted, so closing the port does not wait for it).
    fn flush_done(&mut self, st: &mut State, deadline: Instant, writing: bool) -> bool {
        let Some(port) = self.link.port() else {
            return self.flush_retried;
        };
        let outq = port.bytes_to_write().unwrap_or(0);
        if Instant::now() >= deadline {
            if outq > 0 {
                let _ = port.clear(serialport::ClearBuffer::Output);
                st.stats.discarded_bytes += u64::from(outq);
            }
            return true;
        }
        !writing && st.queue.len == 0 && outq == 0
    }

    /// How long to sleep with nothing to write: until the next reopen
    /// attempt, a short slice while the driver is busy or a flush waits for
    /// it, else until woken.
    fn idle_wait(&self, st: &State) -> Duration {
        if st.flush.is_some() {
            return DRAIN_POLL;
        }
        if !self.link.is_open() {
            return self
                .link
                .retry_at()
                .map_or(self.slice, |t| t.saturating_duration_since(Instant::now()))
                .clamp(Duration::from_millis(1), IDLE);
        }
        if st.queue.len > 0 {
            return self.slice;
        }
        IDLE
    }

    /// One write of the delimiter or of the record's rest, waiting at most
    /// one slice for the port; the outcome goes into the counters.
    fn write(&mut self) {
        let Some(port) = self.link.port() else {
            return;
        };
        let _ = port.set_timeout(self.slice);
        let res = if self.resync {
            let delim: &[u8] = match self.encoding {
                Encoding::Binary => &[0],
                Encoding::Json => b"\n",
            };
            port.write(delim)
        } else {
            port.write(&self.record[self.written..])
        };
        match res {
            Ok(n) => {
                let mut st = self.shared.lock();
                st.stats.bytes += n as u64;
                if self.resync {
                    self.resync = n == 0;
                } else {
                    self.written += n;
                    if self.written >= self.record.len() {
                        st.in_flight = false;
                        st.stats.sent += 1;
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                log::warn!(
                    "serial {}: port lost ({e}); reconnecting with backoff",
                    self.link.path()
                );
                self.link.lost();
                let mut st = self.shared.lock();
                if st.in_flight {
                    // The record on the wire is cut off with the port.
                    st.in_flight = false;
                    st.stats.dropped += 1;
                }
            }
        }
    }
}
