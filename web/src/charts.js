// Heap-growth charts: heap bytes and live bytes over events for one timeline, drawn with uPlot.
// The simulated and real charts share their axes (same event range, same byte range) so they compare at a
// glance; grow events are ticked along the bottom, the first failed request is flagged.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { failureLabel } from "./failures.js";
import { bytes, compact, count } from "./format.js";
import { decimate, summary } from "./timeline.js";

export const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// the marks' names in the key under a chart, and the first failure's label on it (chartsvg.js draws both too)
export const KEYS = { grow: "memory.grow", oom: "first failed request", ideal: "ideal: heap base + peak live" };
export const oomLabel = (oom) => `${failureLabel(oom.kind)} @ ${count(oom.index)}`;

// The colour tokens a chart draws with, read once per chart: each read after the page changed would make
// the browser compute its style again (a blog page of widgets would pay that many times over).
const tokens = () => {
  const style = getComputedStyle(document.documentElement);
  return Object.fromEntries(["muted", "grid", "heap", "heap-fill", "live", "grow", "oom"]
    .map((name) => [name, style.getPropertyValue(`--${name}`).trim()]));
};

// Marks drawn over the plot: the ideal (what an allocator that never wasted a byte would need) as a
// dotted line across, grow events as ticks at the bottom (one per pixel at most), the first failure as a
// labelled vertical line.
function marksPlugin(tl, colour) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        const dpr = devicePixelRatio;
        ctx.save();
        const ideal = summary(tl).ideal_bytes;
        if (ideal) {
          const y = Math.round(u.valToPos(ideal, "y", true));
          ctx.strokeStyle = colour.live;
          ctx.lineWidth = dpr;
          ctx.setLineDash([dpr, 3 * dpr]);
          ctx.beginPath();
          ctx.moveTo(bbox.left, y);
          ctx.lineTo(bbox.left + bbox.width, y);
          ctx.stroke();
          ctx.setLineDash([]);
        }
        ctx.strokeStyle = colour.grow;
        ctx.globalAlpha = 0.8;            // hundreds of grows make a band: keep the lines above it readable
        ctx.lineWidth = dpr;
        let lastX = -1;
        ctx.beginPath();
        for (const i of tl.grows) {
          const x = Math.round(u.valToPos(i, "x", true));
          if (x === lastX) continue;
          lastX = x;
          ctx.moveTo(x, bbox.top + bbox.height);
          ctx.lineTo(x, bbox.top + bbox.height - 6 * dpr);
        }
        ctx.stroke();
        ctx.globalAlpha = 1;
        const oom = tl.failures[0];
        if (oom) {
          const x = Math.round(u.valToPos(oom.index, "x", true));
          ctx.strokeStyle = ctx.fillStyle = colour.oom;
          ctx.lineWidth = 2 * dpr;
          ctx.setLineDash([4 * dpr, 3 * dpr]);
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.font = `${12 * dpr}px system-ui, sans-serif`;
          ctx.textAlign = "left";          // uPlot leaves whatever its last axis label used
          ctx.textBaseline = "top";
          // above the plot (in the padding left for it), so it never sits on the lines
          const text = oomLabel(oom);
          const w = ctx.measureText(text).width;
          const left = Math.max(bbox.left, Math.min(x - w / 2, bbox.left + bbox.width - w));
          ctx.fillText(text, left, bbox.top - LABEL_ROOM * dpr + 2 * dpr);
        }
        ctx.restore();
      }],
    },
  };
}

const HEADROOM = 1.05;     // above the highest value
const LABEL_ROOM = 18;     // CSS pixels above the plot for the OOM label

// Byte ticks at a power-of-two step (128 MiB, 256 MiB, 384 MiB…), as memory comes in binary units.
export function binarySplits(max, target = 5) {
  if (!(max > 0)) return [0];
  const step = 2 ** Math.ceil(Math.log2(max / target));
  const out = [];
  for (let v = 0; v <= max; v += step) out.push(v);
  return out;
}

// The marks drawn by marksPlugin, named under the chart (uPlot's legend lists only series).
function keys(el) {
  let box = el.querySelector(".chart-keys");
  if (!box) {
    box = document.createElement("div");
    box.className = "chart-keys";
    box.innerHTML = `<span class="key-grow">${KEYS.grow}</span><span class="key-oom">${KEYS.oom}</span>` +
      `<span class="key-ideal">${KEYS.ideal}</span>`;
  }
  el.append(box);
}

const CAUSES = ["not classed (too many blocks live for the page: pyfrag explain classes it)",
  "forced: no stretch free of live data could hold the request",
  "policy: a stretch free of live data could hold it; the allocator's design grew instead"];

// What a grow tick says under the pointer: the grow event nearest to event `at`, within `within` events,
// with its request and its cause where the timeline knows them (tl.growCauses).
export function growAt(tl, at, within) {
  const grows = tl.grows;
  let lo = 0, hi = grows.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (grows[mid] < at) lo = mid + 1; else hi = mid; }
  const near = [lo - 1, lo].filter((k) => k >= 0 && k < grows.length)
    .sort((a, b) => Math.abs(grows[a] - at) - Math.abs(grows[b] - at))[0];
  if (near === undefined || Math.abs(grows[near] - at) > within) return null;
  const i = grows[near], op = tl.ops[i] === 2 ? "realloc" : "malloc";
  let text = `memory.grow at event ${count(i)}: ${op}(${bytes(tl.sizes[i])}) grew the heap to ${bytes(tl.heap[i])}`;
  const causes = tl.growCauses;
  if (causes) {
    const k = causes.index.indexOf(i);
    if (k >= 0) text += `; ${CAUSES[causes.cause[k]]} (longest: ${bytes(causes.gap[k])})`;
  }
  return text;
}

// A line under the chart that names the grow tick under the pointer.
function growTips(tl, el) {
  let tip = el.querySelector(".grow-tip");
  if (!tip) {
    tip = document.createElement("p");
    tip.className = "grow-tip";
    tip.setAttribute("aria-live", "polite");
  }
  return {
    hooks: {
      setCursor: [(u) => {
        const left = u.cursor.left;
        const text = left == null || left < 0 || !tl.heap ? null
          : growAt(tl, u.posToVal(left, "x"), u.posToVal(left + 4, "x") - u.posToVal(left, "x"));
        tip.textContent = text ?? "";
        tip.hidden = !text;
      }],
      ready: [() => el.append(tip)],
    },
  };
}

// What the chart shows, in words, for screen readers.
function description(tl) {
  const s = summary(tl), oom = s.oom;
  return `Over ${count(tl.n)} events the heap grew ${s.grow_events} times to ${bytes(s.heap_bytes)} ` +
    `with ${bytes(s.live_bytes)} live at the end` + (oom ? `; ${failureLabel(oom.kind)} at event ${count(oom.index)}.` : ".");
}

// Draws (replacing whatever was there) the chart of `tl` into `el`, with axes fixed to `scale`
// ({events, bytes}) so two charts line up. `onPick(event)` is called on click, to move the heap-map slider.
// `width`: el's, when the caller has it (measured before anything is drawn, the page is laid out once).
export function drawChart(el, tl, scale, { sync = "pyfrag", onPick = null, width = el.clientWidth } = {}) {
  el._chart?.destroy();
  width = Math.max(280, width);
  const colour = tokens();
  const height = Math.max(220, Math.min(320, Math.round(width * 0.7)));
  // a stored timeline (views.js) brings its points decimated already
  const data = tl.points ?? decimate([tl.heap, tl.live], tl.n, Math.min(2000, width));
  const axis = { stroke: colour.muted, grid: { stroke: colour.grid, width: 1 }, ticks: { stroke: colour.grid } };
  const chart = new uPlot({
    width, height,
    padding: [LABEL_ROOM, 12, 0, 0],
    scales: { x: { time: false, range: [0, Math.max(1, scale.events - 1)] }, y: { range: [0, scale.bytes * HEADROOM] } },
    axes: [
      { ...axis, label: "event (trace order)", labelSize: 18, values: (u, vals) => vals.map(compact) },
      { ...axis, label: "memory (bytes)", labelSize: 18, size: 64,
        splits: () => binarySplits(scale.bytes), values: (u, vals) => vals.map(bytes) },
    ],
    series: [
      { label: "event", value: (u, v) => (v == null ? "–" : count(v)) },
      { label: "heap bytes", stroke: colour.heap, fill: colour["heap-fill"], width: 3, value: (u, v) => bytes(v) },
      // dashed over the heap line, so the heap shows through where the two are equal
      { label: "live bytes", stroke: colour.live, width: 2, dash: [6, 4], value: (u, v) => bytes(v) },
    ],
    cursor: { sync: { key: sync }, drag: { x: false, y: false } },
    legend: { live: true },
    plugins: [marksPlugin(tl, colour), growTips(tl, el)],
  }, data, el);
  if (onPick) {
    chart.over.addEventListener("click", () => {
      const i = chart.posToIdx(chart.cursor.left);
      if (i != null) onPick(Math.round(data[0][i]));
    });
  }
  keys(el);
  el._chart = chart;
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", description(tl));
  el.dataset.ideal = String(summary(tl).ideal_bytes);
  el.dataset.drawn = "true";
}

export function clearChart(el) {
  el._chart?.destroy();
  el._chart = null;
  el.dataset.drawn = "false";
}
