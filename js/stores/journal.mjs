// What a reader holding an earlier revision of an entity missed: the
// deltas appended after it, when it is a revision of the current
// checkpoint (the checkpoint's own, or one of its journal's). A store
// answers those alone, and the reader applies them to the entity it holds
// instead of reading the whole checkpoint again.

/**
 * Where the deltas missed by a reader at revision `known` start in the
 * journal whose deltas were appended at `revisions` over the checkpoint
 * written at `base`: 0 when `known` is `base`, i + 1 when it is
 * `revisions[i]`, -1 when it is neither (another checkpoint's, or none).
 */
export function missedFrom(known, base, revisions) {
  if (known === undefined || known === null || known === "") return -1;
  if (known === base) return 0;
  const at = revisions.lastIndexOf(known);
  return at < 0 ? -1 : at + 1;
}
