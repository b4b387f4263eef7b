// A notification receiver on loopback: records every request (path,
// headers, JSON body) and answers what `answer(request, n)` says (default
// 200), n counting the requests to that path from 1.
import { createServer } from "node:http";

export async function startReceiver(answer = () => 200) {
  const requests = [];
  const counts = new Map();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const request = { path: req.url, method: req.method, headers: req.headers, body: JSON.parse(body) };
      const n = (counts.get(req.url) ?? 0) + 1;
      counts.set(req.url, n);
      const status = answer(request, n);
      if (status >= 200 && status < 300) requests.push(request);
      else request.refused = status;
      res.writeHead(status, { "content-type": "text/plain" }).end(status >= 400 ? "no" : "ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}
