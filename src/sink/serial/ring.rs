//! The serial sink's queue: a fixed ring of reusable record buffers (the
//! sink's only queue). When it is full the oldest record that is not being
//! written is dropped; a record already partly on the wire is kept (or, in a
//! ring of one, dropped with the receiver told to resynchronise).

/// What making room in the [`Queue`] cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dropped {
    Nothing,
    Whole,
    /// A record already partly on the wire: the receiver needs a delimiter.
    HalfWritten,
}

/// Fixed ring of reusable record buffers.
pub(super) struct Queue {
    slots: Vec<Vec<u8>>,
    head: usize,
    pub(super) len: usize,
    /// Bytes of the head record already written.
    pub(super) offset: usize,
}

impl Queue {
    pub(super) fn new(n: usize) -> Self {
        Self {
            slots: (0..n).map(|_| Vec::new()).collect(),
            head: 0,
            len: 0,
            offset: 0,
        }
    }

    pub(super) fn cap(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn idx(&self, i: usize) -> usize {
        (self.head + i) % self.cap()
    }

    /// A slot for a new record at the back. When full, the oldest record
    /// not being written is dropped; returns the slot and what was dropped.
    pub(super) fn push_slot(&mut self) -> (&mut Vec<u8>, Dropped) {
        let mut dropped = Dropped::Nothing;
        if self.len == self.cap() {
            if self.offset == 0 || self.cap() == 1 {
                // Drop the head (not started, or nothing else to drop).
                dropped = if self.offset == 0 {
                    Dropped::Whole
                } else {
                    Dropped::HalfWritten
                };
                self.head = self.idx(1);
                self.offset = 0;
            } else {
                // The head is half-written: keep it, drop the next one by
                // shifting the records behind it forward.
                dropped = Dropped::Whole;
                for i in 1..self.len - 1 {
                    let (a, b) = (self.idx(i), self.idx(i + 1));
                    self.slots.swap(a, b);
                }
            }
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

    pub(super) fn front(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.slots[self.head][self.offset..])
    }

    pub(super) fn front_len(&self) -> usize {
        self.slots[self.head].len()
    }

    pub(super) fn pop_front(&mut self) {
        self.head = self.idx(1);
        self.len -= 1;
        self.offset = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_drops_the_oldest_record_not_being_written() {
        let mut q = Queue::new(3);
        for v in [1u8, 2, 3] {
            let (s, d) = q.push_slot();
            s.push(v);
            s.push(v);
            assert_eq!(d, Dropped::Nothing);
        }
        let (s, d) = q.push_slot();
        s.extend([4, 4]);
        assert_eq!(d, Dropped::Whole, "full queue drops");
        assert_eq!(q.front(), Some(&[2u8, 2][..]), "oldest (1) dropped");
        q.offset = 1; // record 2 half-written
        let (s, d) = q.push_slot();
        s.extend([5, 5]);
        assert_eq!(d, Dropped::Whole);
        assert_eq!(q.front(), Some(&[2u8][..]), "half-written record kept");
        q.pop_front();
        assert_eq!(q.front(), Some(&[4u8, 4][..]), "3 was dropped instead");
        q.pop_front();
        assert_eq!(q.front(), Some(&[5u8, 5][..]));
        q.pop_front();
        assert_eq!(q.front(), None);

        let mut one = Queue::new(1);
        one.push_slot().0.extend([1, 1]);
        one.offset = 1;
        assert_eq!(one.push_slot().1, Dropped::HalfWritten);
        assert_eq!(one.offset, 0);
    }
}
