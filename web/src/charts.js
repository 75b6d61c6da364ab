// Heap-growth charts: heap bytes and live bytes over events for one timeline, drawn with uPlot.
// The simulated and real charts share their axes (same event range, same byte range) so they compare at a
// glance; grow events are ticked along the bottom, the first failed request is flagged.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { bytes, compact, count } from "./format.js";
import { decimate } from "./timeline.js";

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// Marks drawn over the plot: grow events as ticks at the bottom (one per pixel at most), the first
// failure as a labelled vertical line.
function marksPlugin(tl) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        const dpr = devicePixelRatio;
        ctx.save();
        ctx.strokeStyle = css("--grow");
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
          ctx.strokeStyle = ctx.fillStyle = css("--oom");
          ctx.lineWidth = 2 * dpr;
          ctx.setLineDash([4 * dpr, 3 * dpr]);
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          ctx.font = `${12 * dpr}px system-ui, sans-serif`;
          ctx.textAlign = "left";          // uPlot leaves whatever its last axis label used
          ctx.textBaseline = "alphabetic";
          const text = `${oom.kind} OOM @ ${count(oom.index)}`;
          const w = ctx.measureText(text).width;
          ctx.fillText(text, Math.max(bbox.left, Math.min(x - w - 4 * dpr, bbox.left + bbox.width - w)),
            bbox.top + 14 * dpr);
        }
        ctx.restore();
      }],
    },
  };
}

// What the chart shows, in words, for screen readers.
function description(tl) {
  const heap = tl.n ? tl.heap[tl.n - 1] : tl.initialBytes, live = tl.n ? tl.live[tl.n - 1] : 0;
  const oom = tl.failures[0];
  return `Over ${count(tl.n)} events the heap grew ${tl.grows.length} times to ${bytes(heap)} ` +
    `with ${bytes(live)} live at the end` + (oom ? `; ${oom.kind} OOM at event ${count(oom.index)}.` : ".");
}

// Draws (replacing whatever was there) the chart of `tl` into `el`, with axes fixed to `scale`
// ({events, bytes}) so two charts line up. `onPick(event)` is called on click, to move the heap-map slider.
export function drawChart(el, tl, scale, { sync = "pyfrag", onPick = null } = {}) {
  el._chart?.destroy();
  const width = Math.max(280, el.clientWidth);
  const height = Math.max(180, Math.min(280, Math.round(width * 0.5)));
  const data = decimate([tl.heap, tl.live], tl.n, Math.min(2000, width));
  const axis = { stroke: css("--muted"), grid: { stroke: css("--grid"), width: 1 }, ticks: { stroke: css("--grid") } };
  const chart = new uPlot({
    width, height,
    scales: { x: { time: false, range: [0, Math.max(1, scale.events - 1)] }, y: { range: [0, scale.bytes * 1.05] } },
    axes: [
      { ...axis, values: (u, vals) => vals.map(compact) },
      { ...axis, size: 72, values: (u, vals) => vals.map(bytes) },
    ],
    series: [
      { label: "event", value: (u, v) => (v == null ? "–" : count(v)) },
      { label: "heap bytes", stroke: css("--heap"), fill: css("--heap-fill"), width: 2, value: (u, v) => bytes(v) },
      { label: "live bytes", stroke: css("--live"), width: 2, value: (u, v) => bytes(v) },
    ],
    cursor: { sync: { key: sync }, drag: { x: false, y: false } },
    legend: { live: true },
    plugins: [marksPlugin(tl)],
  }, data, el);
  if (onPick) {
    chart.over.addEventListener("click", () => {
      const i = chart.posToIdx(chart.cursor.left);
      if (i != null) onPick(Math.round(data[0][i]));
    });
  }
  el._chart = chart;
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", description(tl));
  el.dataset.drawn = "true";
}

export function clearChart(el) {
  el._chart?.destroy();
  el._chart = null;
  el.dataset.drawn = "false";
}
