//! The serial sink's queue: a fixed ring of reusable record buffers (the
//! sink's only queue), filled by the frame loop and emptied by the writer
//! thread. When it is full the oldest waiting record is dropped: the newest
//! always gets in. The record on the wire has left the ring (the writer
//! swapped its buffer out), so it is never cut short to make room.

/// Fixed ring of reusable record buffers.
pub(super) struct Queue {
    slots: Vec<Vec<u8>>,
    head: usize,
    pub(super) len: usize,
}

impl Queue {
    pub(super) fn new(n: usize) -> Self {
        Self {
            slots: (0..n).map(|_| Vec::new()).collect(),
            head: 0,
            len: 0,
        }
    }

    fn cap(&self) -> usize {
        self.slots.len()
    }

    fn idx(&self, i: usize) -> usize {
        (self.head + i) % self.cap()
    }

    /// A cleared slot for a new record at the back, and whether the oldest
    /// record was dropped to make room.
    pub(super) fn push_slot(&mut self) -> (&mut Vec<u8>, bool) {
        let dropped = self.len == self.cap();
        if dropped {
            self.head = self.idx(1);
            self.len -= 1;
        }
        let i = self.idx(self.len);
        self.len += 1;
        let slot = &mut self.slots[i];
        slot.clear();
        (slot, dropped)
    }

    /// Removes the last pushed record (when it could not be encoded).
    pub(super) fn pop_back(&mut self) {
        self.len -= 1;
    }

    /// Empties the ring; how many records it held.
    pub(super) fn clear(&mut self) -> usize {
        let n = self.len;
        self.head = self.idx(self.len);
        self.len = 0;
        n
    }

    /// Length of the oldest record.
    pub(super) fn front_len(&self) -> Option<usize> {
        (self.len > 0).then(|| self.slots[self.head].len())
    }

    /// Takes the oldest record out of the ring by swapping its buffer with
    /// `out` (whose old buffer becomes the free slot): no copy, no
    /// allocation. False when the ring is empty.
    pub(super) fn take_front(&mut self, out: &mut Vec<u8>) -> bool {
        if self.len == 0 {
            return false;
        }
        std::mem::swap(&mut self.slots[self.head], out);
        self.head = self.idx(1);
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(q: &mut Queue, v: u8) -> bool {
        let (s, dropped) = q.push_slot();
        s.extend([v, v]);
        dropped
    }

    #[test]
    fn a_full_ring_drops_its_oldest_and_taking_swaps_buffers() {
        let mut q = Queue::new(3);
        assert!(!push(&mut q, 1) && !push(&mut q, 2) && !push(&mut q, 3));
        assert!(push(&mut q, 4), "full: the oldest (1) goes");
        let mut out = Vec::with_capacity(100);
        assert!(q.take_front(&mut out));
        assert_eq!(out, [2, 2]);
        // The writer's old buffer (capacity 100) is now a free slot.
        q.push_slot().0.extend([6, 6, 6]);
        q.pop_back();
        assert!(!push(&mut q, 5), "room after a take");
        assert!(q.slots.iter().any(|s| s.capacity() >= 100));
        assert_eq!(q.front_len(), Some(2));
        let mut got = Vec::new();
        while q.take_front(&mut out) {
            got.push(out[0]);
        }
        assert_eq!(got, [3, 4, 5]);
        assert_eq!(q.front_len(), None);

        let mut one = Queue::new(1);
        assert!(!push(&mut one, 1));
        assert!(push(&mut one, 2), "a ring of one keeps the newest");
        assert!(one.take_front(&mut out));
        assert_eq!(out, [2, 2]);
    }
}
