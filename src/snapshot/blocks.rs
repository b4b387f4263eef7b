//! Snapshot and delta bytes held in blocks of a bounded size, not in one
//! buffer.
//!
//! A million targets' rows are megabytes. Wasm memory keeps its peak, and a
//! buffer of 8 MB needs a free stretch of 8 MB: after a fleet has arrived,
//! the holes its growth left are smaller than that, so one such buffer grows
//! the memory by its whole size (9.1 MiB at the step that starts a rollout
//! of a million targets in a Durable Object), where blocks of
//! [`BLOCK`] bytes fit in the holes. The package hands the blocks to
//! JavaScript one after another (`src/wasm/`), so the bytes are never
//! whole in wasm memory; Rust callers get one `Vec` ([`Blocks::into_vec`]).

use serde::{Serialize, Serializer};

/// The most bytes a block is made with, unless one write needs more.
pub(crate) const BLOCK: usize = 256 * 1024;

/// A snapshot's or delta's bytes in order, in blocks: an entity's rows in
/// blocks of at most 256 KiB, the rest of its envelope in a block before
/// and one after them (a snapshot of several entities is one block): what
/// [`Engine::snapshot_blocks`](crate::Engine::snapshot_blocks) and its
/// kin answer, for a caller that copies them out one by one (the npm
/// package into one `Uint8Array`) so that they are never whole in wasm
/// memory. [`into_vec`](Self::into_vec) joins them.
#[derive(Default, Debug)]
pub struct Blocks {
    // Those before the last, and the last, which is written to.
    before: Vec<Vec<u8>>,
    last: Vec<u8>,
}

impl Blocks {
    /// How many bytes the blocks hold together.
    pub fn len(&self) -> usize {
        self.pieces().map(<[u8]>::len).sum()
    }

    /// Whether they hold no bytes.
    pub fn is_empty(&self) -> bool {
        self.pieces().next().is_none()
    }

    /// The blocks' bytes, in order (none empty).
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.before.iter().chain(std::iter::once(&self.last)).map(Vec::as_slice).filter(|piece| !piece.is_empty())
    }

    /// The first block's bytes (an envelope's header is there).
    pub(crate) fn first(&self) -> &[u8] {
        self.pieces().next().unwrap_or_default()
    }

    /// The last block, with room for `bytes` more without growing: a new
    /// block when it has not.
    pub(crate) fn room(&mut self, bytes: usize) -> &mut Vec<u8> {
        if self.last.capacity().saturating_sub(self.last.len()) < bytes {
            self.push(Vec::with_capacity(BLOCK.max(bytes)));
        }
        &mut self.last
    }

    /// `bytes` as the next block, as they are (no copy).
    pub(crate) fn push(&mut self, bytes: Vec<u8>) {
        let last = std::mem::replace(&mut self.last, bytes);
        if !last.is_empty() {
            self.before.push(last);
        }
    }

    /// `other`'s blocks after these.
    pub(crate) fn append(&mut self, other: Blocks) {
        other.before.into_iter().chain(std::iter::once(other.last)).for_each(|block| self.push(block));
    }

    /// The bytes in one buffer (the block itself when there is one).
    pub fn into_vec(mut self) -> Vec<u8> {
        if self.before.is_empty() {
            return self.last;
        }
        if self.last.is_empty() && self.before.len() == 1 {
            return self.before.pop().unwrap_or_default();
        }
        let mut whole = Vec::with_capacity(self.len());
        self.pieces().for_each(|piece| whole.extend_from_slice(piece));
        whole
    }
}

impl From<Vec<u8>> for Blocks {
    fn from(bytes: Vec<u8>) -> Self {
        let mut blocks = Blocks::default();
        blocks.push(bytes);
        blocks
    }
}

/// As postcard writes a `&[u8]` (its length, then the bytes). Several
/// blocks are joined for it: the envelope writes the rows around their
/// blocks instead (`envelope_around`), so this is the path of an engine's
/// snapshot of several entities.
impl Serialize for Blocks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.before.is_empty() {
            return serializer.serialize_bytes(&self.last);
        }
        serializer.serialize_bytes(&self.pieces().flatten().copied().collect::<Vec<u8>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_with_room_stay_in_order_across_blocks() {
        let mut blocks = Blocks::default();
        assert_eq!(blocks.len(), 0);
        assert!(blocks.first().is_empty());
        let mut expected = Vec::new();
        for i in 0..200_000u32 {
            let row = i.to_le_bytes();
            blocks.room(row.len()).extend_from_slice(&row);
            expected.extend_from_slice(&row);
        }
        assert!(blocks.pieces().count() > 1, "800,000 bytes take several blocks of {BLOCK}");
        assert!(blocks.pieces().all(|piece| piece.len() <= BLOCK));
        assert_eq!(blocks.len(), expected.len());
        assert_eq!(blocks.into_vec(), expected);
    }

    #[test]
    fn a_write_larger_than_a_block_gets_a_block_of_its_own() {
        let mut blocks = Blocks::from(vec![1, 2, 3]);
        blocks.room(BLOCK + 10).extend(std::iter::repeat(7).take(BLOCK + 10));
        blocks.push(Vec::new());
        blocks.push(vec![9]);
        let whole = blocks.into_vec();
        assert_eq!(whole.len(), 3 + BLOCK + 10 + 1);
        assert_eq!(whole.first(), Some(&1));
        assert_eq!(whole.last(), Some(&9));
    }

    #[test]
    fn one_block_is_moved_not_copied() {
        let bytes = vec![5u8; 100];
        let at = bytes.as_ptr();
        let moved = Blocks::from(bytes).into_vec();
        assert_eq!(moved.as_ptr(), at);
    }

    #[test]
    fn serialized_as_one_byte_string() {
        let mut blocks = Blocks::default();
        blocks.room(BLOCK).extend(std::iter::repeat(1).take(BLOCK));
        blocks.room(2).extend([2, 3]);
        let joined = blocks.pieces().flatten().copied().collect::<Vec<u8>>();
        let expected = postcard::to_allocvec(&serde_bytes_like(&joined)).unwrap();
        assert_eq!(postcard::to_allocvec(&blocks).unwrap(), expected);
    }

    /// A byte string as postcard writes `&[u8]` through `serialize_bytes`.
    fn serde_bytes_like(bytes: &[u8]) -> impl Serialize + '_ {
        struct Raw<'a>(&'a [u8]);
        impl Serialize for Raw<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(self.0)
            }
        }
        Raw(bytes)
    }
}
