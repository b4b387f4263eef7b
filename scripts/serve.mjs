// Serves the browser simulator (www/) on 127.0.0.1. `npm start` builds
// first and then runs this; any static server works as well once built.
//
//   node scripts/serve.mjs [--port N]    (or PORT=N; default 8080)
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import sirv from "sirv";

export const WWW = fileURLToPath(new URL("../www", import.meta.url));

/** Starts a static server for `root`; resolves to the server once listening. */
export function serve(root = WWW, { port = 8080, host = "127.0.0.1", dev = false } = {}) {
  // sirv sends .wasm as application/wasm, which streaming compilation needs.
  const files = sirv(root, { dev, etag: true });
  const server = createServer((req, res) =>
    files(req, res, () => {
      res.statusCode = 404;
      res.end("not found");
    }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: the port must be a number from 0 to 65535, got ${values.port ?? process.env.PORT}`);
    process.exit(2);
  }
  if (!existsSync(`${WWW}/engine/orchestrator_engine_bg.wasm`)) {
    console.error("serve: www/engine/ is missing: run `npm start` (or `npm run build`) first");
    process.exit(1);
  }
  serve(WWW, { port }).then(
    (server) => {
      console.log(`rollout simulator: http://127.0.0.1:${server.address().port}/  (Ctrl+C stops it)`);
    },
    (e) => {
      console.error(e.code === "EADDRINUSE" ? `serve: port ${port} is in use: try \`npm start -- --port ${port + 1}\`` : `serve: ${e.message}`);
      process.exit(1);
    },
  );
}
