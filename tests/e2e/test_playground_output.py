"""A run that prints without end, on the shared playground page: the output keeps only its end and says
so, the page keeps drawing frames and taking clicks, and Stop ends the flood (benchmarks/page_load.py
measures how fast; tests never time things). Collected after test_playground.py, whose tests expect the
shared page as it loaded."""

import re

import pytest
from playwright.sync_api import expect

from test_playground import RUN_TIMEOUT_MS, run_and_wait, set_code

pytestmark = pytest.mark.e2e

OUTPUT_LIMIT = 200_000    # web/src/output.js: characters the panel keeps


def test_an_endless_print_loop_is_truncated_and_stop_ends_it(playground):
    page = playground
    set_code(page, "import itertools\nfor i in itertools.count():\n    print(i)\n")
    page.get_by_test_id("run").click()
    note = page.get_by_test_id("output-truncated")
    expect(note).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(note).to_contain_text("output truncated")
    # the page still draws frames and answers clicks while the flood goes on
    assert page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(true)))")
    stop = page.get_by_test_id("stop")
    expect(stop).to_be_enabled()
    stop.click()
    expect(stop).to_be_disabled(timeout=RUN_TIMEOUT_MS)
    out = page.get_by_test_id("output")
    expect(out).to_contain_text("KeyboardInterrupt")
    text = out.text_content()
    assert len(text) <= OUTPUT_LIMIT + 2_000, len(text)       # the tail, plus the traceback after it
    # what is kept is the loop's last lines, in order, none lost in between
    numbers = [int(line) for line in text.split("\n") if re.fullmatch(r"\d+", line)]
    assert len(numbers) > 1000
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    dropped = int(re.search(r"the first ([\d,]+) characters", note.text_content()).group(1).replace(",", ""))
    assert dropped >= sum(len(str(i)) + 1 for i in range(numbers[0])) - 200    # all before the tail
    # the next run starts with an empty panel and no note
    set_code(page, "print('after the flood')\n")
    run_and_wait(page)
    expect(out).to_contain_text("after the flood")
    expect(note).to_be_hidden()
    assert "KeyboardInterrupt" not in out.text_content()
