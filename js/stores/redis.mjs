// The Redis store: one hash per entity (`rev`, `state`), a set of every
// entity, and a counter that makes revisions unique for the store's life
// (an entity deleted and made again never reuses a revision). Each read
// and each compare-and-swap is one server-side script, so it is atomic
// without a transaction. Every key of a store shares one hash tag, so the
// store works on Redis Cluster too. The client is the caller's: node-redis
// (v4 and later) or ioredis; none is bundled.

import { byName, entityKey, fromEntityKey } from "./names.mjs";

// KEYS: entity. ARGV: the revision the caller holds ("" for none).
const GET = `
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return false end
if rev == ARGV[1] then return {rev} end
return {rev, redis.call('HGET', KEYS[1], 'state')}`;

// KEYS: entity, index, counter. ARGV: expected revision ("" for "must not
// exist"), state, index member.
const PUT = `
local current = redis.call('HGET', KEYS[1], 'rev')
if ARGV[1] == '' then
  if current then return false end
elseif current ~= ARGV[1] then
  return false
end
local rev = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[1], 'rev', rev, 'state', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return rev`;

// KEYS: entity, index. ARGV: index member.
const DELETE = `
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])`;

/** A store in Redis (see `Store` in stores.d.ts). */
export class RedisStore {
  #send;
  #prefix;

  /**
   * @param {object} client a connected node-redis or ioredis client
   * @param {{ prefix?: string }} [options] keys start with `{prefix}`
   *   (default `orchestrator`): several stores can share one server.
   */
  constructor(client, { prefix = "orchestrator" } = {}) {
    this.#send = sender(client);
    if (typeof prefix !== "string" || prefix === "" || /[{}]/.test(prefix)) {
      throw new TypeError("RedisStore: prefix must be a non-empty string without braces");
    }
    this.#prefix = `{${prefix}}:`;
  }

  async get(namespace, entity, known) {
    const reply = await this.#send(["EVAL", GET, "1", this.#entity(namespace, entity), known ?? ""]);
    if (reply === null || reply === undefined) return undefined;
    const [revision, state] = reply;
    if (state === undefined || state === null) return { revision: String(revision) };
    return { revision: String(revision), bytes: new Uint8Array(state.buffer, state.byteOffset, state.byteLength) };
  }

  async put(namespace, entity, bytes, revision) {
    const state = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const keys = [this.#entity(namespace, entity), this.#prefix + "index", this.#prefix + "revision"];
    const reply = await this.#send(["EVAL", PUT, "3", ...keys, revision ?? "", state, entityKey(namespace, entity)]);
    return reply === null || reply === undefined ? null : String(reply);
  }

  async list() {
    const members = await this.#send(["SMEMBERS", this.#prefix + "index"]);
    return members.map((m) => fromEntityKey(String(m))).sort(byName);
  }

  async delete(namespace, entity) {
    const keys = [this.#entity(namespace, entity), this.#prefix + "index"];
    const deleted = await this.#send(["EVAL", DELETE, "2", ...keys, entityKey(namespace, entity)]);
    return Number(deleted) > 0;
  }

  #entity(namespace, entity) {
    return this.#prefix + "entity:" + entityKey(namespace, entity);
  }
}

/** A function that sends one command and answers bulk strings as Buffers. */
function sender(client) {
  // ioredis: `callBuffer(command, ...args)`.
  if (typeof client?.callBuffer === "function") {
    return ([command, ...args]) => client.callBuffer(command, ...args);
  }
  // node-redis v4+: `sendCommand(args, options)`; bulk strings as Buffers
  // through the RESP type mapping (v5+: `$`, 36) or `returnBuffers` (v4).
  if (typeof client?.sendCommand === "function") {
    const options = { typeMapping: { 36: Buffer }, returnBuffers: true };
    return (args) => client.sendCommand(args, options);
  }
  throw new TypeError("RedisStore: pass a connected node-redis or ioredis client");
}
