// Types of `orchestrator-engine/stores/file` (Node only).
import type { Store } from "orchestrator-engine/stores";

/**
 * A store in a directory, the embedded default for Node: one file per
 * entity, replaced atomically (write, fsync, rename, fsync the directory),
 * and a lock file per entity so that the revision check holds between
 * processes on one machine. A lock left by a process that died is broken;
 * a live one is waited for up to `lockTimeoutMs` (default 10 s).
 */
export class FileStore {
  /** `warn`: told of files in `dir` it did not write, which listings skip (default `console.warn`). */
  constructor(dir: string, options?: { lockTimeoutMs?: number; warn?: (message: string) => void });
}
/** Its methods are `Store`'s. */
export interface FileStore extends Store {}
