//! What an entity remembers, in virtual time: the event log in order and
//! in pages, the history of rollouts, and rollbackTo as an entry of its
//! own that names the version it leaves and why.

mod common;

use common::{on, options, rolling, Behaviour, Sim};
use orchestrator_engine::{ErrorCode, EventKind, Outcome, RolloutOptions, TargetState};

// ---- event log, history, rollbackTo ----------------------------------

#[test]
fn the_event_log_tells_a_rollout_in_order_and_pages() {
    let mut sim = rolling(4, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let v2: Vec<_> = events.iter().filter(|e| e.version == "v2").map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(
        v2,
        [
            VersionSet,
            TargetAssigned,
            TargetAssigned,
            TargetSucceeded,
            TargetSucceeded,
            TargetAssigned,
            TargetAssigned,
            TargetSucceeded,
            TargetSucceeded,
            VersionGood
        ]
    );
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1 && w[1].time >= w[0].time));
    let assigned = events.iter().find(|e| e.kind == TargetAssigned).unwrap();
    assert_eq!(assigned.target.as_ref().unwrap().name, "host-000");
    assert_eq!(assigned.detail, "moves from v1");

    // Paging: since the seq last seen, limit per page.
    let mut seen = 0;
    let mut pages = Vec::new();
    loop {
        let page = sim.engine.events("prod", "app", seen, 4).unwrap();
        let Some(last) = page.last() else { break };
        seen = last.seq;
        pages.extend(page);
    }
    assert_eq!(pages, events);

    // Bounded: the oldest are dropped past maxEvents.
    sim.options(RolloutOptions { max_events: 3, ..options(50) });
    let kept = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    assert_eq!(kept, events[events.len() - 3..]);
}

#[test]
fn history_records_every_rollout_and_rollback_to_returns_to_any_good_version() {
    let mut sim = rolling(6, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_good_version == "v3");
    sim.hosts.iter_mut().for_each(|h| {
        h.behaviour.insert("v4".into(), Behaviour::Broken);
    });
    sim.set_version("v4");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v4");
    sim.run_until(100, |s| on(s, "v3") == 6);

    let history: Vec<_> =
        sim.engine.history("prod", "app").unwrap().into_iter().map(|r| (r.version, r.outcome, r.ended.is_some())).collect();
    let want = [("v1", Outcome::Succeeded), ("v2", Outcome::Succeeded), ("v3", Outcome::Succeeded), ("v4", Outcome::Failed)];
    assert_eq!(history, want.map(|(v, o)| (v.to_owned(), o, true)));

    // v4 was never good, v9 never existed.
    for bad in ["v4", "v9"] {
        let err = sim.engine.rollback_to("prod", "app", bad, sim.now).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidVersion);
        assert!(err.to_string().contains("v1, v2, v3"), "{err}");
    }
    // Every target is on v3 already, but the target version was v4.
    assert!(sim.engine.rollback_to("prod", "app", "v3", sim.now).unwrap());
    assert_eq!(sim.info().target_version, "v3");
    assert!(!sim.engine.rollback_to("prod", "app", "v3", sim.now).unwrap(), "already there");
    sim.step(); // settled on v3

    assert!(sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap());
    let answer = sim.step();
    assert!(answer.iter().all(|e| e.version == "v1" && e.reason == TargetState::RolledBack));
    sim.run_until(50, |s| on(s, "v1") == 6);
    let info = sim.info();
    assert_eq!(
        (info.target_version.as_str(), info.last_known_good_version.as_str(), info.last_known_bad_version.as_str()),
        ("v1", "v1", "v3")
    );
    for _ in 0..20 {
        assert!(sim.step().iter().all(|e| e.version == "v1"));
    }
    // And forward again to a version that was good.
    assert!(sim.engine.rollback_to("prod", "app", "v2", sim.now).unwrap());
    sim.run_until(50, |s| on(s, "v2") == 6);
}

/// The rollback events since `seq`: (kind, version, detail).
fn rollback_events(sim: &Sim, seq: u64) -> Vec<(EventKind, String, String)> {
    let events = sim.engine.events("prod", "app", seq, usize::MAX).unwrap();
    events
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::RollbackStarted | EventKind::RollbackFinished))
        .map(|e| (e.kind, e.version, e.detail))
        .collect()
}

fn newest_seq(sim: &Sim) -> u64 {
    sim.engine.events("prod", "app", 0, usize::MAX).unwrap().last().map_or(0, |e| e.seq)
}

#[test]
fn a_rollback_to_is_a_history_entry_of_its_own_and_names_the_version_it_leaves_and_why() {
    // v2 good, v3 good, then back to v2: the targets leave v3 because an
    // operator asked, not because v3 went bad.
    let mut sim = rolling(6, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_good_version == "v3" && on(s, "v3") == 6);
    let seq = newest_seq(&sim);
    assert!(sim.engine.rollback_to("prod", "app", "v2", sim.now).unwrap());
    let last = sim.engine.history("prod", "app").unwrap().pop().unwrap();
    assert_eq!((last.version.as_str(), last.outcome, last.ended), ("v2", Outcome::RolledBackTo, Some(sim.now)));
    let answer = sim.step();
    for e in &answer {
        assert_eq!((e.version.as_str(), e.reason), ("v2", TargetState::RolledBack));
        assert_eq!(e.message, "rolling back to v2: an operator's rollbackTo left v3");
    }
    sim.run_until(50, |s| on(s, "v2") == 6);
    sim.step();
    let events = rollback_events(&sim, seq);
    assert_eq!(
        events,
        [
            (EventKind::RollbackStarted, "v3".to_owned(), "rollbackTo, an operator's request, leaving v3: moving its targets back to v2".to_owned()),
            (EventKind::RollbackFinished, "v3".to_owned(), "every moved target is expected back on v2".to_owned()),
        ]
    );

    // v2 good, v3 bad and rolled back, then back to v1: the targets leave
    // v2, which was good; v3's verdict is not why.
    let mut sim = rolling(6, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim.hosts.iter_mut().for_each(|h| {
        h.behaviour.insert("v3".into(), Behaviour::Broken);
    });
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v3");
    sim.run_until(100, |s| on(s, "v2") == 6);
    sim.step();
    let seq = newest_seq(&sim);
    assert!(sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap());
    let answer = sim.step();
    for e in &answer {
        assert_eq!(e.message, "rolling back to v1: an operator's rollbackTo left v2", "{e:?}");
        assert!(!e.message.contains("known bad"));
    }
    sim.run_until(50, |s| on(s, "v1") == 6);
    sim.step();
    let events = rollback_events(&sim, seq);
    assert_eq!(events.iter().map(|(k, v, _)| (*k, v.as_str())).collect::<Vec<_>>(), [(EventKind::RollbackStarted, "v2"), (EventKind::RollbackFinished, "v2")]);
    let history: Vec<_> = sim.engine.history("prod", "app").unwrap().into_iter().map(|r| (r.version, r.outcome)).collect();
    assert_eq!(history.last(), Some(&("v1".to_owned(), Outcome::RolledBackTo)));
    // A version returned to is good to return to again.
    assert!(!sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap(), "already there");
    // The next bad verdict is told as one again.
    assert!(sim.engine.rollback_to("prod", "app", "v2", sim.now).unwrap());
    sim.run_until(50, |s| on(s, "v2") == 6);
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v3");
    sim.run_until(100, |s| s.engine.expected_state("prod", "app", None).unwrap().iter().any(|e| e.reason == TargetState::RolledBack));
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    assert!(answer.iter().filter(|e| e.reason == TargetState::RolledBack).all(|e| e.message == "rolling back to v2: v3 is known bad"), "{answer:?}");
}

// ---- revisions: what each rollout did, and who ------------------------

/// Each rollout counts the steps it reached, the targets it moved and the
/// failures on its version (even past what the event log keeps), and the
/// actions of named operators; a rollbackTo is a revision of its own, by
/// whoever asked; steps are never anyone's.
#[test]
fn revisions_count_what_each_rollout_did_and_name_who_acted() {
    let mut opts = options(25);
    opts.max_events = 5;
    let mut sim = Sim::new(8, "v1");
    sim.establish("v1", opts);
    sim.engine.set_actor(Some("alice")).unwrap();
    sim.set_version("v2");
    sim.engine.set_actor(None).unwrap();
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    // v3 fails on every host: judged bad after the error budget.
    for h in sim.hosts.iter_mut() {
        h.behaviour.insert("v3".into(), Behaviour::Broken);
    }
    sim.engine.set_actor(Some("bob")).unwrap();
    sim.set_version("v3");
    sim.engine.set_actor(None).unwrap();
    sim.run_until(100, |s| s.info().last_known_bad_version == "v3");
    sim.engine.set_actor(Some("carol")).unwrap();
    assert!(sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap());
    assert_eq!(sim.engine.set_actor(Some("")).unwrap_err().code(), ErrorCode::InvalidName);
    assert_eq!(sim.engine.set_actor(Some("a\nb")).unwrap_err().code(), ErrorCode::InvalidName);
    sim.engine.set_actor(None).unwrap();
    sim.run_until(100, |s| s.info().phase == orchestrator_engine::RolloutPhase::RolledOut);

    let history = sim.engine.history("prod", "app").unwrap();
    let summary: Vec<_> = history
        .iter()
        .map(|r| (r.version.as_str(), r.outcome, r.targets_moved, r.failures, r.actions.iter().map(|a| (a.kind, a.by.as_str())).collect::<Vec<_>>()))
        .collect();
    use EventKind::*;
    assert_eq!(summary[1], ("v2", Outcome::Succeeded, Some(8), Some(0), vec![(VersionSet, "alice")]));
    // Without a plan, its steps are its batches: 8 targets, 2 at a time.
    assert_eq!(history[1].steps_reached, Some(4));
    let (version, outcome, moved, failures, actions) = &summary[2];
    assert_eq!((*version, *outcome, actions.as_slice()), ("v3", Outcome::Failed, &[(VersionSet, "bob")][..]));
    // Its first batch (2 of 8) failed, which the error budget allows no more of.
    assert!(moved.unwrap() >= 2 && failures.unwrap() >= 1 && failures.unwrap() <= moved.unwrap(), "{summary:?}");
    assert_eq!(summary[3].0, "v1");
    assert_eq!(summary[3].1, Outcome::RolledBackTo);
    assert_eq!(summary[3].4, [(VersionSet, "carol")]);
    // Its events are those from its first on (the log keeps 5: carol's
    // own has gone, her action stays on the revision); only the controls
    // name anyone.
    let first = history[3].first_event.unwrap();
    let events = sim.engine.events("prod", "app", first - 1, usize::MAX).unwrap();
    assert!(events.iter().all(|e| e.seq >= first) && events.len() == 5);
    assert!(first > history[2].first_event.unwrap());
    let all = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    assert!(all.iter().filter(|e| e.actor.is_some()).all(|e| e.kind == VersionSet || e.kind == RollbackStarted), "{all:?}");
    assert!(all.iter().all(|e| !matches!(e.kind, TargetAssigned | TargetFailed | VersionBad) || e.actor.is_none()));
}

/// `target_counts` counts the states `expected_state` answers, without the targets.
#[test]
fn target_counts_tally_the_expected_states() {
    let mut opts = options(25);
    opts.steps = vec![
        orchestrator_engine::PlanStep { approval: true, ..orchestrator_engine::PlanStep::new(orchestrator_engine::Amount::Count(1)) },
        orchestrator_engine::PlanStep::new(orchestrator_engine::Amount::Percent(100)),
    ];
    let mut sim = rolling(8, opts);
    sim.run_until(50, |s| s.info().awaiting_approval);
    let mut tally = std::collections::BTreeMap::new();
    for e in sim.engine.expected_state("prod", "app", None).unwrap() {
        *tally.entry(format!("{:?}", e.reason)).or_insert(0u64) += 1;
    }
    let counts: std::collections::BTreeMap<String, u64> =
        sim.engine.target_counts("prod", "app").unwrap().into_iter().map(|(s, n)| (format!("{s:?}"), n)).collect();
    assert_eq!(counts, tally);
    assert_eq!(counts.values().sum::<u64>(), 8, "{counts:?}");
}
