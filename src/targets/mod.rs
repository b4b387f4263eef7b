//! The targets of an entity, stored for a million of them: each entry is
//! its group's symbol, where its name starts in one text of every name, and
//! the target; a hash table of positions finds one by (group, name). No
//! string is allocated per target: at a million targets the names take the
//! bytes they are, not a heap block each with its header and padding.

use hashbrown::HashTable;

use crate::entity::Target;
use crate::interner::{Interner, Sym, SymLists, TagLists};
use crate::same::{same, same_str};

mod chunked;
mod journal;
mod names;
mod texts;
use chunked::Chunked;
use names::Names;
pub(crate) use texts::Portable;

/// One stored target: its group, where its name starts in [`Targets`]'
/// names (see [`Names`]), and its state.
#[derive(Debug, Clone)]
struct Entry {
    group: Sym,
    name: u32,
    target: Target,
}

/// The targets of an entity. A hash index finds a target in constant time;
/// the entries are stored in the order they arrived, which for a controller
/// that reports in a stable order is the order of its reports: a step then
/// walks the entries front to back, touching memory in order, however large
/// the fleet. Answers, the default selection and hooks see the targets by
/// group then name, through `sorted` (entry positions in that order, kept
/// up to date as targets join and leave).
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets {
    entries: Chunked<Entry>,
    /// Every entry's name, in the entries' order, one after the other.
    names: Names,
    /// The groups' strings (a fleet has few).
    groups: Interner,
    /// The targets' messages and monitor verdicts (a fleet reports few
    /// distinct ones); texts no target holds any longer are dropped by
    /// [`Targets::compact_texts`].
    texts: Interner,
    /// The targets' lists of tags.
    tag_lists: TagLists,
    /// Each target's `extra`: its tags (a symbol of `tag_lists`) and its
    /// monitor verdict (of `texts`), as a pair; the empty list for most.
    extras: SymLists,
    /// While the entity keeps a journal: each entry's [`Target::print`]
    /// when the journal last wrote it (0: never; missing at the end: never),
    /// with bit 0 set when the target reported since ([`Targets::reported`]).
    prints: Vec<u64>,
    /// Entry positions, by a hash of (group, name).
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Entry positions, by (group, name).
    sorted: Vec<u32>,
    /// Where the default selection resumes (see [`Targets::take_not_expecting`]).
    cursor: Cursor,
    /// Counts the changes that moved entries (targets joined or left).
    layout: u64,
    /// While the entity keeps a journal: the (group, name) of each target
    /// the journal has written that left since (some may have come back).
    left: Option<Vec<(Box<str>, Box<str>)>>,
}

/// Every target before `from` in `sorted` expects `version`: a search for
/// targets that do not expect it need not look there. Set by
/// [`Targets::take_not_expecting`]; back to the start whenever targets join
/// or leave, and by [`Targets::rewind`].
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    version: Sym,
    from: u32,
}

/// An entry position as `sorted` and the index keep it (an entity holds
/// far fewer than four billion targets: wasm memory alone ends at 4 GiB).
fn slot(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

impl Targets {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The name of the entry at `position`.
    fn name(&self, position: usize) -> &str {
        name_in(&self.entries, &self.names, position)
    }

    /// The (group, name) of the entry at `position`.
    fn key(&self, position: u32) -> Option<(&str, &str)> {
        let position = position as usize;
        self.entries.get(position).map(|e| (self.groups.resolve(e.group), self.name(position)))
    }

    fn hash(hasher: &foldhash::fast::RandomState, group: Sym, name: &str) -> u64 {
        use std::hash::BuildHasher;
        hasher.hash_one((group.index(), name))
    }

    /// Where the target is stored (valid until targets join or leave).
    pub(crate) fn position(&self, group: &str, name: &str) -> Option<usize> {
        let group = self.groups.lookup(group)?;
        self.find(group, name)
    }

    fn find(&self, group: Sym, name: &str) -> Option<usize> {
        let hash = Self::hash(&self.hasher, group, name);
        let (entries, names) = (&self.entries, &self.names);
        let eq = |&p: &u32| entries.get(p as usize).is_some_and(|e| e.group == group) && name_in(entries, names, p as usize) == name;
        self.index.find(hash, eq).map(|&p| p as usize)
    }

    pub(crate) fn get(&self, group: &str, name: &str) -> Option<&Target> {
        self.position(group, name).and_then(|p| self.entries.get(p)).map(|e| &e.target)
    }

    pub(crate) fn get_mut(&mut self, group: &str, name: &str) -> Option<&mut Target> {
        self.position(group, name).and_then(|p| self.entries.get_mut(p)).map(|e| &mut e.target)
    }

    /// [`Targets::position`], trying `hint` first: a caller that reports
    /// its targets in the same order every time finds each where the last
    /// report found it, reading the entry alone (no hash lookup).
    pub(crate) fn position_hinted(&self, group: &str, name: &str, hint: u32) -> Option<usize> {
        let at = hint as usize;
        if let Some((entry, stored)) = name_bytes(&self.entries, &self.names, at) {
            // Bytes compared: a name's bounds need no check of where its
            // characters start.
            if same(stored, name.as_bytes()) && same_str(self.groups.resolve(entry.group), group) {
                return Some(at);
            }
        }
        self.position(group, name)
    }

    /// The target at a [`Targets::position`], with its group and name.
    #[inline(always)]
    pub(crate) fn at(&self, position: usize) -> Option<(&str, &str, &Target)> {
        let entry = self.entries.get(position)?;
        Some((self.groups.resolve(entry.group), self.name(position), &entry.target))
    }

    /// The target at a [`Targets::position`], without its group and name.
    pub(crate) fn target(&self, position: usize) -> Option<&Target> {
        self.entries.get(position).map(|e| &e.target)
    }

    /// The target at a [`Targets::position`].
    pub(crate) fn at_mut(&mut self, position: usize) -> Option<&mut Target> {
        self.entries.get_mut(position).map(|e| &mut e.target)
    }

    /// Inserts or replaces a target; returns the one it replaced.
    pub(crate) fn insert(&mut self, group: &str, name: &str, target: Target) -> Option<Target> {
        if let Some(existing) = self.get_mut(group, name) {
            let replaced = std::mem::replace(existing, target);
            self.rewind();
            return Some(replaced);
        }
        self.extend(std::iter::once((group, name, target)));
        None
    }

    /// Appends an entry and indexes it; the caller has checked that there
    /// is none by that name.
    fn push(&mut self, group: &str, name: &str, target: Target) {
        let group = self.groups.intern(group);
        self.push_in(group, name, target);
    }

    fn push_in(&mut self, group: Sym, name: &str, target: Target) {
        let position = slot(self.entries.len());
        let start = self.names.push(name);
        self.entries.push(Entry { group, name: start, target });
        if !self.prints.is_empty() {
            self.prints.push(0);
        }
        let hash = Self::hash(&self.hasher, group, name);
        let (entries, names, hasher) = (&self.entries, &self.names, &self.hasher);
        self.index.insert_unique(hash, position, |&p| rehash(hasher, entries, names, p));
    }

    /// Makes room for `targets` more targets whose names take `bytes`, in
    /// one allocation each (wasm memory never shrinks: a chain of
    /// doublings would keep its peak, the old and the new block at once).
    /// The entries and the names are kept in chunks ([`Chunked`],
    /// [`Names`]): they grow without a copy. The index is one table.
    pub(crate) fn reserve(&mut self, targets: usize, bytes: usize) {
        // The index first: it fits where the report's table of new names
        // was just freed (see `intake::locate`).
        let (entries, names, hasher) = (&self.entries, &self.names, &self.hasher);
        self.index.reserve(targets, |&p| rehash(hasher, entries, names, p));
        self.names.reserve(bytes);
        self.entries.reserve(targets);
    }

    /// Makes room in the sorted order for `targets` more added by
    /// [`Targets::push_last`] (a restore, which knows how many come).
    pub(crate) fn reserve_sorted(&mut self, targets: usize) {
        self.sorted.reserve_exact(targets);
    }

    /// Adds a target that is not there yet after the others; it joins the
    /// sorted order with the others that arrived at
    /// [`Targets::arrived_since`].
    pub(crate) fn append(&mut self, group: &str, name: &str, target: Target) {
        self.push(group, name, target);
    }

    /// The symbol of a group, adding it if it is new (see
    /// [`Targets::push_last`]).
    pub(crate) fn intern_group(&mut self, group: &str) -> Sym {
        self.groups.intern(group)
    }

    /// Adds a target whose (group, name) comes after every stored
    /// target's, to targets stored in that order (a snapshot's, which
    /// come sorted): it is neither looked up nor sorted. Answers false and
    /// stores nothing when it does not come after the last one (so is out
    /// of order, or there twice), or the stored order is not the sorted
    /// one.
    pub(crate) fn push_last(&mut self, group: Sym, name: &str, target: Target) -> bool {
        if let Some(last) = self.entries.len().checked_sub(1) {
            let after = match self.entries.get(last) {
                Some(e) if e.group == group => name > self.name(last),
                Some(e) => self.groups.resolve(group) > self.groups.resolve(e.group),
                None => false,
            };
            if !after || self.sorted.last() != Some(&slot(last)) {
                return false;
            }
        }
        self.sorted.push(slot(self.entries.len()));
        self.push_in(group, name, target);
        self.relaid();
        true
    }

    /// Adds targets that are not there yet, after the others, in the order
    /// given (one that is there is replaced in place).
    pub(crate) fn extend<G: AsRef<str>, N: AsRef<str>>(&mut self, targets: impl IntoIterator<Item = (G, N, Target)>) {
        let targets = targets.into_iter();
        // One allocation for a batch of arrivals, not a chain of doublings
        // (wasm memory never shrinks: the peak is what stays).
        let more = targets.size_hint().0;
        self.entries.reserve(more);
        let (entries, names, hasher) = (&self.entries, &self.names, &self.hasher);
        self.index.reserve(more, |&p| rehash(hasher, entries, names, p));
        let first = self.entries.len();
        for (group, name, target) in targets {
            let (group, name) = (group.as_ref(), name.as_ref());
            match self.position(group, name) {
                Some(p) => {
                    if let Some(e) = self.entries.get_mut(p) {
                        e.target = target;
                    }
                }
                None => self.push(group, name, target),
            }
        }
        if self.entries.len() == first {
            self.rewind();
            return;
        }
        self.arrived_since(first);
    }

    /// The targets stored from position `first` on arrived (by
    /// [`Targets::append`]): they join the sorted order.
    pub(crate) fn arrived_since(&mut self, first: usize) {
        if self.entries.len() <= first {
            return;
        }
        self.relaid();
        // The newcomers join the sorted order in one merge.
        let mut arrived: Vec<u32> = (first..self.entries.len()).map(slot).collect();
        arrived.sort_unstable_by(|&a, &b| self.key(a).cmp(&self.key(b)));
        if self.sorted.is_empty() {
            // All of them are new: nothing to merge with.
            self.sorted = arrived;
            return;
        }
        // Merged in place, from the back: a new order beside the old one
        // would hold both (at a million targets, 4 MB more at every part
        // of a fleet that arrives in parts, and wasm memory keeps its peak).
        let mut sorted = std::mem::take(&mut self.sorted);
        let mut i = sorted.len();
        sorted.resize(i.saturating_add(arrived.len()), 0);
        let mut j = arrived.len();
        for k in (0..sorted.len()).rev() {
            let (Some(b), a) =
                (j.checked_sub(1).and_then(|j| arrived.get(j)).copied(), i.checked_sub(1).and_then(|i| sorted.get(i)).copied())
            else {
                break; // the arrivals are placed; the old ones before them stay
            };
            let value = match a {
                Some(a) if self.key(a) > self.key(b) => {
                    i = i.saturating_sub(1);
                    a
                }
                _ => {
                    j = j.saturating_sub(1);
                    b
                }
            };
            if let Some(slot) = sorted.get_mut(k) {
                *slot = value;
            }
        }
        self.sorted = sorted;
    }

    /// Adds the target made by `make` unless there is one by that name.
    /// Answers whether it inserted.
    pub(crate) fn insert_if_absent(&mut self, group: &str, name: &str, make: impl FnOnce() -> Target) -> bool {
        let absent = self.position(group, name).is_none();
        if absent {
            self.extend(std::iter::once((group, name, make())));
        }
        absent
    }

    /// Puts targets back where they were stored (`position`, ascending),
    /// as when a failed step is undone.
    pub(crate) fn restore(&mut self, targets: Vec<(usize, String, String, Target)>) {
        if targets.is_empty() {
            return;
        }
        // The targets' symbols are of these texts and lists: they stay.
        let (texts, tag_lists, extras) = (self.texts.copy(), self.tag_lists.copy(), self.extras.copy());
        let mut prints = std::mem::take(&mut self.prints);
        let mut left = std::mem::take(&mut self.left);
        let layout = self.layout;
        let mut all: Vec<(Box<str>, Box<str>, Target)> = std::mem::take(self).into_entries().map(|(g, n, p)| (g, n, p.target)).collect();
        for (position, group, name, target) in targets {
            if let Some(left) = &mut left {
                left.retain(|(g, n)| **g != *group || **n != *name);
            }
            if !prints.is_empty() {
                prints.insert(position.min(prints.len()), 0);
            }
            all.insert(position.min(all.len()), (group.into(), name.into(), target));
        }
        self.texts = texts;
        self.tag_lists = tag_lists;
        self.extras = extras;
        self.extend(all);
        self.layout = layout;
        self.left = left;
        self.prints = prints;
        self.relaid();
    }

    /// Removes one target, keeping the order (linear: for a few targets;
    /// [`Targets::retain`] removes many in one pass).
    pub(crate) fn remove(&mut self, group: &str, name: &str) -> Option<Target> {
        let position = self.position(group, name)?;
        let mut removed = None;
        let mut at = 0usize;
        self.retain(|_, _, target| {
            let stays = at != position;
            if !stays {
                removed = Some(target.clone());
            }
            at = at.saturating_add(1);
            stays
        });
        removed
    }

    /// Keeps the targets for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &str, &Target) -> bool) {
        // Where each entry moves (`u32::MAX`: it leaves).
        let mut moved = Vec::with_capacity(self.entries.len());
        let mut kept = 0u32;
        let Targets { entries, names, groups, left, prints, .. } = self;
        for (position, entry) in entries.iter().enumerate() {
            let (group, name) = (groups.resolve(entry.group), name_in(entries, names, position));
            let stays = keep(group, name, &entry.target);
            let written = prints.get(position).is_some_and(|&p| p != 0);
            if let (false, Some(left), true) = (stays, left.as_mut(), written) {
                left.push((group.into(), name.into()));
            }
            moved.push(if stays { kept } else { u32::MAX });
            kept = kept.saturating_add(u32::from(stays));
        }
        if kept as usize == self.entries.len() {
            return;
        }
        // The kept names move down in place, and the entries with them.
        let entries = &self.entries;
        let kept_names = (0..entries.len())
            .filter(|&read| moved.get(read).is_some_and(|&m| m != u32::MAX))
            .filter_map(|read| entries.get_and_next(read).map(|(e, next)| (e.name, next.map(|n| n.name))));
        let starts = self.names.keep(kept_names);
        let mut write = 0usize;
        for read in 0..self.entries.len() {
            if moved.get(read).is_some_and(|&m| m != u32::MAX) {
                self.entries.swap(write, read);
                if let (Some(e), Some(&start)) = (self.entries.get_mut(write), starts.get(write)) {
                    e.name = start;
                }
                write = write.saturating_add(1);
            }
        }
        self.entries.truncate(write);
        if !self.prints.is_empty() {
            let mut at = 0usize;
            self.prints.retain(|_| {
                at = at.saturating_add(1);
                moved.get(at.saturating_sub(1)).is_some_and(|&m| m != u32::MAX)
            });
        }
        self.reindex();
        self.relaid();
        self.sorted = self.sorted.iter().filter_map(|&p| moved.get(p as usize).copied().filter(|&p| p != u32::MAX)).collect();
    }

    /// Builds the hash index again (entries moved).
    fn reindex(&mut self) {
        self.index.clear();
        let (entries, names, hasher) = (&self.entries, &self.names, &self.hasher);
        self.index.reserve(entries.len(), |&p| rehash(hasher, entries, names, p));
        for position in 0..entries.len() {
            let hash = rehash(hasher, entries, names, slot(position));
            self.index.insert_unique(hash, slot(position), |&p| rehash(hasher, entries, names, p));
        }
    }

    /// The positions of the first `limit` targets, by group then name, that
    /// do not expect `version`, for the caller to move every one of them to
    /// it. The next call for the same version resumes after the last target
    /// looked at: a rollout's selection walks the fleet once in all, not
    /// once per step past every target already moved.
    pub(crate) fn take_not_expecting(&mut self, version: Sym, limit: usize) -> Vec<usize> {
        let from = if self.cursor.version == version { self.cursor.from as usize } else { 0 };
        let mut taken = Vec::with_capacity(limit.min(self.sorted.len()));
        let mut next = from;
        for &position in self.sorted.get(from..).unwrap_or_default() {
            if taken.len() >= limit {
                break;
            }
            next = next.saturating_add(1);
            if self.entries.get(position as usize).is_some_and(|e| e.target.expected != version) {
                taken.push(position as usize);
            }
        }
        self.cursor = Cursor { version, from: slot(next) };
        taken
    }

    /// A copy, entry for entry (positions, order and cursor too).
    pub(crate) fn copy(&self) -> Targets {
        // The index holds positions, which mean the same in the copy.
        Targets {
            entries: self.entries.clone(),
            names: self.names.clone(),
            groups: self.groups.copy(),
            texts: self.texts.copy(),
            tag_lists: self.tag_lists.copy(),
            extras: self.extras.copy(),
            prints: self.prints.clone(),
            index: self.index.clone(),
            hasher: self.hasher.clone(),
            sorted: self.sorted.to_vec(),
            cursor: self.cursor,
            layout: self.layout,
            left: self.left.as_ref().map(|left| left.iter().map(|(g, n)| (g.clone(), n.clone())).collect()),
        }
    }

    /// Which layout the entries are in: positions taken under one layout
    /// hold as long as it is the same.
    pub(crate) fn layout(&self) -> u64 {
        self.layout
    }

    /// Entries moved (targets joined or left).
    fn relaid(&mut self) {
        self.layout = self.layout.wrapping_add(1);
        self.rewind();
    }

    /// Forgets where the default selection was: for a caller that changes
    /// which version targets expect other than through
    /// [`Targets::take_not_expecting`].
    pub(crate) fn rewind(&mut self) {
        self.cursor = Cursor::default();
    }

    /// Puts stored positions in (group, name) order.
    pub(crate) fn sort_by_name(&self, positions: &mut Vec<usize>) {
        // A few: compare their keys. Many: one pass over the sorted order,
        // which reads no key (the keys are all over memory).
        if positions.len().saturating_mul(32) < self.sorted.len() {
            positions.sort_unstable_by(|&a, &b| self.key(slot(a)).cmp(&self.key(slot(b))));
            return;
        }
        let mut marked = vec![false; self.entries.len()];
        for &position in positions.iter() {
            if let Some(mark) = marked.get_mut(position) {
                *mark = true;
            }
        }
        positions.clear();
        positions.extend(self.sorted_positions().filter(|&p| marked.get(p).copied().unwrap_or(false)));
    }

    /// Every target in the order stored, without its group and name: for
    /// walks that need neither (most of a step's).
    pub(crate) fn all(&self) -> impl Iterator<Item = &Target> {
        self.entries.iter().map(|e| &e.target)
    }

    /// [`Targets::all`], to change them.
    pub(crate) fn all_mut(&mut self) -> impl Iterator<Item = &mut Target> {
        self.entries.iter_mut().map(|e| &mut e.target)
    }

    /// Every target by group, then name, without its group and name.
    pub(crate) fn sorted_targets(&self) -> impl Iterator<Item = &Target> {
        self.sorted.iter().filter_map(|&p| self.entries.get(p as usize)).map(|e| &e.target)
    }

    /// Every target in the order stored (arrival order): for walks whose
    /// order does not matter.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &Target)> {
        (0..self.entries.len()).filter_map(|p| self.at(p))
    }

    /// Every target, moved out, in the order stored (see
    /// [`Targets::adopt`]).
    pub(crate) fn into_entries(mut self) -> impl Iterator<Item = (Box<str>, Box<str>, Portable)> {
        let entries = std::mem::take(&mut self.entries);
        let starts: Vec<u32> = entries.iter().map(|e| e.name).collect();
        entries.into_iter().enumerate().map(move |(i, e)| {
            let name = self.names.get(e.name, starts.get(i.saturating_add(1)).copied());
            (Box::from(self.groups.resolve(e.group)), Box::from(name), self.portable(e.target))
        })
    }

    /// Where each target is stored, by group, then name.
    pub(crate) fn sorted_positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.sorted.iter().map(|&p| p as usize)
    }

    /// Every target by group, then name: the order of answers, of the
    /// default selection and of what hooks see.
    pub(crate) fn sorted(&self) -> impl Iterator<Item = (&str, &str, &Target)> {
        self.sorted.iter().filter_map(|&p| self.at(p as usize))
    }

    /// The target of `rank` by group, then name.
    pub(crate) fn by_rank(&self, rank: usize) -> Option<(&str, &str, &Target)> {
        self.at(*self.sorted.get(rank)? as usize)
    }

    /// The targets of one group (an exact match), in name order.
    pub(crate) fn group(&self, group: &str) -> impl Iterator<Item = (&str, &str, &Target)> {
        let in_group = |p: &u32| self.key(*p).map(|(g, _)| g);
        let start = self.sorted.partition_point(|p| in_group(p).is_some_and(|g| g < group));
        let end = self.sorted.partition_point(|p| in_group(p).is_some_and(|g| g <= group));
        self.sorted.get(start..end.max(start)).unwrap_or_default().iter().filter_map(|&p| self.at(p as usize))
    }
}

/// The name of entry `position` (see [`Names::get`]).
fn name_in<'a>(entries: &Chunked<Entry>, names: &'a Names, position: usize) -> &'a str {
    entries.get_and_next(position).map_or("", |(entry, next)| names.get(entry.name, next.map(|e| e.name)))
}

/// The entry at `position` and its name's bytes.
#[inline(always)]
fn name_bytes<'e, 'n>(entries: &'e Chunked<Entry>, names: &'n Names, position: usize) -> Option<(&'e Entry, &'n [u8])> {
    let (entry, next) = entries.get_and_next(position)?;
    Some((entry, names.bytes(entry.name, next.map(|e| e.name))?))
}

/// The hash of the entry at `position`, for the index to grow by.
fn rehash(hasher: &foldhash::fast::RandomState, entries: &Chunked<Entry>, names: &Names, position: u32) -> u64 {
    let group = entries.get(position as usize).map_or(Sym::EMPTY, |e| e.group);
    Targets::hash(hasher, group, name_in(entries, names, position as usize))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::RolloutOptions;

    /// A new target whose message is `message` (for the tests of
    /// `Targets`, here and in its parts).
    pub(super) fn target(targets: &mut Targets, message: &str) -> Target {
        let mut t = Target::arriving(Sym::EMPTY, Sym::EMPTY, 0, &RolloutOptions::default());
        t.message = targets.intern_text(message);
        t
    }

    #[test]
    fn names_survive_removals_and_restores() {
        let mut targets = Targets::default();
        for i in 0..100 {
            let t = target(&mut targets, &format!("m{i}"));
            targets.append(&format!("g{}", i % 3), &format!("name-{i}"), t);
        }
        targets.arrived_since(0);
        let kept: Vec<usize> = (0..100).filter(|i| i % 7 != 0).collect();
        let mut at = 0;
        targets.retain(|_, _, _| {
            at += 1;
            (at - 1) % 7 != 0
        });
        assert_eq!(targets.len(), kept.len());
        for (p, &i) in kept.iter().enumerate() {
            let (group, name, t) = targets.at(p).unwrap();
            assert_eq!((group, name), (format!("g{}", i % 3).as_str(), format!("name-{i}").as_str()));
            assert_eq!(targets.text(t.message), format!("m{i}"));
            assert_eq!(targets.position(group, name), Some(p));
        }
        assert_eq!(targets.position("g0", "name-0"), None);
        // Sorted by group, then name.
        let sorted: Vec<(String, String)> = targets.sorted().map(|(g, n, _)| (g.to_owned(), n.to_owned())).collect();
        let mut expected = sorted.clone();
        expected.sort();
        assert_eq!(sorted, expected);
        let back = target(&mut targets, "back");
        targets.restore(vec![(0, "g0".into(), "name-0".into(), back)]);
        assert_eq!(targets.position("g0", "name-0"), Some(0));
        assert_eq!(targets.text(targets.at(0).unwrap().2.message), "back");
        assert_eq!(targets.position("g1", "name-1"), Some(1));
        assert_eq!(targets.text(targets.at(1).unwrap().2.message), "m1");
    }
}
