"""Benchmark (not a test): how fast the playground gets going, and whether it stays responsive.

    python benchmarks/page_load.py [--runs 5] [--events 1000000] [--skip-longtasks]

Measures in headless Debian Chromium against `serve.py` on a free port, with
every request off this machine blocked (as in the e2e tests):

  load    navigation -> status `ready`, and navigation -> first drawn chart
          (index.html with Run pressed as soon as the page is interactive; the
          run waits for Python), median of N, cold (a fresh browser context:
          empty HTTP and code caches) and warm (the same context, reloaded).
  embed   the same for embed.html#example=swiss-cheese, which runs by itself.
  replay  main-thread long tasks (PerformanceObserver 'longtask', > 50 ms by
          definition) from pressing Run on a trace of N events until both charts
          and heap maps are drawn: the longest task, and how many exceed 100 ms.

Targets (issue 5): first chart <= 5 s cold, <= 2.5 s warm; no main-thread task
> 100 ms while replaying 1,000,000 events. Results also go to
artifacts/page_load.json.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests", "e2e"))
from e2e_helpers import (ARTIFACTS, CHROMIUM_FLAGS, block_remote, chromium_path,  # noqa: E402
                         start_server, stop_server)

# Runs in every page before its own scripts: timestamps (ms since navigation
# start) of `ready` and of the first drawn chart, and every long task.
PROBE = """
(() => {
  const marks = window.__bench = { ready: null, chart: null, chartReal: null, longtasks: [] };
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

TIMEOUT_MS = 120_000


def median(xs):
    return round(statistics.median(xs)) if xs else None


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
    try:
        page.wait_for_function("window.__bench && window.__bench.ready !== null && "
                               "window.__bench.chart !== null", timeout=TIMEOUT_MS)
    except Exception:
        state = page.evaluate("JSON.stringify({bench: window.__bench, status: "
                              "document.querySelector('[data-testid=status]')?.textContent})")
        raise RuntimeError(f"{url}: no ready + chart in {TIMEOUT_MS} ms: {state}") from None
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


def measure_loads(browser, url, runs, press_run):
    cold, warm = {}, {}
    for _ in range(runs):
        ctx = browser.new_context()
        ctx.add_init_script(PROBE)
        block_remote(ctx, [])
        for k, v in one_load(ctx, url, press_run).items():
            if v is not None:
                cold.setdefault(k, []).append(v)
        ctx.close()
    ctx = browser.new_context()
    ctx.add_init_script(PROBE)
    block_remote(ctx, [])
    one_load(ctx, url, press_run)           # fill the caches
    for _ in range(runs):
        for k, v in one_load(ctx, url, press_run).items():
            if v is not None:
                warm.setdefault(k, []).append(v)
    ctx.close()
    return {"cold": {k: median(v) for k, v in cold.items()},
            "warm": {k: median(v) for k, v in warm.items()},
            "cold_all": {k: [round(x) for x in v] for k, v in cold.items() if k in ("ready", "chart")},
            "warm_all": {k: [round(x) for x in v] for k, v in warm.items() if k in ("ready", "chart")}}


def measure_replay(browser, url, events):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.add_init_script(PROBE)
    block_remote(ctx, [])
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function("window.__bench.ready !== null", timeout=TIMEOUT_MS)
    code = (f"from pyfrag import scenarios\n"
            f"trace = scenarios.random_trace({events}, seed=1)\n"
            f"run = show(trace)   # both sides: the selected real module's allocator\n"
            f"print(run)\n")
    content = page.get_by_test_id("editor").locator(".cm-content")
    content.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    # charts from the page load (none) must not count: reset the marks, then run
    page.evaluate("() => { for (const t of ['chart-sim', 'chart-real']) "
                  "document.querySelector(`[data-testid=${t}]`).dataset.drawn = 'false'; "
                  "window.__bench.chart = window.__bench.chartReal = null; }")
    t0 = page.evaluate("performance.now()")
    page.get_by_test_id("run").click()
    page.wait_for_function("window.__bench.chart !== null && window.__bench.chartReal !== null",
                           timeout=600_000)
    # the heap maps and the audit follow the charts
    page.wait_for_function(
        "document.querySelector('[data-testid=\"heapmap-real\"]')?.dataset.drawn === 'true'",
        timeout=600_000)
    page.wait_for_timeout(1000)
    b = page.evaluate("window.__bench")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "bench-replay.png"), full_page=True)
    ctx.close()
    tasks = [t for t in b["longtasks"] if t["start"] >= t0]
    longest = max((t["duration"] for t in tasks), default=0)
    return {"events": events, "seconds_to_both_charts": round((b["chartReal"] - t0) / 1000, 2),
            "longtasks": len(tasks), "longest_task_ms": round(longest),
            "tasks_over_100ms": sum(t["duration"] > 100 for t in tasks),
            "longtask_supported": "noLongtask" not in b}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--skip-longtasks", action="store_true")
    ap.add_argument("--skip-embed", action="store_true")
    args = ap.parse_args(argv)
    if not chromium_path():
        sys.exit("page_load: no Chromium (install Debian's chromium or set PYFRAG_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    proc, base = start_server()
    results = {"machine": f"{os.cpu_count()} cores", "runs": args.runs}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS,
                                        chromium_sandbox=False, headless=True)
            t = time.monotonic()
            results["index"] = measure_loads(browser, base + "index.html", args.runs, True)
            print("index.html (Run pressed at load):", json.dumps(results["index"]), flush=True)
            if not args.skip_embed:
                results["embed"] = measure_loads(browser, base + "embed.html#example=swiss-cheese",
                                                 args.runs, False)
                print("embed.html#example=swiss-cheese:", json.dumps(results["embed"]), flush=True)
            if not args.skip_longtasks:
                results["replay"] = measure_replay(browser, base + "index.html", args.events)
                print("replay:", json.dumps(results["replay"]), flush=True)
            results["wall_seconds"] = round(time.monotonic() - t)
            browser.close()
    finally:
        stop_server(proc)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "page_load.json"), "w") as f:
        json.dump(results, f, indent=1)
    i = results["index"]
    print(f"\nfirst chart: cold {i['cold']['chart']} ms (target <= 5000), "
          f"warm {i['warm']['chart']} ms (target <= 2500); ready: cold {i['cold']['ready']} ms, "
          f"warm {i['warm']['ready']} ms")
    if "replay" in results:
        r = results["replay"]
        print(f"replaying {r['events']} events: longest main-thread task {r['longest_task_ms']} ms, "
              f"{r['tasks_over_100ms']} over 100 ms (target: none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
