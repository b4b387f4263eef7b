// The dashboard of real rollouts: the HTTP API (js/server) read and steered
// with the user's token. The overview follows every entity's events
// (overview.mjs); an entity is shown from its snapshot by the engine in the
// page (entity.mjs, engine.worker.mjs), and steered with the controls
// (controls.mjs). This file signs in and navigates.
import { NOT_SIGNED_IN, api, hasToken, remembered, setToken, signOut, whenUnauthorized } from "./api.mjs";
import { wireControls } from "./controls.mjs";
import { refresh, showEntity, shown } from "./entity.mjs";
import { showLine, wireLine } from "./line.mjs";
import { wireNotifications } from "./notifications.mjs";
import { showOverview } from "./overview.mjs";
import { wireShortcuts } from "./shortcuts.mjs";
import { wirePipeline } from "./stages.mjs";

const $ = (id) => document.getElementById(id);
let leave = null;

function showError(error) {
  if (error.code === NOT_SIGNED_IN) return;
  $("error").textContent = error.code ? `${error.code}: ${error.message}` : error.message;
  $("error").hidden = false;
}

function showLogin(why) {
  leave?.();
  leave = null;
  $("login-why").textContent = why;
  $("login").hidden = false;
  $("remember").checked = remembered();
  $("overview").hidden = true;
  $("entity").hidden = true;
  $("token").focus();
}
whenUnauthorized(showLogin);

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("token").value, { remember: $("remember").checked });
  $("login").hidden = true;
  start();
});

$("sign-out").addEventListener("click", () => {
  signOut();
  $("sign-out").hidden = true;
  $("access").textContent = "signed out";
  showLogin("Signed out: this server needs a token.");
});

async function route() {
  leave?.();
  leave = null;
  $("error").hidden = true;
  const match = /^#\/([^/]+)\/([^/]+)$/.exec(location.hash);
  $("overview").hidden = Boolean(match);
  $("entity").hidden = true; // shown with the entity's first read (entity.mjs)
  if (match) leave = await showEntity(decodeURIComponent(match[1]), decodeURIComponent(match[2]), showError);
  else {
    leave = showOverview(showError);
    $("line").hidden = true;
  }
}

async function start() {
  try {
    const { access, actor } = await api("GET", "/access");
    if (access === null) return showLogin(hasToken() ? "That token was not accepted." : "This server needs a token.");
    $("access").textContent = access === "write" ? "can steer" : "read only";
    $("access").title = actor ? `signed in as ${actor}` : "";
    $("sign-out").hidden = !hasToken();
    if (actor) $("access").textContent += ` as ${actor}`;
    for (const id of ["controls", "options"]) $(id).hidden = access !== "write";
    document.body.dataset.access = access;
    await route();
  } catch (error) {
    showError(error);
  }
}

wireControls(showError);
wirePipeline(() => shown?.path, refresh, showError);
wireNotifications(() => shown?.path, refresh, showError);
wireLine(showError);
$("namespace-filter").addEventListener("input", () => showLine($("namespace-filter").value).catch(showError));
wireShortcuts();
window.addEventListener("hashchange", () => route().catch(showError));
start();
