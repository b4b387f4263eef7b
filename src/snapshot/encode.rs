//! Encoding an engine's entities in the current format: canonical string
//! tables, times relative to a base, and, for a delta, only the part of an
//! entity that changed.

use super::*;
use crate::bits::Bits;

/// The entity's format 6 state as the format writes it.
pub(super) fn encode_extra(entity: &Entity) -> ExtraV6<&str> {
    ExtraV6 {
        surge: u64::try_from(entity.surge).unwrap_or(u64::MAX),
        rolled_back_from: (!entity.rolled_back_from.is_empty()).then(|| entity.version(entity.rolled_back_from)),
        applied: entity.applied.iter().map(|(key, answer)| (&**key, &**answer)).collect(),
    }
}

/// The entity's format 7 state (its analysis) as the format writes it.
pub(super) fn encode_analysis(entity: &Entity) -> ExtraV7Out<'_> {
    let options = &entity.options;
    let steps = if options.steps.iter().any(|s| s.analysis.is_some()) {
        options.steps.iter().map(|s| s.analysis.as_deref()).collect()
    } else {
        Vec::new()
    };
    ExtraV7Out { analysis: options.analysis.as_deref(), steps, runs: &entity.analysis }
}

/// The entity's format 8 state (actors and what each rollout did); with
/// `from` (a delta's first sequence number), only the actors of the
/// events from there on.
pub(super) fn encode_revisions(entity: &Entity, from: u64) -> ExtraV8<&str> {
    fn action(a: &crate::log::StoredAction) -> ActionV8<&str> {
        ActionV8 { kind: kind_code(a.kind), by: &a.by, time: a.time }
    }
    let actors = entity.log.actors.iter().filter(|&&(seq, _)| seq >= from);
    ExtraV8 {
        actors: actors.map(|(seq, by)| (*seq, &**by)).collect(),
        rollouts: entity
            .history
            .rollouts
            .iter()
            .map(|r| {
                let t = &r.tally;
                TallyV8 {
                    steps: t.steps,
                    moved: t.moved,
                    failed: t.failed,
                    first_seq: t.first_seq,
                    actions: t.actions.iter().map(action).collect(),
                }
            })
            .collect(),
        pending: entity.history.pending.as_ref().map(|(version, a)| (entity.version(*version), action(a))),
    }
}

/// The entity's controller settings as the format writes them.
/// Format 10's state of the entity.
pub(super) fn encode_freezes(entity: &Entity) -> ExtraV10 {
    ExtraV10 { freezes: entity.freezes.clone(), frozen: entity.frozen.as_deref().map(str::to_owned) }
}

pub(super) fn encode_controllers(entity: &Entity) -> [Option<&str>; 2] {
    [entity.controllers.target.as_deref(), entity.controllers.monitoring.as_deref()]
}

/// Format 11's (and delta format 9's) part of an entity.
pub(super) fn encode_v11(entity: &Entity) -> ExtraV11 {
    ExtraV11 {
        notifications: entity.controllers.notifications.as_deref().map(str::to_owned),
        pipeline: entity.pipeline.as_deref().cloned(),
    }
}

/// Builds a table of strings in order of first use. Neighbouring targets
/// mostly share their message, and versions are few: the last string, and
/// each version's index by symbol, are remembered, so most rows hash
/// nothing.
#[derive(Default)]
pub(super) struct Table<'a> {
    strings: Vec<String>,
    index: HashMap<&'a str, u32, foldhash::fast::RandomState>,
    last: Option<(&'a str, u32)>,
    by_sym: Vec<u32>,
}

impl<'a> Table<'a> {
    /// The 1-based index of `s` (0 stays "none" for versions).
    fn index(&mut self, s: &'a str) -> u32 {
        if let Some((last, i)) = self.last {
            if last == s {
                return i;
            }
        }
        let i = match self.index.get(s) {
            Some(&i) => i,
            None => {
                self.strings.push(s.to_owned());
                let i = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
                self.index.insert(s, i);
                i
            }
        };
        self.last = Some((s, i));
        i
    }

    pub(super) fn version(&mut self, versions: &'a Interner, sym: Sym) -> u32 {
        if sym.is_empty() {
            return 0;
        }
        let at = sym.index();
        if let Some(&i) = self.by_sym.get(at) {
            if i != 0 {
                return i;
            }
        }
        let i = self.index(versions.resolve(sym));
        if self.by_sym.len() <= at {
            self.by_sym.resize(at.saturating_add(1), 0);
        }
        if let Some(slot) = self.by_sym.get_mut(at) {
            *slot = i;
        }
        i
    }
}

/// What of an entity a delta writes: the targets at the positions marked
/// in `changed`, and the events from sequence number `from` on.
pub(super) struct Part<'a> {
    pub(super) changed: &'a Bits,
    pub(super) from: u64,
    /// The most bytes of rows worth writing (a delta larger than that is
    /// not kept): the rows stop soon after.
    pub(super) most: usize,
}

/// The entity in format 9: its targets in rows ([`super::rows`]); with
/// `part`, only that part of its targets and events (a delta's), the rest
/// whole.
#[inline(never)]
pub(super) fn encode_entity<'a>(name: &str, entity: &'a Entity, part: Option<&Part<'_>>) -> EntityV9<RowsOut<'a>> {
    let mut versions = Table::default();
    let mut head = encode_head(name, entity, &mut versions);
    let targets = encode_rows(entity, &mut versions, part.map(|p| (p.changed, p.most)));
    let control = encode_control(entity, &mut versions, part);
    head.versions = versions.strings;
    EntityV9 { head, targets, control, extra: encode_extra_v4(entity) }
}

fn encode_extra_v4(entity: &Entity) -> ExtraV4 {
    ExtraV4 {
        error_timeout_secs: entity.options.error_timeout_secs,
        plan_increments: entity.plan_meaning == crate::plan::Meaning::Increments,
    }
}

/// Everything of the entity before its targets; versions go into
/// `versions` (the caller writes the table once every version is in).
fn encode_head<'a>(name: &str, entity: &'a Entity, versions: &mut Table<'a>) -> HeadV1 {
    let v = &entity.versions;
    HeadV1 {
        name: name.to_owned(),
        versions: Vec::new(),
        target_version: versions.version(v, entity.target_version),
        rolling: versions.version(v, entity.rolling),
        lkg: versions.version(v, entity.lkg),
        lkb: versions.version(v, entity.lkb),
        batch_percent: entity.options.batch_percent,
        success_percent: entity.options.success_percent,
        success_timeout_secs: entity.options.success_timeout_secs,
        duration_timeout_secs: entity.options.duration_timeout_secs,
    }
}

/// Format 3's event log of `entity`. With `part` (a delta's), only the
/// events from its first sequence number on.
pub(super) fn encode_log<'a>(entity: &'a Entity, versions: &mut Table<'a>, part: Option<&Part<'_>>) -> LogV3 {
    let from = part.map_or(0, |p| p.from);
    // Targets are encoded by group, then name: an event names a target the
    // snapshot (or delta) writes by its rank among those written, any
    // other by its group and name (`gone`). The ranks of the few targets
    // events name are found in one walk, marked a bit each (a table of
    // every target's rank would be megabytes of wasm memory for a
    // million).
    let kept: Vec<_> = entity.log.events.iter().filter(|e| e.seq >= from).collect();
    // Each event's target where it is stored, looked up once.
    let named: Vec<Option<usize>> =
        kept.iter().map(|e| e.target.as_ref().and_then(|t| entity.targets.position(&t.group, &t.name))).collect();
    let mut marked = Bits::new(entity.targets.len());
    for &p in named.iter().flatten() {
        marked.insert(p);
    }
    let mut ranks: HashMap<usize, u32, foldhash::fast::RandomState> = HashMap::default();
    let mut known = 0u32;
    for p in entity.targets.sorted_positions().filter(|&p| part.map_or(true, |part| part.changed.contains(p))) {
        if marked.contains(p) {
            ranks.insert(p, known);
        }
        known = known.saturating_add(1);
    }
    let known = u64::from(known);
    let mut details = Table::default();
    let mut gone: Vec<(String, String)> = Vec::new();
    let mut gone_index: HashMap<(&str, &str), u64, foldhash::fast::RandomState> = HashMap::default();
    let (mut seq, mut time) = (0u64, 0i64);
    let mut events = Vec::with_capacity(entity.log.events.len());
    for (e, position) in kept.iter().zip(&named) {
        let target = match &e.target {
            None => 0,
            Some(t) => match position.and_then(|p| ranks.get(&p)) {
                Some(&i) => u64::from(i).saturating_add(1),
                None => *gone_index.entry((&t.group, &t.name)).or_insert_with(|| {
                    gone.push((t.group.clone(), t.name.clone()));
                    known.saturating_add(u64::try_from(gone.len()).unwrap_or(u64::MAX))
                }),
            },
        };
        events.push(EventV3 {
            seq: e.seq.wrapping_sub(seq),
            time: e.time.wrapping_sub(time),
            kind: kind_code(e.kind),
            version: versions.version(&entity.versions, e.version),
            target,
            detail: details.index(&e.detail).saturating_sub(1),
        });
        (seq, time) = (e.seq, e.time);
    }
    LogV3 { details: details.strings, gone, events }
}

pub(super) fn encode_amount(amount: Amount) -> AmountV2 {
    match amount {
        Amount::Count(n) => AmountV2::Count(n),
        Amount::Percent(p) => AmountV2::Percent(p),
    }
}

pub(super) fn encode_control<'a>(entity: &'a Entity, versions: &mut Table<'a>, part: Option<&Part<'_>>) -> ControlV3 {
    let v = &entity.versions;
    let options = &entity.options;
    let progress = &entity.progress;
    let flags = [
        progress.skip_bake,
        progress.approved,
        progress.requested,
        progress.full,
        progress.done,
        progress.rollback_logged,
        progress.retry_pending,
    ]
    .iter()
    .enumerate()
    .fold(0u8, |bits, (i, &set)| if set { bits | (1u8 << i) } else { bits });
    let settings = Settings {
        steps: options.steps.iter().map(|s| StepV2 { size: encode_amount(s.size), bake_secs: s.bake_secs, approval: s.approval }).collect(),
        max_failures: options.max_failures.map(encode_amount),
        max_consecutive_failures: options.max_consecutive_failures,
        watch_secs: options.watch_secs,
        rollback_batch_percent: options.rollback_batch_percent,
        max_events: options.max_events,
        paused_since: entity.paused_since,
        step: u64::try_from(progress.step).unwrap_or(u64::MAX),
        step_started: progress.started,
        bake_from: progress.bake_from,
        flags,
        consecutive_failures: progress.consecutive_failures,
        watch: entity.watch.map(|w| (versions.version(v, w.version), w.until, versions.version(v, w.previous))),
        removed: entity.removed.iter().map(|r| (r.id.group.clone(), r.id.name.clone(), versions.version(v, r.version))).collect(),
        next_seq: entity.log.next_seq,
    };
    Control {
        settings,
        events: encode_log(entity, versions, part),
        history: entity
            .history
            .rollouts
            .iter()
            .map(|r| RolloutV2 {
                version: versions.version(v, r.version),
                started: r.started,
                ended: r.ended,
                outcome: outcome_code(r.outcome),
            })
            .collect(),
    }
}
