// Canvas drawing for the simulator: one cell per target (20,000 cells are a
// few thousand fillRects, not 20,000 DOM nodes) and a stacked timeline.
import { formatDuration } from "./engine/simulation.mjs";

const BASE_COLOURS = ["#2f6fde", "#0f9f6e", "#7c4ddb", "#0e9aa7", "#c2418c", "#8a6d1f", "#4b5563"];
export const FAILED = "#d92d20";
export const ROLLING_BACK = "#f59e0b";
export const HALTED = "#7a271a";
export const HELD = "#98a2b3";

function mix(hex, toward, amount) {
  const parse = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const [a, b] = [parse(hex), parse(toward)];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * amount)).join(",")})`;
}

/** A stable colour (with its lighter shades) for every version seen. */
export class Palette {
  constructor(versions = []) {
    this.shades = new Map();
    for (const v of versions) this.get(v);
  }

  get(version) {
    let shade = this.shades.get(version);
    if (!shade) {
      const solid = BASE_COLOURS[this.shades.size % BASE_COLOURS.length];
      shade = {
        solid,
        baking: mix(solid, "#ffffff", 0.35),
        moving: mix(solid, "#ffffff", 0.65),
        waiting: mix(solid, "#d0d5dd", 0.55),
      };
      this.shades.set(version, shade);
    }
    return shade;
  }
}

/** The colour of one target's cell: its state first, then its versions. */
export function cellColour(palette, reason, running, expected) {
  switch (reason) {
    case "failed_unhealthy":
    case "failed_deadline":
    case "failed_monitor":
      return FAILED;
    case "rolled_back":
      return running === expected ? mix(ROLLING_BACK, "#ffffff", 0.4) : ROLLING_BACK;
    case "halted":
      return HALTED;
    case "held_back":
    case "held_paused":
    case "held_frozen":
    case "awaiting_approval":
      return HELD;
    case "waiting":
      return palette.get(running).waiting;
    case "in_flight":
      return running === expected ? palette.get(expected).baking : palette.get(expected).moving;
    default:
      return running === expected ? palette.get(running).solid : palette.get(expected).moving;
  }
}

/** The legend entries that explain cellColour for the given versions. */
export function legend(palette, current, target) {
  return [
    [palette.get(current).solid, `on ${current}`],
    [palette.get(current).waiting, `waiting on ${current}`],
    [palette.get(target).moving, `moving to ${target}`],
    [palette.get(target).baking, `on ${target}, baking`],
    [palette.get(target).solid, `succeeded on ${target}`],
    [FAILED, "failed"],
    [ROLLING_BACK, "rolling back"],
    [HALTED, "halted"],
    [HELD, "held (paused, awaiting approval, not approved)"],
  ];
}

const LABEL = 16;
const MAX_HEIGHT = 440;

function fit(canvas, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth;
  canvas.style.height = `${cssHeight}px`;
  if (canvas.width !== Math.round(cssWidth * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
    canvas.width = Math.round(cssWidth * dpr);
    canvas.height = Math.round(cssHeight * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, width: cssWidth, height: cssHeight };
}

/**
 * Where each target's cell goes: the targets' groups (in the engine's
 * order) each under a label, with the largest cells that fit.
 */
export function gridLayout(targetGroups, width) {
  const groups = [];
  targetGroups.forEach((group, i) => {
    const last = groups[groups.length - 1];
    if (last && last.name === group) last.count += 1;
    else groups.push({ name: group, start: i, count: 1 });
  });
  let cell = 2;
  for (let size = 16; size >= 2; size--) {
    const cols = Math.max(1, Math.floor(width / size));
    const height = groups.reduce((h, g) => h + LABEL + Math.ceil(g.count / cols) * size, 0);
    if (height <= MAX_HEIGHT) {
      cell = size;
      break;
    }
  }
  const cols = Math.max(1, Math.floor(width / cell));
  let top = 0;
  for (const g of groups) {
    g.top = top + LABEL;
    top = g.top + Math.ceil(g.count / cols) * cell;
  }
  return { groups, cell, cols, height: top + 4, width };
}

/** `state(i)` is target i's [reason, running version, expected version]. */
export function drawGrid(canvas, layout, state, palette) {
  const { ctx } = fit(canvas, layout.height);
  ctx.clearRect(0, 0, layout.width, layout.height);
  const { cell, cols } = layout;
  const gap = cell >= 5 ? 1 : 0;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  for (const g of layout.groups) {
    ctx.fillStyle = "#667085";
    ctx.fillText(`${g.name || "(no group)"} · ${g.count.toLocaleString("en-US")}`, 0, g.top - 2);
    let style = "";
    for (let k = 0; k < g.count; k++) {
      const [reason, running, expected] = state(g.start + k);
      const colour = cellColour(palette, reason, running, expected);
      if (colour !== style) {
        ctx.fillStyle = colour;
        style = colour;
      }
      ctx.fillRect((k % cols) * cell, g.top + Math.floor(k / cols) * cell, cell - gap, cell - gap);
    }
  }
}

/** The index of the target under a point of the grid canvas, or -1. */
export function hitTest(layout, x, y) {
  const { cell, cols } = layout;
  for (const g of layout.groups) {
    const rows = Math.ceil(g.count / cols);
    if (y >= g.top && y < g.top + rows * cell) {
      const k = Math.floor((y - g.top) / cell) * cols + Math.floor(x / cell);
      return x >= 0 && x < cols * cell && k < g.count ? g.start + k : -1;
    }
  }
  return -1;
}

const MARKS = { good: "#0f9f6e", bad: "#d92d20", operator: "#2563eb" };

/** Stacked areas: how many targets run each version, over virtual time. */
export function drawTimeline(canvas, timeline, log, total, palette) {
  const { ctx, width, height } = fit(canvas, 180);
  ctx.clearRect(0, 0, width, height);
  const left = 48;
  const bottom = height - 20;
  const plotW = Math.max(1, width - left - 8);
  const plotH = bottom - 8;
  const tMax = Math.max(60, timeline.length ? timeline[timeline.length - 1].t : 0);
  const x = (t) => left + (t / tMax) * plotW;
  const y = (n) => bottom - (n / total) * plotH;
  const versions = [];
  for (const s of timeline) for (const v of Object.keys(s.counts)) if (!versions.includes(v)) versions.push(v);
  // Draw from the top layer down so each area covers the ones above it.
  for (let layer = versions.length; layer > 0; layer--) {
    const stack = versions.slice(0, layer);
    ctx.beginPath();
    ctx.moveTo(x(timeline[0]?.t ?? 0), bottom);
    for (const s of timeline) ctx.lineTo(x(s.t), y(stack.reduce((n, v) => n + (s.counts[v] ?? 0), 0)));
    ctx.lineTo(x(timeline[timeline.length - 1]?.t ?? 0), bottom);
    ctx.closePath();
    ctx.fillStyle = palette.get(versions[layer - 1]).solid;
    ctx.fill();
  }
  ctx.strokeStyle = "#d0d5dd";
  ctx.beginPath();
  ctx.moveTo(left, 8);
  ctx.lineTo(left, bottom);
  ctx.lineTo(left + plotW, bottom);
  ctx.stroke();
  ctx.fillStyle = "#667085";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText(total.toLocaleString("en-US"), left - 4, y(total));
  ctx.fillText("0", left - 4, bottom);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let i = 0; i <= 4; i++) {
    ctx.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
    ctx.fillText(formatDuration((tMax * i) / 4), x((tMax * i) / 4), bottom + 4);
  }
  ctx.textAlign = "left";
  for (const entry of log) {
    const colour = MARKS[entry.kind];
    if (!colour || entry.t > tMax) continue;
    ctx.strokeStyle = colour;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(x(entry.t), 8);
    ctx.lineTo(x(entry.t), bottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  let labelX = left + 4;
  ctx.textBaseline = "top";
  for (const v of versions) {
    const w = 20 + ctx.measureText(v).width;
    ctx.fillStyle = "rgba(255,255,255,0.85)";
    ctx.fillRect(labelX - 3, 7, w + 2, 16);
    ctx.fillStyle = palette.get(v).solid;
    ctx.fillRect(labelX, 10, 10, 10);
    ctx.fillStyle = "#1f2430";
    ctx.fillText(v, labelX + 14, 9);
    labelX += w + 8;
  }
}
