// The stores take the clients users already have, by those clients' own
// types (node-redis, ioredis, pg, postgres.js), and refuse what is not one.
import { createClient } from "redis";
import { Redis } from "ioredis";
import pg from "pg";
import postgres from "postgres";
import { OrchestratorError } from "orchestrator-engine";
import { PostgresStore, RedisStore } from "orchestrator-engine/stores";
import { ScenarioError } from "orchestrator-engine/simulation";

new RedisStore(createClient({ url: "redis://127.0.0.1:6379", disableOfflineQueue: true }), { prefix: "rollouts" });
new RedisStore(new Redis({ enableOfflineQueue: false }));
new PostgresStore(new pg.Pool(), { table: "rollouts" });
new PostgresStore(new pg.Client());
new PostgresStore(postgres("postgres://postgres@127.0.0.1/postgres"));
// @ts-expect-error not a Redis client
new RedisStore({});
// @ts-expect-error not a PostgreSQL client
new PostgresStore({ query: "SELECT 1" });

// A simulator's complaint is one of the package's errors.
export function complaint(error: ScenarioError): OrchestratorError {
  const code: "INVALID_SCENARIO" = error.code;
  void code;
  return error;
}
