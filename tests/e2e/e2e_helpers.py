"""Helpers shared by the e2e tests (conftest.py, test_playground.py) and
benchmarks/page_load.py: find Chromium, start serve.py on a free port, block
requests that leave this machine, open a page that records its console, wait
for the playground's `ready`."""

import os
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts")
BOOT_TIMEOUT_MS = 60_000     # a cold Pyodide boot on a busy 2-core machine
# Debian's Chromium as root in a container: no sandbox, no GPU, nothing phoning home.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"]
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def chromium_path():
    return os.environ.get("PYFRAG_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")


def start_server(*extra):
    """serve.py on a free port; returns (process, base URL). Prepares web/dist first."""
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "serve.py"), "--port", "0",
                             *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 600     # a first prepare runs npm ci and pip download
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"serving web/ at (http://\S+?)/? ", line)
        if m:
            return proc, m.group(1).rstrip("/") + "/"
    proc.kill()
    raise RuntimeError("serve.py did not start:\n" + "".join(lines))


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def block_remote(context, blocked):
    """Abort every request that leaves this machine, and remember it in `blocked`."""
    def handle(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()
    context.route("**/*", handle)


class ConsoleLog(list):
    def errors(self):
        return [m for m in self if m[0] == "error"]


def open_page(context, url, init_script=None):
    """A page at `url` that records its console; `init_script` runs before the page's own scripts."""
    page = context.new_page()
    if init_script:
        page.add_init_script(init_script)
    page.console_log = ConsoleLog()
    page.on("console", lambda m: page.console_log.append((m.type, m.text)))
    page.on("pageerror", lambda e: page.console_log.append(("error", f"pageerror: {e}")))
    page.goto(url)
    return page


def wait_ready(page, timeout=BOOT_TIMEOUT_MS):
    page.wait_for_function(
        """() => { const s = document.querySelector('[data-testid="status"]');
                   return s && /(^|\\s)ready\\s*$/i.test(s.textContent.trim()); }""",
        timeout=timeout)
    return page.get_by_test_id("status")
