// Targets as columns for a page to draw: each field an array of indexes
// into a table of its distinct values (a few versions and reasons for any
// number of targets). Shared by the simulator's worker (www/worker.mjs) and
// the dashboard's (www/dashboard/engine.worker.mjs).

/** A list of distinct strings, and a function giving a string's index in it (adding it the first time). */
export function table() {
  const list = [];
  const index = new Map();
  const code = (text) => {
    let i = index.get(text);
    if (i === undefined) {
      i = list.length;
      list.push(text);
      index.set(text, i);
    }
    return i;
  };
  return [list, code];
}
