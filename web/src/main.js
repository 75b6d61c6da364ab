// Page wiring for the playground (index.html) and its compact widget (embed.html, body[data-mode=embed]):
// editor, Run/Stop, status, output, examples, modules, upload, share, theme, and the flow
// show() payload -> timelines (simulated now, real after the worker's replay) -> results view -> audit.
// Controls a page does not have are simply skipped, so both pages share this one bundle.

import "./style.css";
import { createEditor } from "./editor.js";
import { PythonClient, RealClient, ReplayStopped } from "./clients.js";
import { ResultsView } from "./results.js";
import { adoptVerdicts, agreementText, firstDifference, heapOnlyText, summary, timeline } from "./timeline.js";
import { ARTICLE_SNIPPET } from "./audit.js";
import { EXAMPLES, DEFAULT_EXAMPLE, loadExample } from "./examples.js";
import { readFragment, shareUrl } from "./share.js";
import { readUpload, acceptDrops } from "./upload.js";
import { bytes, count, percent } from "./format.js";
import { PAGE } from "./realheap.js";
import { addressLines, chartPng, metricsCsv, metricsJson, save, slug, traceText } from "./downloads.js";
import { chartSvg } from "./chartsvg.js";
import { OutputPanel } from "./output.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const byId = (id) => document.getElementById(id);
const embed = document.body.dataset.mode === "embed";
const store = embed ? null : localStorage;     // widgets on a blog page must not overwrite the playground's code

// ---- theme -------------------------------------------------------------------------------------------

const darkQuery = matchMedia("(prefers-color-scheme: dark)");
const THEMES = ["auto", "light", "dark"];
let theme = store?.getItem("pyfrag.theme") ?? "auto";
const isDark = () => (theme === "auto" ? darkQuery.matches : theme === "dark");

function applyTheme() {
  document.documentElement.dataset.theme = isDark() ? "dark" : "light";
  const button = byId("theme-toggle");
  if (button) {
    button.textContent = `theme: ${theme}`;
    button.setAttribute("aria-label", `Colour theme: ${theme}. Click to change.`);
  }
  editor?.setDark(isDark());
  audit?.setDark(isDark());
  results?.redraw();
}

// ---- status and messages -----------------------------------------------------------------------------

let pythonReady = false;

function setStatus(text, progress = null) {
  $("status").textContent = text;
  const bar = byId("progress");
  if (bar) {
    bar.hidden = progress == null;
    if (progress != null) bar.value = progress;
  }
}

let replays = 0;                  // real replays queued or running
let deriving = 0;                 // show() payloads on their way to the screen: a replay follows each
let replayStatus = ["", null];    // what the latest of them said: [text, progress]
let stopped = null;               // what Stop ended last ("replay on … stopped at event …"), until the next run
let halted = false;               // Stop was pressed: a show() of the stopped run that comes after it is not replayed

function replayProgress(text, progress) {
  replayStatus = [text, progress];
  setStatus(text, progress);
}

// The status once Python or a replay is over: what still goes on (a replay of a module that hangs must
// not read "ready"), else what Stop ended, else ready.
function settledStatus() {
  if (!pythonReady) setStatus("loading…");
  else if (python.running !== null) setStatus("running…");
  else if (replays) setStatus(...replayStatus);
  else if (deriving) setStatus("drawing the simulated side…");
  else setStatus(stopped ?? "ready");
}

function message(text, kind = "info") {
  const box = byId("message");
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

// ---- output ------------------------------------------------------------------------------------------

const output = new OutputPanel($("output"));

// dropped: characters the Python worker left out before `text` (a flood of output keeps only its end)
function print(text, kind = "stdout", dropped = 0) {
  output.write(text, kind, dropped);
}

// ---- modules -----------------------------------------------------------------------------------------

const moduleSelect = $("module-select");
const modules = new Map();   // option value -> {name, url|bytes, heap_base, manifest: bool}

// -> the manifest (no modules when it cannot be had), after filling the module menu
async function loadManifest() {
  let manifest = { modules: [] };
  try {
    const response = await fetch("dist/modules/manifest.json");
    if (response.ok) manifest = await response.json();
  } catch { /* offline or not prepared: the Python side still runs, without a real module */ }
  for (const m of manifest.modules) {
    modules.set(m.name, { name: m.name, url: new URL(`dist/modules/${m.file}`, document.baseURI).href,
      heap_base: m.heap_base, manifest: true, title: `${m.name} — ${m.allocator}` });
  }
  if (moduleSelect) {
    for (const [value, m] of modules) moduleSelect.add(new Option(m.title, value));
    const saved = store?.getItem("pyfrag.module");
    moduleSelect.value = modules.has(saved) ? saved : modules.has("c-dlmalloc") ? "c-dlmalloc" : moduleSelect.value;
  }
  return manifest;
}

const selectedModule = () => modules.get(moduleSelect?.value) ?? modules.values().next().value ?? null;

// ---- editor, examples, share ----------------------------------------------------------------------------

let editor = null, audit = null, results = null;
let edited = false;

let linked = { module: null, view: null };   // what a share link named besides its code

// Code named by the URL fragment (#code=... or #example=...), or null. Keeps the module and view it names.
async function fragmentCode() {
  const fragment = await readFragment(location.hash);
  linked = { module: fragment.module ?? null, view: fragment.view ?? null };
  if (fragment.error) message(fragment.error, "error");
  if (fragment.code != null) return fragment.code;
  if (fragment.example) {
    try {
      return await loadExample(fragment.example);
    } catch (e) {
      message(e.message, "error");
    }
  }
  return null;
}

let autoRun = false;   // a first visit or a link: run the code as soon as Python is ready, so a result shows

async function initialCode() {
  const code = await fragmentCode();
  const stored = store?.getItem("pyfrag.code");
  autoRun = code != null || stored == null;
  return code ?? stored ?? loadExample(DEFAULT_EXAMPLE);
}

function setupExamples() {
  const select = $("example-select");
  if (!select) return;
  select.add(new Option("Examples…", ""));
  for (const e of EXAMPLES) select.add(new Option(e.title, e.id));
  select.addEventListener("change", () => {
    if (!select.value) return;
    loadingExample = loadExample(select.value).then((code) => {
      editor.set(code);
      message("Example loaded (Ctrl+Z brings your previous code back).");
    }, (e) => message(e.message, "error"));
    select.value = "";
  });
}

// an example whose code is on its way: a Run pressed meanwhile runs it, not the code it replaces
let loadingExample = null;

function setupShare() {
  const button = $("share");
  if (!button) return;
  button.addEventListener("click", async () => {
    const module = selectedModule(), view = current ? views.indexOf(current) : -1;
    const url = await shareUrl(editor.get(), location.href.replace(/embed\.html/, "index.html"),
      { module: module?.manifest ? module.name : null, view: view > 0 ? view : null });
    if (embed) {
      window.open(url, "_blank", "noopener");     // the widget's button opens the full playground
      return;
    }
    const field = byId("share-link");
    field.value = url;
    field.hidden = false;
    field.select();
    history.replaceState(null, "", url);
    try {
      await navigator.clipboard.writeText(url);
      message("Share link copied: the code is in the link itself, never sent anywhere.");
    } catch {
      message("Share link ready below: copy it from the field.");
    }
  });
}

// ---- running Python ---------------------------------------------------------------------------------

let python = null, real = null;
let runFiles = null;             // uploaded traces, written into Python's file system before each run
const views = [];                // one per show() of the current run
let current = null;              // the view on screen

// Run is there while Python is not running; Stop while it is, or while a real replay is queued or running
// (or about to be).
function updateButtons() {
  const busy = runPending || python.running !== null;
  const run = $("run"), stop = $("stop"), focused = document.activeElement;
  run.disabled = busy;
  stop.disabled = !busy && !replays && !deriving;
  // a disabled button drops the keyboard's focus: hand it to the other one
  if (focused === run && run.disabled) stop.focus();
  else if (focused === stop && stop.disabled) run.focus();
  document.body.classList.toggle("running", busy);
}

let starting = null;        // settles once the first code and the module menu are in place
let runPending = false;     // a Run pressed before that: it runs then, on the code the page was about to show

async function run() {
  if (runPending || python.running !== null) return;
  runPending = true;
  updateButtons();
  await starting;
  await loadingExample;
  output.clear();
  message("");
  stopped = null;
  halted = false;
  views.length = 0;
  byId("view-select")?.replaceChildren();
  byId("view-bar")?.toggleAttribute("hidden", true);
  setStatus(pythonReady ? "running…" : "waiting for Python to load…");
  const module = selectedModule();
  python.run(editor.get(), module?.manifest ? module.name : null, runFiles);
  runPending = false;
}

// Stop ends Python's run and every real replay queued or running; the simulated side stays as it is.
function stop() {
  halted = true;
  python.stop();
  const ended = real.stopReplays();
  if (!ended.length) return;
  const queued = ended.length - 1;
  stopped = ended[0].message + (queued ? `, with ${queued} queued behind it` : "");
  message(`${stopped[0].toUpperCase()}${stopped.slice(1)}. Run replays again.`, "info");
}

function onDone(msg) {
  updateButtons();
  linked.view = null;      // a share link's view applies to its first run only
  // a run that showed nothing leaves the previous results on screen: say they are old
  // (a show() still on its way to the screen, as a big trace's is for seconds, is not nothing)
  if (!views.length && !deriving && current) results.stale("These results are from an earlier run: this one showed nothing.");
  if (!msg.ok && msg.error) print(`${msg.error}\n`, "stderr");
  if (msg.elapsed_ms != null) print(`— ${msg.ok ? "finished" : "failed"} in ${(msg.elapsed_ms / 1000).toFixed(2)} s\n`, "meta");
  if (pythonReady) settledStatus();
  if (!msg.ok && msg.error && /TraceError|UnicodeDecodeError/.test(msg.error)) {
    message(msg.error.trim().split("\n").pop(), "error");
  } else if (!msg.ok && /No such file or directory: '\/uploads\//.test(msg.error ?? "")) {
    // uploads live in this page's memory only: a reload keeps the code that reads them, not the file
    message("The code reads an uploaded file this page no longer has (uploads do not survive a reload): upload it again.", "error");
  }
}

// ---- show(): simulated now, real after the replay -------------------------------------------------------

function addViewOption({ payload }, index, select) {
  const menu = byId("view-select");
  if (!menu) return;
  menu.add(new Option(payload.label || payload.trace.name, String(index)));
  if (select) menu.value = String(index);
  byId("view-bar").hidden = views.length < 2;
}

async function onShow(payload) {
  printIssues(payload);      // now, in order with the run's output: the derive below may finish after it
  deriving++;
  updateButtons();
  try {
    const view = { payload, sim: null, real: null };
    const { derived } = await real.derive(payload.trace, payload.sim);
    view.sim = {
      tl: timeline(payload.trace, payload.sim, derived),
      title: simTitle(payload),
      extra: { ...payload.sim.metrics, reported_live: null, issues: payload.sim.issues, issue_count: payload.sim.issues.length },
    };
    views.push(view);
    // on a narrow screen the results are below the editor: bring the first ones into view
    if (views.length === 1 && !embed && matchMedia("(max-width: 900px)").matches) {
      byId("results")?.scrollIntoView({ behavior: "smooth", block: "start" });
    }
    const index = views.length - 1;
    // a share link's view stays on screen while the run shows the views after it
    if (linked.view != null && linked.view < index) return addViewOption(view, index, false);
    addViewOption(view, index, true);
    show(view);      // its replay is queued before the buttons are updated below: Stop stays on throughout
  } finally {
    deriving--;
    updateButtons();
    if (pythonReady) settledStatus();
  }
}

// Invalid or double frees and the like in the trace: both sides skip or repair them the same way, which
// would go unnoticed in the charts, so the first few are listed in the output with their file and line.
const ISSUES_PRINTED = 3;
function printIssues({ label, trace, sim: { issues } }) {
  if (!issues.length) return;
  const lines = issues.slice(0, ISSUES_PRINTED).map((i) => `  ${i.where}: ${i.message}\n`).join("");
  const more = issues.length > ISSUES_PRINTED ? `  … and ${count(issues.length - ISSUES_PRINTED)} more\n` : "";
  print(`${label || trace.name}: ${count(issues.length)} trace event${issues.length === 1 ? "" : "s"} ` +
    `skipped or repaired on both sides:\n${lines}${more}`, "stderr");
}

// The simulated side's caption says how its heap started: like the real module (same heap base and pages),
// or in its own state, whose static data and first pages differ from the real side's.
function simTitle({ allocator, sim }) {
  if (sim.like) return `simulated: ${allocator} (started like ${sim.like})`;
  const pages = sim.initial_bytes / PAGE;
  return `simulated: ${allocator}, own start: heap base ${count(sim.heap_base)} in ${count(pages)} page${pages === 1 ? "" : "s"}`;
}

// The real module for a payload: the manifest module Python replayed "like", else the page's selection
// (an uploaded module has no model, so Python ran on its default while the real side uses the upload).
function realSourceFor(payload) {
  return modules.get(payload.module) ?? selectedModule();
}

async function show(view) {
  current = view;
  // a view replayed on another module than the one now selected is stale: replay it again
  if (view.real && view.realSource !== realSourceFor(view.payload)) view.real = null;
  results.set(view.sim, view.real, halted ? "real: not replayed (Stop was pressed)" : "real: replaying…",
    view.real ? view.agreement : null);
  updateDownloads();
  if (!view.real && !halted) await replayReal(view);
  if (current === view) runAudit();
}

async function replayReal(view) {
  const source = realSourceFor(view.payload);
  if (!source) {
    if (current === view) results.set(view.sim, null, "real module: none available (is web/dist prepared?)");
    return;
  }
  const { trace } = view.payload;
  try {
    replays++;
    stopped = null;
    updateButtons();
    replayProgress(`replaying on ${source.name}…`, 0);
    const { result, derived } = await real.replay(source, trace, (done, n) => replayProgress(`replaying on ${source.name}…`, done / n));
    const tl = timeline(trace, result, derived);
    const extra = { reported_live: result.reported_live, issues: result.issues, issue_count: result.skipped,
      trap: result.trap };
    // the simulation started like this very module: where the two agree, the model's free blocks are the
    // module's, so its verdict and largest free block stand for the real side's
    const like = view.payload.sim.like, exact = like === source.name;
    const differs = exact ? firstDifference(view.sim.tl, tl) : null;
    if (exact) tl.failures = adoptVerdicts(tl.failures, view.sim.tl.failures, differs ?? Infinity);
    if (exact && differs === null) {
      const m = view.payload.sim.metrics;
      Object.assign(extra, { largest_free_block: m.largest_free_block, external_fragmentation: m.external_fragmentation,
        overhead_bytes: m.overhead_bytes, resident_bytes: m.resident_bytes, from_model: true });
    }
    view.real = { tl, title: `real: ${source.name}`, extra };
    view.agreement = {
      text: agreementText(view.sim.tl, tl, { like, module: source.name, fmt: { bytes, count } }),
      agree: exact ? differs === null : "n/a",     // not comparable event by event: neither good nor bad
    };
    if (result.trap) message(`Real module ${source.name} trapped in ${result.trap.op} at event ${count(result.trap.index)}: ${result.trap.message}; the replay stopped there (a trap is no OOM: the module itself failed).`, "info");
    view.realSource = source;
    if (current === view) { results.set(view.sim, view.real, undefined, view.agreement); updateDownloads(); }
  } catch (e) {
    // a replay Stop ended was announced by stop(); its column says where it stopped
    const wasStopped = e instanceof ReplayStopped;
    if (!wasStopped) message(`Real module ${source.name}: ${e.message}`, "error");
    if (current === view) {
      results.set(view.sim, null, `real: ${source.name} ${wasStopped ? e.where : "failed (see the message above)"}`);
    }
  } finally {
    replays--;
    updateButtons();
    settledStatus();
  }
}

// ---- audit --------------------------------------------------------------------------------------------

async function runAudit() {
  const simOut = $("audit-sim"), realOut = $("audit-real");
  if (!audit || !simOut) return;
  const sim = current?.sim.tl;
  const last = sim && sim.n ? { heap_bytes: sim.heap[sim.n - 1], live_bytes: sim.live[sim.n - 1] } : null;
  // the worker keeps the instance of the last replay; after a restart or another view, replay first
  if (current?.real && (real.loaded !== current.realSource || real.replayed !== current.payload.trace)) {
    await replayReal(current);
  }
  try {
    const { sim: s, real: r } = await real.audit(audit.get(), last);
    for (const [el, res] of [[simOut, s], [realOut, r]]) {
      el.textContent = res.text + (res.error ? `${res.text ? "\n" : ""}${res.error}` : "");
      el.classList.toggle("error", !!res.error);
    }
    for (const key of ["sim", "real"]) {
      const note = $(`audit-${key}-heap`), tl = current?.[key]?.tl;
      if (note) note.textContent = tl ? heapOnlyText(summary(tl), { bytes, percent }) : "";
    }
  } catch (e) {
    simOut.textContent = realOut.textContent = `audit snippet ${e.message}`;
  }
}

// Another real module was picked: both sides must be redone, the simulation too (it starts like the module
// picked, with its model), so the code runs again; while it is still running, the results say they are stale.
async function moduleChanged() {
  if (!views.length) return;
  if (python.running === null && !runPending) { await run(); return; }
  message(`The real module changed to ${selectedModule()?.name}: the results below are for the previous one. ` +
    "Run again when this run ends.", "info");
}

// ---- downloads ------------------------------------------------------------------------------------------

const text = (s, type = "text/plain") => new Blob([s], { type: `${type};charset=utf-8` });
const DOWNLOADS = {
  "metrics.csv": (v, base) => [`${base}.metrics.csv`, text(metricsCsv(v), "text/csv")],
  "metrics.json": (v, base) => [`${base}.metrics.json`, text(metricsJson(v), "application/json")],
  trace: (v, base) => [`${base}.trace`, text(traceText(v.payload.trace, v.payload.label || v.payload.trace.name))],
  "addresses-sim": (v, base) => v.sim && [`${base}.sim.addresses.txt`, text(addressLines(v.sim.tl))],
  "addresses-real": (v, base) => v.real && [`${base}.real.addresses.txt`, text(addressLines(v.real.tl))],
  "chart-sim": async (v, base) => [`${base}.sim.png`, await chartPng($("chart-sim"), getComputedStyle(document.body).backgroundColor)],
  "chart-real": async (v, base) => v.real && [`${base}.real.png`, await chartPng($("chart-real"), getComputedStyle(document.body).backgroundColor)],
  "chart-sim-svg": (v, base) => [`${base}.sim.svg`, chartSvg($("chart-sim"), v.sim.tl, v.sim.title)],
  "chart-real-svg": (v, base) => v.real && [`${base}.real.svg`, chartSvg($("chart-real"), v.real.tl, v.real.title)],
};

// Buttons follow what the view on screen has (the real side arrives after the simulated one).
function updateDownloads() {
  for (const button of document.querySelectorAll("[data-download]")) {
    const needsReal = /-real\b/.test(button.dataset.download);
    button.disabled = !current || (needsReal && !current.real);
  }
}

function setupDownloads() {
  for (const button of document.querySelectorAll("[data-download]")) {
    button.addEventListener("click", async () => {
      if (!current) return;
      const made = await DOWNLOADS[button.dataset.download](current, slug(current.payload.label || current.payload.trace.name));
      if (made?.[1]) save(...made);
    });
  }
}

// ---- upload -------------------------------------------------------------------------------------------

async function takeFile(file) {
  try {
    const upload = await readUpload(file);
    if (upload.kind === "module") {
      const source = { name: `upload: ${upload.name}`, bytes: upload.bytes, manifest: false, title: `upload: ${upload.name}` };
      const info = await real.load(source);
      const value = `upload:${upload.name}`;
      modules.set(value, source);
      if (moduleSelect && ![...moduleSelect.options].some((o) => o.value === value)) moduleSelect.add(new Option(source.title, value));
      if (moduleSelect) moduleSelect.value = value;
      await moduleChanged();     // a run clears the message box: say what happened after
      message(`Loaded ${upload.name}: exports ${info.exports.join(", ")}. Run to replay your trace on it.`);
    } else {
      const path = `/uploads/${upload.name.replace(/[^\w.-]/g, "_")}`;
      runFiles = { [path]: upload.bytes };
      editor.set(`# ${upload.name}: an uploaded trace (pyfrag reads its own text format, JSON lines,\n` +
        `# malloc-lab .rep files and valgrind logs)\nfrom pyfrag import trace\n\n` +
        `t = trace.load(${JSON.stringify(path)})\nprint(t, t.counts())\nshow(t)\n`);
      await run();     // it clears the message box: say what happened after
      message(`${upload.name} attached: the editor now loads it (Ctrl+Z brings your previous code back). Running it.`);
    }
  } catch (e) {
    message(e.message, "error");
  }
}

function setupUpload() {
  const input = $("upload");
  if (!input) return;
  input.addEventListener("change", () => {
    if (input.files[0]) takeFile(input.files[0]);
    input.value = "";
  });
  acceptDrops(document.body, byId("drop-overlay"), takeFile);
}

// ---- start ----------------------------------------------------------------------------------------------

async function start() {
  // Python first: its worker starts loading Pyodide at once, while the page builds its editor
  const manifest = loadManifest();
  real = new RealClient((stream, text) => print(text, stream));
  python = new PythonClient(manifest, {
    starting: () => { pythonReady = false; setStatus("loading…", 0); },
    status: (text, progress) => { if (!pythonReady) setStatus(text, progress); },
    ready: (versions) => {
      pythonReady = true;
      settledStatus();
      const v = byId("versions");
      if (v) v.textContent = `Python ${versions.python} · Pyodide ${versions.pyodide} · pyfrag ${versions.pyfrag}`;
      if ((embed || autoRun) && python.running === null && !views.length) run();
      autoRun = false;
    },
    stdout: (text, dropped) => print(text, "stdout", dropped),
    stderr: (text, dropped) => print(text, "stderr", dropped),
    show: onShow,
    done: onDone,
  });

  applyTheme();
  byId("theme-toggle")?.addEventListener("click", () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    store?.setItem("pyfrag.theme", theme);
    applyTheme();
  });
  darkQuery.addEventListener("change", applyTheme);
  // a share link pasted into this tab changes only the fragment: no reload, so load its code here
  addEventListener("hashchange", async () => {
    const code = await fragmentCode();
    if (code != null) editor.set(code);
  });

  // the editor next, with whatever code is at hand, so typing can start before anything else loads
  editor = createEditor($("editor"), {
    lang: "python", doc: store?.getItem("pyfrag.code") ?? "", label: "Python code", dark: isDark(), onRun: run,
    onChange: (code) => { edited = true; store?.setItem("pyfrag.code", code); },
  });
  const audits = $("audit-editor");
  if (audits) {
    audit = createEditor(audits, { lang: "javascript", doc: ARTICLE_SNIPPET, label: "Audit snippet (JavaScript)", dark: isDark(), onRun: runAudit, wrap: false });
    $("audit-run").addEventListener("click", runAudit);
  }
  results = new ResultsView();
  $("run").addEventListener("click", run);
  $("stop").addEventListener("click", stop);
  updateButtons();
  setupExamples();
  setupShare();
  setupUpload();
  setupDownloads();
  byId("view-select")?.addEventListener("change", (e) => {
    halted = false;     // a view picked after Stop replays
    show(views[Number(e.target.value)]);
  });
  moduleSelect?.addEventListener("change", () => {
    store?.setItem("pyfrag.module", moduleSelect.value);
    moduleChanged();
  });
  // only a change of width redraws: a hover's legend values change the height, and redrawing then would
  // drop the cursor
  let width = 0;
  new ResizeObserver(([entry]) => {
    if (Math.round(entry.contentRect.width) === width) return;
    width = Math.round(entry.contentRect.width);
    clearTimeout(start.resize);
    start.resize = setTimeout(() => results.redraw(), 150);
  }).observe(byId("results") ?? document.body);

  // an embedded widget tells the page around it its height, so the iframe can fit it (blog-demo.html)
  if (embed && parent !== window) {
    let posted = 0;
    new ResizeObserver(() => {
      const height = document.documentElement.scrollHeight;
      if (height !== posted) parent.postMessage({ type: "pyfrag:height", height: (posted = height) }, "*");
    }).observe(document.body);
  }

  starting = (async () => {
    const code = await initialCode();
    if (!edited) { editor.set(code); edited = false; }
    await manifest;
    if (linked.module && modules.has(linked.module) && moduleSelect) moduleSelect.value = linked.module;
  })().catch((e) => message(e.message, "error"));
}

start();
