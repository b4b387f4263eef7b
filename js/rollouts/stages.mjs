// Pipelines as Rollouts reads them: an entity's upstreams' facts (each
// from its own record, or, in the Worker, its own object), and the stages
// upstream of an entity, each with the versions it runs and why it waits.
import { holds } from "../notify/notifier.mjs";
import { notFound } from "./errors.mjs";

/** The most entities `pipeline()` lists. */
const MOST_STAGES = 32;

export class Stages {
  #read;
  #readUpstream;
  #namespaceBytes;

  /**
   * @param {object} options
   * @param {Function} options.read `read(namespace, entity, use)` on the entity's engine (Rollouts' `#read`)
   * @param {(namespace: string, entity: string) => Promise<object>} options.readUpstream what an entity tells those downstream of it
   * @param {(namespace: string) => Promise<Uint8Array | undefined | null>} options.namespaceBytes a namespace's settings
   */
  constructor({ read, readUpstream, namespaceBytes }) {
    this.#read = read;
    this.#readUpstream = readUpstream;
    this.#namespaceBytes = namespaceBytes;
  }

  /** The facts of the upstreams `from` names ("namespace/entity" each). */
  upstreams(from) {
    return Promise.all(from.map((name) => this.#readUpstream(...split(name))));
  }

  /** The entity's pipeline with `stages`: it and every entity upstream of it, upstream first. */
  async pipeline(namespace, entity) {
    const stages = new Map();
    const visit = async (ns, e) => {
      const name = `${ns}/${e}`;
      if (stages.has(name) || stages.size >= MOST_STAGES) return;
      stages.set(name, null);
      let view = await this.#view(ns, e);
      // Not in this store (the Worker keeps each entity in its own object):
      // what it tells those downstream of it.
      if (view === null && name !== `${namespace}/${entity}`) {
        try {
          view = await this.#readUpstream(ns, e);
        } catch {
          view = null;
        }
      }
      stages.set(name, view);
      for (const from of view?.view?.pipeline?.from ?? []) await visit(...split(from));
    };
    await visit(namespace, entity);
    const own = stages.get(`${namespace}/${entity}`);
    if (own === null) throw notFound("entity", `${namespace}/${entity}`);
    const list = [...stages.entries()].reverse().map(([name, view]) => stageOf(name, view));
    return { ...own.view, stages: list };
  }

  /** One entity's pipeline and rollout (`null`: no such entity). */
  async #view(namespace, entity) {
    const config = await this.#read(namespace, entity, (engine) => (holds(engine, namespace, entity) ? engine.pipeline(namespace, entity) : null));
    if (config === null) return null;
    const facts = config.pipeline ? await this.upstreams(config.pipeline.from) : null;
    const settings = await this.#namespaceBytes(namespace);
    return this.#read(namespace, entity, (engine) => {
      if (settings !== null) engine.__adoptNamespace(namespace, settings); // a freeze of the namespace holds promotion
      return { view: engine.pipeline(namespace, entity, facts), info: engine.rolloutInfo(namespace, entity) };
    });
  }
}

/** `[namespace, entity]` of "namespace/entity" (a namespace holds no "/"). */
const split = (name) => {
  const at = name.indexOf("/");
  return [name.slice(0, at), name.slice(at + 1)];
};

/** The upstreams of the entity's pipeline as `engine` holds it (`undefined`: none, or not held). */
export function pipelineFrom(engine, namespace, entity) {
  try {
    if (engine === undefined || !holds(engine, namespace, entity)) return undefined;
    return engine.pipeline(namespace, entity).pipeline?.from;
  } catch {
    return undefined;
  }
}

/** A stage of a pipeline's view: an entity, the versions it runs, where it takes them from and why it waits. */
function stageOf(name, found) {
  if (found === null || found.found === false) return { name, found: false };
  if (found.view === undefined) {
    // An upstream's facts alone.
    return { name, found: true, rollingVersion: found.rolling, lastKnownGoodVersion: found.good ?? "", from: [], candidate: null, waiting: null, held: null };
  }
  const { view, info } = found;
  return {
    name,
    found: true,
    targetVersion: info.targetVersion,
    rollingVersion: info.rollingVersion,
    lastKnownGoodVersion: info.lastKnownGoodVersion,
    lastKnownBadVersion: info.lastKnownBadVersion,
    phase: info.phase,
    from: view.pipeline?.from ?? [],
    candidate: view.candidate,
    waiting: view.waiting,
    held: view.held,
  };
}
