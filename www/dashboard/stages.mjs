// The pipeline of the entity shown: every stage upstream of it, upstream
// first, each with the versions it runs and why it waits; the entity's own
// upstreams, candidate and hold; and, for the write token, approving the
// promotion that waits and releasing a hold.
import { api } from "./api.mjs";

const $ = (id) => document.getElementById(id);

/** Reads the pipeline of the entity at `path` and shows it (the panel stays hidden for an entity without one). */
export async function showPipeline(path) {
  const view = await api("GET", `${path}/pipeline`);
  $("pipeline-panel").hidden = view.pipeline === null && view.promoted.length === 0;
  if ($("pipeline-panel").hidden) return view;
  const { pipeline } = view;
  $("pipeline-rule").textContent = pipeline
    ? `Takes ${pipeline.all ? "a version good in every one of" : "the newest version good in any of"} ${pipeline.from.join(", ")}` +
      `${pipeline.soakSecs ? `, ${pipeline.soakSecs} s after it succeeded there` : ""}${pipeline.approval ? ", once approved" : ""}.`
    : "No pipeline any more.";
  $("pipeline-stages").replaceChildren(...view.stages.map(stageItem));
  const waiting = view.waiting ?? (view.candidate ? `${view.candidate} runs here already.` : "Nothing to promote.");
  $("pipeline-waiting").textContent = view.held ? `${waiting} (held by ${view.held}, set by hand)` : waiting;
  $("pipeline-promoted").textContent = view.promoted.length ? `Promoted here: ${view.promoted.join(", ")}.` : "";
  const awaiting = Boolean(view.candidate && view.waiting?.endsWith("awaits approval"));
  $("pipeline-approve").hidden = !awaiting;
  $("pipeline-approve").dataset.version = awaiting ? view.candidate : "";
  $("pipeline-approve").textContent = awaiting ? `Approve ${view.candidate}` : "Approve";
  $("pipeline-release").hidden = !view.held;
  return view;
}

function stageItem(stage) {
  const li = document.createElement("li");
  li.dataset.stage = stage.name;
  if (!stage.found) {
    li.textContent = `${stage.name}: not found`;
    return li;
  }
  const name = document.createElement("a");
  const [ns, ...rest] = stage.name.split("/");
  name.href = `#/${encodeURIComponent(ns)}/${encodeURIComponent(rest.join("/"))}`;
  name.textContent = stage.name;
  const runs = stage.rollingVersion === stage.lastKnownGoodVersion ? `runs ${stage.rollingVersion || "-"}` : `rolls out ${stage.rollingVersion}, good ${stage.lastKnownGoodVersion || "-"}`;
  const from = stage.from.length ? `, from ${stage.from.join(", ")}` : "";
  const why = stage.waiting ? `: ${stage.waiting}` : "";
  li.append(name, ` ${runs}${from}${why}`);
  return li;
}

/** Wires approve and release; `refresh()` reads the entity again, `onError` shows an error. */
export function wirePipeline(shownPath, refresh, onError) {
  const act = async (route, body, question) => {
    const path = shownPath();
    if (!path || !confirm(question)) return;
    try {
      await api("POST", `${path}/pipeline/${route}`, body);
      await refresh();
    } catch (error) {
      onError(error);
    }
  };
  $("pipeline-approve").addEventListener("click", () => {
    const version = $("pipeline-approve").dataset.version;
    act("approve", { version }, `Promote ${version} here? It rolls out by this entity's plan.`);
  });
  $("pipeline-release").addEventListener("click", () => act("release", undefined, "Release the pipeline? The next good version upstream is promoted here."));
}
