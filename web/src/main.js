// Page wiring for the playground (index.html) and its compact widget (embed.html, body[data-mode=embed]):
// editor, Run/Stop, status, output, examples, modules, upload, share, embed, theme, and the flow
// show() payload -> timelines (simulated now, real after the worker's replay) -> results view -> audit.
// The Run/Stop/replay state and the status it settles on are session.js's: this file renders them.
// Controls a page does not have are simply skipped, so both pages share this one bundle. The widget shows
// its example's stored run first (widget.js) and starts Python only when its reader runs or edits the code.

import "./style.css";
import { PythonClient, RealClient, ReplayStopped } from "./clients.js";
import { Session } from "./session.js";
import { connectHub } from "./pyhub.js";
import { ResultsView } from "./results.js";
import { heapOnlyText, summary } from "./timeline.js";
import { issueLines, realSide, simSide, trapMessage } from "./views.js";
import { ARTICLE_SNIPPET } from "./audit.js";
import { EXAMPLES, DEFAULT_EXAMPLE, loadExample } from "./examples.js";
import { readFragment, shareUrl } from "./share.js";
import { readUpload, acceptDrops } from "./upload.js";
import { bytes, percent } from "./format.js";
import { addressLines, chartPng, metricsCsv, metricsJson, save, slug, traceText } from "./downloads.js";
import { chartSvg } from "./chartsvg.js";
import { OutputPanel } from "./output.js";
import { ASSETS } from "./assets.js";
import { hostTheme, loadStoredRun, storedNote, tellHeight } from "./widget.js";
import { embedSnippet } from "./embedcode.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const byId = (id) => document.getElementById(id);
const embed = document.body.dataset.mode === "embed";
const store = embed ? null : localStorage;     // widgets on a blog page must not overwrite the playground's code

// ---- theme -------------------------------------------------------------------------------------------

const darkQuery = matchMedia("(prefers-color-scheme: dark)");
const THEMES = ["auto", "light", "dark"];
// a widget follows the page around it (widget.js): ?theme= in its URL, or that page's messages
let theme = embed ? hostTheme((t) => { theme = t; applyTheme(); }) : store?.getItem("pyfrag.theme") ?? "auto";
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

let session = null;     // the Run/Stop/replay state (session.js): the status and buttons below draw it

// What the session says: the buttons, and its status (written only when it changes: render() follows
// every change of the session, and most leave the status as it was).
function render() {
  updateButtons();
  if (!session.status) return;       // nothing said yet: the page's own "loading…" stands
  const { text, progress } = session.status, line = $("status");
  if (line.textContent !== text) line.textContent = text;
  const bar = byId("progress");
  if (bar) {
    bar.hidden = progress == null;
    if (progress != null) bar.value = progress;
  }
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
const DEFAULT_MODULE = "c-dlmalloc";    // picked when nothing names a module
const modules = new Map();   // option value -> {name, url|bytes, heap_base, manifest: bool}

// -> the manifest (no modules when it cannot be had), after filling the module menu
let manifestLoad = null;
const manifest = () => manifestLoad ??= loadManifest();    // a widget's when its reader runs or shares
async function loadManifest() {
  let list = { modules: [] };
  try {
    const response = await fetch(`dist/${ASSETS.modules}/manifest.json`);
    if (response.ok) list = await response.json();
  } catch { /* offline or not prepared: the Python side still runs, without a real module */ }
  for (const m of list.modules) {
    modules.set(m.name, { name: m.name, url: new URL(`dist/${ASSETS.modules}/${m.file}`, document.baseURI).href,
      heap_base: m.heap_base, manifest: true, title: `${m.name} — ${m.allocator}` });
  }
  if (moduleSelect) {
    for (const [value, m] of modules) moduleSelect.add(new Option(m.title, value));
    const saved = store?.getItem("pyfrag.module");
    moduleSelect.value = modules.has(saved) ? saved : modules.has(DEFAULT_MODULE) ? DEFAULT_MODULE : moduleSelect.value;
  }
  return list;
}

// the widget has no menu: its link may name a module
const selectedModule = () => modules.get(moduleSelect?.value ?? linked.module ?? DEFAULT_MODULE)
  ?? modules.values().next().value ?? null;

// ---- editor, examples, share ----------------------------------------------------------------------------

let editor = null, audit = null, results = null;
let editorLoad = null;
let firstCode = null;      // the code the page opened with, once known

// The code editors (CodeMirror, a chunk of its own: most of the page's code): the playground loads them at
// once, a widget only when its reader opens the code or runs it. -> a promise, settled once they are there.
function loadEditors() {
  return editorLoad ??= import("./editor.js").then(({ createEditor }) => {
    editor = createEditor($("editor"), {
      lang: "python", doc: firstCode ?? store?.getItem("pyfrag.code") ?? "", label: "Python code", dark: isDark(),
      onRun: run,
      onChange: (code) => { edited = true; store?.setItem("pyfrag.code", code); },
      onEdit: () => python.start(),     // a widget's reader is changing the code: Python will be wanted
    });
    const audits = $("audit-editor");
    if (audits) {
      audit = createEditor(audits, { lang: "javascript", doc: ARTICLE_SNIPPET, label: "Audit snippet (JavaScript)",
        dark: isDark(), onRun: runAudit, wrap: false });
    }
  });
}
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
      return await exampleCode(fragment.example);
    } catch (e) {
      message(e.message, "error");
    }
  }
  return null;
}

let autoRun = false;   // a first visit or a link: run the code as soon as Python is ready, so a result shows
let example = null;    // {id, code}: the example last loaded; while the editor holds its code, Embed names it

const exampleCode = async (id) => (example = { id, code: await loadExample(id) }).code;

async function initialCode() {
  const code = await fragmentCode();
  const stored = store?.getItem("pyfrag.code");
  autoRun = !embed && (code != null || stored == null);
  return code ?? stored ?? exampleCode(DEFAULT_EXAMPLE);
}

function setupExamples() {
  const select = $("example-select");
  if (!select) return;
  select.add(new Option("Examples…", ""));
  for (const e of EXAMPLES) select.add(new Option(e.title, e.id));
  select.addEventListener("change", () => {
    if (!select.value) return;
    loadingExample = Promise.all([exampleCode(select.value), loadEditors()]).then(([code]) => {
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
    await Promise.all([loadEditors(), manifest()]);
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

// The <iframe> snippet of a widget with the code, module and view on screen (embedcode.js).
function setupEmbed() {
  const button = $("embed");
  if (!button) return;
  button.addEventListener("click", async () => {
    await loadEditors();
    const module = selectedModule(), code = editor.get(), view = current ? views.indexOf(current) : -1;
    button.disabled = true;
    message("Loading the widget to measure its height…");
    try {
      const { html } = await embedSnippet({ code, example: example?.code === code ? example.id : null,
        module: module?.manifest ? module.name : null, view: views.length > 1 && view >= 0 ? view : null, theme,
        title: `pyfrag: ${current?.payload.label || current?.payload.trace.name || "live example"}` });
      const field = byId("embed-snippet");
      field.value = html;
      field.hidden = false;
      field.select();
      try {
        await navigator.clipboard.writeText(html);
        message("Embed snippet copied: paste it into your page's HTML. The widget loads from this site.");
      } catch {
        message("Embed snippet ready below: copy it into your page's HTML. The widget loads from this site.");
      }
    } finally {
      button.disabled = false;
    }
  });
}

// ---- running Python ---------------------------------------------------------------------------------

let python = null;
let runFiles = null;             // uploaded traces, written into Python's file system before each run
const views = [];                // one per show() of the current run
let current = null;              // the view on screen

// Run and Stop as the session has them (Session.busy, Session.stoppable).
function updateButtons() {
  const busy = session.busy;
  const run = $("run"), stop = $("stop"), focused = document.activeElement;
  run.disabled = busy;
  stop.disabled = !session.stoppable;
  // a disabled button drops the keyboard's focus: hand it to the other one
  if (focused === run && run.disabled) stop.focus();
  else if (focused === stop && stop.disabled) run.focus();
  document.body.classList.toggle("running", busy);
}

let starting = null;        // settles once the first code and the module menu are in place

// A Run pressed before `starting` settles runs then, on the code the page was about to show.
function run() {
  return session.run(async () => {
    await starting;
    await Promise.all([loadEditors(), manifest()]);
    await loadingExample;
    output.clear();
    message("");
    if (session.runs) linked.view = null;    // a link's view applies to its first run only (its views come after done)
    views.length = 0;
    byId("view-select")?.replaceChildren();
    byId("view-bar")?.toggleAttribute("hidden", true);
    const module = selectedModule();
    return { code: editor.get(), module: module?.manifest ? module.name : null, files: runFiles };
  });
}

// Stop (Session.stop): the simulated side stays as it is; a replay it ended is said here.
function stop() {
  const stopped = session.stop();
  if (stopped) message(`${stopped[0].toUpperCase()}${stopped.slice(1)}. Run replays again.`, "info");
}

function onDone(msg) {
  session.done();
  // a run that showed nothing leaves the previous results on screen: say they are old
  // (a show() still on its way to the screen, as a big trace's is for seconds, is not nothing)
  if (!views.length && !session.deriving && current) {
    results.stale(current.stored ? "These are the stored run's results: this run showed nothing."
      : "These results are from an earlier run: this one showed nothing.");
  }
  if (!msg.ok && msg.error) print(`${msg.error}\n`, "stderr");
  if (msg.elapsed_ms != null) print(`— ${msg.ok ? "finished" : "failed"} in ${(msg.elapsed_ms / 1000).toFixed(2)} s\n`, "meta");
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

function onShow(payload) {
  printIssues(payload);      // now, in order with the run's output: the derive may finish after it
  session.shown(payload);
}

// A show() of the current run, derived (Session.present): its view goes on screen, replayed unless Stop
// came first.
function present(payload, derived, replay) {
  const view = { payload, sim: simSide(payload, derived), real: null };
  views.push(view);
  // on a narrow screen the results are below the editor: bring the first ones into view
  if (views.length === 1 && !embed && matchMedia("(max-width: 900px)").matches) {
    byId("results")?.scrollIntoView({ behavior: "smooth", block: "start" });
  }
  const index = views.length - 1;
  // a share link's view stays on screen while the run shows the views after it
  if (linked.view != null && linked.view < index) return addViewOption(view, index, false);
  addViewOption(view, index, true);
  show(view, replay);
}

// Trace issues both sides skipped or repaired, listed in the output in order with the run's own lines.
function printIssues(payload) {
  const text = issueLines(payload);
  if (text) print(text, "stderr");
}

// The real module for a payload: the manifest module Python replayed "like", else the page's selection
// (an uploaded module has no model, so Python ran on its default while the real side uses the upload).
function realSourceFor(payload) {
  return modules.get(payload.module) ?? selectedModule();
}

async function show(view, replay = true) {
  const explained = $("explain-text");
  if (explained) explained.hidden = true;      // it explained the view before this one
  current = view;
  // a widget says plainly whether what it shows was stored when the site was built or runs here
  byId("results")?.toggleAttribute("data-stored", !!view.stored);
  byId("stored-note")?.toggleAttribute("hidden", !view.stored);
  if (embed) for (const id of ["audit-sim", "audit-real"]) $(id).textContent = "";     // until this view's
  if (view.stored) {
    results.set(view.sim, view.real, "real module: none in the stored run", view.agreement);
    if (view.stored.message) message(view.stored.message, "info");
    runAudit();
    return;
  }
  // a view replayed on another module than the one now selected is stale: replay it again
  if (view.real && view.realSource !== realSourceFor(view.payload)) view.real = null;
  results.set(view.sim, view.real, replay ? "real: replaying…" : "real: not replayed (Stop was pressed)",
    view.real ? view.agreement : null);
  updateDownloads();
  if (!view.real && replay) await replayReal(view);
  if (current === view) runAudit();
}

async function replayReal(view) {
  const source = realSourceFor(view.payload);
  if (!source) {
    if (current === view) results.set(view.sim, null, "real module: none available (is web/dist prepared?)");
    return;
  }
  await session.replay(source, view.payload.trace, {
    replayed: ({ result, derived }) => {
      Object.assign(view, realSide(view.payload, view.sim, source.name, result, derived));
      if (result.trap) message(trapMessage(source.name, result.trap), "info");
      view.realSource = source;
      if (current === view) { results.set(view.sim, view.real, undefined, view.agreement); updateDownloads(); }
    },
    failed: (e) => {
      // a replay Stop ended was announced by stop(); its column says where it stopped
      const wasStopped = e instanceof ReplayStopped;
      if (!wasStopped) message(`Real module ${source.name}: ${e.message}`, "error");
      if (current === view) {
        results.set(view.sim, null, `real: ${source.name} ${wasStopped ? e.where : "failed (see the message above)"}`);
      }
    },
  });
}

// ---- audit --------------------------------------------------------------------------------------------

async function runAudit() {
  const simOut = $("audit-sim"), realOut = $("audit-real");
  if (!simOut) return;
  try {
    const { sim: s, real: r } = current?.stored ? current.stored.audit : await auditNow();
    for (const [el, res] of [[simOut, s], [realOut, r ?? { text: "", error: null }]]) {
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

// The audit snippet (the widget's: the article's own) on the real instance of the view shown and on its
// simulated heap at the end.
async function auditNow() {
  const s = current ? summary(current.sim.tl) : null;
  const last = s?.events ? { heap_bytes: s.heap_bytes, live_bytes: s.live_bytes } : null;
  // the worker keeps the instance of the last replay; after a restart or another view, replay first
  const real = session.real();
  if (current?.real && (real.loaded !== current.realSource || real.replayed !== current.payload.trace)) {
    await replayReal(current);
  }
  return real.audit(audit?.get() ?? ARTICLE_SNIPPET, last);
}

// Another real module was picked: both sides must be redone, the simulation too (it starts like the module
// picked, with its model), so the code runs again; while it is still running, the results say they are stale.
async function moduleChanged() {
  if (!views.length) return;
  if (!session.busy) { await run(); return; }
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

// ---- explain ------------------------------------------------------------------------------------------

// The Explain panel: pyfrag explain on the view shown, asked of Python beside the page's runs
// (playground.explain_view: the view's own run and show()).
function setupExplain() {
  const button = $("explain-run"), out = $("explain-text");
  button?.addEventListener("click", async () => {
    const view = current, { run, index } = view?.payload ?? {};
    out.hidden = false;
    if (run == null) { out.textContent = "Run the code first: the panel explains the view shown."; return; }
    button.disabled = true;
    out.textContent = "explaining…";
    const answer = await python.ask(`print(__import__("playground").explain_view(${run}, ${index}))`);
    if (current === view) out.textContent = answer.ok ? answer.text.trimEnd() : answer.error;
    button.disabled = false;
  });
}

// ---- upload -------------------------------------------------------------------------------------------

async function takeFile(file) {
  try {
    const upload = await readUpload(file);
    if (upload.kind === "module") {
      const source = { name: `upload: ${upload.name}`, bytes: upload.bytes, manifest: false, title: `upload: ${upload.name}` };
      const info = await session.real().load(source);
      const value = `upload:${upload.name}`;
      modules.set(value, source);
      if (moduleSelect && ![...moduleSelect.options].some((o) => o.value === value)) moduleSelect.add(new Option(source.title, value));
      if (moduleSelect) moduleSelect.value = value;
      await moduleChanged();     // a run clears the message box: say what happened after
      message(`Loaded ${upload.name}: exports ${info.exports.join(", ")}. Run to replay your trace on it.`);
    } else {
      const path = `/uploads/${upload.name.replace(/[^\w.-]/g, "_")}`;
      runFiles = { [path]: upload.bytes };
      await loadEditors();
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

// A widget's first view: its example's stored run (widget.js), drawn at once, before any Python. -> that
// run, or null (custom code, or nothing stored: the widget waits for Run).
async function storedRun() {
  const fragment = await readFragment(location.hash);
  linked = { module: fragment.module ?? null, view: fragment.view ?? null };
  const run = fragment.example ? await loadStoredRun(fragment.example, linked.module ?? DEFAULT_MODULE) : null;
  if (!run) return null;
  example = { id: fragment.example, code: run.code };
  for (const [kind, text] of run.output) print(text, kind);
  views.push(...run.views);
  const pick = Math.min(linked.view ?? Infinity, views.length - 1);
  views.forEach((v, i) => addViewOption(v, i, i === pick));
  byId("stored-note").textContent = storedNote(run.engine);
  show(views[pick]);
  session.idle = "stored run: ▶ Run runs it live";
  session.settle();
  performance.mark("pyfrag:stored-drawn");
  return run;
}

const newRealClient = () => new RealClient((stream, text) => print(text, stream));

async function start() {
  // the playground's Python first: its worker starts loading Pyodide at once, while the page builds its
  // editor; a widget fetches its stored run instead, and its Python and real workers wait for its reader
  if (!embed) manifest();
  const stored = embed ? storedRun().catch(() => null) : null;
  python = new PythonClient(manifest, {
    starting: () => session.starting(),
    status: (text, progress) => session.loading(text, progress),
    ready: (versions) => {
      session.ready();
      const v = byId("versions");
      if (v) v.textContent = `Python ${versions.python} · Pyodide ${versions.pyodide} · pyfrag ${versions.pyfrag}`;
      if (autoRun && !session.busy && !views.length) run();
      autoRun = false;
    },
    stdout: (text, dropped) => print(text, "stdout", dropped),
    stderr: (text, dropped) => print(text, "stderr", dropped),
    show: onShow,
    done: onDone,
  }, () => connectHub({ own: !embed }));     // the widgets of a page share one Python (pyhub.js)
  session = new Session({ python, newReal: newRealClient, render, present });
  if (!embed) session.real();
  if (!embed) python.start();

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
    if (code != null) await loadEditors().then(() => editor.set(code));
  });

  // the editor next, with whatever code is at hand, so typing can start before anything else loads; a
  // widget's when its reader opens its code
  if (embed) $("editor").closest("details")?.addEventListener("toggle", loadEditors, { once: true });
  else loadEditors();
  $("audit-run")?.addEventListener("click", runAudit);
  results = new ResultsView();
  $("run").addEventListener("click", run);
  $("stop").addEventListener("click", stop);
  updateButtons();
  setupExamples();
  setupShare();
  setupEmbed();
  setupUpload();
  setupDownloads();
  setupExplain();
  // a view picked after Stop replays (show() replays unless told otherwise)
  byId("view-select")?.addEventListener("change", (e) => show(views[Number(e.target.value)]));
  moduleSelect?.addEventListener("change", () => {
    store?.setItem("pyfrag.module", moduleSelect.value);
    moduleChanged();
  });
  // only a change of width redraws: a hover's legend values change the height, and redrawing then would
  // drop the cursor
  let width = null;
  new ResizeObserver(([entry]) => {
    const was = width;
    width = Math.round(entry.contentRect.width);
    if (was === null || width === was) return;      // the first call says what is: the charts drew at it
    clearTimeout(start.resize);
    start.resize = setTimeout(() => results.redraw(), 150);
  }).observe(byId("results") ?? document.body);

  // a widget tells the page around it its height, so the iframe can fit it (blog-demo.html)
  const shown = embed ? tellHeight() : () => {};
  if (embed) session.settle();

  starting = (async () => {
    const code = firstCode = (await stored)?.code ?? await initialCode();
    if (editor && !edited) { editor.set(code); edited = false; }
    shown();
    if (!embed) await manifest();
    if (linked.module && modules.has(linked.module) && moduleSelect) moduleSelect.value = linked.module;
  })().catch((e) => message(e.message, "error"));
}

start();
