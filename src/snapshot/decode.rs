//! Decoding every format ever written back into entities, and rejecting
//! states no engine writes.

use super::*;
use crate::entity::Time;

/// An entity of format 4 (or 5, whose entities are format 4's).
pub(super) fn decode_v4(e: EntityV4) -> Result<Entity, String> {
    let control = expand_log(&e.core, e.control)?;
    decode_entity(e.core, Some(control), e.extra)
}

/// Format 6's state into `entity`, which will have `targets` targets: a
/// surge never exceeds them, and a version left is a version.
pub(super) fn decode_extra(entity: &mut Entity, extra: ExtraV6, targets: usize) -> Result<(), String> {
    entity.surge = match usize::try_from(extra.surge) {
        Ok(surge) if surge <= targets => surge,
        _ => return Err(format!("a surge of {} created machines in a fleet of {targets}", extra.surge)),
    };
    entity.rolled_back_from = match extra.rolled_back_from {
        None => Sym::EMPTY,
        Some(version) if !version.is_empty() => entity.versions.intern(&version),
        Some(_) => return Err("an empty version is named as left by a rollbackTo".to_owned()),
    };
    if extra.applied.len() > crate::IDEMPOTENCY_KEYS
        || extra
            .applied
            .iter()
            .any(|(key, answer)| key.is_empty() || key.len() > crate::MAX_NAME_BYTES || answer.len() > crate::MAX_KEPT_ANSWER)
    {
        return Err("idempotency keys beyond what an engine keeps".to_owned());
    }
    entity.applied = extra.applied.into_iter().map(|(key, answer)| (key.into_boxed_str(), answer.into_boxed_str())).collect();
    Ok(())
}

/// Format 7's analysis into `entity`, whose options are decoded: the
/// templates check as when they were set, one per plan step or none, and
/// the runs stay within what an engine keeps.
pub(super) fn decode_analysis(entity: &mut Entity, extra: ExtraV7) -> Result<(), String> {
    let options = &mut entity.options;
    if !extra.steps.is_empty() && extra.steps.len() != options.steps.len() {
        return Err(format!("{} step analyses for a plan of {} steps", extra.steps.len(), options.steps.len()));
    }
    options.analysis = extra.analysis.map(Box::new);
    for (step, analysis) in options.steps.iter_mut().zip(extra.steps) {
        step.analysis = analysis.map(Box::new);
    }
    *options = options.clone().bind_analyses().map_err(|e| e.to_string())?;
    let too_many = extra.runs.len() > 8
        || extra.runs.iter().any(|r| {
            r.metrics.len() > crate::MAX_METRICS || r.metrics.iter().any(|m| m.measurements.len() > crate::MAX_RETENTION as usize)
        });
    if too_many {
        return Err("more analysis runs or measurements than an engine keeps".to_owned());
    }
    entity.analysis = extra.runs;
    Ok(())
}

/// Format 8's state into `entity`, whose log and history are decoded:
/// each actor names a kept event, in order, and each rollout of the
/// history has its tally.
pub(super) fn decode_revisions(entity: &mut Entity, extra: ExtraV8, version: u16) -> Result<(), String> {
    if version < 8 {
        // From before actors and tallies: none known.
        return Ok(());
    }
    if extra.rollouts.len() != entity.history.rollouts.len() {
        return Err(format!("{} rollout tallies for a history of {}", extra.rollouts.len(), entity.history.rollouts.len()));
    }
    let mut last = 0u64;
    for (seq, by) in &extra.actors {
        if *seq <= last || !entity.log.events.iter().any(|e| e.seq == *seq) {
            return Err(format!("the actor of event {seq} names no kept event, or is out of order"));
        }
        check_actor(by)?;
        last = *seq;
    }
    let action = |a: ActionV8| -> Result<crate::log::StoredAction, String> {
        check_actor(&a.by)?;
        Ok(crate::log::StoredAction { kind: from_code(&EventKind::ALL, kind_code, a.kind, "action kind")?, by: a.by.into(), time: a.time })
    };
    for (rollout, tally) in entity.history.rollouts.iter_mut().zip(extra.rollouts) {
        if tally.actions.len() > crate::log::ACTIONS_LIMIT {
            return Err("more actions on a rollout than an engine keeps".to_owned());
        }
        rollout.tally = crate::log::Tally {
            steps: tally.steps,
            moved: tally.moved,
            failed: tally.failed,
            first_seq: tally.first_seq,
            actions: tally.actions.into_iter().map(action).collect::<Result<_, _>>()?,
        };
    }
    entity.log.actors = extra.actors.into_iter().map(|(seq, by)| (seq, by.into_boxed_str())).collect();
    entity.history.pending = match extra.pending {
        None => None,
        Some((version, _)) if version.is_empty() => return Err("an action sets an empty version".to_owned()),
        Some((version, a)) => Some((entity.versions.intern(&version), action(a)?)),
    };
    Ok(())
}

/// Format 10's state into `entity`.
pub(super) fn decode_freezes(entity: &mut Entity, extra: ExtraV10) -> Result<(), String> {
    extra.freezes.check().map_err(|e| e.to_string())?;
    entity.freezes = extra.freezes;
    entity.frozen = extra.frozen.map(String::into_boxed_str);
    Ok(())
}

/// Format 10's namespace settings into the engine decoded from the body:
/// a namespace with settings and no entity is created.
pub(super) fn decode_namespaces(engine: &mut Engine, settings: Vec<NamespaceV10>) -> Result<(), Error> {
    let mut last: Option<String> = None;
    for NamespaceV10 { name, freezes, stopped } in settings {
        if name.is_empty() || last.as_ref().is_some_and(|l| *l >= name) {
            return Err(Error::snapshot("the namespaces' settings are not in name order, or one has an empty name"));
        }
        if freezes.is_empty() && stopped.is_none() {
            return Err(Error::snapshot(format!("namespace \"{name}\" has settings stored without any")));
        }
        let invalid = |e: Error| Error::snapshot(format!("namespace \"{name}\": {e}"));
        freezes.check().map_err(invalid)?;
        if let Some(stop) = &stopped {
            crate::freeze::check_text("a reason to stop the line", &stop.reason).map_err(invalid)?;
            if let Some(by) = &stop.by {
                check_actor(by).map_err(|e| Error::snapshot(format!("namespace \"{name}\": {e}")))?;
            }
        }
        let ns = engine.namespaces.entry(name.clone()).or_default();
        ns.freezes = freezes;
        ns.stopped = stopped;
        last = Some(name);
    }
    Ok(())
}

/// Format 11's namespaces' notification settings, in name order.
pub(super) fn decode_namespace_notifications(engine: &mut Engine, notify: Vec<(String, String)>) -> Result<(), Error> {
    let mut last: Option<&str> = None;
    for (name, settings) in &notify {
        if last.is_some_and(|l| l >= name.as_str()) {
            return Err(Error::snapshot("the namespaces' notification settings are not in name order"));
        }
        engine.set_namespace_notifications(name, Some(settings)).map_err(|e| Error::snapshot(format!("namespace \"{name}\": {e}")))?;
        last = Some(name);
    }
    Ok(())
}

/// An actor as [`crate::Engine::set_actor`] takes it.
fn check_actor(by: &str) -> Result<(), String> {
    if by.is_empty() || by.len() > crate::MAX_NAME_BYTES || by.chars().any(char::is_control) {
        return Err("an actor is empty, too long or holds control characters".to_owned());
    }
    Ok(())
}

/// Format 11's (and delta format 9's) part of an entity.
pub(super) fn decode_v11(entity: &mut Entity, extra: ExtraV11) {
    entity.controllers.notifications = extra.notifications.map(Box::from);
    entity.pipeline = extra.pipeline.filter(|p| !p.is_empty()).map(Box::new);
}

pub(super) fn decode_controllers(target: Option<String>, monitoring: Option<String>) -> ControllerSettings {
    ControllerSettings { target: target.map(Box::from), monitoring: monitoring.map(Box::from), notifications: None }
}

pub(super) fn parse<'a, E: Deserialize<'a>>(body: &'a [u8]) -> Result<Body<E>, Error> {
    parse_all(body)
}

/// The name of an entity of any format.
pub(super) trait Named {
    fn name(&self) -> &str;
}

impl Named for EntityV1 {
    fn name(&self) -> &str {
        &self.head.name
    }
}

impl Named for EntityV2 {
    fn name(&self) -> &str {
        &self.core.head.name
    }
}

impl Named for EntityV3 {
    fn name(&self) -> &str {
        &self.core.head.name
    }
}

impl Named for EntityV4 {
    fn name(&self) -> &str {
        &self.core.head.name
    }
}

impl<R> Named for EntityV9<R> {
    fn name(&self) -> &str {
        &self.head.name
    }
}

/// Format 3's compact log written out as format 2's, against the entity's
/// targets of formats 1 to 8.
pub(super) fn expand_log(core: &EntityV1, c: ControlV3) -> Result<ControlV2, String> {
    // Where each group's targets start in the entity's target list.
    let mut starts = Vec::with_capacity(core.groups.len());
    let mut known = 0u64;
    for g in &core.groups {
        starts.push(known);
        known = known.saturating_add(u64::try_from(g.targets.len()).unwrap_or(u64::MAX));
    }
    let target = |i: u64| -> Option<(String, String)> {
        let g = starts.partition_point(|&start| start <= i).saturating_sub(1);
        let group = core.groups.get(g)?;
        let at = usize::try_from(i.saturating_sub(starts.get(g).copied().unwrap_or(0))).ok()?;
        Some((group.name.clone(), group.targets.get(at)?.name.clone()))
    };
    expand_log_of(known, target, c)
}

/// Format 3's compact log written out as format 2's, against `known`
/// targets in snapshot order (`target(i)`: the group and name of the
/// `i`th).
pub(super) fn expand_log_of(known: u64, target: impl Fn(u64) -> Option<(String, String)>, c: ControlV3) -> Result<ControlV2, String> {
    let log = c.events;
    let target = |i: u64| -> Result<Option<(String, String)>, String> {
        if i == 0 {
            return Ok(None);
        }
        let i = i.saturating_sub(1);
        if i < known {
            return target(i).map(Some).ok_or_else(|| "target index outside the list".to_owned());
        }
        let gone = usize::try_from(i.saturating_sub(known)).map_err(|_| "target index")?;
        log.gone.get(gone).cloned().map(Some).ok_or_else(|| format!("event target {} is outside the tables", i.saturating_add(1)))
    };
    let (mut seq, mut time) = (0u64, 0i64);
    let mut events = Vec::with_capacity(log.events.len());
    for e in &log.events {
        (seq, time) = (seq.wrapping_add(e.seq), time.wrapping_add(e.time));
        let detail = usize::try_from(e.detail).ok().and_then(|i| log.details.get(i));
        events.push(EventV2 {
            seq,
            time,
            kind: e.kind,
            version: e.version,
            target: target(e.target)?,
            detail: detail.ok_or_else(|| format!("event detail {} is outside the table", e.detail))?.clone(),
        });
    }
    Ok(Control { settings: c.settings, events, history: c.history })
}

pub(super) fn decode_body<E: Named>(state: Body<E>, mut decode_entity: impl FnMut(E) -> Result<Entity, String>) -> Result<Engine, Error> {
    let mut namespaces = BTreeMap::new();
    for ns in state.namespaces {
        if ns.name.is_empty() {
            return Err(Error::snapshot("a namespace has an empty name"));
        }
        let mut entities = BTreeMap::new();
        for entity in ns.entities {
            let name = entity.name().to_owned();
            if name.is_empty() {
                return Err(Error::snapshot(format!("an entity of \"{}\" has an empty name", ns.name)));
            }
            let decoded = decode_entity(entity).map_err(|e| Error::snapshot(format!("entity {}/{name}: {e}", ns.name)))?;
            if entities.insert(name.clone(), decoded).is_some() {
                return Err(Error::snapshot(format!("entity {}/{name} appears twice", ns.name)));
            }
        }
        let name = ns.name;
        // No engine holds a namespace without an entity: its split into
        // entities could not keep it.
        if entities.is_empty() {
            return Err(Error::snapshot(format!("namespace \"{name}\" has no entity")));
        }
        if namespaces.insert(name.clone(), Namespace { entities, ..Namespace::default() }).is_some() {
            return Err(Error::snapshot(format!("namespace \"{name}\" appears twice")));
        }
    }
    Ok(Engine { namespaces, ..Engine::default() })
}

pub(super) fn decode_entity(e: EntityV1, control: Option<ControlV2>, extra: ExtraV4) -> Result<Entity, String> {
    let (versions, syms) = decode_versions(&e.head.versions)?;
    let targets = decode_targets(e.groups, &e.messages, e.time_base, &syms)?;
    finish_entity(e.head, versions, &syms, targets, control, extra)
}

/// An entity of format 9: its targets in rows ([`super::rows`]).
pub(super) fn decode_v9(e: EntityV9<RowsIn<'_>>) -> Result<Entity, String> {
    let (versions, syms) = decode_versions(&e.head.versions)?;
    let targets = decode_rows(e.targets, &syms)?;
    let known = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    let by_rank = |i: u64| {
        let (group, name, _) = targets.by_rank(usize::try_from(i).ok()?)?;
        Some((group.to_owned(), name.to_owned()))
    };
    let control = expand_log_of(known, by_rank, e.control)?;
    finish_entity(e.head, versions, &syms, targets, Some(control), e.extra)
}

/// The entity's versions, and the symbol of each index the format gives
/// one (0: no version).
fn decode_versions(table: &[String]) -> Result<(Interner, Vec<Sym>), String> {
    let mut versions = Interner::default();
    let mut syms = vec![Sym::EMPTY];
    let mut unique = HashSet::new();
    for v in table {
        if v.is_empty() || !unique.insert(v.as_str()) {
            return Err(format!("version table entry \"{v}\" is empty or repeated"));
        }
        syms.push(versions.intern(v));
    }
    Ok((versions, syms))
}

/// The symbol of version index `i` ([`decode_versions`]).
pub(super) fn version_sym(syms: &[Sym], i: u32) -> Result<Sym, String> {
    usize::try_from(i).ok().and_then(|i| syms.get(i)).copied().ok_or_else(|| format!("version index {i} is outside the table"))
}

/// Format 1's targets (formats 1 to 8 write them so).
fn decode_targets(groups: Vec<GroupV1>, messages: &[String], time_base: i64, syms: &[Sym]) -> Result<Targets, String> {
    let sym = |i: u32| version_sym(syms, i);
    let mut decoded = Vec::new();
    let mut targets = Targets::default();
    for group in groups {
        for t in group.targets {
            if t.name.is_empty() {
                return Err(format!("a target of group \"{}\" has an empty name", group.name));
            }
            let message = usize::try_from(t.message)
                .ok()
                .and_then(|i| messages.get(i))
                .ok_or_else(|| format!("message index {} is outside the table", t.message))?;
            let reason = from_code(&TargetState::ALL, state_code, t.state, "target state")?;
            let (judgement, hold) = judgement::of_reason(reason)
                .ok_or_else(|| format!("target \"{}\" of group \"{}\" is stored as removed", t.name, group.name))?;
            let (tags, detail) = (targets.intern_tags(&t.tags), targets.intern_text(t.detail.as_deref().unwrap_or_default()));
            let target = Target {
                extra: targets.extra(tags, detail),
                reported: sym(t.reported)?,
                expected: sym(t.expected)?,
                message: targets.intern_text(message),
                is_error: t.is_error,
                judgement,
                hold,
                last_seen: Time::at(time_base.wrapping_add(t.last_seen)),
                last_message: Time::at(time_base.wrapping_add(t.last_message)),
                version_changed: Time::at(time_base.wrapping_add(t.version_changed)),
                assigned: Time::at(time_base.wrapping_add(t.assigned)),
            };
            decoded.push((group.name.clone(), t.name, target));
        }
    }
    let count = decoded.len();
    targets.extend(decoded);
    if targets.len() != count {
        return Err("a target appears twice".to_owned());
    }
    Ok(targets)
}

/// The entity around its decoded targets: its options, versions and, from
/// format 2, its progressive-delivery state.
fn finish_entity(
    head: HeadV1,
    versions: Interner,
    syms: &[Sym],
    targets: Targets,
    control: Option<ControlV2>,
    extra: ExtraV4,
) -> Result<Entity, String> {
    let sym = |i: u32| version_sym(syms, i);
    let mut options = RolloutOptions {
        batch_percent: head.batch_percent,
        success_percent: head.success_percent,
        success_timeout_secs: head.success_timeout_secs,
        duration_timeout_secs: head.duration_timeout_secs,
        ..RolloutOptions::default()
    };
    if let Some(c) = &control {
        options.steps = c
            .settings
            .steps
            .iter()
            .map(|s| PlanStep { size: decode_amount(&s.size), bake_secs: s.bake_secs, approval: s.approval, analysis: None })
            .collect();
        options.max_failures = c.settings.max_failures.as_ref().map(decode_amount);
        options.max_consecutive_failures = c.settings.max_consecutive_failures;
        options.watch_secs = c.settings.watch_secs;
        options.rollback_batch_percent = c.settings.rollback_batch_percent;
        options.max_events = c.settings.max_events;
    }
    options.error_timeout_secs = extra.error_timeout_secs;
    let plan_meaning = match extra.plan_increments {
        true if !options.steps.is_empty() => crate::plan::Meaning::Increments,
        _ => crate::plan::Meaning::Totals,
    };
    options.validate_as(plan_meaning).map_err(|err| err.to_string())?;
    let mut entity = Entity {
        target_version: sym(head.target_version)?,
        rolling: sym(head.rolling)?,
        lkg: sym(head.lkg)?,
        lkb: sym(head.lkb)?,
        options,
        plan_meaning,
        targets,
        ..Entity::default()
    };
    if let Some(c) = control {
        decode_control(&mut entity, c, &sym)?;
    }
    entity.versions = versions;
    entity.phase = crate::phase::Phase::of(entity.rolling, entity.lkg, entity.lkb, entity.watch);
    check_reachable(&entity)?;
    Ok(entity)
}

/// Rejects states no engine can reach (a snapshot that holds one was not
/// written by an engine, and stepping it could break what the engine
/// promises).
pub(super) fn check_reachable(entity: &Entity) -> Result<(), String> {
    if !entity.lkg.is_empty() && entity.lkg == entity.lkb {
        return Err(format!("\"{}\" is both last known good and last known bad", entity.version(entity.lkg)));
    }
    if let Some(watch) = entity.watch {
        if watch.version != entity.lkg {
            return Err(format!("the watched version \"{}\" is not the last known good one", entity.version(watch.version)));
        }
    }
    if entity.history.rollouts.iter().filter(|r| r.outcome.is_open()).count() > 1 {
        return Err("more than one rollout in the history is open".into());
    }
    if let Some(r) = entity.removed.iter().find(|r| entity.targets.get(&r.id.group, &r.id.name).is_some()) {
        return Err(format!("\"{}\" in group \"{}\" is both removed and a target", r.id.name, r.id.group));
    }
    Ok(())
}

pub(super) fn decode_amount(amount: &AmountV2) -> Amount {
    match *amount {
        AmountV2::Count(n) => Amount::Count(n),
        AmountV2::Percent(p) => Amount::Percent(p),
    }
}

pub(super) fn decode_control(entity: &mut Entity, c: ControlV2, sym: &impl Fn(u32) -> Result<Sym, String>) -> Result<(), String> {
    let flag = |bit: u8| c.settings.flags & (1u8 << bit) != 0;
    if c.settings.flags >> 7 != 0 {
        return Err(format!("unknown progress flags {:#04x}", c.settings.flags));
    }
    if c.settings.step > 0 && usize::try_from(c.settings.step).map_or(true, |s| s >= entity.options.steps.len()) {
        return Err(format!("plan step {} is beyond a plan of {} steps", c.settings.step, entity.options.steps.len()));
    }
    entity.paused_since = c.settings.paused_since;
    entity.progress = Progress {
        step: usize::try_from(c.settings.step).map_err(|_| format!("plan step {} is out of range", c.settings.step))?,
        started: c.settings.step_started,
        bake_from: c.settings.bake_from,
        skip_bake: flag(0),
        approved: flag(1),
        requested: flag(2),
        full: flag(3),
        done: flag(4),
        consecutive_failures: c.settings.consecutive_failures,
        rollback_logged: flag(5),
        retry_pending: flag(6),
    };
    entity.watch = match c.settings.watch {
        Some((version, until, previous)) => Some(Watch { version: sym(version)?, until, previous: sym(previous)? }),
        None => None,
    };
    for (group, name, version) in c.settings.removed {
        entity.removed.push(Removed { id: TargetId { group, name }, version: sym(version)? });
    }
    let mut log = EventLog { next_seq: c.settings.next_seq, ..EventLog::default() };
    for e in c.events {
        if e.seq >= c.settings.next_seq || log.events.back().is_some_and(|last| last.seq >= e.seq) {
            return Err(format!("event {} is out of order", e.seq));
        }
        log.events.push_back(Stored {
            seq: e.seq,
            time: e.time,
            kind: from_code(&EventKind::ALL, kind_code, e.kind, "event kind")?,
            version: sym(e.version)?,
            target: e.target.map(|(group, name)| TargetId { group, name }),
            detail: e.detail.into_boxed_str(),
        });
    }
    if log.events.len() > usize::try_from(entity.options.max_events).unwrap_or(usize::MAX) {
        return Err("more events than maxEvents".into());
    }
    entity.log = log;
    let mut history = History::default();
    for r in c.history {
        history.rollouts.push_back(StoredRollout {
            version: sym(r.version)?,
            started: r.started,
            ended: r.ended,
            outcome: from_code(&Outcome::ALL, outcome_code, r.outcome, "rollout outcome")?,
            tally: crate::log::Tally::default(),
        });
    }
    if history.rollouts.len() > crate::log::HISTORY_LIMIT {
        return Err("more rollouts than the history keeps".into());
    }
    entity.history = history;
    Ok(())
}
