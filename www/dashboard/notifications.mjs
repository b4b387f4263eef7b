// The notifications of the entity shown: its subscriptions (as the API
// shows them, receivers' paths and header values redacted), what waits,
// each one's delivery log; for the write token, a form to add a
// subscription and a button to remove each.
import { api } from "./api.mjs";

const $ = (id) => document.getElementById(id);
const time = (ms) => new Date(ms).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
export async function showNotifications(path) {
  const state = await api("GET", `${path}/notifications`);
  $("subscriptions").replaceChildren(...state.subscriptions.map((sub) => subscriptionItem(sub, state)));
  $("notifications-none").hidden = state.subscriptions.length > 0;
  $("notifications-pending").textContent = state.pending.length ? `${state.pending.length} waiting to be delivered.` : "";
  return state;
}

function subscriptionItem(sub, state) {
  const li = document.createElement("li");
  li.dataset.subscription = sub.name;
  const log = state.log[sub.name] ?? [];
  const last = log.at(-1);
  const said = last ? `; last: ${last.outcome}${last.kind ? ` ${last.kind}` : ""} at ${time(last.at)}${last.error ? ` (${last.error})` : ""}` : "; nothing sent yet";
  const text = document.createElement("span");
  text.textContent = `${sub.name}: ${sub.format} to ${sub.url}, on ${sub.kinds.join(", ")}${said}`;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "write-only link";
  remove.dataset.remove = sub.name;
  remove.textContent = "remove";
  li.append(text, " ", remove);
  return li;
}

/** Wires the form and the remove buttons; `refresh()` reads the entity again, `onError` shows an error. */
export function wireNotifications(shownPath, refresh, onError) {
  const send = async (method, name, body, question) => {
    const path = shownPath();
    if (!path || !confirm(question)) return false;
    try {
      await api(method, `${path}/notifications/${encodeURIComponent(name)}`, body);
      await refresh();
      return true;
    } catch (error) {
      onError(error);
      return false;
    }
  };
  $("subscription-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const kinds = [...document.querySelectorAll("#subscription-kinds input:checked")].map((box) => box.value);
    const name = $("subscription-name").value.trim();
    const sub = { format: $("subscription-format").value, url: $("subscription-url").value.trim() };
    if (kinds.length) sub.kinds = kinds;
    const origin = sub.url.replace(/^(https?:\/\/[^/]+).*/, "$1");
    if (await send("PUT", name, sub, `Notify ${origin} (${sub.format}) of this entity's ${kinds.length ? kinds.join(", ") : "usual"} events, as ${name}?`)) {
      $("subscription-form").reset();
    }
  });
  $("subscriptions").addEventListener("click", (event) => {
    const name = event.target.dataset?.remove;
    if (name) send("DELETE", name, undefined, `Stop notifying ${name}?`);
  });
}
