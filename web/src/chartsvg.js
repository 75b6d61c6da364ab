// A heap-growth chart as a standalone SVG file: what uPlot drew on the canvas (its plot box, its ticks and
// their labels, the decimated heap and live series) and what charts.js marksPlugin adds (grow ticks, the
// first failure), redrawn as vector shapes in the light theme's colours with the font inlined, so the file
// looks the same outside the page. Entry points: chartSvg(el, tl, title) for a drawn chart element;
// svgDocument(geometry) builds the text from plain numbers (what the unit tests feed it).

import { cssVar, KEYS, oomLabel } from "./charts.js";
import { summary } from "./timeline.js";

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
const CAPTION = 24;    // px above the chart for its caption
const KEY_ROW = 20;    // px per row of the key below it
const KEY_MARK = 24;   // px of a key's line and the gap after it
const COLOURS = ["bg", "text", "muted", "grid", "heap", "heap-fill", "live", "grow", "oom"];

// The palette of the light theme, whatever the page shows now: the attribute is put back before the
// browser paints, so nothing flickers.
function lightColours() {
  const root = document.documentElement, theme = root.dataset.theme;
  root.dataset.theme = "light";
  try {
    return Object.fromEntries(COLOURS.map((name) => [name, cssVar(`--${name}`)]));
  } finally {
    root.dataset.theme = theme;
  }
}

// Text widths in px at the file's font (an SVG file cannot measure them itself to lay out its key).
function measurer() {
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `12px ${FONT}`;
  return (text) => ctx.measureText(text).width;
}

// -> the geometry svgDocument() draws, in CSS pixels of the chart as it is on screen, or null when the
// element holds no chart. Tick positions and labels are uPlot's own (its axes' _splits and _values: the
// version is pinned in package.json).
export function chartGeometry(el, tl) {
  const u = el._chart;
  if (!u) return null;
  const width = measurer();
  const k = u.ctx.canvas.width / u.width;      // canvas pixels per CSS pixel
  const plot = { left: u.bbox.left / k, top: u.bbox.top / k, width: u.bbox.width / k, height: u.bbox.height / k };
  const x = (v) => plot.left + u.valToPos(v, "x");
  const y = (v) => plot.top + u.valToPos(v, "y");
  const axis = (a, pos) => ({ label: a.label, ticks: a._splits.map((v, i) => [pos(v), a._values[i]]) });
  const line = (s) => Array.from(u.data[0], (v, i) => [x(v), y(u.data[s][i])]);
  const oom = tl.failures[0];
  return {
    width: u.width, height: u.height, plot,
    x: axis(u.axes[0], x), y: axis(u.axes[1], y),
    heap: { label: u.series[1].label, points: line(1) },
    live: { label: u.series[2].label, points: line(2) },
    grows: [...new Set(tl.grows.map((i) => Math.round(x(i))))],     // one tick per pixel, as on the canvas
    oom: oom ? { x: x(oom.index), text: oomLabel(oom), width: width(oomLabel(oom)) } : null,
    ideal: y(summary(tl).ideal_bytes),
    keyWidths: [u.series[1].label, u.series[2].label, KEYS.grow, KEYS.oom, KEYS.ideal].map(width),
    colours: lightColours(),
    description: el.getAttribute("aria-label") ?? "",
  };
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const num = (v) => String(Math.round(v * 10) / 10);
const path = (points) => points.map(([px, py], i) => `${i ? "L" : "M"}${num(px)} ${num(py)}`).join("");

// The SVG text for a geometry from chartGeometry(), titled with the chart's caption.
export function svgDocument(g, title) {
  const { plot, colours: c } = g, bottom = plot.top + plot.height, right = plot.left + plot.width;
  // the key: both series and both marks, as the page shows them under the chart, in rows that fit
  const keys = [[g.heap.label, `stroke="${c.heap}" stroke-width="3"`], [g.live.label, `stroke="${c.live}" stroke-width="2" stroke-dasharray="6 4"`],
    [KEYS.grow, `stroke="${c.grow}" stroke-width="2"`, true], [KEYS.oom, `stroke="${c.oom}" stroke-width="2" stroke-dasharray="4 3"`],
    [KEYS.ideal, `stroke="${c.live}" stroke-width="1" stroke-dasharray="1 3"`]];
  const placed = [];
  let kx = plot.left, row = 0;
  keys.forEach((key, i) => {
    const w = KEY_MARK + g.keyWidths[i];
    if (kx > plot.left && kx + w > g.width - 4) { kx = plot.left; row++; }
    placed.push([kx, row, ...key]);
    kx += w + 16;
  });
  const width = Math.round(g.width), height = Math.round(CAPTION + g.height + (row + 1) * KEY_ROW + 8);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="${esc(FONT)}" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<desc>${esc(g.description)}</desc>`,
    `<rect width="${width}" height="${height}" fill="${c.bg}"/>`,
    `<text x="${num(plot.left)}" y="16" fill="${c.text}" font-size="13" font-weight="600">${esc(title)}</text>`,
    `<g transform="translate(0 ${CAPTION})">`,
    `<g id="grid" stroke="${c.grid}" stroke-width="1">`,
    ...g.x.ticks.map(([px]) => `<line x1="${num(px)}" y1="${num(plot.top)}" x2="${num(px)}" y2="${num(bottom + 6)}"/>`),
    ...g.y.ticks.map(([py]) => `<line x1="${num(plot.left - 6)}" y1="${num(py)}" x2="${num(right)}" y2="${num(py)}"/>`),
    "</g>",
    `<g id="x-axis" fill="${c.muted}" text-anchor="middle">`,
    ...g.x.ticks.map(([px, text]) => `<text x="${num(px)}" y="${num(bottom + 20)}">${esc(text)}</text>`),
    `<text class="axis-label" x="${num(plot.left + plot.width / 2)}" y="${num(g.height - 4)}" font-weight="600">${esc(g.x.label)}</text>`,
    "</g>",
    `<g id="y-axis" fill="${c.muted}" text-anchor="end">`,
    ...g.y.ticks.map(([py, text]) => `<text x="${num(plot.left - 9)}" y="${num(py + 4)}">${esc(text)}</text>`),
    `<text class="axis-label" transform="translate(13 ${num(plot.top + plot.height / 2)}) rotate(-90)" ` +
      `text-anchor="middle" font-weight="600">${esc(g.y.label)}</text>`,
    "</g>",
  ];
  const heap = path(g.heap.points), live = path(g.live.points);
  const first = g.heap.points[0], last = g.heap.points.at(-1);
  if (first) {
    out.push(`<path id="heap-fill" d="${heap}L${num(last[0])} ${num(bottom)}L${num(first[0])} ${num(bottom)}Z" fill="${c["heap-fill"]}"/>`);
  }
  out.push(
    `<path id="heap" d="${heap}" fill="none" stroke="${c.heap}" stroke-width="3" stroke-linejoin="round"><title>${esc(g.heap.label)}</title></path>`,
    `<path id="live" d="${live}" fill="none" stroke="${c.live}" stroke-width="2" stroke-dasharray="6 4"><title>${esc(g.live.label)}</title></path>`,
    `<path id="grows" d="${g.grows.map((px) => `M${num(px)} ${num(bottom)}V${num(bottom - 6)}`).join("")}" ` +
      `stroke="${c.grow}" stroke-opacity="0.8" stroke-width="1"/>`,
    `<line id="ideal" x1="${num(plot.left)}" y1="${num(g.ideal)}" x2="${num(right)}" y2="${num(g.ideal)}" ` +
      `stroke="${c.live}" stroke-width="1" stroke-dasharray="1 3"><title>${esc(KEYS.ideal)}</title></line>`,
  );
  if (g.oom) {
    out.push(`<g id="oom" fill="${c.oom}" stroke="${c.oom}">`,
      `<line x1="${num(g.oom.x)}" y1="${num(plot.top)}" x2="${num(g.oom.x)}" y2="${num(bottom)}" stroke-width="2" stroke-dasharray="4 3"/>`,
      // centred on its line, kept inside the plot's width (as charts.js places it on the canvas)
      `<text x="${num(Math.max(plot.left, Math.min(g.oom.x - g.oom.width / 2, right - g.oom.width)))}" ` +
        `y="${num(plot.top - 5)}" stroke="none">${esc(g.oom.text)}</text>`,
      "</g>");
  }
  out.push("</g>", `<g id="legend" fill="${c.muted}">`);
  for (const [x, r, label, stroke, upright] of placed) {
    const y = CAPTION + g.height + 12 + r * KEY_ROW;
    out.push(upright ? `<line x1="${num(x + 8)}" y1="${y - 9}" x2="${num(x + 8)}" y2="${y + 1}" ${stroke}/>`
      : `<line x1="${num(x)}" y1="${y - 4}" x2="${num(x + 18)}" y2="${y - 4}" ${stroke}/>`);
    out.push(`<text x="${num(x + KEY_MARK)}" y="${y}">${esc(label)}</text>`);
  }
  out.push("</g>", "</svg>");
  return `${out.join("\n")}\n`;
}

// The chart in `el` (drawn from `tl`) as an SVG Blob, or null when nothing is drawn there.
export function chartSvg(el, tl, title) {
  const g = chartGeometry(el, tl);
  return g && new Blob([svgDocument(g, title)], { type: "image/svg+xml;charset=utf-8" });
}
