"""Playwright fixtures for the playground's end-to-end tests.

Owns: one serve.py on a free port for the session, Debian's Chromium through
pytest-playwright, every request that is not to this machine blocked (the page
must work offline), one shared loaded page (a Pyodide boot costs seconds, so
tests reuse it), and screenshots in artifacts/.

Chromium: $PYFRAG_CHROMIUM, else `chromium` on PATH (Debian's package; the
test tool's own browser download does not work here). Without one, the e2e
tests are skipped with that reason, or fail when $PYFRAG_REQUIRE_BROWSER is
set (CI: a missing browser must not pass silently).
"""

import os

import pytest

from e2e_helpers import (ARTIFACTS, CHROMIUM_FLAGS, block_remote, chromium_path, open_page,
                         start_server, stop_server, wait_ready)

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.e2e)
            if not chromium_path() and not os.environ.get("PYFRAG_REQUIRE_BROWSER"):
                item.add_marker(pytest.mark.skip(
                    reason="no Chromium: install Debian's chromium or set PYFRAG_CHROMIUM"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not chromium_path():
        pytest.fail("no Chromium, and PYFRAG_REQUIRE_BROWSER is set: install Debian's "
                    "chromium or set PYFRAG_CHROMIUM")
    # pytest-playwright's --browser-channel cannot point at Debian's binary: override the args
    return {**browser_type_launch_args, "executable_path": chromium_path(),
            "args": CHROMIUM_FLAGS, "chromium_sandbox": False}


@pytest.fixture(scope="session")
def server():
    proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def shared_context(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.blocked = []
    block_remote(context, context.blocked)
    yield context
    context.close()


@pytest.fixture(scope="session")
def playground(shared_context, server):
    """The playground page, loaded once and ready, shared by the tests."""
    page = open_page(shared_context, server + "index.html")
    wait_ready(page)
    yield page
    page.close()


@pytest.fixture
def shot(request):
    """shot(page, name): a full-page screenshot into artifacts/ for a person to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)

    def take(page, name=None):
        path = os.path.join(ARTIFACTS, f"{name or request.node.name}.png")
        page.screenshot(path=path, full_page=True)
        return path
    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def failure_artifacts(request):
    """On a failure: a screenshot of the shared page and its console, in artifacts/."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed or "playground" not in request.fixturenames:
        return
    page = request.getfixturevalue("playground")
    os.makedirs(ARTIFACTS, exist_ok=True)
    base = os.path.join(ARTIFACTS, f"FAILED-{request.node.name}")
    try:
        page.screenshot(path=base + ".png", full_page=True)
    except Exception:
        pass
    with open(base + ".console.txt", "w") as f:
        f.write("\n".join(f"{t}: {m}" for t, m in page.console_log))
        f.write("\n--- output ---\n" + (page.get_by_test_id("output").text_content() or ""))
