// One server for bench/push.mjs: the HTTP API over the store named by
// argv[2] (file:DIR, redis://..., postgres://...), on a free loopback port;
// with argv[3] = "poll", over the same store without its `watch`, so the
// server polls as it did before stores pushed their changes (the
// benchmark's baseline). Says `{"message":"listening","url":...}` once up.
import { openStore } from "../js/server/store-url.mjs";
import { startServer } from "../js/server/node.mjs";

const [url, mode = "push"] = process.argv.slice(2);
const { store } = await openStore(url);
const served =
  mode === "poll"
    ? {
        get: (...a) => store.get(...a),
        put: (...a) => store.put(...a),
        append: store.append && ((...a) => store.append(...a)),
        list: (...a) => store.list(...a),
        delete: (...a) => store.delete(...a),
      }
    : store;
const server = await startServer({ port: 0, store: served, log: () => {} });
console.log(JSON.stringify({ message: "listening", url: server.url }));
process.on("SIGTERM", async () => {
  await server.stop();
  process.exit(0);
});
