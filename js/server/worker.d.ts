// Types of `orchestrator-engine/server/worker`: the HTTP API as a Cloudflare
// Worker, each entity a Durable Object (bind them as ENTITIES and INDEX).

/** One entity: its engine and its state in the object's storage. */
export declare class EntityObject {
  fetch(request: unknown): Promise<unknown>;
}

/** The namespaces and their entities, for the listing routes. */
export declare class EntityIndex {
  entities(): Promise<Array<[string, string]>>;
}

/** The Worker: routes each entity's requests to its object; checks the tokens. */
declare const worker: { fetch(request: unknown, env: unknown): Promise<unknown> };
export default worker;
