// The operator's commands against a running server (`serve` or the
// Worker), so that nobody needs curl: `get` one entity (redrawn on each of
// its events with --watch, or waited on with --wait-for), `list` every
// entity with its state, and the engine's controls.
import { UsageError, parseFlags, usageLine, wholeNumber } from "../cli-args.mjs";
import { UNCHANGED, stateOf } from "../simulation/words.mjs";
import { apiClient, entityOf } from "./client.mjs";
import { entityView, renderView, summaryLine } from "./view.mjs";

/** The controls, as commands: the route each posts to, and its body. */
const CONTROLS = {
  pause: { route: "pause" },
  resume: { route: "resume" },
  approve: { route: "approve" },
  promote: { route: "promote" },
  abort: { route: "abort" },
  retry: { route: "retry" },
  "rollback-to": { route: "rollback", version: true },
  set: { route: "version", version: true },
  "approve-promotion": { route: "pipeline/approve", version: true },
  "release-pipeline": { route: "pipeline/release" },
};

/** The commands on a namespace rather than an entity. */
const LINE = { "stop-line": "stop", "start-line": "start" };

const USAGE = `Usage: orchestrator-engine <command> [NAMESPACE/ENTITY] [options]

Reads and steers the rollouts of a running server (serve, or the Worker).

Commands
  get NS/ENTITY            the entity: its state, versions, targets counted,
                           plan and current step, analysis, last events
  list                     every entity with its state
  pause | resume | approve | abort | retry NS/ENTITY
  promote NS/ENTITY [--full]
                           skip the current step's bake (--full: every
                           remaining target at once)
  set NS/ENTITY VERSION    roll VERSION out
  rollback-to NS/ENTITY VERSION
                           return to a version that was good
  pipeline NS/ENTITY       every stage upstream of the entity, the version
                           each runs, and why the entity waits
  approve-promotion NS/ENTITY VERSION
                           let the pipeline promote VERSION
  release-pipeline NS/ENTITY
                           let the pipeline promote after a version set by hand
  stop-line NS --reason TEXT
                           no entity of the namespace moves a target to a new
                           version until start-line NS
  start-line NS            its rollouts move on

Options
  --server URL             the server (default: $ORCHESTRATOR_SERVER, else
                           http://127.0.0.1:8080)
  --token TOKEN            its token (default: $ORCHESTRATOR_TOKEN; the
                           variable keeps it out of the shell's history)
  --watch                  get: redraw on each event of the entity (on a
                           terminal in place; otherwise one line per change)
  --wait-for STATE         get: wait until the entity is rolled-out or
                           rolled-back (exit 0), failing at once (exit 1) when
                           it reaches the other, or halted
  --timeout SECS           with --wait-for: give up after SECS (exit 3)
  --full                   promote: every remaining target at once
  --reason TEXT            stop-line: why (shown to everyone, with your name)
  -h, --help               this text

Exit status: 0 done; 1 the server refused the call or the entity ended
otherwise than waited for; 2 bad flags; 3 --timeout passed.
`;

/** Runs one operator command; answers the exit status. */
export async function operatorMain(args, { stdout = process.stdout, stderr = process.stderr, env = process.env } = {}) {
  const [command, ...rest] = args;
  let flags;
  try {
    flags = parseFlags({
      args: rest,
      allowPositionals: true,
      options: {
        server: { type: "string" },
        token: { type: "string" },
        watch: { type: "boolean" },
        "wait-for": { type: "string" },
        timeout: { type: "string" },
        full: { type: "boolean" },
        reason: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (flags.values.help) {
      stdout.write(USAGE);
      return 0;
    }
    const waitFor = flags.values["wait-for"];
    if (waitFor !== undefined && !["rolled-out", "rolled-back"].includes(waitFor)) throw new UsageError(`--wait-for is rolled-out or rolled-back, got ${JSON.stringify(waitFor)}`);
    if (flags.values.timeout !== undefined && waitFor === undefined) throw new UsageError("--timeout goes with --wait-for");
    if ((flags.values.watch || waitFor) && command !== "get") throw new UsageError(`--watch and --wait-for go with get, not ${command}`);
    if ((flags.values.reason !== undefined) !== (command === "stop-line")) throw new UsageError(command === "stop-line" ? "stop-line needs --reason TEXT" : `--reason goes with stop-line, not ${command}`);
    const wanted = command === "list" ? 0 : CONTROLS[command]?.version ? 2 : 1;
    if (flags.positionals.length !== wanted) {
      const what = LINE[command] ? "NAMESPACE" : "NAMESPACE/ENTITY";
      throw new UsageError(`${command} takes ${wanted === 0 ? "no argument" : wanted === 1 ? what : `${what} VERSION`}, got ${flags.positionals.length ? flags.positionals.map((p) => JSON.stringify(p)).join(" ") : "none"}`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr.write(usageLine(command, error.message));
    return 2;
  }
  const { values, positionals } = flags;
  const client = apiClient(values.server ?? env.ORCHESTRATOR_SERVER ?? "http://127.0.0.1:8080", values.token ?? env.ORCHESTRATOR_TOKEN ?? "");
  try {
    if (command === "list") return await list(client, stdout);
    if (LINE[command]) return await line(client, command, positionals[0], values.reason, stdout);
    const target = entityOf(positionals[0]);
    if (command === "get") return await get(client, target, values, stdout);
    if (command === "pipeline") return await pipeline(client, target, stdout);
    return await control(client, command, target, positionals[1], values.full === true, stdout);
  } catch (error) {
    stderr.write(`orchestrator-engine ${command}: ${error.code ? `${error.code}: ` : ""}${error.message}\n`);
    return 1;
  }
}

async function list(client, stdout) {
  const rows = [["ENTITY", "STATE", "TARGET", "GOOD", "BAD"]];
  for (const namespace of await client.call("GET", "/namespaces")) {
    for (const entity of await client.call("GET", `/${encodeURIComponent(namespace)}/entities`)) {
      const info = await client.call("GET", `/${encodeURIComponent(namespace)}/${encodeURIComponent(entity)}/info`);
      rows.push([`${namespace}/${entity}`, stateOf(info), info.targetVersion || "-", info.lastKnownGoodVersion || "-", info.lastKnownBadVersion || "-"]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) stdout.write(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")}\n`);
  return 0;
}

async function control(client, command, { namespace, entity, path }, version, full, stdout) {
  const { route, version: needsVersion } = CONTROLS[command];
  const body = needsVersion ? { version } : command === "promote" ? { full } : undefined;
  const answer = await client.call("POST", `${path}/${route}`, body);
  const name = `${namespace}/${entity}`;
  if (answer?.changed === false) stdout.write(`${name}: ${command} changed nothing; ${UNCHANGED[command]}\n`);
  else stdout.write(`${name}: ${command}${needsVersion ? ` ${version}` : ""} done\n`);
  return 0;
}

async function line(client, command, namespace, reason, stdout) {
  const answer = await client.call("POST", `/namespaces/${encodeURIComponent(namespace)}/line/${LINE[command]}`, reason === undefined ? undefined : { reason });
  const did = command === "stop-line" ? "stopped" : "started";
  stdout.write(answer?.changed === false ? `${namespace}: the line was ${did} already\n` : `${namespace}: the line is ${did}\n`);
  return 0;
}

async function pipeline(client, { namespace, entity, path }, stdout) {
  const view = await client.call("GET", `${path}/pipeline`);
  if (view.pipeline === null) {
    stdout.write(`${namespace}/${entity} takes its versions from no other entity\n`);
    return 0;
  }
  for (const stage of view.stages) {
    const runs = !stage.found ? "not found" : stage.rollingVersion === stage.lastKnownGoodVersion ? `runs ${stage.rollingVersion || "-"}` : `rolls out ${stage.rollingVersion}, good ${stage.lastKnownGoodVersion || "-"}`;
    stdout.write(`${stage.name}  ${runs}${stage.from?.length ? `  (from ${stage.from.join(", ")})` : ""}\n`);
  }
  stdout.write(`${view.waiting ?? (view.candidate ? `${view.candidate} runs here already` : "nothing to promote")}${view.held ? ` (held by ${view.held}, set by hand)` : ""}\n`);
  return 0;
}

/** The state `--wait-for` ends on, and the states that end it otherwise. */
const ENDS = { "rolled-out": ["rolled out", ["rolled back", "halted"]], "rolled-back": ["rolled back", ["rolled out", "halted"]] };

async function get(client, { namespace, entity, path }, values, stdout) {
  const name = `${namespace}/${entity}`;
  const read = async () => entityView(await client.snapshot(path), namespace, entity, Date.now());
  const waitFor = values["wait-for"];
  const tty = stdout.isTTY === true;
  const show = (view) => {
    if (tty && values.watch) stdout.write(`\x1b[H\x1b[2J${renderView(name, view, Date.now()).join("\n")}\n`);
  };
  let view = await read();
  if (!values.watch && !waitFor) {
    stdout.write(`${renderView(name, view, Date.now()).join("\n")}\n`);
    return 0;
  }
  const verdict = (v) => {
    if (!waitFor) return null;
    const state = stateOf(v.info);
    const [wanted, otherwise] = ENDS[waitFor];
    return state === wanted ? 0 : otherwise.includes(state) ? 1 : null;
  };
  let last = "";
  const changed = (v) => {
    const line = summaryLine(name, v);
    if (!tty || !values.watch) {
      if (line !== last && (values.watch || verdict(v) !== null)) stdout.write(`${new Date().toISOString()} ${line}\n`);
    } else show(v);
    last = line;
  };
  changed(view);
  const done = verdict(view);
  if (done !== null) return done;
  const controller = new AbortController();
  let timer;
  const timedOut = new Promise((resolve) => {
    if (values.timeout !== undefined) {
      const secs = wholeNumber("timeout", values.timeout, 1, 2_147_483);
      timer = setTimeout(() => resolve("timeout"), secs * 1000);
    }
  });
  // Each event reads the entity again (at most one read at a time; one
  // more after it if events came meanwhile); a clock redraws countdowns.
  let reading = null;
  let again = false;
  let status = null;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const refresh = () => {
    if (reading) return void (again = true);
    reading = read()
      .then((v) => {
        view = v;
        changed(v);
        const end = verdict(v);
        if (end !== null) finish(end);
      })
      .catch((error) => finish(error))
      .finally(() => {
        reading = null;
        if (again) {
          again = false;
          refresh();
        }
      });
  };
  const ticker = tty && values.watch ? setInterval(() => show(view), 1000) : null;
  const since = view.events.at(-1)?.seq ?? 0;
  const following = client.follow(path, since, () => refresh(), controller.signal).then(
    () => finish(new Error("the server closed the event stream")),
    (error) => (controller.signal.aborted ? undefined : finish(error)),
  );
  try {
    status = await Promise.race([finished, timedOut]);
  } finally {
    controller.abort();
    clearTimeout(timer);
    clearInterval(ticker);
    await following.catch(() => {});
  }
  if (status === "timeout") {
    stdout.write(`${name}: not ${waitFor} within ${values.timeout} s (${stateOf(view.info)})\n`);
    return 3;
  }
  if (status instanceof Error) throw status;
  return status;
}
