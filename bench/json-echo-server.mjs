// The baseline of bench/server.mjs: an HTTP server that only parses each
// report and answers it unchanged, the least any server of this API does
// per request. `node bench/json-echo-server.mjs PORT`.
import { createServer } from "node:http";

const server = createServer(async (req, res) => {
  let text = "";
  for await (const chunk of req) text += chunk;
  const body = JSON.stringify(JSON.parse(text || "null"));
  res.writeHead(200, { "content-type": "application/json" });
  res.end(body);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ message: "listening", url: `http://127.0.0.1:${server.address().port}` })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
