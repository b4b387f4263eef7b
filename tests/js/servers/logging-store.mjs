// A store that says what it wrote, for the tests that check no
// acknowledged write is lost (tests/js/stores-concurrency.test.mjs, and the
// controller processes it runs).

/**
 * `store`, printing each write it acknowledged as `{ "write": [from, to] }`:
 * the revision it was made from and the one it made. Every acknowledged
 * step's own effect is one such write.
 */
export function loggingWrites(store, print = (line) => process.stdout.write(`${line}\n`)) {
  const wrapped = Object.create(null);
  for (const method of ["get", "list", "delete", "put", "append"]) {
    if (typeof store[method] !== "function") continue;
    wrapped[method] = async (...args) => {
      const result = await store[method](...args);
      if ((method === "put" || method === "append") && result !== null && result !== undefined) print(JSON.stringify({ write: [args[3] ?? null, String(result)] }));
      return result;
    };
  }
  return wrapped;
}
