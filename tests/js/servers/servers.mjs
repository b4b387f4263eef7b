// Real Redis and PostgreSQL servers for the store tests (TOOLCHAIN.md): each
// started on loopback and a free port, in a temporary directory, as a child
// of this process; stopped (and its directory removed) by `stop()`, and
// killed at exit should a test fail before it. Both can be stopped and
// started again on the same port and data, for the fault tests.

import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const running = new Set();
process.on("exit", () => {
  for (const server of running) server.killNow();
});

/** A free TCP port on loopback. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections on `port`. */
async function listening(port, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => socket.end(() => resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Redis, append-only with fsync on every write. */
export async function startRedis() {
  const binary = "/usr/bin/redis-server";
  if (!existsSync(binary)) throw new Error("redis-server is missing: run `npm test`, which installs it");
  const dir = mkdtempSync(join(tmpdir(), "redis-"));
  const port = await freePort();
  const server = childServer({ url: `redis://127.0.0.1:${port}`, port, dir }, {
    dir,
    spawnIt: () =>
      spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes",
        "--appendfsync", "always", "--save", "", "--protected-mode", "no"], { stdio: "ignore" }),
    ready: () => listening(port),
  });
  await server.start();
  return server;
}

/**
 * A server that is one child process of this one, working in `dir`:
 * `spawnIt()` starts the process, `ready()` resolves once it serves.
 * `kill()` stops it the hard way (SIGKILL: what it acknowledged is on
 * disk), `start()` again on the same data; `stop()` also removes `dir`.
 * Killed at exit should a test fail before it stops it.
 */
export function childServer(fields, { dir, spawnIt, ready }) {
  let child;
  const server = {
    ...fields,
    /** The running process's id (for benchmarks that count its CPU time). */
    get pid() {
      return child?.pid;
    },
    async start() {
      child = spawnIt();
      running.add(server);
      await ready();
    },
    async kill() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      running.delete(server);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    killNow() {
      child?.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** PostgreSQL 15 (it refuses to run as root: as the postgres user then). */
export async function startPostgres() {
  const bin = ["/usr/lib/postgresql"].flatMap((root) => (existsSync(root) ? readdirSync(root).map((v) => join(root, v, "bin")) : []))
    .find((dir) => existsSync(join(dir, "initdb")));
  if (!bin) throw new Error("PostgreSQL is missing: run `npm test`, which installs it");
  const dir = mkdtempSync(join(tmpdir(), "postgres-"));
  const root = process.getuid?.() === 0;
  const as = (command, args) => (root ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args]);
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(dir, uid, gid);
  }
  const run = (command, args) => execFileSync(...as(join(bin, command), args), { stdio: "pipe" });
  run("initdb", ["-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
  const port = await freePort();
  const ctl = (...args) => run("pg_ctl", ["-D", join(dir, "data"), ...args]);
  const server = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    /** The postmaster's process id, while it runs (its connections are its children). */
    get pid() {
      return Number(readFileSync(join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    },
    async start() {
      ctl("-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`, "-l", join(dir, "log"), "-w", "start");
      running.add(server);
      await listening(port);
    },
    /** Stops it at once (`immediate`: no checkpoint; what it committed is in its WAL). */
    async kill() {
      ctl("-m", "immediate", "-w", "stop");
      running.delete(server);
    },
    async stop() {
      try {
        ctl("-m", "fast", "-w", "stop");
      } catch {
        // already stopped
      }
      running.delete(server);
      rmSync(dir, { recursive: true, force: true });
    },
    killNow() {
      try {
        ctl("-m", "immediate", "-w", "stop");
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
