"""What would have saved it, on the page: the ideal line on both charts, each grow tick's cause under the
pointer, the Explain panel's answer for the view shown, and the periodic-reset example agreeing with its
real module event for event now that the page resets the module too."""

import re

import pytest
from playwright.sync_api import expect

from test_playground import RUN_TIMEOUT_MS, pick_example, run_and_wait

pytestmark = pytest.mark.e2e


def show_image_task(page):
    pick_example(page, "image-task")
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    run_and_wait(page)
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true",
                                                                 timeout=RUN_TIMEOUT_MS)


def test_charts_draw_the_ideal_and_name_each_grows_cause(playground, shot):
    page = playground
    show_image_task(page)
    # heap base + peak live, in whole pages: the model's figure (pyfrag.metrics.ideal_bytes)
    from pyfrag import replay, scenarios
    ideal = replay(scenarios.image_task(), like="c-dlmalloc").metrics.ideal_bytes
    for side in ("sim", "real"):
        expect(page.get_by_test_id(f"chart-{side}")).to_have_attribute("data-ideal", str(ideal))
        expect(page.get_by_test_id(f"chart-{side}").locator(".key-ideal")).to_be_visible()
    # the pointer on the first grow tick of each chart: its request and why it grew (the two sides agree,
    # so the real chart knows the causes too)
    for side in ("sim", "real"):
        chart = page.get_by_test_id(f"chart-{side}")
        x, y = page.evaluate("""(testid) => {
          const el = document.querySelector(`[data-testid="${testid}"]`), u = el._chart;
          const box = u.over.getBoundingClientRect();
          return [box.left + u.valToPos(0, "x"), box.top + box.height - 3];
        }""", f"chart-{side}")
        page.mouse.move(x, y)
        tip = chart.locator(".grow-tip")
        expect(tip).to_contain_text("memory.grow at event 0: malloc(")
        expect(tip).to_contain_text("forced: no stretch free of live data could hold the request")
    shot(page, "grow-cause-hover")


def test_the_explain_panel_names_the_pinners_and_the_fix(playground, shot):
    page = playground
    show_image_task(page)
    page.get_by_test_id("explain-run").click()
    text = page.get_by_test_id("explain-text")
    expect(text).to_contain_text("answer: copy the images you keep, and the thumbnails, into a region "
                                 "of their own", timeout=RUN_TIMEOUT_MS)
    expect(text).to_contain_text("tag thumbnail")
    expect(text).to_contain_text("who pins the holes at the failure")
    # the page's own views and output are untouched by the panel's Python
    assert "answer:" not in page.get_by_test_id("output").text_content()
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc")
    text.scroll_into_view_if_needed()
    shot(page, "explain-panel")


def test_the_periodic_reset_example_resets_the_real_module_too(playground):
    page = playground
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    page.get_by_test_id("example-select").select_option("periodic-reset")
    expect(page.get_by_test_id("editor")).to_contain_text("periodic_reset(trace")
    run_and_wait(page)
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("agreement")).to_have_text(
        re.compile(r"^simulation and real module agree at all 257 events$"), timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("output")).to_contain_text("2 resets copied")
    pick_example(page, "image-task")          # the shared page back at its default example
