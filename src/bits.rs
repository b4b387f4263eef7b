//! A bit per target position: which targets a walk has marked (named by a
//! report, written by a journal, seen at a delta's time). A million
//! targets take 125 KB, where a flag a byte would take 1 MB of wasm memory.

pub(crate) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    /// `len` positions, none marked.
    pub(crate) fn new(len: usize) -> Self {
        Bits { words: vec![0; len.div_ceil(64)] }
    }

    /// Marks `position`; answers whether it was marked already (nothing
    /// past the end is marked).
    pub(crate) fn insert(&mut self, position: usize) -> bool {
        self.words.get_mut(position / 64).is_some_and(|word| {
            let bit = 1u64 << (position % 64);
            let was = *word & bit != 0;
            *word |= bit;
            was
        })
    }

    /// Whether `position` is marked.
    pub(crate) fn contains(&self, position: usize) -> bool {
        self.words.get(position / 64).is_some_and(|word| word & (1 << (position % 64)) != 0)
    }

    /// How many positions are marked.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_each_position_once() {
        let mut bits = Bits::new(130);
        assert!(!bits.insert(0) && !bits.insert(64) && !bits.insert(129));
        assert!(bits.insert(64), "marked already");
        assert!(!bits.insert(192), "past the last word");
        assert!(bits.contains(0) && bits.contains(129) && !bits.contains(1) && !bits.contains(192));
        assert_eq!(bits.count(), 3);
    }
}
