// Heap maps: the address space [0, span) laid out row by row on a canvas, one cell per pixel block, colored
// by the fraction of the cell holding live bytes at the chosen event. Bytes not yet in the memory (above
// the heap size at that event) and the module's static data (below its heap base) get their own colors.

import { cellUsage } from "./timeline.js";

const CELL = 4;   // CSS pixels per cell side: small enough to see holes, large enough to click/see on a phone

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function rgb(color) {
  const m = color.match(/^#([0-9a-f]{6})$/i);
  const v = m ? parseInt(m[1], 16) : 0x888888;
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

// What the cell [start, start + per) holds at a moment the heap is heapNow bytes: "outside" (not grown yet),
// "static" (below the heap base) or "heap" (shaded by its live fraction).
export function cellKind(start, per, heapNow, heapBase) {
  return start >= heapNow ? "outside" : start + per <= heapBase ? "static" : "heap";
}

// Draws the map of `tl` at event t over [0, span) -> what the page shows beside it and reads on hover:
// {heap, live, perCell, cols, rows, usage (live fraction per cell), heapBase}.
export function drawHeapMap(canvas, tl, t, span) {
  const width = Math.max(200, canvas.clientWidth);
  const cols = Math.floor(width / CELL);
  const rows = Math.max(24, Math.min(96, Math.round(cols / 3)));
  const cells = cols * rows;
  canvas.width = cols;          // one canvas pixel per cell; CSS scales it up with crisp edges
  canvas.height = rows;
  canvas.style.aspectRatio = `${cols} / ${rows}`;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  const px = image.data;
  const [free, used, outside, fixed] = ["--map-free", "--map-used", "--map-outside", "--map-static"].map((c) => rgb(css(c)));
  const flat = { outside, static: fixed };
  const index = Math.max(0, Math.min(t, tl.n - 1));
  const heapNow = tl.n ? tl.heap[index] : tl.initialBytes;
  const usage = cellUsage(tl, index, span, cells);
  const per = span / cells;
  for (let c = 0; c < cells; c++) {
    let color = flat[cellKind(c * per, per, heapNow, tl.heapBase)];
    if (!color) {
      // sqrt: a cell holding a single small live block still shows, so scattered anchors are visible
      const f = Math.sqrt(usage[c]);
      color = [0, 1, 2].map((k) => Math.round(free[k] + (used[k] - free[k]) * f));
    }
    px[4 * c] = color[0]; px[4 * c + 1] = color[1]; px[4 * c + 2] = color[2]; px[4 * c + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  canvas.dataset.drawn = "true";
  return { heap: heapNow, live: tl.n ? tl.live[index] : 0, perCell: per, cols, rows, usage, heapBase: tl.heapBase };
}

// A side with no timeline (its replay is on its way, failed or was stopped) shows no map of an earlier run.
export function clearHeapMap(canvas) {
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.drawn = "false";
}
