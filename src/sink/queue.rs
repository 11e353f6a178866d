//! A bounded queue in front of a sink, with the sink on its own thread, so
//! a slow sink (a file on a busy disk, a stdout pipe nobody reads) cannot
//! stall the frame loop. `run` puts it in front of every sink that has no
//! queue of its own ([`Sink::own_queue`]: serial, MQTT and the displays
//! bound their own backlog), so each sink has exactly one queue and one
//! count of what it dropped.
//!
//! `emit` copies the result into one of `capacity` pre-allocated slots
//! (vectors keep their capacity, so no allocation per frame once warm).
//! When every slot is waiting, a live source's oldest waiting result is
//! dropped and counted (the newest wins); a file or recording source waits
//! instead, so that no record of a finite input is lost.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::{Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};

/// Whether a full queue drops its oldest result or makes the producer wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    DropOldest,
    Wait,
}

struct Slot {
    result: FrameResult,
    origin: String,
}

struct State {
    slots: Vec<Slot>,
    /// Indices of waiting results, oldest first (a ring over `order`).
    order: Vec<usize>,
    head: usize,
    len: usize,
    /// Slots free to fill.
    free: Vec<usize>,
    /// Slot the sink thread is writing out.
    busy: Option<usize>,
    closing: bool,
    dropped: u64,
    emitted: u64,
    error: Option<SinkError>,
}

struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A sink behind a bounded queue and its own thread.
pub struct Queued {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Box<dyn Sink>>>,
    full: Full,
    name: String,
    summary: Option<String>,
}

impl Queued {
    /// Starts `sink` on a thread behind a queue of `capacity` results.
    pub fn new(sink: Box<dyn Sink>, capacity: usize, full: Full, meta: RecordMeta) -> Self {
        let capacity = capacity.max(1);
        let slots = (0..capacity)
            .map(|_| Slot {
                result: FrameResult {
                    persons: Vec::with_capacity(64),
                    raw: Vec::with_capacity(crate::track::MAX_TRACKS),
                    tracks: Vec::with_capacity(crate::track::MAX_TRACKS),
                    ..FrameResult::default()
                },
                origin: String::with_capacity(256),
            })
            .collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                slots,
                order: vec![0; capacity],
                head: 0,
                len: 0,
                free: (0..capacity).rev().collect(),
                busy: None,
                closing: false,
                dropped: 0,
                emitted: 0,
                error: None,
            }),
            cv: Condvar::new(),
        });
        let name = sink.name();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("sink-{name}"))
            .spawn(move || run(sink, &worker, &meta))
            .ok();
        Self {
            shared,
            thread,
            full,
            name,
            summary: None,
        }
    }

    /// Stops the thread after the queue drains; returns the sink.
    fn close(&mut self) -> Result<(), SinkError> {
        {
            let mut st = lock(&self.shared);
            st.closing = true;
            self.shared.cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(sink) => {
                    let st = lock(&self.shared);
                    let dropped = st.dropped;
                    self.summary = Some(match sink.summary() {
                        Some(s) if dropped > 0 => format!("{s}; {dropped} dropped"),
                        Some(s) => s,
                        None if dropped > 0 => {
                            format!("{}: {dropped} results dropped", self.name)
                        }
                        None => return Ok(()),
                    });
                }
                Err(_) => {
                    return Err(SinkError::Thread {
                        name: self.name.clone(),
                    })
                }
            }
        }
        let mut st = lock(&self.shared);
        match st.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Results dropped because the sink fell behind.
    pub fn dropped(&self) -> u64 {
        lock(&self.shared).dropped
    }
}

/// Gives every sink one bounded queue: those that draw on the pixels stay
/// on the frame loop's thread, those with a queue of their own
/// ([`Sink::own_queue`]) are left as they are, and the rest each go behind a
/// [`Queued`] of `capacity` results.
pub fn one_queue_each(
    sinks: Vec<Box<dyn Sink>>,
    capacity: usize,
    full: Full,
    meta: &RecordMeta,
) -> Vec<Box<dyn Sink>> {
    sinks
        .into_iter()
        .map(|s| -> Box<dyn Sink> {
            if s.wants_pixels() || s.own_queue() {
                s
            } else {
                Box::new(Queued::new(s, capacity, full, meta.clone()))
            }
        })
        .collect()
}

fn run(mut sink: Box<dyn Sink>, shared: &Shared, meta: &RecordMeta) -> Box<dyn Sink> {
    loop {
        let idx = {
            let mut st = lock(shared);
            loop {
                if st.len > 0 {
                    let i = st.order[st.head];
                    st.head = (st.head + 1) % st.order.len();
                    st.len -= 1;
                    st.busy = Some(i);
                    // Take the slot's contents out so the lock is not held
                    // while the sink writes.
                    break Some((
                        i,
                        std::mem::take(&mut st.slots[i].result),
                        std::mem::take(&mut st.slots[i].origin),
                    ));
                }
                if st.closing || st.error.is_some() {
                    break None;
                }
                st = shared.cv.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Some((i, result, origin)) = idx else {
            let mut st = lock(shared);
            if let Err(e) = sink.flush() {
                st.error.get_or_insert(e);
            }
            return sink;
        };
        let frame = Frame {
            seq: result.seq,
            timestamp: std::time::Duration::from_secs_f64(result.timestamp_ms.max(0.0) / 1e3),
            ..Frame::rgb(&[], result.width, result.height, &origin)
        };
        let outcome = sink.emit(&frame, &result, meta);
        let mut st = lock(shared);
        st.slots[i].result = result;
        st.slots[i].origin = origin;
        st.busy = None;
        st.free.push(i);
        st.emitted += 1;
        if let Err(e) = outcome {
            st.error.get_or_insert(e);
        }
        shared.cv.notify_all();
    }
}

impl Sink for Queued {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        _meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        let mut st = lock(&self.shared);
        if let Some(e) = st.error.take() {
            return Err(e);
        }
        let idx = loop {
            if let Some(i) = st.free.pop() {
                break i;
            }
            match self.full {
                Full::Wait => {
                    st = self.shared.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                    if let Some(e) = st.error.take() {
                        return Err(e);
                    }
                }
                Full::DropOldest => {
                    if st.len == 0 {
                        // Only the busy slot exists (capacity 1): wait for it.
                        st = self.shared.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                        continue;
                    }
                    let i = st.order[st.head];
                    st.head = (st.head + 1) % st.order.len();
                    st.len -= 1;
                    st.dropped += 1;
                    break i;
                }
            }
        };
        let slot = &mut st.slots[idx];
        slot.result.copy_from(result);
        slot.origin.clear();
        slot.origin.push_str(frame.origin);
        let n = st.order.len();
        let tail = (st.head + st.len) % n;
        st.order[tail] = idx;
        st.len += 1;
        self.shared.cv.notify_all();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.close()
    }

    fn summary(&self) -> Option<String> {
        self.summary.clone()
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn dropped(&self) -> Option<u64> {
        Some(Queued::dropped(self))
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A sink that takes `delay` per record and remembers the seqs it saw.
    struct Slow {
        delay: Duration,
        seen: Arc<Mutex<Vec<u64>>>,
        flushed: Arc<AtomicU64>,
    }

    impl Sink for Slow {
        fn emit(
            &mut self,
            _: &Frame<'_>,
            r: &FrameResult,
            _: &RecordMeta,
        ) -> Result<(), SinkError> {
            std::thread::sleep(self.delay);
            self.seen.lock().unwrap().push(r.seq);
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            self.flushed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn meta() -> RecordMeta {
        RecordMeta {
            model_id: "m".into(),
            runtime: "r".into(),
            keypoint_names: vec![],
            skeleton: vec![],
            keypoint_threshold: 0.5,
        }
    }

    fn feed(full: Full, n: u64, delay_ms: u64) -> (Vec<u64>, u64, u64) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let flushed = Arc::new(AtomicU64::new(0));
        let sink = Slow {
            delay: Duration::from_millis(delay_ms),
            seen: Arc::clone(&seen),
            flushed: Arc::clone(&flushed),
        };
        let mut q = Queued::new(Box::new(sink), 2, full, meta());
        for seq in 0..n {
            let r = FrameResult {
                seq,
                ..FrameResult::default()
            };
            q.emit(&Frame::rgb(&[], 1, 1, "x"), &r, &meta()).unwrap();
        }
        let dropped = q.dropped();
        q.flush().unwrap();
        let seen = seen.lock().unwrap().clone();
        (seen, dropped, flushed.load(Ordering::SeqCst))
    }

    /// Records the thread each emit ran on.
    struct Where {
        own_queue: bool,
        pixels: bool,
        threads: Arc<Mutex<Vec<std::thread::ThreadId>>>,
    }

    impl Sink for Where {
        fn emit(
            &mut self,
            _: &Frame<'_>,
            _: &FrameResult,
            _: &RecordMeta,
        ) -> Result<(), SinkError> {
            self.threads
                .lock()
                .unwrap()
                .push(std::thread::current().id());
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn own_queue(&self) -> bool {
            self.own_queue
        }
        fn wants_pixels(&self) -> bool {
            self.pixels
        }
    }

    #[test]
    fn only_sinks_without_a_queue_get_one() {
        let logs: Vec<Arc<Mutex<Vec<std::thread::ThreadId>>>> =
            (0..3).map(|_| Arc::default()).collect();
        let sinks: Vec<Box<dyn Sink>> = [(false, false), (true, false), (false, true)]
            .into_iter()
            .zip(&logs)
            .map(|((own_queue, pixels), log)| -> Box<dyn Sink> {
                Box::new(Where {
                    own_queue,
                    pixels,
                    threads: Arc::clone(log),
                })
            })
            .collect();
        let mut sinks = one_queue_each(sinks, 2, Full::Wait, &meta());
        for s in &mut sinks {
            s.emit(
                &Frame::rgb(&[], 1, 1, "x"),
                &FrameResult::default(),
                &meta(),
            )
            .unwrap();
            s.flush().unwrap();
        }
        let here = std::thread::current().id();
        let ran: Vec<bool> = logs.iter().map(|l| l.lock().unwrap()[0] == here).collect();
        // A plain sink runs on its queue's thread; one with its own queue
        // and one drawing on the pixels run on the caller's.
        assert_eq!(ran, [false, true, true]);
    }

    #[test]
    fn waiting_queue_loses_nothing_and_keeps_order() {
        let (seen, dropped, flushed) = feed(Full::Wait, 20, 2);
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
        assert_eq!((dropped, flushed), (0, 1));
    }

    #[test]
    fn dropping_queue_keeps_the_newest_and_counts_the_rest() {
        // 30 results as fast as possible into a sink taking 20 ms each and a
        // queue of 2: the sink sees an increasing subsequence that ends
        // with the last result; everything else is counted as dropped.
        let (seen, dropped, _) = feed(Full::DropOldest, 30, 20);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&29));
        assert_eq!(
            seen.len() as u64 + dropped,
            30,
            "{seen:?} dropped {dropped}"
        );
        assert!(dropped >= 20, "dropped {dropped}");
    }
}
