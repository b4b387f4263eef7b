//! A vector kept in chunks of a fixed size, for an entity's entries: it
//! grows by adding a chunk, so nothing is ever copied into a larger block.
//! A `Vec` of a million entries that grows by half copies 40 MB into a
//! new block of 60 MB, and both are held at once; in wasm, whose memory
//! never shrinks, that moment is what the module keeps. Chunked, the
//! peak is the entries themselves and one chunk.

/// Entries per chunk (a power of two: a position splits with a shift).
const BITS: u32 = 15;
const CHUNK: usize = 1 << BITS;

#[derive(Debug, Clone)]
pub(crate) struct Chunked<T> {
    /// Full chunks of `CHUNK` entries, then the last, which may be short.
    /// The first grows as a `Vec` does until it holds `CHUNK` (a small
    /// entity takes no more than its entries); each later one is made
    /// whole at once.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> BITS)?.get(i & (CHUNK - 1))
    }

    /// The entry at `i` and the one after it (`None`: `i` is the last),
    /// read from one chunk when they share it, as all but one in a chunk do.
    #[inline(always)]
    pub(crate) fn get_and_next(&self, i: usize) -> Option<(&T, Option<&T>)> {
        let chunk = self.chunks.get(i >> BITS)?;
        let at = i & (CHUNK - 1);
        match chunk.get(at..at.saturating_add(2)) {
            Some([this, next]) => Some((this, Some(next))),
            _ => Some((chunk.get(at)?, self.get(i.saturating_add(1)))),
        }
    }

    #[inline(always)]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i >> BITS)?.get_mut(i & (CHUNK - 1))
    }

    pub(crate) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    // The first chunk doubles up to a whole one.
                    last.reserve_exact(last.len().max(4).min(CHUNK.saturating_sub(last.len())));
                }
                last.push(value);
            }
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() { 4 } else { CHUNK });
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len = self.len.saturating_add(1);
    }

    /// Makes room for `more` entries: the last chunk up to a whole one
    /// (in one allocation, not a chain of doublings), and the list of
    /// chunks. Later chunks are made as they fill.
    pub(crate) fn reserve(&mut self, more: usize) {
        let in_last = self.chunks.last().map_or(CHUNK, Vec::len);
        if in_last < CHUNK {
            if let Some(last) = self.chunks.last_mut() {
                last.reserve_exact(more.min(CHUNK.saturating_sub(in_last)));
            }
        } else if self.chunks.is_empty() && more > 0 {
            self.chunks.push(Vec::with_capacity(more.min(CHUNK)));
        }
        let chunks = self.len.saturating_add(more).div_ceil(CHUNK);
        self.chunks.reserve_exact(chunks.saturating_sub(self.chunks.len()));
    }

    /// Keeps the first `len` entries.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.chunks.truncate(len.div_ceil(CHUNK));
        if let Some(last) = self.chunks.last_mut() {
            last.truncate(len.saturating_sub(len.saturating_sub(1) >> BITS << BITS));
        }
        self.len = len;
    }

    /// Swaps the entries at `a` and `b` (nothing when either is not there).
    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        let (ca, cb) = (a >> BITS, b >> BITS);
        let (ia, ib) = (a & (CHUNK - 1), b & (CHUNK - 1));
        if ca == cb {
            if let Some(chunk) = self.chunks.get_mut(ca) {
                if ia < chunk.len() && ib < chunk.len() {
                    chunk.swap(ia, ib);
                }
            }
            return;
        }
        let ((low, i_low), (high, i_high)) = if ca < cb { ((ca, ia), (cb, ib)) } else { ((cb, ib), (ca, ia)) };
        if high > self.chunks.len() {
            return;
        }
        let (before, from_high) = self.chunks.split_at_mut(high);
        let x = before.get_mut(low).and_then(|c| c.get_mut(i_low));
        let y = from_high.first_mut().and_then(|c| c.get_mut(i_high));
        if let (Some(x), Some(y)) = (x, y) {
            std::mem::swap(x, y);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flatten()
    }

    pub(crate) fn into_iter(self) -> impl Iterator<Item = T> {
        self.chunks.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same as a `Vec` through every operation, across chunk edges.
    #[test]
    fn behaves_as_a_vec_across_chunks() {
        let mut chunked = Chunked::default();
        let mut plain = Vec::new();
        for i in 0..(2 * CHUNK + 5) {
            chunked.push(i);
            plain.push(i);
        }
        assert_eq!(chunked.len(), plain.len());
        assert_eq!(chunked.chunks.len(), 3);
        assert!(chunked.chunks.iter().all(|c| c.capacity() == CHUNK || c.len() < CHUNK));
        for i in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 4, 2 * CHUNK + 5] {
            assert_eq!(chunked.get(i), plain.get(i), "at {i}");
            let pair = plain.get(i).map(|this| (this, plain.get(i + 1)));
            assert_eq!(chunked.get_and_next(i), pair, "at {i} and after");
        }
        for (a, b) in [(0, CHUNK), (CHUNK + 3, 5), (7, 9), (2 * CHUNK + 4, 1), (0, 3 * CHUNK)] {
            chunked.swap(a, b);
            if a < plain.len() && b < plain.len() {
                plain.swap(a, b);
            }
        }
        if let Some(x) = chunked.get_mut(CHUNK + 2) {
            *x = 99;
        }
        if let Some(x) = plain.get_mut(CHUNK + 2) {
            *x = 99;
        }
        assert!(chunked.iter().eq(plain.iter()));
        for len in [2 * CHUNK + 1, 2 * CHUNK, CHUNK + 1, CHUNK, 3, 0] {
            chunked.truncate(len);
            plain.truncate(len);
            assert_eq!(chunked.len(), len);
            assert!(chunked.iter().eq(plain.iter()), "after truncating to {len}");
            assert_eq!(chunked.chunks.len(), len.div_ceil(CHUNK));
        }
        chunked.push(1);
        assert_eq!(chunked.clone().into_iter().collect::<Vec<_>>(), vec![1]);
    }

    /// A small entity takes no whole chunk; a reservation makes the first
    /// chunk once, up to a whole one.
    #[test]
    fn a_small_one_takes_what_it_holds() {
        let mut chunked = Chunked::default();
        for i in 0..10u64 {
            chunked.push(i);
        }
        assert!(chunked.chunks.first().is_some_and(|c| c.capacity() < 20));
        let mut reserved: Chunked<u64> = Chunked::default();
        reserved.reserve(100);
        assert_eq!(reserved.chunks.first().map(Vec::capacity), Some(100));
        reserved.reserve(10 * CHUNK);
        assert_eq!(reserved.chunks.first().map(Vec::capacity), Some(CHUNK));
        for i in 0..(CHUNK as u64 + 1) {
            reserved.push(i);
        }
        assert_eq!(reserved.chunks.len(), 2);
        assert_eq!(reserved.chunks.get(1).map(Vec::capacity), Some(CHUNK));
    }
}
