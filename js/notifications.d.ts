// The notifications js/notify/install.mjs adds to `Orchestrator`, for
// every entry's types (index.d.mts, index.d.cts, web-bindings.d.ts), and
// the shapes `Rollouts` shares.

/** What a subscription can ask to be told of. */
export type NotificationKind =
  | "rollout_started"
  | "step_started"
  | "awaiting_approval"
  | "approved"
  | "paused"
  | "resumed"
  | "aborted"
  | "analysis_failed"
  | "version_bad"
  | "rollback_started"
  | "rolled_back"
  | "rolled_out"
  | "watch_ended"
  | "promoted"
  | "frozen"
  | "unfrozen"
  | "hook_failed";

/** One receiver of an entity's notifications. */
export interface Subscription {
  /** 1 to 64 letters, digits, ".", "_" or "-"; unique per entity. */
  name: string;
  /** Where to post (http or https; the hosts allowed for HTTP controllers). */
  url: string;
  /** Default "webhook": JSON with the event and the entity's state. */
  format?: "webhook" | "slack" | "teams" | "discord";
  /** Default: rollout_started, step_started, awaiting_approval, paused, analysis_failed, version_bad, rolled_back, rolled_out, promoted. */
  kinds?: NotificationKind[];
  /** Sent with every delivery (never shown to readers). */
  headers?: Record<string, string>;
  /** One attempt's time limit, ms (default 10,000). */
  timeoutMs?: number;
  /** Attempts before a delivery is given up (default 6, at most 20). */
  maxAttempts?: number;
}

/** What came of one delivery attempt. */
export interface Delivery {
  /** `${seq}/${subscription}`. */
  id: string;
  ok: boolean;
  status?: number;
  /** Why it failed: the receiver's origin and what went wrong. */
  error?: string;
  /** A refusal no retry mends (a 4xx other than 408 and 429). */
  permanent?: boolean;
  ms: number;
}

/** A delivery log entry. */
export interface DeliveryLogEntry {
  outcome: "delivered" | "retrying" | "failed" | "missed" | "dropped";
  at: number;
  seq?: number;
  kind?: NotificationKind;
  attempts?: number;
  status?: number;
  ms?: number;
  error?: string;
}

/** An entity's notifications as a reader sees them. */
export interface NotificationsState {
  /** The subscriptions, each URL cut to its origin and header values redacted. */
  subscriptions: (Required<Omit<Subscription, "headers">> & { headers?: Record<string, string> })[];
  pending: { id: string; subscription: string; kind: NotificationKind; seq: number; attempts: number; next: number; error?: string }[];
  /** The last 20 entries of each subscription's log, oldest first. */
  log: Record<string, DeliveryLogEntry[]>;
}

/** The `fetch` deliveries use (the runtime's by default): posts and answers a status. */
export type NotificationFetch = (
  url: string,
  init: { method: "POST"; headers: Record<string, string>; body: string; signal: unknown; redirect: "manual" },
) => Promise<{ status: number; body?: { cancel(): Promise<void> } | null }>;

export interface Notifications {
  /**
   * Sets the entity's subscriptions (`null` or `[]`: none), or with `entity`
   * `null` those of every entity of the namespace (kept in the snapshot, told
   * of events from now on); answers whether they changed.
   */
  setNotifications(namespace: string, entity: string | null, subscriptions: Subscription[] | null): boolean;
  /** The entity's subscriptions (without secrets), what waits, and each one's delivery log. */
  notifications(namespace: string, entity: string): NotificationsState;
  /** The namespace's subscriptions (without secrets), each with `since`. */
  notifications(namespace: string, entity?: null): { subscriptions: (NotificationsState["subscriptions"][number] & { since: number })[] };
  /** Delivers what the entity's events since the last call have for its subscriptions, and retries that are due. */
  deliverNotifications(namespace: string, entity: string, options?: { fetch?: NotificationFetch }): Promise<Delivery[]>;
}

declare module "../pkg/node/orchestrator_engine.js" {
  interface Orchestrator extends Notifications {}
}

declare module "../pkg/web/orchestrator_engine.js" {
  interface Orchestrator extends Notifications {}
}
