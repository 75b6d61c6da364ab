"""Benchmark (not a test): how fast the playground gets going, and whether it stays responsive.

    python benchmarks/page_load.py [--runs 5] [--events 1000000] [--modules M,...]
                                   [--skip-loads] [--skip-replay] [--skip-flood]

Measures in headless Debian Chromium against `serve.py` on a free port, with
every request off this machine blocked (as in the e2e tests). Every figure is
printed as median and range (min-max) over --runs, with the machine's load
average before and after, since a busy machine moves them all.

  loads   navigation -> status `ready`, and navigation -> first drawn chart
          (index.html with Run pressed as soon as the page takes it; the run
          waits for Python), cold (a fresh browser context each time: empty
          HTTP and code caches) and warm (one context, reloaded). In the same
          browser run, alternating with those loads: a bare Pyodide boot, a
          page that does nothing but start a worker and loadPyodide() from the
          same served files (no snapshot, no micropip, no pyfrag); the ratio is
          first chart / bare boot (goal <= 1.2).
  (Embeds: benchmarks/embed_load.py.)
  replay  main-thread long tasks (PerformanceObserver 'longtask', > 50 ms by
          definition) from pressing Run on a random trace of N events until both
          charts and heap maps are drawn (and the page has been idle 1 s): for
          every real module, --runs times. Goal: no task over 100 ms, in every run.
  flood   `for i in range(1_000_000): print(i)`: long tasks until it ends, the
          truncation note; the same loop with Stop pressed after 1 s: time from
          the click until the run has ended; 100,000 lines: time from Run until
          the last line is on the page, against the time Python needed to print
          them (goal: within 1.5x).

Results also go to artifacts/page_load.json.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from e2e_helpers import (ARTIFACTS, CHROMIUM_FLAGS, block_remote, chromium_path,  # noqa: E402
                         start_server, stop_server)

# Runs in every page before its own scripts: timestamps (ms since navigation
# start) of `ready`, of the first drawn chart and of the bare boot, and every long task.
PROBE = """
(() => {
  const marks = window.__bench = { ready: null, chart: null, chartReal: null, bare: null, longtasks: [] };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) marks.longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { marks.noLongtask = String(e); }
  const check = () => {
    const s = document.querySelector('[data-testid="status"]');
    if (marks.ready === null && s && /(^|\\s)ready\\s*$/i.test(s.textContent.trim())) marks.ready = performance.now();
    const c = document.querySelector('[data-testid="chart-sim"]');
    if (marks.chart === null && c && c.dataset.drawn === "true") marks.chart = performance.now();
    const r = document.querySelector('[data-testid="chart-real"]');
    if (marks.chartReal === null && r && r.dataset.drawn === "true") marks.chartReal = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})();
"""

# The bare boot: served (by routing) beside index.html, so it loads the very files the playground does.
BARE_PAGE = b"""<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>bare Pyodide</title>
<script type="module">
const w = new Worker(new URL("bench-bare-worker.mjs", document.baseURI), { type: "module" });
w.onmessage = ({ data }) => { window.__bench.bare = performance.now(); window.__bench.bareVersion = data; };
</script>"""
BARE_WORKER = """const dist = new URL("dist/PYODIDE/", self.location.href);
const { loadPyodide } = await import(new URL("pyodide.mjs", dist).href);
const py = await loadPyodide({ indexURL: dist.href, stdout: () => {}, stderr: () => {} });
postMessage(py.runPython("import sys; sys.version.split()[0]"));
"""
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
             "Cross-Origin-Resource-Policy": "same-origin", "Cache-Control": "no-cache"}

TIMEOUT_MS = 120_000


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def save_artifact(name, results):
    """A benchmark's results as artifacts/<name>, for a person or a later comparison to read."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, name), "w") as f:
        json.dump(results, f, indent=1)


def stats(xs):
    """{median, min, max, n} of a list of numbers (ms or s), rounded."""
    if not xs:
        return None
    r = (lambda x: round(x)) if max(xs) >= 100 else (lambda x: round(x, 2))
    return {"median": r(statistics.median(xs)), "min": r(min(xs)), "max": r(max(xs)), "n": len(xs)}


def fmt(s, unit="ms"):
    return "–" if s is None else f"{s['median']} {unit} ({s['min']}–{s['max']}, n={s['n']})"


def new_context(browser, **kw):
    ctx = browser.new_context(**kw)
    ctx.add_init_script(PROBE)
    block_remote(ctx, [])
    # registered after block_remote, so these routes are asked first
    ctx.route("**/bench-bare.html", lambda route: route.fulfill(
        status=200, body=BARE_PAGE, headers={**ISOLATION, "Content-Type": "text/html; charset=utf-8"}))
    ctx.route("**/bench-bare-worker.mjs", lambda route: route.fulfill(
        status=200, body=BARE_WORKER.replace("PYODIDE", build_info()["pyodide"]),
        headers={**ISOLATION, "Content-Type": "text/javascript"}))
    return ctx


def wait_bench(page, condition, url, timeout=TIMEOUT_MS):
    try:
        page.wait_for_function(condition, timeout=timeout)
    except Exception:
        state = page.evaluate("JSON.stringify({bench: window.__bench, status: "
                              "document.querySelector('[data-testid=status]')?.textContent})")
        raise RuntimeError(f"{url}: not done in {timeout} ms ({condition}): {state}") from None


def one_load(context, url, press_run):
    page = context.new_page()
    page.goto(url)
    if press_run:
        # as early as the page takes a run: once its Python client exists, i.e. the
        # status shows the worker's own progress rather than the page's "loading…"
        page.wait_for_function(
            "!/^loading…?$/.test(document.querySelector('[data-testid=status]').textContent.trim())",
            timeout=TIMEOUT_MS)
        page.get_by_test_id("run").click()
    wait_bench(page, "window.__bench && window.__bench.ready !== null && window.__bench.chart !== null", url)
    marks = page.evaluate("({ ready: window.__bench.ready, chart: window.__bench.chart })")
    # the Python worker's own phases (performance marks, ms since the worker started)
    for worker in page.workers:
        if "py-worker" in worker.url:
            phases = worker.evaluate(
                "Object.fromEntries(performance.getEntriesByType('mark')"
                ".filter(m => m.name.startsWith('pyfrag:'))"
                ".map(m => [m.name.slice(7), m.startTime]))")
            for a, b in (("start", "imported"), ("imported", "booted"), ("booted", "micropip"),
                         ("micropip", "installed"), ("installed", "ready")):
                if a in phases and b in phases:
                    marks[f"worker_{a}_to_{b}"] = phases[b] - phases[a]
            # when the worker started, in page time: the page's own start-up cost
            marks["worker_created"] = page.evaluate(
                "performance.getEntriesByType('resource').find(e => e.name.includes('py-worker'))"
                "?.startTime ?? null")
    page.close()
    return marks


def one_bare(context, base):
    page = context.new_page()
    page.goto(base + "bench-bare.html")
    wait_bench(page, "window.__bench.bare !== null", "bench-bare.html")
    bare = page.evaluate("window.__bench.bare")
    page.close()
    return {"bare": bare}


def collect(into, marks):
    for k, v in marks.items():
        if v is not None:
            into.setdefault(k, []).append(v)


def measure_loads(browser, base, page_url, runs, press_run, bare):
    """Cold and warm loads of page_url; with bare, a bare Pyodide boot alternating with them."""
    cold, warm = {}, {}
    for _ in range(runs):
        for kind in (("page", "bare") if bare else ("page",)):
            ctx = new_context(browser)
            collect(cold, one_load(ctx, base + page_url, press_run) if kind == "page" else one_bare(ctx, base))
            ctx.close()
    contexts = {"page": new_context(browser)}
    one_load(contexts["page"], base + page_url, press_run)           # fill the caches
    if bare:
        contexts["bare"] = new_context(browser)
        one_bare(contexts["bare"], base)
    for _ in range(runs):
        collect(warm, one_load(contexts["page"], base + page_url, press_run))
        if bare:
            collect(warm, one_bare(contexts["bare"], base))
    for ctx in contexts.values():
        ctx.close()
    return {"cold": {k: stats(v) for k, v in cold.items()}, "warm": {k: stats(v) for k, v in warm.items()},
            "cold_all": {k: [round(x) for x in v] for k, v in cold.items() if k in ("ready", "chart", "bare")},
            "warm_all": {k: [round(x) for x in v] for k, v in warm.items() if k in ("ready", "chart", "bare")}}


def set_code(page, code):
    content = page.get_by_test_id("editor").locator(".cm-content")
    content.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)


def tasks_since(page, t0):
    return [t for t in page.evaluate("window.__bench.longtasks") if t["start"] >= t0]


def task_figures(tasks):
    return {"longtasks": len(tasks), "longest_task_ms": round(max((t["duration"] for t in tasks), default=0)),
            "tasks_over_100ms": sum(t["duration"] > 100 for t in tasks)}


def build_info():
    """prepare's record of web/dist (start_server has prepared it)."""
    with open(os.path.join(ROOT, "web", "dist", ".build-info.json"), encoding="utf-8") as f:
        return json.load(f)


def manifest_modules():
    with open(os.path.join(ROOT, "web", "dist", build_info()["modules"], "manifest.json"),
              encoding="utf-8") as f:
        return [m["name"] for m in json.load(f)["modules"]]


def measure_replay(browser, base, module, events, runs):
    """`runs` replays of an N-event random trace on `module`, each from Run until both charts and heap maps
    are drawn: the long tasks on the page's main thread meanwhile."""
    ctx = new_context(browser, viewport={"width": 1280, "height": 900})
    ctx.add_init_script(f"localStorage.setItem('pyfrag.module', {json.dumps(module)})")
    page = ctx.new_page()
    page.goto(base + "index.html")
    wait_bench(page, "window.__bench.ready !== null", module)
    selected = page.get_by_test_id("module-select").input_value()
    if selected != module:
        raise RuntimeError(f"the page selected {selected!r}, not {module!r}")
    set_code(page, f"from pyfrag import scenarios\n"
                   f"trace = scenarios.random_trace({events}, seed=1)\n"
                   f"run = show(trace)   # both sides: the selected real module's allocator\n"
                   f"print(run)\n")
    out = []
    for i in range(runs):
        # charts from earlier runs must not count: reset the marks, then run
        page.evaluate("() => { for (const t of ['chart-sim', 'chart-real', 'heapmap-real']) "
                      "document.querySelector(`[data-testid=${t}]`).dataset.drawn = 'false'; "
                      "window.__bench.chart = window.__bench.chartReal = null; }")
        t0 = page.evaluate("performance.now()")
        page.get_by_test_id("run").click()
        wait_bench(page, "window.__bench.chart !== null && window.__bench.chartReal !== null && "
                   "document.querySelector('[data-testid=\"heapmap-real\"]').dataset.drawn === 'true' && "
                   "document.querySelector('[data-testid=\"stop\"]').disabled", module, timeout=900_000)
        both = page.evaluate("window.__bench.chartReal") - t0
        page.wait_for_timeout(1000)     # what follows the drawing (audit, a resize redraw) counts too
        out.append({"seconds_to_both_charts": round(both / 1000, 2), **task_figures(tasks_since(page, t0))})
        if i == 0:
            os.makedirs(ARTIFACTS, exist_ok=True)
            page.screenshot(path=os.path.join(ARTIFACTS, f"bench-replay-{module}.png"), full_page=True)
    supported = page.evaluate("!('noLongtask' in window.__bench)")
    ctx.close()
    return {"module": module, "events": events, "runs": out, "longtask_supported": supported,
            "runs_with_a_task_over_100ms": sum(r["tasks_over_100ms"] > 0 for r in out),
            "longest_task_ms": max(r["longest_task_ms"] for r in out),
            "seconds_to_both_charts": stats([r["seconds_to_both_charts"] for r in out])}


def measure_flood(browser, base, runs):
    ctx = new_context(browser, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(base + "index.html")
    wait_bench(page, "window.__bench.ready !== null", "flood")
    stop = page.get_by_test_id("stop")
    done = "document.querySelector('[data-testid=stop]').disabled"
    full, stops, render = [], [], []
    for _ in range(runs):
        # the whole million lines: no long task, the note says what was dropped
        set_code(page, "for i in range(1_000_000):\n    print(i)\n")
        t0 = page.evaluate("performance.now()")
        page.get_by_test_id("run").click()
        wait_bench(page, done, "flood", timeout=600_000)
        page.wait_for_timeout(500)
        note = page.get_by_test_id("output-truncated")
        full.append({**task_figures(tasks_since(page, t0)),
                     "seconds": round((page.evaluate("performance.now()") - t0 - 500) / 1000, 2),
                     "note": note.text_content() if note.is_visible() else None,
                     "last_line": page.get_by_test_id("output").evaluate(
                         "o => o.textContent.trimEnd().split('\\n').filter(l => !l.startsWith('—')).pop()")})
        # Stop pressed 1 s into the flood: how long until the run has ended
        page.get_by_test_id("run").click()
        page.wait_for_timeout(1000)
        if not stop.is_enabled():
            raise RuntimeError("the million-line loop ended within 1 s: nothing to stop")
        t1 = page.evaluate("performance.now()")
        stop.click()
        wait_bench(page, done, "stop", timeout=30_000)
        stops.append(page.evaluate("performance.now()") - t1)
        # 100,000 lines: from Run until the last one is on the page, against Python's own time
        set_code(page, "import sys, time\nt = time.perf_counter()\nfor i in range(100_000):\n    print(i)\n"
                       "print(f'python: {time.perf_counter() - t:.4f} s', file=sys.stderr)\n")
        t2 = page.evaluate("performance.now()")
        page.get_by_test_id("run").click()
        page.wait_for_function("document.querySelector('[data-testid=output]').textContent.includes('\\n99999\\n')",
                               polling="raf", timeout=120_000)
        shown = page.evaluate("performance.now()") - t2
        wait_bench(page, done, "100k lines")
        text = page.get_by_test_id("output").text_content()
        python_s = float(text.split("python: ")[1].split(" s")[0])
        render.append({"render_s": round(shown / 1000, 3), "python_s": python_s,
                       "ratio": round(shown / 1000 / python_s, 2)})
    ctx.close()
    return {"million_lines": full, "tasks_over_100ms_max": max(r["tasks_over_100ms"] for r in full),
            "longest_task_ms": max(r["longest_task_ms"] for r in full),
            "stop_ms": stats(stops), "render_100k": render,
            "render_ratio": stats([r["ratio"] for r in render])}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--modules", help="comma-separated real modules to replay on (default: every one)")
    for part in ("loads", "replay", "flood"):
        ap.add_argument(f"--skip-{part}", action="store_true")
    args = ap.parse_args(argv)
    if not chromium_path():
        sys.exit("page_load: no Chromium (install Debian's chromium or set PYFRAG_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    proc, base = start_server()
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": f"{os.cpu_count()} cores",
               "load_average_before": load_average(), "runs": args.runs}
    print(f"{results['date']}, {results['machine']}, load average {results['load_average_before']}", flush=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS,
                                        chromium_sandbox=False, headless=True)
            t = time.monotonic()
            if not args.skip_loads:
                results["index"] = i = measure_loads(browser, base, "index.html", args.runs, True, True)
                for temp in ("cold", "warm"):
                    c, b = i[temp]["chart"], i[temp]["bare"]
                    i[temp]["ratio"] = round(c["median"] / b["median"], 2)
                    print(f"{temp}: first chart {fmt(c)}; ready {fmt(i[temp]['ready'])}; bare Pyodide boot "
                          f"{fmt(b)}; first chart / bare boot = {i[temp]['ratio']} (goal <= 1.2)", flush=True)
                    print(f"  {temp} phases (medians, ms): " + ", ".join(
                        f"{k}={v['median']}" for k, v in i[temp].items()
                        if k.startswith("worker_")), flush=True)
            if not args.skip_replay:
                modules = args.modules.split(",") if args.modules else manifest_modules()
                results["replay"] = []
                for module in modules:
                    r = measure_replay(browser, base, module, args.events, args.runs)
                    results["replay"].append(r)
                    print(f"replay of {args.events} events on {module}: longest main-thread task "
                          f"{r['longest_task_ms']} ms; runs with a task over 100 ms: "
                          f"{r['runs_with_a_task_over_100ms']} of {len(r['runs'])}; both charts after "
                          f"{fmt(r['seconds_to_both_charts'], 's')}; per run (longest ms / tasks > 50 ms): "
                          + ", ".join(f"{x['longest_task_ms']}/{x['longtasks']}" for x in r["runs"]),
                          flush=True)
            if not args.skip_flood:
                results["flood"] = f = measure_flood(browser, base, args.runs)
                print(f"print flood, 1,000,000 lines: longest main-thread task {f['longest_task_ms']} ms, "
                      f"at most {f['tasks_over_100ms_max']} over 100 ms in a run; note: "
                      f"{f['million_lines'][0]['note']!r}; last line {f['million_lines'][0]['last_line']!r}",
                      flush=True)
                print(f"  Stop 1 s into the flood: run ended {fmt(f['stop_ms'])} after the click (goal < 1 s)",
                      flush=True)
                print("  100,000 lines on the page / Python's time to print them: "
                      f"{fmt(f['render_ratio'], 'x')} (goal <= 1.5); "
                      + ", ".join(f"{r['render_s']} s / {r['python_s']} s" for r in f["render_100k"]),
                      flush=True)
            results["wall_seconds"] = round(time.monotonic() - t)
            browser.close()
    finally:
        stop_server(proc)
    results["load_average_after"] = load_average()
    print(f"load average after: {results['load_average_after']}; {results['wall_seconds']} s in all")
    save_artifact("page_load.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
