// Keyboard shortcuts: a key presses a control's button (so it asks first,
// and does nothing while the button is disabled), `/` searches the
// overview, `g` goes to it, `?` lists them. Never while typing in a field
// or with a modifier held (the browser's own shortcuts stay).
const $ = (id) => document.getElementById(id);

/** Each key and what it presses (a control's button by its selector) or does. */
const KEYS = {
  p: '[data-control="pause"]',
  r: '[data-control="resume"]',
  a: '[data-control="approve"]',
  o: '[data-control="promote"][data-full="false"]',
  x: '[data-control="abort"]',
  t: '[data-control="retry"]',
  "/": () => {
    if ($("overview").hidden) return false;
    $("search").focus();
    return true;
  },
  g: () => {
    location.hash = "";
    return true;
  },
  "?": () => {
    $("shortcuts").showModal();
    return true;
  },
};

const typing = (target) => target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));

export function wireShortcuts() {
  $("shortcuts-open").addEventListener("click", () => $("shortcuts").showModal());
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || $("shortcuts").open) return;
    const action = KEYS[event.key];
    if (action === undefined) return;
    if (typeof action === "function") {
      if (action()) event.preventDefault();
      return;
    }
    // A control: only on an entity's page, for someone who can steer.
    const button = document.querySelector(action);
    if ($("entity").hidden || $("controls").hidden || !button || button.disabled) return;
    event.preventDefault();
    button.click();
  });
}
