//! What a journal needs of the targets: each one's print when the journal
//! last wrote it (and whether it reported since), and which targets left.

use super::Targets;
use crate::bits::Bits;

impl Targets {
    /// The target's print as it is now counts as written by the journal.
    pub(crate) fn persisted(&mut self, group: &str, name: &str) {
        let Some(position) = self.position(group, name) else { return };
        let print = self.entries.get(position).map_or(0, |e| e.target.print());
        if self.prints.len() <= position {
            self.prints.resize(self.entries.len(), 0);
        }
        if let Some(slot) = self.prints.get_mut(position) {
            *slot = print;
        }
    }

    /// The target at `position` reported (its `last_seen` is new): while a
    /// journal is kept, its next delta must say when it was seen.
    pub(crate) fn reported(&mut self, position: usize) {
        // A target never written is written whole anyway.
        if let Some(print) = self.prints.get_mut(position).filter(|p| **p != 0) {
            *print |= 1;
        }
    }

    /// Every target's print becomes its `persisted` one; answers, for each,
    /// whether it changed: its print, or (with `seen`, a delta's time) its
    /// `last_seen`, when it reported since and was not last seen then (a
    /// delta says which targets were seen at its time, and the others keep
    /// theirs).
    pub(crate) fn persist(&mut self, seen: Option<i64>) -> Bits {
        let mut prints = std::mem::take(&mut self.prints);
        prints.resize(self.entries.len(), 0);
        let mut changed = Bits::new(self.entries.len());
        for (position, (e, persisted)) in self.entries.iter().zip(prints.iter_mut()).enumerate() {
            let print = e.target.print();
            let reported = *persisted & 1 == 1;
            if print != *persisted & !1 || (reported && seen.is_some_and(|s| e.target.last_seen.get() != s)) {
                changed.insert(position);
            }
            *persisted = print;
        }
        self.prints = prints;
        changed
    }

    /// Starts (or restarts) recording which targets leave: the journal
    /// wrote every target there is.
    pub(crate) fn track_leaving(&mut self) {
        self.left = Some(Vec::new());
    }

    /// The targets that left since [`Targets::track_leaving`] and are not
    /// back, each once (a target put back by [`Targets::restore`] is no
    /// longer listed); recording starts afresh.
    pub(crate) fn take_left(&mut self) -> Vec<(Box<str>, Box<str>)> {
        let mut left = self.left.replace(Vec::new()).unwrap_or_default();
        left.retain(|(group, name)| self.position(group, name).is_none());
        left
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::target;
    use super::*;

    #[test]
    fn a_journal_sees_every_change_across_a_compaction() {
        let mut targets = Targets::default();
        for i in 0..10 {
            let t = target(&mut targets, &format!("m{i}"));
            targets.append("g", &format!("t{i}"), t);
        }
        targets.arrived_since(0);
        targets.persist(None);
        let original = targets.at(5).map(|(_, _, t)| t.message);
        // Target 5 changes once; target 0 on every round, until the texts
        // are compacted. Target 5's new text then takes the symbol its old
        // one had: the journal must still see it changed.
        let changed = targets.intern_text("changed");
        targets.at_mut(5).unwrap().message = changed;
        for round in 0..1100 {
            let sym = targets.intern_text(&format!("round {round}"));
            targets.at_mut(0).unwrap().message = sym;
            targets.compact_texts();
        }
        assert!(targets.texts.len() < 100, "compacted");
        assert_eq!(targets.at(5).map(|(_, _, t)| t.message), original, "the same symbol, another text");
        let written = targets.persist(None);
        let positions: Vec<usize> = (0..10).filter(|&p| written.contains(p)).collect();
        assert_eq!(positions, [0, 5]);
        assert_eq!(written.count(), 2);
        assert_eq!(targets.persist(None).count(), 0, "written once");
    }
}
