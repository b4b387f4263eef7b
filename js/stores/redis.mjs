// The Redis store: one hash per entity (`rev`, `state`: its checkpoint,
// `base`: the revision it was written at), one list per entity (its
// journal: the deltas written since) with a list of the revision each was
// appended at (so a reader a few deltas behind reads only those), a set of
// every entity, and a counter that makes revisions unique for the store's
// life (an entity deleted and made again never reuses a revision). Each
// read and each compare-and-swap is one server-side script, so it is
// atomic without a transaction. Every key of a store shares one hash tag, so the
// store works on Redis Cluster too. The client is the caller's: node-redis
// (v4 and later) or ioredis; none is bundled.

import { describe, orchestratorError } from "../errors.mjs";
import { byName, entityKey, fromEntityKey } from "./names.mjs";
import { Watchers } from "./watchers.mjs";

// KEYS: entity, journal, the journal's revisions. ARGV: the revision the
// caller holds ("" for none). Answers {rev} when it is current; {rev,
// false, delta...} with the deltas after it when it is an earlier revision
// of the same checkpoint (its `base`, or one of the journal's); else {rev,
// state, delta...}. (The revisions list is trusted only while it is as
// long as the journal: an entity written before it was kept has none.)
const GET = `
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return false end
if rev == ARGV[1] then return {rev} end
local journal = redis.call('LRANGE', KEYS[2], 0, -1)
local from = nil
if ARGV[1] ~= '' and redis.call('LLEN', KEYS[3]) == #journal then
  if redis.call('HGET', KEYS[1], 'base') == ARGV[1] then from = 1 end
  for i, r in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
    if r == ARGV[1] then from = i + 1 end
  end
end
local reply = {rev}
if from then
  reply[2] = false
else
  from = 1
  reply[2] = redis.call('HGET', KEYS[1], 'state')
end
for i = from, #journal do reply[#reply + 1] = journal[i] end
return reply`;

// KEYS: entity, index, counter, journal, the journal's revisions. ARGV:
// expected revision ("" for "must not exist"), state, index member, the
// changes channel (told the member once written: in the script, so only a
// write that happened is told, and in its order).
const PUT = `
local current = redis.call('HGET', KEYS[1], 'rev')
if ARGV[1] == '' then
  if current then return false end
elseif current ~= ARGV[1] then
  return false
end
local rev = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[1], 'rev', rev, 'base', rev, 'state', ARGV[2])
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return rev`;

// KEYS: entity, counter, journal, the journal's revisions. ARGV: expected
// revision, delta, index member, the changes channel.
const APPEND = `
if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then return false end
local rev = tostring(redis.call('INCR', KEYS[2]))
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('RPUSH', KEYS[4], rev)
redis.call('HSET', KEYS[1], 'rev', rev)
redis.call('PUBLISH', ARGV[4], ARGV[3])
return rev`;

// KEYS: entity, index, journal, the journal's revisions. ARGV: index
// member, the changes channel.
const DELETE = `
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
local deleted = redis.call('DEL', KEYS[1])
if deleted > 0 then redis.call('PUBLISH', ARGV[2], ARGV[1]) end
return deleted`;

/** A store in Redis (see `Store` in stores.d.ts). */
export class RedisStore {
  #send;
  #prefix;
  #watchers;

  /**
   * @param {object} client a connected node-redis or ioredis client
   * @param {{ prefix?: string }} [options] keys start with `{prefix}`
   *   (default `orchestrator`): several stores can share one server.
   */
  constructor(client, { prefix = "orchestrator" } = {}) {
    this.#send = sender(client);
    if (typeof prefix !== "string" || prefix === "" || /[{}]/.test(prefix)) {
      throw orchestratorError("INVALID_ARGUMENT", `RedisStore: prefix must be a non-empty string without braces, got ${describe(prefix)}`);
    }
    this.#prefix = `{${prefix}}:`;
    this.#watchers = new Watchers((changed, broken) => subscribe(client, this.#channel(), (member) => changed(...fromEntityKey(member)), broken));
  }

  /**
   * Calls `listener(namespace, entity)` after each write by any process on
   * this store (Redis pub/sub, on a connection of its own made with the
   * client's `duplicate()`), and `listener(null, null)` when changes may
   * have been missed (the subscription broke); until the answered function
   * is called.
   */
  watch(listener) {
    return this.#watchers.watch(listener);
  }

  #channel() {
    return `${this.#prefix}changes`;
  }

  async get(namespace, entity, known) {
    const keys = [this.#entity(namespace, entity), this.#journal(namespace, entity), this.#revisions(namespace, entity)];
    const reply = await this.#send(["EVAL", GET, "3", ...keys, known ?? ""]);
    if (reply === null || reply === undefined) return undefined;
    const [revision, state, ...journal] = reply;
    if (reply.length === 1) return { revision: String(revision) };
    // No state: the deltas after `known` alone.
    if (state === null || state === undefined || state === false) return { revision: String(revision), journal: journal.map(view) };
    return { revision: String(revision), bytes: view(state), journal: journal.map(view) };
  }

  async put(namespace, entity, bytes, revision) {
    const keys = [this.#entity(namespace, entity), this.#prefix + "index", this.#prefix + "revision", this.#journal(namespace, entity), this.#revisions(namespace, entity)];
    const reply = await this.#send(["EVAL", PUT, "5", ...keys, revision ?? "", buffer(bytes), entityKey(namespace, entity), this.#channel()]);
    return reply === null || reply === undefined ? null : String(reply);
  }

  async append(namespace, entity, delta, revision) {
    const keys = [this.#entity(namespace, entity), this.#prefix + "revision", this.#journal(namespace, entity), this.#revisions(namespace, entity)];
    const reply = await this.#send(["EVAL", APPEND, "4", ...keys, revision, buffer(delta), entityKey(namespace, entity), this.#channel()]);
    return reply === null || reply === undefined ? null : String(reply);
  }

  async list() {
    const members = await this.#send(["SMEMBERS", this.#prefix + "index"]);
    return members.map((m) => fromEntityKey(String(m))).sort(byName);
  }

  async delete(namespace, entity) {
    const keys = [this.#entity(namespace, entity), this.#prefix + "index", this.#journal(namespace, entity), this.#revisions(namespace, entity)];
    const deleted = await this.#send(["EVAL", DELETE, "4", ...keys, entityKey(namespace, entity), this.#channel()]);
    return Number(deleted) > 0;
  }

  #entity(namespace, entity) {
    return this.#prefix + "entity:" + entityKey(namespace, entity);
  }

  #journal(namespace, entity) {
    return this.#prefix + "journal:" + entityKey(namespace, entity);
  }

  /** The revision each delta of the journal was appended at, in its order. */
  #revisions(namespace, entity) {
    return this.#prefix + "revisions:" + entityKey(namespace, entity);
  }
}

/** Bytes as the Buffer a client sends, without a copy. */
const buffer = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A Buffer a client answered, as a Uint8Array, without a copy. */
const view = (reply) => new Uint8Array(reply.buffer, reply.byteOffset, reply.byteLength);

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
  throw orchestratorError("INVALID_ARGUMENT", `RedisStore: pass a connected node-redis or ioredis client, got ${describe(client)}`);
}

/**
 * Subscribes to `channel` on a connection of its own (a subscribed
 * connection takes no other command), calling `message(text)` for each
 * message and `broken()` when messages may have been lost; answers the
 * function that ends it.
 */
async function subscribe(client, channel, message, broken) {
  const subscriber = client.duplicate();
  subscriber.on("error", broken);
  if (typeof client.callBuffer === "function") {
    // ioredis: connects by itself; messages come as events.
    subscriber.on("message", (_, text) => message(String(text)));
    subscriber.on("reconnecting", broken);
    await subscriber.subscribe(channel);
    return () => subscriber.disconnect();
  }
  // node-redis v4+.
  subscriber.on("reconnecting", broken);
  await subscriber.connect();
  await subscriber.subscribe(channel, (text) => message(String(text)));
  return () => (typeof subscriber.close === "function" ? subscriber.close() : subscriber.quit()).catch?.(() => {});
}
