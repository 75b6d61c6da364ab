"""Stop ends a real replay too: one still running after Python is done (a long trace), one that never
ends (an uploaded module whose malloc loops forever), and one running while Python is stopped with it.
The replay ends at once, its worker replaced; the caption, status and message say it was stopped and how
far it got, and the next Run, module pick and audit work; a show() Python makes after Stop is not
replayed. Each test has a page of its own whose stall
watch (clients.js STALL_MS) is far longer than the test, so only Stop can end a replay here."""

import re

import pytest
from playwright.sync_api import expect

from test_playground import RUN_TIMEOUT_MS, set_code
from test_stalled_replay import (SMALL_TRACE, page_with_stall, pick_dlmalloc, start_on_dlmalloc,
                                 upload_looping_module)

pytestmark = pytest.mark.e2e

STOP_MS = 3_000       # a stopped replay says so within a second or two; the stall watch is minutes away
LOOPS_STOPPED = "upload: loops.wasm stopped at event 0 of 61"     # swiss_cheese(rounds=20): 61 events


@pytest.fixture
def page(shared_context, server):
    page = page_with_stall(shared_context, server, 600)
    yield page
    page.close()


def expect_stopped(page, stopped):
    """The real column, the status and the message say the replay was stopped; nothing of an earlier
    run is left drawn on the real side, and Stop is done."""
    expect(page.locator("#caption-real")).to_have_text(f"real: {stopped}", timeout=STOP_MS)
    expect(page.get_by_test_id("status")).to_have_text(f"replay on {stopped}", timeout=STOP_MS)
    expect(page.locator("#message")).to_contain_text(f"Replay on {stopped}")
    for testid in ("chart-real", "heapmap-real"):
        expect(page.get_by_test_id(testid)).to_have_attribute("data-drawn", "false")
    expect(page.get_by_test_id("stop")).to_be_disabled()


def test_stop_ends_a_replay_that_loops_forever_after_python_is_done(page):
    start_on_dlmalloc(page)
    upload_looping_module(page)
    stop = page.get_by_test_id("stop")
    expect(stop).to_be_enabled()
    stop.click()
    expect_stopped(page, LOOPS_STOPPED)
    # the audit has no instance to run on, and says why
    expect(page.get_by_test_id("audit-real")).to_have_text(
        "no real instance: no replay on the module has finished (stopped, failed, or not run yet)")
    pick_dlmalloc(page)


def test_stop_while_python_and_a_replay_run_stops_both(page):
    start_on_dlmalloc(page)
    # the code goes on after its show(): Python sleeps while the real replay hangs
    set_code(page, SMALL_TRACE + "import time\ntime.sleep(600)\n")
    upload_looping_module(page, python_done=False)
    expect(page.get_by_test_id("run")).to_be_disabled()
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("output")).to_contain_text("KeyboardInterrupt", timeout=RUN_TIMEOUT_MS)
    expect_stopped(page, LOOPS_STOPPED)
    set_code(page, SMALL_TRACE)
    pick_dlmalloc(page)


LONG_TRACE = "from pyfrag import scenarios\nshow(scenarios.random_trace(2_000_000))\n"
# Polled in the page, so the check and the press are one step: Stop is pressed as soon as the replay has
# made progress, while the status says it is running -> what the page showed then, or, should the
# replay be over before a poll saw it running, what it showed instead.
PRESS_STOP_WHILE_REPLAYING = """() => {
  const stop = document.querySelector('[data-testid="stop"]');
  const status = document.querySelector('[data-testid="status"]').textContent;
  const progress = document.getElementById("progress").value;
  const replaying = !stop.disabled && status === "replaying on zig-wasm…" && progress > 0 && progress < 1;
  if (replaying) stop.click();
  return (replaying || stop.disabled) && { replaying, status, progress };     // disabled: nothing left to stop
}"""


def test_stop_ends_a_long_replay_and_the_next_run_completes(page):
    """zig-wasm's real replay of 2,000,000 random events takes seconds after Python is done. A keyboard
    Run leaves the focus on Stop while the replay goes on; Stop ends the replay part way and hands the
    focus back to Run; the next Run replays the whole trace on the new worker."""
    run, stop, status = (page.get_by_test_id(t) for t in ("run", "stop", "status"))
    expect(run).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("module-select").select_option("zig-wasm")
    set_code(page, LONG_TRACE)
    run.focus()
    page.keyboard.press("Enter")
    expect(stop).to_be_focused()
    expect(run).to_be_enabled(timeout=2 * RUN_TIMEOUT_MS)        # Python is done
    expect(stop).to_be_focused()
    pressed = page.wait_for_function(PRESS_STOP_WHILE_REPLAYING, polling=10,
                                     timeout=RUN_TIMEOUT_MS).json_value()
    assert pressed["replaying"], f"the replay was over before Stop could be pressed: {pressed}"
    expect(page.locator("#caption-real")).to_have_text(
        re.compile(r"^real: zig-wasm stopped at event [\d,]+ of 2,000,000$"), timeout=STOP_MS)
    done = int(re.search(r"event ([\d,]+)", page.locator("#caption-real").text_content())
               .group(1).replace(",", ""))
    assert 0 < done < 2_000_000, done
    expect_stopped(page, f"zig-wasm stopped at event {done:,} of 2,000,000")
    expect(run).to_be_focused()
    # the next Run (the keyboard's, on Run) replays the whole trace on the new worker
    page.keyboard.press("Enter")
    expect(page.locator("#caption-real")).to_have_text("real: zig-wasm", timeout=2 * RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("agreement")).to_have_text(
        "simulation and real module agree at all 2,000,000 events")
    expect(page.get_by_test_id("audit-real")).to_contain_text("Utilization:", timeout=RUN_TIMEOUT_MS)
    expect(status).to_have_text("ready")
    expect(page.locator("#message")).to_be_hidden()
    expect(run).to_be_focused()
    assert not page.console_log.errors(), page.console_log.errors()


def test_a_show_that_comes_after_stop_is_not_replayed(page):
    """Python may show() once more between Stop and its end (here it catches the interrupt): its
    simulated side is drawn, but no real replay starts after Stop was pressed."""
    start_on_dlmalloc(page)
    set_code(page, "import time\nfrom pyfrag import scenarios\nprint('napping', flush=True)\n"
                   "try:\n    time.sleep(600)\nexcept KeyboardInterrupt:\n"
                   "    show(scenarios.swiss_cheese(rounds=30))\n")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("output")).to_contain_text("napping", timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("run")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("chart-sim")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#caption-real")).to_have_text("real: not replayed (Stop was pressed)")
    expect(page.get_by_test_id("stop")).to_be_disabled()
    expect(page.get_by_test_id("status")).to_have_text("ready")
    metrics = page.locator("#metrics tbody tr", has=page.locator("th", has_text="events replayed"))
    expect(metrics.locator("td")).to_have_text(["91", ""])
