"""Playwright fixtures for the playground's end-to-end tests.

Owns: starting `serve.py` on a free port (one server for the session),
launching Debian's Chromium through pytest-playwright, blocking every request
that is not to this machine (the page must work offline), one shared loaded
page (a Pyodide boot costs seconds, so tests reuse it), and screenshots in
artifacts/.

Chromium: $PYFRAG_CHROMIUM, else `chromium` on PATH (Debian's package; the
test tool's own browser download does not work here). Without one, the e2e
tests are skipped with that reason.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts")
BOOT_TIMEOUT_MS = 60_000     # a cold Pyodide boot on a busy 2-core machine
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"]


def chromium_path():
    return os.environ.get("PYFRAG_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.e2e)
            if not chromium_path():
                item.add_marker(pytest.mark.skip(
                    reason="no Chromium: install Debian's chromium or set PYFRAG_CHROMIUM"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path(),
            "args": CHROMIUM_FLAGS, "chromium_sandbox": False}


def start_server(*extra):
    """serve.py on a free port; returns (process, base URL). Prepares web/dist first."""
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "serve.py"), "--port", "0",
                             *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 300     # a first prepare runs npm ci and pip download
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


@pytest.fixture(scope="session")
def server():
    proc, url = start_server()
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def block_remote(context, base_url, blocked):
    """Abort every request that leaves this machine, and remember it."""
    def handle(route):
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()
    context.route("**/*", handle)


@pytest.fixture(scope="session")
def shared_context(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.blocked = []
    block_remote(context, server, context.blocked)
    yield context
    context.close()


class ConsoleLog(list):
    def errors(self):
        return [m for m in self if m[0] == "error"]


def open_page(context, url):
    page = context.new_page()
    page.console_log = ConsoleLog()
    page.on("console", lambda m: page.console_log.append((m.type, m.text)))
    page.on("pageerror", lambda e: page.console_log.append(("error", f"pageerror: {e}")))
    page.goto(url)
    return page


def wait_ready(page, timeout=BOOT_TIMEOUT_MS):
    status = page.get_by_test_id("status")
    page.wait_for_function(
        """() => { const s = document.querySelector('[data-testid="status"]');
                   return s && /(^|\\s)ready\\s*$/i.test(s.textContent.trim()); }""",
        timeout=timeout)
    return status


@pytest.fixture(scope="session")
def playground(shared_context, server):
    """The playground page, loaded once and ready, shared by the tests."""
    page = open_page(shared_context, server + "index.html")
    wait_ready(page)
    yield page
    page.close()


@pytest.fixture
def shot(request):
    """shot(page, name): a screenshot into artifacts/ for a person to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)

    def take(page, name=None):
        path = os.path.join(ARTIFACTS, f"{name or request.node.name}.png")
        page.screenshot(path=path, full_page=True)
        return path
    return take
