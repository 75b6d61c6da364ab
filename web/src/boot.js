// The first code the playground's pages run: a small bundle of its own, ahead of the main one, that creates
// the Python worker, so Pyodide's download and compile (and the worker's fetch of the snapshot and wheels)
// start while the page's own code (editor, charts, examples) still loads. The page's Python hub adopts this
// worker and the messages it sent meanwhile (takeEarlyWorker in pyhub.js). Widgets (embed.html) do not load
// this: they start Python only when the reader asks for it.

import { startEarlyWorker } from "./pyhub.js";

startEarlyWorker();
