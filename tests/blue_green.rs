//! Blue/green fleets over random sizes and paces: a selection hook that
//! creates a new machine for every one it is asked for, a removal hook
//! that retires what it is asked to (or, lazily, one at a time), and
//! machines that are healthy or broken on the new version. The oracle
//! counts the machines created against those retired: the hook is never
//! asked for more machines than targets remain to replace, the fleet never
//! grows past its size plus one batch (rolling out) or one rollback batch
//! (rolling back), and a finished rollout or rollback leaves as many
//! machines as it started with.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use common::{Behaviour, Host, Sim, SEC};
use orchestrator_engine::{HookContext, HookError, RolloutOptions, TargetController, TargetId, TargetView};
use proptest::prelude::*;

#[derive(Debug, Default)]
struct Ledger {
    created: usize,
    retired: usize,
    /// A selection asked for more machines than targets left to replace:
    /// (step time, asked, targets on another version).
    overasked: Option<(i64, usize, usize)>,
}

struct BlueGreen {
    ledger: Rc<RefCell<Ledger>>,
    /// Retires at most one machine a call (the Go engine's test controller).
    lazy: bool,
}

impl TargetController for BlueGreen {
    fn select(&mut self, ctx: &HookContext<'_>, available: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        let mut ledger = self.ledger.borrow_mut();
        if count > available.len() && ledger.overasked.is_none() {
            ledger.overasked = Some((ctx.now, count, available.len()));
        }
        let from = ledger.created;
        ledger.created += count;
        Ok((from..from + count).map(|i| TargetId::new("green", format!("machine-{i:05}"))).collect())
    }

    fn remove(&mut self, _: &HookContext<'_>, candidates: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        let take = if self.lazy { count.min(1) } else { count };
        let chosen: Vec<TargetId> = candidates.iter().take(take).map(TargetView::id).collect();
        self.ledger.borrow_mut().retired += chosen.len();
        Ok(chosen)
    }
}

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    batch_percent: u32,
    rollback_batch_percent: Option<u32>,
    /// Whether machines on v2 report errors.
    broken: bool,
    lazy: bool,
    success_timeout_secs: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=60, 1u32..=100, proptest::option::weighted(0.5, 1u32..=100), any::<bool>(), any::<bool>(), 0u64..=30).prop_map(
        |(n, batch_percent, rollback_batch_percent, broken, lazy, success_timeout_secs)| Case {
            n,
            batch_percent,
            rollback_batch_percent,
            broken,
            lazy,
            success_timeout_secs,
        },
    )
}

const STEPS: usize = 400;

fn run(case: &Case) {
    let mut sim = Sim::new(case.n, "v1");
    sim.step_ms = 10 * SEC;
    let options = RolloutOptions {
        batch_percent: case.batch_percent,
        rollback_batch_percent: case.rollback_batch_percent,
        success_percent: 100,
        success_timeout_secs: case.success_timeout_secs,
        duration_timeout_secs: case.success_timeout_secs + 60,
        ..RolloutOptions::default()
    };
    sim.establish("v1", options.clone());
    let ledger = Rc::new(RefCell::new(Ledger::default()));
    let controller = BlueGreen { ledger: ledger.clone(), lazy: case.lazy };
    sim.engine.set_target_controller("prod", "app", Some(Box::new(controller))).unwrap();
    sim.set_version("v2");
    let behaviour = if case.broken { Behaviour::Broken } else { Behaviour::Healthy };

    // The fleet's size when the current phase (rollout or rollback) began,
    // and the most it may hold during it.
    let mut phase = (false, case.n, case.n + options.batch_size(case.n));
    let mut settled_at = None;
    for step in 0..STEPS {
        let answer = sim.engine.orchestrate("prod", "app", &sim.reports(), sim.now).unwrap();
        let info = sim.info();
        // Machines the hook created join the fleet, running what they are
        // told; retired ones leave it.
        let hosts: HashMap<(String, String), Host> = sim.hosts.drain(..).map(|h| ((h.group.clone(), h.name.clone()), h)).collect();
        let mut hosts = hosts;
        sim.hosts = answer
            .iter()
            .map(|e| {
                hosts.remove(&(e.group.clone(), e.name.clone())).unwrap_or_else(|| Host {
                    group: e.group.clone(),
                    name: e.name.clone(),
                    running: e.version.clone(),
                    since: sim.now,
                    behaviour: HashMap::from([("v2".to_owned(), behaviour)]),
                })
            })
            .collect();

        let ledger = ledger.borrow();
        assert_eq!(ledger.overasked, None, "step {step}: asked for more machines than targets left to replace ({case:?})");
        let fleet = answer.len();
        assert_eq!(fleet, case.n + ledger.created - ledger.retired, "step {step}: the answer is the fleet");
        let rolling_back = !info.last_known_bad_version.is_empty() && info.rolling_version == info.last_known_bad_version;
        if rolling_back != phase.0 {
            let before = phase.1.max(fleet);
            let batch = if rolling_back { options.rollback_batch_size(before) } else { options.batch_size(before) };
            phase = (rolling_back, before, before + batch);
        }
        assert!(
            fleet <= phase.2,
            "step {step}: {fleet} machines, {} when the {} began, at most {} ({case:?}, created {}, retired {})",
            phase.1,
            if rolling_back { "rollback" } else { "rollout" },
            phase.2,
            ledger.created,
            ledger.retired
        );
        let settled = if case.broken {
            info.last_known_bad_version == "v2" && answer.iter().all(|e| e.version == "v1")
        } else {
            info.last_known_good_version == "v2" && answer.iter().all(|e| e.version == "v2")
        };
        if settled && fleet == case.n {
            settled_at = Some(step);
            break;
        }
        drop(ledger);
        sim.apply(&answer);
        sim.now += sim.step_ms;
    }
    let ledger = ledger.borrow();
    assert!(
        settled_at.is_some(),
        "not settled with {} machines after {STEPS} steps ({case:?}): {:?}, created {}, retired {}",
        case.n,
        sim.info(),
        ledger.created,
        ledger.retired
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES may raise the count for a campaign, never lower it.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).map_or(96, |n: u32| n.max(96)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn blue_green_creates_only_what_it_retires(case in case()) {
        run(&case);
    }
}
