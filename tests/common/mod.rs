//! A simulated fleet that obeys the engine, for scenario and property tests.
#![allow(dead_code)]

use std::collections::HashMap;

use orchestrator_engine::{Engine, ExpectedState, RolloutOptions, TargetReport, TargetState};

/// An arbitrary epoch: 2023-11-14.
pub const T0: i64 = 1_700_000_000_000;
pub const SEC: i64 = 1000;

/// How a host behaves once it runs a given version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// Reports errors from the start.
    Broken,
    /// Never installs the version: keeps running what it ran.
    Stuck,
    /// Healthy, then reports errors once it has run the version this long.
    LateFailure {
        after_ms: i64,
    },
    /// Alternates healthy and erroring periods.
    Flapping {
        period_ms: i64,
    },
}

#[derive(Debug, Clone)]
pub struct Host {
    pub group: String,
    pub name: String,
    pub running: String,
    /// When it started running `running`.
    pub since: i64,
    pub behaviour: HashMap<String, Behaviour>,
}

impl Host {
    pub fn behaviour(&self, version: &str) -> Behaviour {
        self.behaviour.get(version).copied().unwrap_or(Behaviour::Healthy)
    }

    pub fn report(&self, now: i64) -> TargetReport {
        let age = now - self.since;
        let is_error = match self.behaviour(&self.running) {
            Behaviour::Healthy | Behaviour::Stuck => false,
            Behaviour::Broken => true,
            Behaviour::LateFailure { after_ms } => age > after_ms,
            Behaviour::Flapping { period_ms } => (age / period_ms.max(1)) % 2 == 1,
        };
        let mut report = TargetReport::new(&self.name, &self.running).in_group(&self.group);
        report.is_error = is_error;
        report.message = if is_error { "error rate above 5%".into() } else { "running successfully".into() };
        report
    }
}

/// A controller loop: report every host, orchestrate, apply the answer,
/// advance virtual time.
pub struct Sim {
    pub engine: Engine,
    pub now: i64,
    pub step_ms: i64,
    pub ns: String,
    pub entity: String,
    pub hosts: Vec<Host>,
}

pub fn host_name(i: usize) -> String {
    format!("host-{i:03}")
}

impl Sim {
    /// `n` hosts named `host-000`.. in group "", all running `version`.
    pub fn new(n: usize, version: &str) -> Self {
        let hosts = (0..n)
            .map(|i| Host {
                group: String::new(),
                name: host_name(i),
                running: version.to_owned(),
                since: T0 - 3600 * SEC,
                behaviour: HashMap::new(),
            })
            .collect();
        Sim { engine: Engine::new(), now: T0, step_ms: 10 * SEC, ns: "prod".into(), entity: "app".into(), hosts }
    }

    pub fn options(&mut self, options: RolloutOptions) {
        self.engine.set_rollout_options(&self.ns, &self.entity, Some(options)).unwrap();
    }

    pub fn set_version(&mut self, version: &str) {
        self.engine.set_target_version(&self.ns, &self.entity, version, self.now).unwrap();
    }

    pub fn reports(&self) -> Vec<TargetReport> {
        self.hosts.iter().map(|h| h.report(self.now)).collect()
    }

    /// One loop iteration; returns the engine's answer.
    pub fn step(&mut self) -> Vec<ExpectedState> {
        let reports = self.reports();
        let answer = self.engine.orchestrate(&self.ns, &self.entity, &reports, self.now).unwrap();
        self.apply(&answer);
        self.now += self.step_ms;
        answer
    }

    /// The hosts install what they are told (unless stuck on it); they run
    /// it from the next report on.
    pub fn apply(&mut self, answer: &[ExpectedState]) {
        let index: HashMap<(&str, &str), &ExpectedState> = answer.iter().map(|e| ((e.group.as_str(), e.name.as_str()), e)).collect();
        let next = self.now + self.step_ms;
        for host in &mut self.hosts {
            let Some(expected) = index.get(&(host.group.as_str(), host.name.as_str())) else {
                continue;
            };
            if expected.version != host.running && host.behaviour(&expected.version) != Behaviour::Stuck {
                host.running = expected.version.clone();
                host.since = next;
            }
        }
    }

    pub fn info(&self) -> orchestrator_engine::RolloutInfo {
        self.engine.rollout_info(&self.ns, &self.entity).unwrap()
    }

    /// Runs steps until `done` or `max` steps; returns how many ran.
    pub fn run_until(&mut self, max: usize, mut done: impl FnMut(&Sim) -> bool) -> usize {
        for i in 0..max {
            if done(self) {
                return i;
            }
            self.step();
        }
        panic!("not done after {max} steps: {:?}", self.info());
    }

    /// First rollout of `version` with a whole-fleet batch (no plan, no
    /// watch): establishes it as last known good, then restores `options`.
    pub fn establish(&mut self, version: &str, options: RolloutOptions) {
        self.options(RolloutOptions { batch_percent: 100, steps: Vec::new(), watch_secs: 0, ..options.clone() });
        self.set_version(version);
        self.run_until(10, |s| s.info().last_known_good_version == version);
        self.options(options);
    }
}

pub fn count(answer: &[ExpectedState], reason: TargetState) -> usize {
    answer.iter().filter(|e| e.reason == reason).count()
}

/// The spec's defaults but for the batch: success 100%, 60 s, 120 s.
pub fn options(batch_percent: u32) -> RolloutOptions {
    RolloutOptions {
        batch_percent,
        success_percent: 100,
        success_timeout_secs: 60,
        duration_timeout_secs: 120,
        ..RolloutOptions::default()
    }
}

/// A percentage of the fleet, as a plan step's size or an error budget.
pub fn pct(p: u32) -> orchestrator_engine::Amount {
    orchestrator_engine::Amount::Percent(p)
}

/// `n` hosts established on v1 with `opts`, then v2 set.
pub fn rolling(n: usize, opts: RolloutOptions) -> Sim {
    let mut sim = Sim::new(n, "v1");
    sim.establish("v1", opts);
    sim.set_version("v2");
    sim
}

/// The kinds of the entity's events, in order.
pub fn kinds(sim: &Sim) -> Vec<orchestrator_engine::EventKind> {
    sim.engine.events(&sim.ns, &sim.entity, 0, usize::MAX).unwrap().into_iter().map(|e| e.kind).collect()
}

/// How many hosts run `version`.
pub fn on(sim: &Sim, version: &str) -> usize {
    sim.hosts.iter().filter(|h| h.running == version).count()
}
