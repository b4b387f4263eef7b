// What a subscription can ask to be told of: each kind is read from the
// entity's events (see "Events" in docs/JS-API.md). Target events (a
// target assigned, succeeded, failed) are not among them: a fleet's worth
// of messages tells a person nothing one message would not.

/** Each kind, the event kinds it is made of, and what it says, for a person. */
export const KINDS = {
  rollout_started: { events: ["version_set", "retried"], title: "Rollout started" },
  step_started: { events: ["step_started"], title: "Plan step started" },
  awaiting_approval: { events: ["approval_requested"], title: "Awaiting approval" },
  approved: { events: ["approved"], title: "Approved" },
  paused: { events: ["paused"], title: "Paused" },
  resumed: { events: ["resumed"], title: "Resumed" },
  aborted: { events: ["aborted"], title: "Aborted" },
  analysis_failed: { events: ["analysis_finished"], title: "Analysis failed", when: (e) => / (failed|error): /.test(e.detail) },
  version_bad: { events: ["version_bad"], title: "Version bad" },
  rollback_started: { events: ["rollback_started"], title: "Rollback started" },
  rolled_back: { events: ["rollback_finished"], title: "Rolled back" },
  rolled_out: { events: ["version_good"], title: "Rolled out" },
  watch_ended: { events: ["watch_ended"], title: "Watch window ended" },
  promoted: { events: ["version_promoted", "promoted"], title: "Promoted" },
  frozen: { events: ["frozen"], title: "Frozen" },
  unfrozen: { events: ["unfrozen"], title: "Unfrozen" },
  hook_failed: { events: ["hook_failed"], title: "Hook failed" },
};

/** What a subscription that names no kinds is told of. */
export const DEFAULT_KINDS = [
  "rollout_started",
  "step_started",
  "awaiting_approval",
  "paused",
  "analysis_failed",
  "version_bad",
  "rolled_back",
  "rolled_out",
  "promoted",
];

/** The kind an event is (`undefined`: none a subscription can ask for). */
export function kindOf(event) {
  for (const [kind, { events, when }] of Object.entries(KINDS)) {
    if (events.includes(event.kind) && (when === undefined || when(event))) return kind;
  }
  return undefined;
}
