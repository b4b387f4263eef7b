//! Every target's name, one after the other, in chunks of 1 MiB: the text
//! grows by adding a chunk, so it is never copied into a larger block. One
//! text of a million names (18 MB) grown by half held the old block and a
//! new one of 27 MB at once, and in wasm, whose memory never shrinks, that
//! moment is what the module keeps: a million targets arriving 10,000 at a
//! time grew the memory by 24 MiB at one part. A name is never split
//! between chunks (one that does not fit where the last ended starts the
//! next chunk), so each is one `&str`.
//!
//! A name is found by where it starts, a position in one space of
//! `chunk << BITS | offset`, and by where the next name starts: it ends
//! there when that is in its chunk, else at its chunk's end.

use std::ops::Range;

/// Bytes per chunk (a power of two: a position splits with a shift). Names
/// are at most `MAX_NAME_BYTES` (200), so a chunk holds thousands.
const BITS: u32 = 20;
const CHUNK: usize = 1 << BITS;

#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    /// The first chunk grows as a `String` does until it holds `CHUNK`
    /// bytes (a small entity takes no more than its names); each later one
    /// is made whole at once.
    chunks: Vec<String>,
}

/// The position of `offset` in chunk `chunk`.
fn position(chunk: usize, offset: usize) -> u32 {
    u32::try_from(chunk << BITS | offset).unwrap_or(u32::MAX)
}

impl Names {
    /// Appends `name` (at most `CHUNK` bytes) and answers where it starts.
    pub(super) fn push(&mut self, name: &str) -> u32 {
        let fits = self.chunks.last().is_some_and(|last| last.len() < CHUNK && last.len().saturating_add(name.len()) <= CHUNK);
        if !fits {
            // The first chunk starts as small as its name; later ones whole.
            let first = self.chunks.is_empty();
            self.chunks.push(String::with_capacity(if first { name.len() } else { CHUNK }));
        }
        let chunk = self.chunks.len().saturating_sub(1);
        let Some(last) = self.chunks.last_mut() else { return 0 };
        let at = last.len();
        if at.saturating_add(name.len()) > last.capacity() {
            // Only the first chunk grows: by as much as it holds, up to a whole one.
            last.reserve_exact(at.max(name.len()).min(CHUNK.saturating_sub(at)).max(name.len()));
        }
        last.push_str(name);
        position(chunk, at)
    }

    /// Makes room for names of `bytes` more bytes in the first chunk, in
    /// one allocation (up to a whole chunk; later chunks are made as they
    /// fill). Growing a block by each part of a fleet that arrives in parts
    /// would leave every old block too small for the next, so the first
    /// chunk grows by half at least.
    pub(super) fn reserve(&mut self, bytes: usize) {
        match self.chunks.as_mut_slice() {
            [] => self.chunks.push(String::with_capacity(bytes.min(CHUNK))),
            [first] if first.len().saturating_add(bytes) > first.capacity() => {
                let more = if bytes < first.len() { bytes.max(first.len() / 2) } else { bytes };
                first.reserve_exact(more.min(CHUNK.saturating_sub(first.len())));
            }
            _ => {}
        }
    }

    /// Where the name that starts at `start` is, when the next one starts
    /// at `next` (`None`: it is the last): its chunk and its bytes there.
    #[inline(always)]
    fn bounds(&self, start: u32, next: Option<u32>) -> Option<(&String, Range<usize>)> {
        let chunk = self.chunks.get((start >> BITS) as usize)?;
        let from = start as usize & (CHUNK - 1);
        let to = match next {
            Some(next) if next >> BITS == start >> BITS => next as usize & (CHUNK - 1),
            _ => chunk.len(),
        };
        Some((chunk, from..to))
    }

    /// The name that starts at `start`, when the next one starts at `next`.
    #[inline(always)]
    pub(super) fn get(&self, start: u32, next: Option<u32>) -> &str {
        self.bounds(start, next).and_then(|(chunk, range)| chunk.get(range)).unwrap_or_default()
    }

    /// [`Names::get`] as bytes (no check of where characters start).
    #[inline(always)]
    pub(super) fn bytes(&self, start: u32, next: Option<u32>) -> Option<&[u8]> {
        self.bounds(start, next).and_then(|(chunk, range)| chunk.as_bytes().get(range))
    }

    /// Keeps the names whose `(start, next)` (as for [`Names::get`]) `kept`
    /// yields, in order, each moved down in place; answers where each now
    /// starts. No name moves past where another is still to be read from:
    /// packing a part of the names in order, as `push` packs them all,
    /// puts each no later than it was.
    pub(super) fn keep(&mut self, kept: impl IntoIterator<Item = (u32, Option<u32>)>) -> Vec<u32> {
        let mut chunks: Vec<Vec<u8>> = std::mem::take(&mut self.chunks).into_iter().map(String::into_bytes).collect();
        let mut starts = Vec::new();
        // Where the next kept name goes: its chunk and the offset there.
        let (mut chunk, mut offset) = (0usize, 0usize);
        let mut used = vec![0usize; chunks.len()];
        for (start, next) in kept {
            let from_chunk = (start >> BITS) as usize;
            let from = start as usize & (CHUNK - 1);
            let to = match next {
                Some(next) if next >> BITS == start >> BITS => next as usize & (CHUNK - 1),
                _ => chunks.get(from_chunk).map_or(from, Vec::len),
            };
            let len = to.saturating_sub(from);
            if offset >= CHUNK || offset.saturating_add(len) > CHUNK {
                (chunk, offset) = (chunk.saturating_add(1), 0);
            }
            if chunk == from_chunk {
                if let Some(bytes) = chunks.get_mut(chunk) {
                    bytes.copy_within(from..to, offset);
                }
            } else {
                // Into an earlier chunk (a move goes down, never up).
                let (before, after) = chunks.split_at_mut(from_chunk);
                if let (Some(into), Some(out)) = (before.get_mut(chunk), after.first().and_then(|out| out.get(from..to))) {
                    let end = offset.saturating_add(len);
                    if into.len() < end {
                        into.resize(end, 0);
                    }
                    if let Some(into) = into.get_mut(offset..end) {
                        into.copy_from_slice(out);
                    }
                }
            }
            starts.push(position(chunk, offset));
            offset = offset.saturating_add(len);
            if let Some(used) = used.get_mut(chunk) {
                *used = offset;
            }
        }
        let chunks_used = if starts.is_empty() { 0 } else { chunk.saturating_add(1) };
        chunks.truncate(chunks_used);
        // Whole names moved whole: each chunk is UTF-8 as it was.
        self.chunks = chunks
            .into_iter()
            .zip(used)
            .map(|(mut bytes, used)| {
                bytes.truncate(used);
                String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            })
            .collect();
        starts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each name's start, and the names read back by (start, next start).
    fn read(names: &Names, starts: &[u32]) -> Vec<String> {
        (0..starts.len()).map(|i| names.get(starts[i], starts.get(i + 1).copied()).to_string()).collect()
    }

    fn fill(names: &mut Names, from: usize, count: usize, width: usize) -> (Vec<u32>, Vec<String>) {
        let text: Vec<String> = (from..from + count).map(|i| format!("{i:0width$}")).collect();
        (text.iter().map(|n| names.push(n)).collect(), text)
    }

    #[test]
    fn names_are_read_back_across_chunks_and_none_is_split() {
        let mut names = Names::default();
        // 150-byte names: 6,990 to a chunk, with 76 bytes left at each end.
        let (starts, text) = fill(&mut names, 0, 20_000, 150);
        assert_eq!(names.chunks.len(), 3);
        assert!(names.chunks.iter().skip(1).all(|c| c.capacity() == CHUNK), "later chunks are made whole");
        assert_eq!(read(&names, &starts), text);
        for (i, start) in starts.iter().enumerate() {
            let bytes = names.bytes(*start, starts.get(i + 1).copied());
            assert_eq!(bytes, Some(text[i].as_bytes()));
        }
    }

    #[test]
    fn the_first_chunk_grows_to_a_whole_one_and_no_further() {
        let mut names = Names::default();
        names.reserve(10);
        names.push("a");
        names.reserve(3 * CHUNK);
        assert_eq!(names.chunks[0].capacity(), CHUNK);
        let (starts, text) = fill(&mut names, 0, 2 * CHUNK / 100, 100);
        assert_eq!(names.chunks[0].capacity(), CHUNK);
        assert_eq!(read(&names, &starts), text);
    }

    #[test]
    fn kept_names_move_down_in_place_and_read_back() {
        for keep_every in [1usize, 2, 3, 7, 1_000_000] {
            let mut names = Names::default();
            let (mut starts, mut text) = fill(&mut names, 0, 12_000, 120);
            let (more, more_text) = fill(&mut names, 12_000, 9_000, 200);
            starts.extend(more);
            text.extend(more_text);
            let kept: Vec<usize> = (0..starts.len()).filter(|i| i % keep_every == 1 % keep_every).collect();
            let pairs: Vec<(u32, Option<u32>)> = kept.iter().map(|&i| (starts[i], starts.get(i + 1).copied())).collect();
            let now = names.keep(pairs);
            let expected: Vec<String> = kept.iter().map(|&i| text[i].clone()).collect();
            assert_eq!(read(&names, &now), expected, "keeping every {keep_every}th");
            // Names added after a compaction read back too.
            let (later, later_text) = fill(&mut names, 50_000, 3_000, 150);
            let all: Vec<u32> = now.iter().copied().chain(later).collect();
            assert_eq!(read(&names, &all), expected.into_iter().chain(later_text).collect::<Vec<_>>());
        }
        let mut names = Names::default();
        fill(&mut names, 0, 10, 5);
        assert!(names.keep([]).is_empty());
        assert!(names.chunks.is_empty());
    }
}
