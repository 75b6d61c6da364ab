"""A trace at real-program scale, uploaded to the playground: 1,000,000 events with 318,589 blocks
live at the peak. Every module's wrapper keeps no table of blocks, so the page's real replay runs to
the end and agrees with the simulation event for event, on a C, a Rust, a Zig and an AssemblyScript
module; while it runs, the page says it is busy: "ready" comes only with the run's own results.""" 

import re

import pytest
from playwright.sync_api import expect

from pyfrag import scenarios
from pyfrag.trace import dumps

pytestmark = pytest.mark.e2e

EVENTS = 1_000_000
# Pyodide replays the model at a few hundred thousand events a second on a busy 2-core machine
SCALE_TIMEOUT_MS = 300_000
AGREE = f"simulation and real module agree at all {EVENTS:,} events"


@pytest.fixture(scope="module")
def big_trace():
    return dumps(scenarios.random_trace(EVENTS, seed=1, live=400_000, max_size=512),
                 "pyfrag").encode()


def test_a_real_program_scale_upload_agrees_on_every_kind_of_module(playground, big_trace, shot):
    page = playground
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    page.get_by_test_id("upload").set_input_files(
        files=[{"name": "big.trace", "mimeType": "text/plain", "buffer": big_trace}])
    status = page.get_by_test_id("status")
    agreement = page.get_by_test_id("agreement")
    # every status the page shows, with the real column's caption and the agreement line of that
    # moment: "ready" may only come with this run's results on screen
    page.evaluate("""() => {
      window.statusLog = [];
      const s = document.querySelector('[data-testid="status"]');
      new MutationObserver(() => window.statusLog.push([s.textContent.trim(),
        document.getElementById("caption-real").textContent,
        document.getElementById("agreement").textContent])).observe(s, { childList: true,
        characterData: true, subtree: true });
    }""")
    expect(page.locator("#message")).to_contain_text("Ctrl+Z")     # the editor's code was replaced
    for name in ("c-dlmalloc", "rust-dlmalloc", "zig-wasm", "as-tlsf"):
        if name != "c-dlmalloc":
            page.evaluate("() => { window.statusLog.length = 0; }")
            page.get_by_test_id("module-select").select_option(name)   # runs the code again on it
        expect(page.locator("#caption-real")).to_have_text(f"real: {name}",
                                                           timeout=SCALE_TIMEOUT_MS)
        expect(agreement).to_have_text(AGREE, timeout=SCALE_TIMEOUT_MS)
        expect(status).to_have_text(re.compile(r"ready\s*$"), timeout=SCALE_TIMEOUT_MS)
        assert "trapped" not in page.locator("#message").text_content()
        log = page.evaluate("() => window.statusLog")
        assert log and not [entry for entry in log if entry[0].endswith("ready") and (
            entry[1] != f"real: {name}" or entry[2] != AGREE)], log
    shot(page, "real-program-scale")
