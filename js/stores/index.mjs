// The stores that run anywhere (`orchestrator-engine/stores`); the
// directory store, which needs Node's file system, is
// `orchestrator-engine/stores/file`.
export { MemoryStore } from "./memory.mjs";
export { RedisStore } from "./redis.mjs";
export { PostgresStore } from "./postgres.mjs";
