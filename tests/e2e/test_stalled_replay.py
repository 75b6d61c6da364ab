"""The real side after a replay that never ends: an uploaded module whose malloc loops forever. The page
stops such a replay once it makes no progress for a while (clients.js STALL_MS, shortened here through
globalThis.pyfragStallMs so a stall takes seconds, not 15 s) by replacing the real-module worker; whatever
was queued behind the stuck replay, and whatever a person does next (pick another module, Run again),
must still reach the real side. Each test has a page of its own: the hangs it leaves behind must not
reach the shared one. (Stop ends such a replay at once: test_stop_replay.py.)"""

import re

import pytest
from playwright.sync_api import expect

from e2e_helpers import open_page, wait_ready
from test_playground import LOOPING_MODULE, RUN_TIMEOUT_MS, metrics_row, run_and_wait, set_code

pytestmark = pytest.mark.e2e

STALL_S = 6     # long enough for a step to happen while a replay hangs, on a busy machine
STALLED = re.compile(rf"loops\.wasm: made no progress for {STALL_S} s after event 0 \(an endless loop")
SMALL_TRACE = "from pyfrag import scenarios\nshow(scenarios.swiss_cheese(rounds=20))\n"


def page_with_stall(context, server, seconds):
    """A page of its own, ready, whose stall watch fires after `seconds` without progress."""
    page = open_page(context, server + "index.html", f"globalThis.pyfragStallMs = {seconds * 1000}")
    wait_ready(page)
    return page


@pytest.fixture
def page(shared_context, server):
    page = page_with_stall(shared_context, server, STALL_S)
    yield page
    page.close()


def start_on_dlmalloc(page):
    """A first run on c-dlmalloc, so that a module picked next runs the code again."""
    expect(page.get_by_test_id("run")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    set_code(page, SMALL_TRACE)
    run_and_wait(page)
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)


def upload_looping_module(page, python_done=True):
    """Upload the module: picking it runs the code again, and the replay of what it shows hangs."""
    wasmtime = pytest.importorskip("wasmtime")
    page.get_by_test_id("upload").set_input_files(
        files=[{"name": "loops.wasm", "mimeType": "application/wasm",
                "buffer": wasmtime.wat2wasm(LOOPING_MODULE)}])
    expect(page.locator("#caption-real")).to_have_text("real: replaying…", timeout=RUN_TIMEOUT_MS)
    if python_done:
        # Python is done (Run is back), the replay is not: the status says so, not "ready"
        expect(page.get_by_test_id("run")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("status")).to_have_text("replaying on upload: loops.wasm…")


def pick_dlmalloc(page):
    """Pick c-dlmalloc after a stall: its real side must come, with no page errors."""
    page.get_by_test_id("audit-real").evaluate("el => el.textContent = ''")
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    expect_real_side_on_dlmalloc(page)
    assert not page.console_log.errors(), page.console_log.errors()


def expect_real_side_on_dlmalloc(page):
    """The real chart is c-dlmalloc's, the two sides are compared, and the audit ran on it."""
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("agreement")).to_have_text(
        re.compile(r"^simulation and real module agree at all \d+ events$"), timeout=RUN_TIMEOUT_MS)
    # the audit ran on c-dlmalloc's instance: it prints the utilization the table has for it
    real_util = metrics_row(page, "utilization (the article's")[1]
    expect(page.get_by_test_id("audit-real")).to_contain_text(f"Utilization: {real_util}",
                                                              timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("status")).to_have_text("ready")


def test_a_module_picked_after_two_stalled_replays_takes(page):
    start_on_dlmalloc(page)
    upload_looping_module(page)
    # a second Run while the first replay hangs: its show() queues behind the stuck replay
    run_and_wait(page)
    expect(page.locator("#message")).to_contain_text(STALLED, timeout=RUN_TIMEOUT_MS)
    pick_dlmalloc(page)


def test_run_pressed_again_after_the_stall_replays_again_and_the_page_recovers(page):
    start_on_dlmalloc(page)
    upload_looping_module(page)
    expect(page.locator("#message")).to_contain_text(STALLED, timeout=RUN_TIMEOUT_MS)
    # Run clears the message: the one that comes back is the new replay's, on a new worker
    run_and_wait(page)
    expect(page.locator("#message")).not_to_contain_text(STALLED)
    expect(page.locator("#caption-real")).to_have_text("real: replaying…", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#message")).to_contain_text(STALLED, timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#caption-real")).to_have_text("real: upload: loops.wasm failed (see the message above)")
    pick_dlmalloc(page)
