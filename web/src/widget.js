// What only the embed widget (embed.html) does: its stored first view, its theme from the page around it,
// and its height told to that page. Entry points: loadStoredRun(example, module), hostTheme(onChange),
// tellHeight(). The stored run is one small JSON file made at prepare (web/build/stored-views.mjs): the
// widget draws it before any Python, and Python starts only when the reader runs or edits the code.

import { ASSETS } from "./assets.js";
import { fromStored } from "./views.js";

// The stored run of `example` as the page would run it with `module` picked, or null when there is none
// (custom code, an example or module the build did not store, no wasmtime at prepare). An example whose
// show()s all name their module does not depend on the pick: its one run is stored as "*".
export async function loadStoredRun(example, module) {
  const modules = ASSETS.stored[example];
  if (!ASSETS.views || !modules) return null;
  const key = modules.includes(module) ? `${example}.${module}` : modules.includes("*") ? example : null;
  if (!key) return null;
  const response = await fetch(`dist/${ASSETS.views}/${key}.json`);
  if (!response.ok) return null;
  const run = await response.json();
  run.views = run.views.map((v) => ({
    payload: { label: v.label, trace: { name: v.label }, module: v.module },
    sim: fromStored(v.sim),
    real: v.real && fromStored(v.real),
    agreement: v.agreement,
    stored: v,
  }));
  return run;
}

// The sentence that says a view is stored, and by what.
export const storedNote = ({ python, wasmtime, pyfrag }) => `Stored run, made when this site was built: the ` +
  `simulation by CPython ${python} (pyfrag ${pyfrag}), the real module by wasmtime ${wasmtime}. ▶ Run runs it ` +
  "here, live.";

const THEMES = ["auto", "light", "dark"];

// The theme the page around the widget asks for: ?theme=light|dark|auto in the widget's URL, and later
// {type: "pyfrag:theme", theme} messages (a host with a theme switch of its own). -> the theme asked for first.
export function hostTheme(onChange) {
  addEventListener("message", ({ source, data }) => {
    if (source === parent && parent !== window && data?.type === "pyfrag:theme" && THEMES.includes(data.theme)) {
      onChange(data.theme);
    }
  });
  const asked = new URLSearchParams(location.search).get("theme");
  return THEMES.includes(asked) ? asked : "auto";
}

// Tells the page around the widget how tall it is, whenever that changes, so its iframe can fit it:
// {type: "pyfrag:height", height, shown}; shown: the first view is on screen (what the playground's Embed
// action waits for to measure it).
export function tellHeight() {
  if (parent === window) return () => {};
  let posted = 0, shown = false;
  const post = (force = false) => {
    // the page's own height (scrollHeight would be at least the iframe's, which only ever grows then)
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== posted || force) parent.postMessage({ type: "pyfrag:height", height: (posted = height), shown }, "*");
  };
  new ResizeObserver(() => post()).observe(document.body);
  return () => { shown = true; post(true); };
}
