"""Benchmark (not a test): what a blog post with pyfrag widgets costs its reader (web/blog-demo.html).

    python benchmarks/embed_load.py [--runs 5] [--base REV]

Serves web/ (prepared first) with serve.py's own request handler, counting the bytes each response
puts on the wire. Each run:

  first visit   Debian's Chromium, headless, with a fresh profile (empty caches), opens the page in a
                new tab with nothing attached to it (a driver's own scripts in every frame would take
                the main thread the widgets draw on): navigation -> each widget's stored chart drawn
                (its pyfrag:stored-drawn mark, in the top page's clock; a few lines added to the page
                send them back), and the bytes sent meanwhile; no Python may have started (nothing of
                Pyodide requested).
  return        the page again in a new tab of that browser: the same, bytes and what was asked for.
  floor         the same page with an empty one-line page in each iframe instead of a widget: what
                four iframes cost on this machine before any widget does anything.
  two runs      (Playwright) Run pressed in the first two widgets, one right after the other: Python
                workers started in the page, Pyodide's wasm fetched, and the time until both show a
                live run; every request of the page, which must stay on this origin.

Every host but this machine is unresolvable. Prints median and range over the runs; the goals are the
issue's: every stored chart within 0.5 s, at most 2 MB before the reader does anything, one Python for
two widgets, at most 50 kB on a return visit.

  --base REV    the same page at commit REV too (extracted with git archive, prepared, served by its own
                serve.py), alternating with this tree's in one browser (Playwright, both measured alike):
                navigation -> the first widget's real chart drawn, for a ratio measured side by side.

Results also go to artifacts/embed_load.json.
"""

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, HERE)
import serve  # noqa: E402
from e2e_helpers import CHROMIUM_FLAGS, chromium_path  # noqa: E402
from page_load import fmt, load_average, save_artifact, stats  # noqa: E402

PAGE = "blog-demo.html"
# nothing but this machine resolves: a request that would leave it fails (and is listed)
FLAGS = CHROMIUM_FLAGS + ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
TIMEOUT_MS = 120_000
PYTHON_FILES = ("py-worker-", "pyodide.asm.wasm", "snapshot-", "python_stdlib.zip")


class Wire:
    """What the server sent: (path, bytes) per write, headers included, and the path of each response."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = []
        self.responses = []
        self.reports = queue.Queue()

    def mark(self):
        with self.lock:
            return len(self.sent), len(self.responses)

    def since(self, mark):
        """(writes, response paths) since `mark`."""
        with self.lock:
            return self.sent[mark[0]:], self.responses[mark[1]:]


# For the floor: a page of one line that says it is drawn at once, in place of each widget.
EMPTY_WIDGET = "<!doctype html><p>empty</p><script>performance.mark('pyfrag:stored-drawn')</script>"


def counting_server(wire):
    with open(os.path.join(serve.WEB, PAGE), encoding="utf-8") as f:
        bench_page = f.read().replace("</body>", REPORTER + "\n</body>")
    # the same page, its widgets replaced by empty ones: what four iframes cost on this machine
    pages = {"/bench-" + PAGE: bench_page,
             "/bench-empty.html": re.sub(r'src="embed\.html[^"]*"', 'src="bench-empty-widget.html"', bench_page),
             "/bench-empty-widget.html": EMPTY_WIDGET}

    class Counting(serve.Handler):
        def do_POST(self):
            """A page's report (REPORTER)."""
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == REPORT:
                wire.reports.put(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def send_head(self):
            """The pages above; the rest as serve.py serves it."""
            page = pages.get(self.path.split("?")[0])
            return super().send_head() if page is None else self.send_html(page)

        def send_response(self, *args):
            with wire.lock:
                wire.responses.append(self.path.split("?")[0])
            super().send_response(*args)

        def setup(self):
            super().setup()
            raw, handler = self.wfile, self

            class Counted:
                def write(self, data):
                    with wire.lock:
                        wire.sent.append((handler.path.split("?")[0], len(data)))
                    return raw.write(data)

                def __getattr__(self, name):
                    return getattr(raw, name)
            self.wfile = Counted()

    def factory(*args, **kwargs):
        return Counting(*args, directory=serve.WEB, **kwargs)
    httpd = serve.Server(("127.0.0.1", 0), factory)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def total(sent):
    return sum(n for _, n in sent)


def widget_frames(page):
    return [f for f in page.frames if "embed.html" in f.url]


POLL_MS = 250     # Playwright's waits poll this seldom: the times come from the pages' own clocks
SETTLE_S = 3      # between measurements: what the one before started (Pyodide boots) winds down first
REPORT = "/__bench"
# Added to the page for the plain visits: once every widget has drawn its stored run, their times (ms
# since the page's navigation started) go back to the benchmark.
REPORTER = """<script>
const poll = setInterval(() => {
  const at = [...document.querySelectorAll("iframe")].map(({ contentWindow: w }) => {
    const mark = w.performance.getEntriesByName("pyfrag:stored-drawn")[0];
    return mark ? Math.round(w.performance.timeOrigin + mark.startTime - performance.timeOrigin) : null;
  });
  if (at.length && at.every((t) => t !== null)) { clearInterval(poll); navigator.sendBeacon("%s", JSON.stringify(at)); }
}, %d);
</script>""" % (REPORT, POLL_MS)


@contextlib.contextmanager
def plain_browser():
    """Chromium, headless, with a fresh profile (empty caches) and nothing attached to its pages: it opens
    them when asked through its DevTools HTTP endpoint, which attaches to none of them -> that endpoint."""
    with tempfile.TemporaryDirectory(prefix="embed-profile-") as profile:
        # a session of its own: all the browser's processes end together, before its profile goes
        proc = subprocess.Popen([chromium_path(), "--headless=new", *FLAGS, f"--user-data-dir={profile}",
                                 "--window-size=1000,900", "--remote-debugging-port=0", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = os.path.join(profile, "DevToolsActivePort")
            for _ in range(300):
                if os.path.exists(port_file) and open(port_file).read().strip():
                    break
                time.sleep(0.1)
            time.sleep(SETTLE_S)           # the browser's own start-up is not the page's
            yield f"http://127.0.0.1:{open(port_file).read().split()[0]}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            for _ in range(100):          # its other processes (renderers, network) go a moment later
                if subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).returncode:
                    break
                time.sleep(0.1)


def plain_visit(devtools, url, wire):
    """`url` opened in a new tab of the plain browser -> (the widgets' stored-chart times, the writes
    and response paths of the visit, until 1 s after them)."""
    mark = wire.mark()
    with urllib.request.urlopen(urllib.request.Request(f"{devtools}/json/new?{url}", method="PUT")) as r:
        tab = json.load(r)["id"]
    try:
        times = wire.reports.get(timeout=TIMEOUT_MS / 1000)
        time.sleep(1)
    finally:
        urllib.request.urlopen(f"{devtools}/json/close/{tab}").close()
    sent, paths = wire.since(mark)
    return times, [x for x in sent if x[0] != REPORT], [p for p in paths if p != REPORT]


def live(frame):
    """The widget shows a live run: its stored note is gone, both charts are drawn, Python is idle."""
    frame.wait_for_function(
        """() => document.getElementById('stored-note').hidden
             && document.querySelector('[data-testid=chart-real]').dataset.drawn === 'true'
             && /^ready$/.test(document.querySelector('[data-testid=status]').textContent.trim())""",
        timeout=TIMEOUT_MS, polling=POLL_MS)


def two_runs(browser, url, wire):
    """Run pressed in the first two widgets of a fresh page -> Python workers, Pyodide fetches, seconds
    until both are live, requests off this origin."""
    ctx = browser.new_context(viewport={"width": 1000, "height": 900})
    requests, workers = [], []
    ctx.on("request", lambda r: requests.append(r.url))
    try:
        page = ctx.new_page()
        page.on("worker", lambda w: workers.append(w.url))
        page.goto(url + PAGE)
        for frame in widget_frames(page):
            frame.wait_for_function("performance.getEntriesByName('pyfrag:stored-drawn').length > 0",
                                    timeout=TIMEOUT_MS, polling=POLL_MS)
        mark = wire.mark()
        frames = widget_frames(page)[:2]
        t0 = time.monotonic()
        for frame in frames:
            frame.get_by_test_id("run").click()
        for frame in frames:
            live(frame)
        both_live = time.monotonic() - t0
        ran = wire.since(mark)[1]
    finally:
        ctx.close()
    return {"python_workers_for_two_runs": sum("py-worker" in w for w in workers),
            "pyodide_wasm_fetched": sum(p.endswith("pyodide.asm.wasm") for p in ran),
            "two_runs_live_s": round(both_live, 2),
            "off_origin_requests": [u for u in requests
                                    if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")]}


def one_run(browser, url, wire):
    with plain_browser() as devtools:
        times, first, first_paths = plain_visit(devtools, url + "bench-" + PAGE, wire)
        time.sleep(SETTLE_S)
        again_times, again, again_paths = plain_visit(devtools, url + "bench-" + PAGE, wire)
        time.sleep(SETTLE_S)
        floor = plain_visit(devtools, url + "bench-empty.html", wire)[0]
    time.sleep(SETTLE_S)
    if len(times) != 4 or len(again_times) != 4:
        raise RuntimeError(f"{PAGE} has 4 widgets; stored charts came from {times} and {again_times}")
    return {
        "stored_ms": times, "last_stored_ms": max(times), "empty_iframes_ms": floor,
        "first_visit_bytes": total(first),
        "first_visit_requests": len(first_paths),
        "python_before_interaction": [p for p in first_paths + again_paths
                                      if any(k in p for k in PYTHON_FILES)],
        "return_stored_ms": again_times, "return_bytes": total(again), "return_paths": sorted(again_paths),
        **two_runs(browser, url, wire),
    }


# In every frame, before its scripts: when the real chart was first drawn, in the top page's clock.
FIRST_CHART = """
(() => {
  const check = () => {
    const chart = document.querySelector('[data-testid="chart-real"]');
    if (window.__chartAt === undefined && chart?.dataset.drawn === "true") {
      window.__chartAt = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
})();
"""


def first_chart_ms(browser, url):
    """A fresh context: navigation of `url` -> the first widget's real chart drawn (ms)."""
    ctx = browser.new_context(viewport={"width": 1000, "height": 900})
    ctx.add_init_script(FIRST_CHART)
    try:
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("[...document.querySelectorAll('iframe')].some((f) => "
                               "f.contentWindow.__chartAt !== undefined)", timeout=TIMEOUT_MS,
                               polling=POLL_MS)
        return round(page.evaluate("Math.min(...[...document.querySelectorAll('iframe')]"
                                   ".map((f) => f.contentWindow.__chartAt ?? Infinity))"
                                   " - performance.timeOrigin"))
    finally:
        ctx.close()


@contextlib.contextmanager
def base_site(rev):
    """The page as it was at commit `rev`: extracted, prepared (this tree's node_modules and wheel
    cache, so nothing is downloaded) and served by its own serve.py -> its base URL."""
    with tempfile.TemporaryDirectory(prefix="embed-base-") as tmp:
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        shutil.copytree(os.path.join(ROOT, "node_modules"), os.path.join(tmp, "node_modules"), symlinks=True)
        shutil.copytree(os.path.join(ROOT, "web", "vendor"), os.path.join(tmp, "web", "vendor"))
        os.utime(os.path.join(tmp, "node_modules", ".package-lock.json"))    # newer than the lock: no npm ci
        proc = subprocess.Popen([sys.executable, "serve.py", "--port", "0"], cwd=tmp, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in proc.stdout:
                found = re.search(r"serving web/ at (http://\S+?)/? ", line)
                if found:
                    yield found.group(1) + "/"
                    break
            else:
                raise RuntimeError(f"the serve.py of {rev} did not start")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--base", metavar="REV", help="also the page at commit REV, side by side")
    args = ap.parse_args(argv)
    if not chromium_path():
        sys.exit("embed_load: no Chromium (install Debian's chromium or set PYFRAG_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    serve.prepare.prepare()
    wire = Wire()
    httpd = counting_server(wire)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": f"{os.cpu_count()} cores",
               "load_average_before": load_average(), "runs": [], "base": args.base, "side_by_side": []}
    stack = contextlib.ExitStack()
    print(f"{results['date']}, {results['machine']}, load average {results['load_average_before']}", flush=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS, chromium_sandbox=False)
            old = stack.enter_context(base_site(args.base)) if args.base else None     # its URL
            for i in range(args.runs):
                time.sleep(SETTLE_S)
                r = one_run(browser, url, wire)
                results["runs"].append(r)
                print(f"run {i + 1}: stored charts at {r['stored_ms']} ms (return: {r['return_stored_ms']}); first visit "
                      f"{r['first_visit_bytes']:,} bytes; return {r['return_bytes']:,} bytes "
                      f"({', '.join(r['return_paths'])}); two Runs: {r['python_workers_for_two_runs']} "
                      f"Python worker(s), Pyodide fetched {r['pyodide_wasm_fetched']}x, both live after "
                      f"{r['two_runs_live_s']} s", flush=True)
                if old:
                    pair = {}
                    for key, site in (("now", url), ("base", old)):
                        time.sleep(SETTLE_S)
                        pair[key] = first_chart_ms(browser, site + PAGE)
                    results["side_by_side"].append(pair)
                    print(f"  first chart, now / {args.base}: {pair}", flush=True)
            browser.close()
    finally:
        stack.close()
        httpd.shutdown()
        httpd.server_close()
    runs = results["runs"]
    results["summary"] = s = {
        "last_stored_chart_ms": stats([r["last_stored_ms"] for r in runs]),
        "return_last_stored_chart_ms": stats([max(r["return_stored_ms"]) for r in runs]),
        "empty_iframes_last_ms": stats([max(r["empty_iframes_ms"]) for r in runs]),
        "first_visit_bytes": stats([r["first_visit_bytes"] for r in runs]),
        "return_bytes": stats([r["return_bytes"] for r in runs]),
        "python_workers_for_two_runs_max": max(r["python_workers_for_two_runs"] for r in runs),
        "python_before_interaction": sorted({p for r in runs for p in r["python_before_interaction"]}),
        "off_origin_requests": sorted({u for r in runs for u in r["off_origin_requests"]}),
        "two_runs_live_s": stats([r["two_runs_live_s"] for r in runs]),
    }
    results["load_average_after"] = load_average()
    print(f"last widget's stored chart after navigation: {fmt(s['last_stored_chart_ms'])} (goal <= 500); "
          f"the same page with four empty iframes instead: {fmt(s['empty_iframes_last_ms'])}")
    print(f"first visit until interaction: {fmt(s['first_visit_bytes'], 'bytes')} (goal <= 2,000,000); "
          f"Python started before interaction: {s['python_before_interaction'] or 'never'}")
    print(f"return visit: {fmt(s['return_bytes'], 'bytes')} (goal <= 50,000); last stored chart "
          f"{fmt(s['return_last_stored_chart_ms'])}")
    print(f"Run in two widgets: at most {s['python_workers_for_two_runs_max']} Python worker(s) (goal 1); "
          f"both live after {fmt(s['two_runs_live_s'], 's')}")
    if results["side_by_side"]:
        pairs = results["side_by_side"]
        s["first_chart_base_ms"] = stats([p["base"] for p in pairs])
        s["first_chart_now_ms"] = stats([p["now"] for p in pairs])
        s["first_chart_ratio"] = round(s["first_chart_base_ms"]["median"] / s["first_chart_now_ms"]["median"], 1)
        print(f"first widget's chart, side by side: {args.base} {fmt(s['first_chart_base_ms'])}, now "
              f"{fmt(s['first_chart_now_ms'])}: {s['first_chart_ratio']}x sooner")
    print(f"requests off this origin: {s['off_origin_requests'] or 'none'}; "
          f"load average after: {results['load_average_after']}")
    save_artifact("embed_load.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
