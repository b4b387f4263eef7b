//! An entity's state: its versions, options and targets, in memory.

use crate::hooks::{ControllerSettings, EntityHooks, TargetView};
use crate::interner::{Interner, Sym};
use crate::judgement::{self, Hold, Judgement};
use crate::log::{EventKind, EventLog, History};
use crate::model::{RolloutInfo, RolloutOptions, RolloutPhase, TargetId, TargetState, Timestamp};

/// One target of an entity. Versions are symbols of the entity's interner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) tags: Box<[String]>,
    /// The version the target last reported.
    pub(crate) reported: Sym,
    /// The version the engine expects it to run.
    pub(crate) expected: Sym,
    pub(crate) message: Box<str>,
    pub(crate) is_error: bool,
    /// What the engine has decided about it on the version it expects.
    pub(crate) judgement: Judgement,
    /// Why the last step did not move it, when it waits for that reason
    /// (only ever on a `Waiting` judgement).
    pub(crate) hold: Option<Hold>,
    /// Why the monitor hook failed it, when it did.
    pub(crate) detail: Option<Box<str>>,
    pub(crate) last_seen: Timestamp,
    /// When its version or its error flag last changed.
    pub(crate) last_message: Timestamp,
    pub(crate) version_changed: Timestamp,
    /// When it was assigned its expected version.
    pub(crate) assigned: Timestamp,
    /// Its [`Target::print`] when its entity's journal last wrote it (0:
    /// never): bookkeeping of the journal, not state.
    pub(crate) persisted: u64,
}

impl Target {
    /// A target seen for the first time (SPEC step 1): it expects the last
    /// known good version, and its times are back-dated by the success
    /// timeout so that it is not penalised for arriving.
    pub(crate) fn arriving(reported: Sym, expected: Sym, now: Timestamp, options: &RolloutOptions) -> Self {
        let anchor = now.saturating_sub(options.success_timeout_ms());
        Target {
            tags: Box::default(),
            reported,
            expected,
            message: Box::default(),
            is_error: false,
            judgement: Judgement::Waiting,
            hold: None,
            detail: None,
            last_seen: now,
            last_message: anchor,
            version_changed: anchor,
            assigned: anchor,
            persisted: 0,
        }
    }

    /// A fingerprint of everything a snapshot keeps of the target except
    /// its name and `last_seen` (which a step changes on every reported
    /// target, and a journal records for all of them at once). Equal prints
    /// mean, up to a 64-bit hash collision, an unchanged target. Versions
    /// count by symbol: an entity's symbols never change meaning.
    pub(crate) fn print(&self) -> u64 {
        use std::hash::BuildHasher;
        // `Hash` ends every string with 0xFF, a byte UTF-8 never holds: no
        // two lists of strings run together into the same bytes.
        let strings = (&self.tags, &self.message, &self.detail);
        let symbols = (self.reported.index(), self.expected.index(), self.is_error, self.reason());
        let times = (self.last_message, self.version_changed, self.assigned);
        // 0 means "never written".
        foldhash::fast::FixedState::with_seed(0x6f72_6368_6a6e_6c31).hash_one((strings, symbols, times)).max(1)
    }

    /// Records a judgement. A hold goes with it: only a waiting target is
    /// held back.
    pub(crate) fn judge(&mut self, judgement: Judgement) {
        self.judgement = judgement;
        self.hold = None;
    }

    /// Holds the target back in this step, when it waits to be moved and
    /// nothing holds it yet (the first reason found stands). A judged
    /// target says so instead: one that failed on a version being rolled
    /// back answers failed until the rollback moves it.
    pub(crate) fn hold_back(&mut self, hold: Hold) {
        if self.judgement == Judgement::Waiting && self.hold.is_none() {
            self.hold = Some(hold);
        }
    }

    /// The answer's reason for it: its hold, or else its judgement.
    pub(crate) fn reason(&self) -> TargetState {
        debug_assert!(self.hold.is_none() || self.judgement == Judgement::Waiting, "a hold on a {:?} target", self.judgement);
        judgement::reason(self.judgement, self.hold)
    }
}

/// A target's key: its group, then its name (the order of every answer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    group: Box<str>,
    name: Box<str>,
}

/// A key to look up with, borrowed: hashes exactly as [`Key`] does, so a
/// lookup allocates nothing.
#[derive(Hash)]
struct KeyRef<'a> {
    group: &'a str,
    name: &'a str,
}

impl indexmap::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *key.group == *self.group && *key.name == *self.name
    }
}

type Map = indexmap::IndexMap<Key, Target, foldhash::fast::RandomState>;

/// The targets of an entity. A hash index finds a target in constant time;
/// the entries are stored in the order they arrived, which for a controller
/// that reports in a stable order is the order of its reports: a step then
/// walks the entries front to back, touching memory in order, however large
/// the fleet. Answers, the default selection and hooks see the targets by
/// group then name, through `sorted` (entry positions in that order, kept
/// up to date as targets join and leave).
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets {
    map: Map,
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

/// An entry position as `sorted` keeps it (an entity holds far fewer than
/// four billion targets: wasm memory alone ends at 4 GiB).
fn slot(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

impl Targets {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get(&self, group: &str, name: &str) -> Option<&Target> {
        self.map.get(&KeyRef { group, name })
    }

    pub(crate) fn get_mut(&mut self, group: &str, name: &str) -> Option<&mut Target> {
        self.map.get_mut(&KeyRef { group, name })
    }

    /// Where the target is stored (valid until targets join or leave).
    pub(crate) fn position(&self, group: &str, name: &str) -> Option<usize> {
        self.map.get_index_of(&KeyRef { group, name })
    }

    /// [`Targets::position`], trying `hint` first: a caller that reports
    /// its targets in the same order every time finds each where the last
    /// report found it, reading the entry alone (no hash lookup).
    pub(crate) fn position_hinted(&self, group: &str, name: &str, hint: u32) -> Option<usize> {
        let hint = hint as usize;
        match self.map.get_index(hint) {
            Some((key, _)) if *key.name == *name && *key.group == *group => Some(hint),
            _ => self.position(group, name),
        }
    }

    /// The target at a [`Targets::position`], with its group and name.
    pub(crate) fn at(&self, position: usize) -> Option<(&str, &str, &Target)> {
        self.map.get_index(position).map(|(key, target)| (&*key.group, &*key.name, target))
    }

    /// The target at a [`Targets::position`].
    pub(crate) fn at_mut(&mut self, position: usize) -> Option<&mut Target> {
        self.map.get_index_mut(position).map(|(_, target)| target)
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

    /// Adds targets that are not there yet, after the others, in the order
    /// given (one that is there is replaced in place).
    pub(crate) fn extend<G: Into<Box<str>>, N: Into<Box<str>>>(&mut self, targets: impl IntoIterator<Item = (G, N, Target)>) {
        let targets = targets.into_iter();
        // One allocation for a batch of arrivals, not a chain of doublings
        // (wasm memory never shrinks: the peak is what stays).
        self.map.reserve(targets.size_hint().0);
        let first = self.map.len();
        for (group, name, target) in targets {
            let key = Key { group: group.into(), name: name.into() };
            self.map.insert(key, target);
        }
        if self.map.len() == first {
            return;
        }
        self.relaid();
        // The newcomers join the sorted order in one merge.
        let mut arrived: Vec<u32> = (first..self.map.len()).map(slot).collect();
        arrived.sort_unstable_by(|&a, &b| self.key(a).cmp(&self.key(b)));
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(old.len().saturating_add(arrived.len()));
        let (mut i, mut j) = (0, 0);
        while let (Some(&a), Some(&b)) = (old.get(i), arrived.get(j)) {
            if self.key(a) < self.key(b) {
                merged.push(a);
                i = i.saturating_add(1);
            } else {
                merged.push(b);
                j = j.saturating_add(1);
            }
        }
        merged.extend(old.get(i..).unwrap_or_default());
        merged.extend(arrived.get(j..).unwrap_or_default());
        self.sorted = merged;
    }

    fn key(&self, position: u32) -> Option<&Key> {
        self.map.get_index(position as usize).map(|(key, _)| key)
    }

    /// Adds the target made by `make` unless there is one by that name.
    /// Answers whether it inserted.
    pub(crate) fn insert_if_absent(&mut self, group: &str, name: &str, make: impl FnOnce() -> Target) -> bool {
        let absent = self.get(group, name).is_none();
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
        for (position, group, name, target) in targets {
            if let Some(left) = &mut self.left {
                left.retain(|(g, n)| **g != *group || **n != *name);
            }
            let key = Key { group: group.into(), name: name.into() };
            self.map.shift_insert(position.min(self.map.len()), key, target);
        }
        self.relaid();
        let mut sorted: Vec<u32> = (0..self.map.len()).map(slot).collect();
        sorted.sort_unstable_by(|&a, &b| self.key(a).cmp(&self.key(b)));
        self.sorted = sorted;
    }

    /// Removes one target, keeping the order (linear: for a few targets;
    /// [`Targets::retain`] removes many in one pass).
    pub(crate) fn remove(&mut self, group: &str, name: &str) -> Option<Target> {
        let (position, key, target) = self.map.shift_remove_full(&KeyRef { group, name })?;
        if let (Some(left), true) = (&mut self.left, target.persisted != 0) {
            left.push((key.group, key.name));
        }
        let position = slot(position);
        self.relaid();
        self.sorted.retain(|&p| p != position);
        for p in &mut self.sorted {
            if *p > position {
                *p = p.saturating_sub(1);
            }
        }
        Some(target)
    }

    /// Keeps the targets for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &str, &Target) -> bool) {
        // Where each entry moves (`u32::MAX`: it leaves).
        let mut moved = Vec::with_capacity(self.map.len());
        let mut kept = 0u32;
        let left = &mut self.left;
        self.map.retain(|key, target| {
            let stays = keep(&key.group, &key.name, target);
            if let (false, Some(left), true) = (stays, left.as_mut(), target.persisted != 0) {
                left.push((key.group.clone(), key.name.clone()));
            }
            moved.push(if stays { kept } else { u32::MAX });
            kept = kept.saturating_add(u32::from(stays));
            stays
        });
        if self.map.len() == self.sorted.len() {
            return;
        }
        self.relaid();
        self.sorted = self.sorted.iter().filter_map(|&p| moved.get(p as usize).copied().filter(|&p| p != u32::MAX)).collect();
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
            if self.map.get_index(position as usize).is_some_and(|(_, target)| target.expected != version) {
                taken.push(position as usize);
            }
        }
        self.cursor = Cursor { version, from: slot(next) };
        taken
    }

    /// A copy, entry for entry (positions, order and cursor too).
    pub(crate) fn copy(&self) -> Targets {
        let mut map = Map::with_capacity_and_hasher(self.map.len(), foldhash::fast::RandomState::default());
        for (key, target) in &self.map {
            map.insert(key.clone(), target.clone());
        }
        let left = self.left.as_ref().map(|left| left.iter().map(|(g, n)| (g.clone(), n.clone())).collect());
        Targets { map, sorted: self.sorted.to_vec(), cursor: self.cursor, layout: self.layout, left }
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
        left.retain(|(group, name)| self.get(group, name).is_none());
        left
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
        let mut marked = vec![false; self.map.len()];
        for &position in positions.iter() {
            if let Some(mark) = marked.get_mut(position) {
                *mark = true;
            }
        }
        positions.clear();
        positions.extend(self.sorted_positions().filter(|&p| marked.get(p).copied().unwrap_or(false)));
    }

    /// Every target in the order stored (arrival order): for walks whose
    /// order does not matter.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &Target)> {
        self.map.iter().map(|(key, target)| (&*key.group, &*key.name, target))
    }

    /// Every target, moved out, in the order stored.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (Box<str>, Box<str>, Target)> {
        self.map.into_iter().map(|(key, target)| (key.group, key.name, target))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &str, &mut Target)> {
        self.map.iter_mut().map(|(key, target)| (&*key.group, &*key.name, target))
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

    /// Each stored target's rank by group, then name (indexed by where it
    /// is stored).
    pub(crate) fn ranks(&self) -> Vec<u32> {
        let mut ranks = vec![0; self.sorted.len()];
        for (rank, &position) in self.sorted.iter().enumerate() {
            if let Some(r) = ranks.get_mut(position as usize) {
                *r = slot(rank);
            }
        }
        ranks
    }

    /// The targets of one group (an exact match), in name order.
    pub(crate) fn group(&self, group: &str) -> impl Iterator<Item = (&str, &str, &Target)> {
        let in_group = |p: &u32| self.key(*p).map(|key| &*key.group);
        let start = self.sorted.partition_point(|p| in_group(p).is_some_and(|g| g < group));
        let end = self.sorted.partition_point(|p| in_group(p).is_some_and(|g| g <= group));
        self.sorted.get(start..end.max(start)).unwrap_or_default().iter().filter_map(|&p| self.at(p as usize))
    }
}

/// Where the rolling version is in its plan (`steps`), and what the
/// operator did to it. Reset whenever a rollout starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The plan step (0-based).
    pub(crate) step: usize,
    /// When the step started moving targets (`step_started` was logged).
    pub(crate) started: Option<Timestamp>,
    /// When every target of the step had been judged: the bake began.
    pub(crate) bake_from: Option<Timestamp>,
    /// `promote` skipped the step's bake.
    pub(crate) skip_bake: bool,
    /// `approve` opened the step's gate.
    pub(crate) approved: bool,
    /// `approval_requested` was logged for the step.
    pub(crate) requested: bool,
    /// `promote({ full: true })`: the rest moves at once, no more steps.
    pub(crate) full: bool,
    /// The last step's bake passed: the version may be judged good.
    pub(crate) done: bool,
    /// Failures in a row, in the order targets were judged.
    pub(crate) consecutive_failures: u64,
    /// `rollback_finished` was logged for the current rollback.
    pub(crate) rollback_logged: bool,
    /// A retry of the rolling (known bad) version waits for its rollback
    /// to finish, then rolls it out afresh.
    pub(crate) retry_pending: bool,
}

impl Progress {
    /// The plan was replaced: the step's gate, bake and start are the new
    /// plan's to pass; where the rollout is and how it went stays.
    pub(crate) fn plan_changed(&mut self) {
        *self = Progress {
            step: self.step,
            full: self.full,
            consecutive_failures: self.consecutive_failures,
            rollback_logged: self.rollback_logged,
            retry_pending: self.retry_pending,
            ..Progress::default()
        };
    }

    /// On to the next plan step, keeping what belongs to the rollout.
    pub(crate) fn next_step(&mut self) {
        *self = Progress {
            step: self.step.saturating_add(1),
            full: self.full,
            consecutive_failures: self.consecutive_failures,
            ..Progress::default()
        };
    }
}

/// A last known good version still being watched (`watchSecs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watch {
    pub(crate) version: Sym,
    pub(crate) until: Timestamp,
    /// What was good before it: where a bad verdict rolls back to.
    pub(crate) previous: Sym,
}

/// A target the removal hook retired in the last step: answered once with
/// reason `removed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) id: TargetId,
    /// The version it ran.
    pub(crate) version: Sym,
}

/// One entity: what is rolled out, how, and to which targets.
#[derive(Default)]
pub(crate) struct Entity {
    pub(crate) versions: Interner,
    pub(crate) target_version: Sym,
    pub(crate) rolling: Sym,
    pub(crate) lkg: Sym,
    pub(crate) lkb: Sym,
    /// Where the rollout is; changed with the versions above, only by the
    /// transitions of [`crate::phase`].
    pub(crate) phase: crate::phase::Phase,
    pub(crate) options: RolloutOptions,
    /// How `options.steps` is read (see [`crate::plan`]).
    pub(crate) plan_meaning: crate::plan::Meaning,
    pub(crate) targets: Targets,
    /// Since when the rollout is paused.
    pub(crate) paused_since: Option<Timestamp>,
    pub(crate) progress: Progress,
    pub(crate) watch: Option<Watch>,
    pub(crate) removed: Vec<Removed>,
    /// Machines a selection hook created (blue/green) that no retirement
    /// has balanced yet: the fleet beyond its own size. Batches are sized
    /// on the fleet without them, and no more are created than targets
    /// remain to be replaced by them.
    pub(crate) surge: usize,
    /// The version an operator's `rollbackTo` left, until a rollout or
    /// another rollback starts (empty otherwise): the rollback's events and
    /// its targets' messages name it, and the operator's request, not a bad
    /// verdict.
    pub(crate) rolled_back_from: Sym,
    /// The idempotency keys of the latest requests applied to the entity,
    /// oldest first, each with the answer it was given (empty: too large
    /// to keep), so that a request retried with its key is answered again
    /// rather than applied twice (see [`crate::Engine::remember`]).
    pub(crate) applied: std::collections::VecDeque<(Box<str>, Box<str>)>,
    /// Analysis runs: those under way and the latest ended, oldest first.
    pub(crate) analysis: Vec<crate::analysis::AnalysisRun>,
    pub(crate) log: EventLog,
    pub(crate) history: History,
    /// Who the control being applied is by, while it is applied (see
    /// [`crate::Engine::set_actor`]): its events and its rollout record
    /// them. Never set during a step, so not part of a snapshot.
    pub(crate) actor: Option<Box<str>>,
    /// Where the last report's targets were found, in its order: the hints
    /// of [`Targets::position_hinted`]. Only a cache (a stale hint costs a
    /// lookup), so not part of a snapshot.
    pub(crate) hints: Vec<u32>,
    /// The [`Targets::layout`] under which `hints` were found, when they are
    /// exact for the report of the step that took them (each is where the
    /// target is, `u32::MAX` if it is not).
    pub(crate) hints_exact: Option<u64>,
    /// Not part of a snapshot (SPEC section 4).
    pub(crate) hooks: EntityHooks,
    /// What a binding keeps to build its controllers again (part of a
    /// snapshot, unlike the hooks).
    pub(crate) controllers: ControllerSettings,
    /// Where the entity's journal stands, once it was checkpointed or
    /// restored from its own snapshot (see [`crate::snapshot::delta`]).
    pub(crate) journal: Option<Journal>,
}

/// The state a journal's next delta starts from: the last checkpoint or
/// delta written or applied. Targets' `persisted` prints and the targets
/// recorded as leaving belong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Journal {
    /// Names that state: a checkpoint's checksum, chained through every
    /// delta since, so a delta applies only to the state it was made from.
    pub(crate) id: u64,
    /// The first event sequence number that state did not have.
    pub(crate) next_seq: u64,
}

impl Entity {
    /// A copy of everything but the hooks (which stay with the entity).
    pub(crate) fn copy_state(&self) -> Entity {
        // Every field, named: a field added to `Entity` does not compile
        // here until the copy says what becomes of it.
        let Entity {
            versions,
            target_version,
            rolling,
            lkg,
            lkb,
            phase,
            options,
            plan_meaning,
            targets,
            paused_since,
            progress,
            watch,
            removed,
            surge,
            rolled_back_from,
            applied,
            analysis,
            log,
            history,
            hints,
            hints_exact,
            hooks: _,
            controllers,
            journal,
            actor: _,
        } = self;
        // Copied with the code the engine has anyway (each generic clone
        // would add to the wasm).
        let copied_log = EventLog { events: log.events.iter().cloned().collect(), next_seq: log.next_seq, actors: log.actors.clone() };
        let copied_history = history.clone();
        Entity {
            versions: versions.copy(),
            target_version: *target_version,
            rolling: *rolling,
            lkg: *lkg,
            lkb: *lkb,
            phase: *phase,
            options: options.clone(),
            plan_meaning: *plan_meaning,
            targets: targets.copy(),
            paused_since: *paused_since,
            progress: progress.clone(),
            watch: *watch,
            removed: removed.iter().map(|r| Removed { id: r.id.clone(), version: r.version }).collect(),
            surge: *surge,
            rolled_back_from: *rolled_back_from,
            applied: applied.clone(),
            analysis: analysis.clone(),
            log: copied_log,
            history: copied_history,
            hints: hints.to_vec(),
            hints_exact: *hints_exact,
            hooks: EntityHooks::default(),
            controllers: controllers.clone(),
            journal: *journal,
            actor: None,
        }
    }

    /// Appends to the event log.
    pub(crate) fn event(&mut self, now: Timestamp, kind: EventKind, version: Sym, detail: impl Into<Box<str>>) {
        let capacity = self.options.max_events;
        let seq = self.log.push(capacity, now, kind, version, None, detail);
        if let Some(by) = &self.actor {
            self.log.actors.push_back((seq, by.clone()));
            self.history.act(version, kind, by, now);
        }
    }

    /// Whether the rollout follows a plan's steps right now.
    pub(crate) fn follows_plan(&self) -> bool {
        !self.options.steps.is_empty() && !self.progress.full && self.rolling_out()
    }

    /// Whether the current plan step waits for `approve`.
    pub(crate) fn awaiting_approval(&self) -> bool {
        self.follows_plan()
            && !self.progress.approved
            && self.options.steps.get(self.progress.step).is_some_and(|s| s.approval)
            && !self.progress.done
    }

    /// The version the step keeps and assigns (SPEC step 3): the rolling
    /// version, or the last known good one while rolling back.
    pub(crate) fn desired(&self) -> Sym {
        if self.rolling_back() {
            self.lkg
        } else {
            self.rolling
        }
    }

    pub(crate) fn version(&self, sym: Sym) -> &str {
        self.versions.resolve(sym)
    }

    pub(crate) fn info(&self) -> RolloutInfo {
        RolloutInfo {
            target_version: self.version(self.target_version).to_owned(),
            rolling_version: self.version(self.rolling).to_owned(),
            last_known_good_version: self.version(self.lkg).to_owned(),
            last_known_bad_version: self.version(self.lkb).to_owned(),
            phase: self.rollout_phase(),
            options: self.options.clone(),
            targets: self.targets.len(),
            failure_threshold: self.options.failure_threshold(self.targets.len()),
            paused: self.paused_since.is_some(),
            pause_reason: self.paused_since.map(|_| crate::analysis::run::pause_reason(self).unwrap_or("operator")),
            step: self.follows_plan().then_some(self.progress.step),
            awaiting_approval: self.awaiting_approval(),
            watch_until: self.watch.map(|w| w.until),
        }
    }

    /// The phase in one word; a rollback is over once the step logged
    /// `rollback_finished` (no target expected elsewhere) and no target is
    /// still on its way back (judged `rolled_back`, not yet healthy there).
    fn rollout_phase(&self) -> RolloutPhase {
        use crate::phase::Phase;
        match self.phase {
            Phase::Idle => RolloutPhase::New,
            Phase::RollingOut => RolloutPhase::RollingOut,
            Phase::Watching => RolloutPhase::Watching,
            Phase::Settled => RolloutPhase::RolledOut,
            Phase::Halted => RolloutPhase::Halted,
            Phase::RollingBack => {
                let returning = self.targets.iter().any(|(_, _, t)| t.judgement == Judgement::RolledBack);
                if self.progress.rollback_logged && !returning {
                    RolloutPhase::RolledBack
                } else {
                    RolloutPhase::RollingBack
                }
            }
        }
    }

    pub(crate) fn view<'a>(&'a self, group: &'a str, name: &'a str, target: &'a Target) -> TargetView<'a> {
        view(&self.versions, group, name, target)
    }
}

pub(crate) fn view<'a>(versions: &'a Interner, group: &'a str, name: &'a str, target: &'a Target) -> TargetView<'a> {
    TargetView {
        name,
        group,
        tags: &target.tags,
        version: versions.resolve(target.reported),
        expected_version: versions.resolve(target.expected),
        message: &target.message,
        is_error: target.is_error,
        reason: target.reason(),
    }
}
