//! The targets' texts: their messages, monitor verdicts and tag lists,
//! interned per entity (a fleet reports few distinct ones) and dropped once
//! no target holds them; and a target moved between two [`Targets`] with
//! its texts by value.

use super::Targets;
use crate::entity::Target;
use crate::interner::{Interner, Sym, SymLists, TagLists};

impl Targets {
    /// A text of the targets' (a message), by its symbol.
    pub(crate) fn text(&self, sym: Sym) -> &str {
        self.texts.resolve(sym)
    }

    /// The symbol of a text, adding it if it is new.
    pub(crate) fn intern_text(&mut self, text: &str) -> Sym {
        self.texts.intern(text)
    }

    /// A list of tags of the targets', by its symbol (see
    /// [`Targets::tags_sym`]).
    pub(crate) fn tag_list(&self, sym: Sym) -> &[String] {
        self.tag_lists.resolve(sym)
    }

    /// The symbol of a list of tags, adding it if it is new.
    pub(crate) fn intern_tags(&mut self, tags: &[String]) -> Sym {
        self.tag_lists.intern(tags)
    }

    /// The (tags, verdict) symbols of a target's `extra`.
    pub(crate) fn pair(&self, extra: Sym) -> (Sym, Sym) {
        match *self.extras.resolve(extra) {
            [tags, detail] => (tags, detail),
            _ => (Sym::EMPTY, Sym::EMPTY),
        }
    }

    /// The `extra` of the pair (tags, verdict).
    pub(crate) fn extra(&mut self, tags: Sym, detail: Sym) -> Sym {
        if tags.is_empty() && detail.is_empty() {
            return Sym::EMPTY;
        }
        self.extras.intern(&[tags, detail])
    }

    /// The tags of a target's `extra`.
    pub(crate) fn tags_of_extra(&self, extra: Sym) -> &[String] {
        self.tag_list(self.pair(extra).0)
    }

    /// The monitor verdict's symbol of a target's `extra`.
    pub(crate) fn detail_of_extra(&self, extra: Sym) -> Sym {
        self.pair(extra).1
    }

    /// The tags the target last reported.
    pub(crate) fn tags_of(&self, target: &Target) -> &[String] {
        self.tag_list(self.pair(target.extra).0)
    }

    /// Why the monitor hook failed the target, when it did (else `""`).
    pub(crate) fn detail_of(&self, target: &Target) -> &str {
        self.text(self.pair(target.extra).1)
    }

    /// Sets the monitor verdict of the target at `position`.
    pub(crate) fn set_detail(&mut self, position: usize, detail: Sym) {
        let Some(extra) = self.entries.get(position).map(|e| e.target.extra) else { return };
        if extra.is_empty() && detail.is_empty() {
            return;
        }
        let extra = self.extra(self.pair(extra).0, detail);
        if let Some(e) = self.entries.get_mut(position) {
            e.target.extra = extra;
        }
    }

    /// Drops the texts and tag lists no target holds, once they outnumber
    /// the targets (a fleet whose messages change keeps adding texts).
    /// Symbols change: to be called when no target is held outside
    /// (between steps).
    pub(crate) fn compact_texts(&mut self) {
        let limit = self.entries.len().saturating_mul(2).saturating_add(1024);
        if self.texts.len() <= limit && self.tag_lists.len() <= limit && self.extras.len() <= limit {
            return;
        }
        // Every table made again from what the targets hold; a journal's
        // prints (made of symbols) made again for the targets it has
        // written as they are.
        let (texts, tag_lists, extras) =
            (std::mem::take(&mut self.texts), std::mem::take(&mut self.tag_lists), std::mem::take(&mut self.extras));
        let (mut new_texts, mut new_lists, mut new_extras) = (Interner::default(), TagLists::default(), SymLists::default());
        let mut prints = std::mem::take(&mut self.prints);
        let mut persisted = prints.iter_mut();
        for entry in self.entries.iter_mut() {
            let t = &mut entry.target;
            // Written as it is, or changed since (0: written next time).
            let written = persisted.next().map(|p| {
                let unchanged = *p & !1 == t.print();
                let reported = *p & 1;
                *p = 0;
                (p, unchanged, reported)
            });
            t.message = new_texts.intern(texts.resolve(t.message));
            let (tags, detail) = match *extras.resolve(t.extra) {
                [tags, detail] => (new_lists.intern(tag_lists.resolve(tags)), new_texts.intern(texts.resolve(detail))),
                _ => (Sym::EMPTY, Sym::EMPTY),
            };
            t.extra = if tags.is_empty() && detail.is_empty() { Sym::EMPTY } else { new_extras.intern(&[tags, detail]) };
            if let Some((print, true, reported)) = written {
                *print = t.print() | reported;
            }
        }
        self.prints = prints;
        (self.texts, self.tag_lists, self.extras) = (new_texts, new_lists, new_extras);
    }

    /// The target with its texts and tags by value, to move it to another
    /// [`Targets`] (see [`Targets::adopt`]).
    pub(super) fn portable(&self, target: Target) -> Portable {
        Portable {
            tags: self.tags_of(&target).into(),
            message: self.text(target.message).into(),
            detail: self.detail_of(&target).into(),
            target,
        }
    }

    /// A target from another [`Targets`], its symbols made this one's.
    pub(crate) fn adopt(&mut self, portable: Portable) -> Target {
        let Portable { mut target, tags, message, detail } = portable;
        let (tags, detail) = (self.intern_tags(&tags), self.intern_text(&detail));
        target.extra = self.extra(tags, detail);
        target.message = self.intern_text(&message);
        target
    }
}

/// A target with its tags and texts by value (see [`Targets::adopt`]).
pub(crate) struct Portable {
    pub(super) target: Target,
    tags: Box<[String]>,
    message: Box<str>,
    detail: Box<str>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::target;
    use super::*;

    #[test]
    fn texts_and_tags_no_target_holds_are_dropped_and_the_others_kept() {
        let mut targets = Targets::default();
        for i in 0..10 {
            let t = target(&mut targets, "starting");
            targets.append("g", &format!("t{i}"), t);
        }
        targets.arrived_since(0);
        // Every target reports a new message in each of 500 rounds.
        // Every target reports a new message and new tags in each of 500
        // rounds, and the monitor hook gives a new reason.
        for round in 0..500 {
            for p in 0..10 {
                let sym = targets.intern_text(&format!("round {round} target {p}"));
                let tags = targets.intern_tags(&[format!("r{round}"), format!("p{p}")]);
                let why = targets.intern_text(&format!("why {round} {p}"));
                let extra = targets.extra(tags, why);
                if let Some(t) = targets.at_mut(p) {
                    t.message = sym;
                    t.extra = extra;
                }
            }
            targets.compact_texts();
            for table in [targets.texts.len(), targets.tag_lists.len(), targets.extras.len()] {
                assert!(table <= 10 * 2 * 2 + 1024 + 10, "{table} values held");
            }
        }
        for p in 0..10 {
            let (_, name, t) = targets.at(p).unwrap();
            assert_eq!(name, format!("t{p}"));
            assert_eq!(targets.text(t.message), format!("round 499 target {p}"));
            assert_eq!(targets.tags_of(t), [String::from("r499"), format!("p{p}")]);
            assert_eq!(targets.detail_of(t), format!("why 499 {p}"));
        }
        // The verdict goes; the tags stay.
        targets.set_detail(3, Sym::EMPTY);
        let t = targets.at(3).unwrap().2;
        assert_eq!((targets.detail_of(t), targets.tags_of(t)), ("", &[String::from("r499"), String::from("p3")][..]));
    }
}
