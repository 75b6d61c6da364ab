"""The playground end to end in Debian's Chromium, served by serve.py, offline.

Every request that leaves this machine is aborted (conftest), so a test that
passes here proves the page needs no CDN. Most tests share one loaded page
(Pyodide's start costs seconds); the order below is the order a person would
go: load, run the default example, audit, Stop, share, embed, bad upload.
Screenshots land in artifacts/.
"""

import re

import pytest
from playwright.sync_api import expect

from e2e_helpers import BOOT_TIMEOUT_MS, block_remote, open_page, wait_ready

pytestmark = pytest.mark.e2e

RUN_TIMEOUT_MS = 60_000


def set_code(page, code, testid="editor"):
    """Replace the editor's text the way a paste does (no auto-indent, no auto-close)."""
    content = page.get_by_test_id(testid).locator(".cm-content")
    content.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    expect(content).to_contain_text(code.splitlines()[0])


def run_and_wait(page, timeout=RUN_TIMEOUT_MS):
    """Run and wait until Python is done (Run is back; a real replay may still go on, Stop with it)."""
    run = page.get_by_test_id("run")
    run.click()
    expect(run).to_be_enabled(timeout=timeout)


EXAMPLE_MARKS = {"image-task": "scenarios.image_task()", "arena": "Arena vs global heap"}


def pick_example(page, example):
    """Load an example into the editor and wait for it: the page fetches its code, and a Run
    pressed before it arrives runs the previous code."""
    page.get_by_test_id("example-select").select_option(example)
    expect(page.get_by_test_id("editor")).to_contain_text(EXAMPLE_MARKS[example])


def ensure_drawn(page, testid):
    """Run the image task unless an earlier test on the shared page already drew `testid`."""
    if page.get_by_test_id(testid).get_attribute("data-drawn") != "true":
        pick_example(page, "image-task")
        run_and_wait(page)


def test_page_loads_offline_and_reaches_ready(playground, shared_context, shot):
    page = playground
    expect(page.get_by_test_id("status")).to_have_text(re.compile(r"ready\s*$"))
    # cross-origin isolated: serve.py's COOP/COEP reached the page, so Stop can interrupt
    assert page.evaluate("crossOriginIsolated") is True
    assert shared_context.blocked == [], "the page tried to leave this machine"
    assert page.get_by_test_id("example-select").locator("option").count() >= 7
    assert page.get_by_test_id("module-select").locator("option").count() >= 1
    assert not page.console_log.errors(), page.console_log.errors()
    # Python started from serve.py's memory snapshot, not the slow way
    worker = next(w for w in page.workers if "py-worker" in w.url)
    assert worker.evaluate("performance.getEntriesByName('pyfrag:from-snapshot').length") == 1
    shot(page, "playground-ready")


def utilization_line(page, testid):
    text = page.get_by_test_id(testid).text_content()
    m = re.search(r"Utilization: \d+\.\d\d%", text)
    assert m, f"{testid}: {text!r}"
    return m.group(0)


def metrics_row(page, label):
    """The simulated and real cells of the metrics table's row `label`."""
    row = page.locator("#metrics tbody tr", has=page.locator("th", has_text=label))
    return row.locator("td").all_text_contents()


def test_default_example_draws_simulated_and_real(playground, shot):
    """The page's default is the 512 MiB image task: both sides die of the same fragmentation
    OOM, and the audit sees the real instance in its state at the OOM, as the table does."""
    page = playground
    expect(page.get_by_test_id("editor")).to_contain_text("scenarios.image_task()")
    run_and_wait(page)
    for testid in ("chart-sim", "chart-real", "heapmap-sim", "heapmap-real"):
        expect(page.get_by_test_id(testid)).to_have_attribute("data-drawn", "true",
                                                              timeout=RUN_TIMEOUT_MS)
    out = page.get_by_test_id("output").text_content()
    assert "Traceback" not in out, out
    assert "fragmentation OOM" in out, out
    # the charts hold real drawings, not empty boxes
    assert page.get_by_test_id("chart-sim").locator("canvas").count() >= 1
    # the simulated side says it started like the real module it is compared with
    expect(page.locator("#caption-sim")).to_have_text("simulated: dlmalloc (started like c-dlmalloc)")
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc")
    sim_oom, real_oom = metrics_row(page, "first failure")
    assert sim_oom.startswith("fragmentation OOM at event 256"), sim_oom
    assert real_oom.startswith("fragmentation OOM at event 256"), real_oom
    # the audit ran by itself on both; the real instance did not grow past the trace's 512 MiB
    line = re.compile(r"Utilization: \d+\.\d\d%")
    for testid in ("audit-sim", "audit-real"):
        expect(page.get_by_test_id(testid)).to_contain_text(line, timeout=RUN_TIMEOUT_MS)
    real_line = utilization_line(page, "audit-real")
    assert real_line == utilization_line(page, "audit-sim")
    article = metrics_row(page, "utilization (the article's")
    assert real_line == f"Utilization: {article[1]}"
    # beside the article's figure, the heap without static data: the snippet counts it as wasted
    expect(page.get_by_test_id("audit-real-heap")).to_contain_text(
        re.compile(r"^heap only: \d+\.\d\d% of the [\d.]+ MiB above the heap base; static data and stack"))
    assert not page.console_log.errors(), page.console_log.errors()
    shot(page, "image-task-side-by-side")


def test_audit_runs_on_both_heaps(playground, shot):
    page = playground
    ensure_drawn(page, "chart-real")
    page.get_by_test_id("audit-sim").evaluate("el => el.textContent = ''")
    page.get_by_test_id("audit-run").click()
    line = re.compile(r"Utilization: \d+\.\d\d%")
    expect(page.get_by_test_id("audit-sim")).to_contain_text(line, timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("audit-real")).to_contain_text(line, timeout=RUN_TIMEOUT_MS)
    both = page.get_by_test_id("audit-sim").text_content() + \
        page.get_by_test_id("audit-real").text_content()
    assert len(line.findall(both)) == 2, both
    assert both.count("Wasted (Fragmented):") == 2, both
    shot(page, "audit-both")


def test_heap_map_hover_reads_the_cell_under_the_pointer(playground, shot):
    page = playground
    ensure_drawn(page, "heapmap-real")
    canvas, readout = page.get_by_test_id("heapmap-real"), page.locator("#heapmap-real-readout")
    expect(canvas).to_have_attribute("data-drawn", "true", timeout=RUN_TIMEOUT_MS)
    canvas.hover(position={"x": 1, "y": 1})        # address 0: the module's static data
    expect(readout).to_have_text(re.compile(r"^0x0–0x[0-9a-f]+ \(0 B – [\d.]+ \w+\): static data"))
    box = canvas.bounding_box()
    canvas.hover(position={"x": box["width"] / 2, "y": box["height"] / 2})
    expect(readout).to_have_text(re.compile(r"^0x[0-9a-f]+–0x[0-9a-f]+ .*: [\d.]+ \w+ live \([\d.]+%\), "
                                            r"[\d.]+ \w+ free$"))
    shot(page, "heapmap-hover")
    page.mouse.move(0, 0)
    expect(readout).to_have_text("")


def test_swiss_cheese_prints_the_numbers_its_panel_shows(playground, shot):
    page = playground
    page.get_by_test_id("example-select").select_option("swiss-cheese")
    expect(page.get_by_test_id("editor")).to_contain_text("scenarios.swiss_cheese(")
    run_and_wait(page)
    expect(page.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true",
                                                                timeout=RUN_TIMEOUT_MS)
    out = page.get_by_test_id("output").text_content()
    shown = re.search(r"shown: dlmalloc started like .*utilization (\d+\.\d\d%)", out)
    assert shown, out
    expect(page.locator("#caption-sim")).to_have_text("simulated: dlmalloc (started like c-dlmalloc)")
    assert metrics_row(page, "utilization (the article's")[0] == shown.group(1)
    shot(page, "swiss-cheese-side-by-side")


def engine_audit(trace, module):
    """The audit snippet's lines on the wasmtime run of `trace` on `module`: the engine's truth."""
    from pyfrag.audit import audit_lines
    from pyfrag.real import replay_real
    run = replay_real(trace, module)
    # after a trap (AssemblyScript's allocator aborts when memory cannot grow) the harness
    # reads nothing more itself; the instance still answers, as the page's does
    live = run.module.live_bytes() if run.trap else run.reported_live
    return "\n".join(audit_lines(live, run.heap_bytes[-1]))


def test_every_module_real_audit_equals_the_engine_run(playground, shot):
    """The image task's 512 MiB limit is the real instance's own: on every module the page's real
    audit says what the wasmtime run says, the page says that the two sides agree, and both give
    the first failure one verdict."""
    pytest.importorskip("wasmtime")
    from pyfrag import scenarios
    page = playground
    pick_example(page, "image-task")
    select = page.get_by_test_id("module-select")
    select.select_option("c-dlmalloc")
    run_and_wait(page)
    expect(page.get_by_test_id("agreement")).to_have_text(
        "simulation and real module agree at all 257 events", timeout=RUN_TIMEOUT_MS)
    assert metrics_row(page, "events replayed") == ["257", "257"]
    # the model's verdict and free blocks stand for the real module's where the two agree
    assert "the model's: exact here" in metrics_row(page, "largest free block")[1]
    trace = scenarios.image_task()
    names = [o for o in select.locator("option").evaluate_all("os => os.map(o => o.value)")]
    assert len(names) >= 9, names
    for name in names:
        page.get_by_test_id("audit-real").evaluate("el => el.textContent = ''")
        select.select_option(name)
        expect(page.locator("#caption-real")).to_have_text(f"real: {name}", timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("audit-real")).to_have_text(engine_audit(trace, name),
                                                               timeout=RUN_TIMEOUT_MS)
        # picking a module runs the code again, the simulation started like that module: every
        # module here has an address-exact model, so the two sides agree event by event
        expect(page.locator("#caption-sim")).to_contain_text(f"(started like {name})")
        expect(page.get_by_test_id("agreement")).to_have_text(
            "simulation and real module agree at all 257 events")
        sim_oom, real_oom = metrics_row(page, "first failure")
        if real_oom.startswith("trap"):
            # AssemblyScript's allocator aborts where its model fails the request: the same
            # event, and a trap is never called an OOM
            # (the model's verdict may be no OOM either: as-stub's is "memory exhausted")
            assert real_oom.split(" in ")[0] == "trap at " + sim_oom.split(":")[0].split(" at ")[1]
        else:
            assert sim_oom.split(":")[0] == real_oom.split(":")[0], (name, sim_oom, real_oom)
    select.select_option("c-dlmalloc")
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)


def test_run_pressed_right_after_picking_an_example_runs_that_example(playground):
    page = playground
    set_code(page, "print('the code before')\n")
    # pick and press Run in one go, before the example's code can have arrived
    page.evaluate("""() => {
        const menu = document.querySelector('[data-testid="example-select"]');
        menu.value = "arena";
        menu.dispatchEvent(new Event("change"));
        document.querySelector('[data-testid="run"]').click();
    }""")
    expect(page.get_by_test_id("stop")).to_be_disabled(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("output")).to_contain_text("scratch arena")
    assert "the code before" not in page.get_by_test_id("output").text_content()


def test_switching_the_view_audits_that_views_real_instance(playground):
    page = playground
    pick_example(page, "arena")
    run_and_wait(page)
    views = page.locator("#view-select")
    expect(views.locator("option")).to_have_count(2)
    seen = set()
    for value in ("0", "1"):
        views.select_option(value)
        real_util = metrics_row(page, "utilization (the article's")[1]
        expect(page.get_by_test_id("audit-real")).to_contain_text(f"Utilization: {real_util}",
                                                                  timeout=RUN_TIMEOUT_MS)
        seen.add(real_util)
    assert len(seen) == 2, seen     # the two views' instances differ, and each audit followed its view


def test_downloads_parse_back(playground, tmp_path):
    """Metrics (CSV, JSON), the trace, both sides' address lines and the charts, as files that read back."""
    import csv
    import json
    from pyfrag import scenarios, trace as traces
    from pyfrag.real import replay_real
    page = playground
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    pick_example(page, "image-task")
    run_and_wait(page)
    expect(page.get_by_test_id("agreement")).to_contain_text("agree", timeout=RUN_TIMEOUT_MS)

    def download(what):
        button = page.locator(f'[data-download="{what}"]')
        expect(button).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        with page.expect_download() as info:
            button.click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        return path

    data = json.loads(download("metrics.json").read_text())
    assert data["sim"]["events"] == data["real"]["events"] == 257
    assert data["real"]["first_failure"]["kind"] == "fragmentation"
    rows = {r[0]: r[1:] for r in csv.reader(download("metrics.csv").open())}
    assert rows["metric"] == ["sim", "real"] and rows["events"] == ["257", "257"]
    loaded = traces.load(str(download("trace")))
    expected = scenarios.image_task()
    assert (list(loaded.ops), list(loaded.ids), list(loaded.sizes)) == \
        (list(expected.ops), list(expected.ids), list(expected.sizes))
    assert loaded.maximum == expected.maximum or loaded.maximum == 8192
    engine = "\n".join(replay_real(expected, "c-dlmalloc").address_lines()) + "\n"
    assert download("addresses-real").read_text() == engine
    assert download("addresses-sim").read_text() == engine      # address-exact model
    for side in ("chart-sim", "chart-real"):
        assert download(side).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SVG = "{http://www.w3.org/2000/svg}"


def test_charts_download_as_standalone_svg(playground, shared_context, tmp_path, shot):
    """Each chart as an SVG file that stands alone: it parses as XML, names its axes, draws the
    heap and live lines through every point the chart on the page draws, ticks each axis, marks
    the first failure, and renders (a screenshot of it, opened by itself, lands in artifacts/).
    The file is in the light theme's colours whatever the page shows."""
    import base64
    import xml.etree.ElementTree as ET
    page = playground
    pick_example(page, "image-task")
    run_and_wait(page)

    def download(side, name):
        button = page.locator(f'[data-download="chart-{side}-svg"]')
        expect(button).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        with page.expect_download() as info:
            button.click()
        assert info.value.suggested_filename.endswith(f".{side}.svg")
        path = tmp_path / name
        info.value.save_as(path)
        return path

    for side in ("sim", "real"):
        path = download(side, f"{side}.svg")
        root = ET.parse(path).getroot()
        assert root.tag == SVG + "svg"
        assert "NaN" not in path.read_text() and "undefined" not in path.read_text()
        assert root.find(SVG + "title").text == page.locator(f"#caption-{side}").text_content()
        labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "axis-label"]
        assert labels == ["event (trace order)", "memory (bytes)"]
        chart = page.get_by_test_id(f"chart-{side}")
        points = chart.evaluate("el => el._chart.data[0].length")
        paths = {p.get("id"): p for p in root.iter(SVG + "path")}
        for line in ("heap", "live"):
            d = paths[line].get("d")
            assert d.count("M") == 1 and d.count("L") == points - 1, (line, d[:80])
            assert all(0 <= float(v) <= float(root.get("width")) for v in re.findall(r"[ML]([\d.]+)", d))
        # heap bytes never fall below live bytes: the heap line is never lower on the page
        heap_y = [float(v) for v in re.findall(r"[\d.]+ ([\d.]+)", paths["heap"].get("d"))]
        live_y = [float(v) for v in re.findall(r"[\d.]+ ([\d.]+)", paths["live"].get("d"))]
        assert all(h <= l + 0.1 for h, l in zip(heap_y, live_y))
        axes = {g.get("id"): g for g in root.iter(SVG + "g")}
        for axis in ("x-axis", "y-axis"):
            assert len(axes[axis].findall(SVG + "text")) >= 3, axis     # tick labels and the axis label
        # the image task ends in a fragmentation OOM, on both sides
        assert "fragmentation OOM @" in "".join(axes["oom"].itertext())
        assert paths["grows"].get("d").count("M") >= 1
    theme = page.locator("#theme-toggle")
    start = theme.text_content()
    while theme.text_content() != "theme: dark":
        theme.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert download("real", "dark.svg").read_text() == path.read_text()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"    # put back
    while theme.text_content() != start:
        theme.click()
    viewer = shared_context.new_page()
    try:
        # as an image, an SVG is a document of its own: it draws only when it is valid and standalone
        data = base64.b64encode(path.read_bytes()).decode()
        viewer.set_content(f'<img alt="chart" src="data:image/svg+xml;base64,{data}">')
        viewer.wait_for_function("document.querySelector('img').complete")
        assert viewer.evaluate("document.querySelector('img').naturalWidth") == int(root.get("width"))
        shot(viewer, "chart-real-svg")
    finally:
        viewer.close()


def test_share_link_restores_module_and_view(playground, shared_context):
    page = playground
    page.get_by_test_id("module-select").select_option("as-tlsf")
    pick_example(page, "arena")
    run_and_wait(page)
    page.locator("#view-select").select_option("1")
    expect(page.locator("#caption-real")).to_have_text("real: as-tlsf", timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("share").click()
    expect(page.locator("#share-link")).to_have_value(re.compile(r"module=as-tlsf&view=1$"))
    link = page.locator("#share-link").input_value()
    other = open_page(shared_context, link)
    try:
        # a link runs its code at once, on the module it names, and shows the view it names
        expect(other.locator("#caption-real")).to_have_text("real: as-tlsf", timeout=BOOT_TIMEOUT_MS)
        expect(other.locator("#view-select")).to_have_value("1")
        expect(other.get_by_test_id("module-select")).to_have_value("as-tlsf")
        label = page.locator("#view-select option[value='1']").text_content()
        expect(other.locator("#view-select option:checked")).to_have_text(label)
    finally:
        other.close()
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    expect(page.locator("#caption-real")).to_have_text(re.compile("c-dlmalloc"), timeout=RUN_TIMEOUT_MS)


def test_blog_embed_fits_its_widget_on_a_phone(browser, server, shot):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    block_remote(context, [])
    page = open_page(context, server + "blog-demo.html")
    try:
        frame_el = page.locator("iframe").first
        frame = frame_el.content_frame
        expect(frame.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true",
                                                                     timeout=BOOT_TIMEOUT_MS)
        inner = frame.locator("html").evaluate("el => el.scrollHeight")
        page.wait_for_function("h => Math.abs(document.querySelector('iframe').clientHeight - h) <= 2",
                               arg=inner, timeout=10_000)
        shot(page, "blog-demo-phone")
    finally:
        context.close()


def test_stop_interrupts_an_endless_loop(playground):
    page = playground
    set_code(page, "print('looping', flush=True)\nwhile True:\n    pass\n")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("output")).to_contain_text("looping", timeout=RUN_TIMEOUT_MS)
    stop = page.get_by_test_id("stop")
    expect(stop).to_be_enabled()
    stop.click()
    # within a second or so (interrupt buffer; generous for a loaded CI machine)
    expect(page.get_by_test_id("output")).to_contain_text("KeyboardInterrupt", timeout=5_000)
    expect(stop).to_be_disabled()
    # Python is still usable: no restart was needed
    set_code(page, "print('after stop', 6 * 7)\n")
    run_and_wait(page)
    expect(page.get_by_test_id("output")).to_contain_text("after stop 42")
    # the interrupted run is handled: nothing escapes as an uncaught error in the page
    assert not [m for m in page.console_log if "pageerror" in m[1]], page.console_log


def test_time_sleep_blocks_and_stop_interrupts_it(playground):
    page = playground
    set_code(page, "import time\nt = time.monotonic()\ntime.sleep(0.2)\n"
                   "print('slept', time.monotonic() - t >= 0.19)\n")
    run_and_wait(page)
    expect(page.get_by_test_id("output")).to_contain_text("slept True")
    set_code(page, "import time\nprint('napping', flush=True)\nwhile True:\n    time.sleep(0.1)\n")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("output")).to_contain_text("napping", timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("stop")).to_be_disabled(timeout=5_000)
    out = page.get_by_test_id("output")
    expect(out).to_contain_text("KeyboardInterrupt")
    expect(out).to_contain_text('File "<editor>", line 4')
    assert "py-worker" not in out.text_content()        # the user's frames, not the glue's
    assert not [m for m in page.console_log if "pageerror" in m[1]], page.console_log


def test_python_errors_show_the_users_traceback(playground):
    page = playground
    set_code(page, "def f():\n    return 1 / 0\nf()\n")
    run_and_wait(page)
    out = page.get_by_test_id("output")
    expect(out).to_contain_text("ZeroDivisionError")
    expect(out).to_contain_text('File "<editor>", line 2')
    assert "_pyodide" not in out.text_content()


# What Python says about its packages: micropip installed pyfrag from this
# origin; micropip and packaging are installed (their files too, not only their
# modules in a snapshot); micropip's view of the lock points at this origin.
INSTALLED_PROBE = (
    "import json, micropip, packaging, importlib.metadata as md\n"
    "print('pyfrag from', micropip.list()['pyfrag'].source)\n"
    "print('versions', md.version('micropip'), md.version('packaging'), packaging.__version__)\n"
    "print('lock at', json.loads(micropip.freeze())['packages']['micropip']['file_name'])\n")


def expect_installed_from(page):
    origin = page.evaluate("location.origin")
    set_code(page, INSTALLED_PROBE)
    run_and_wait(page)
    out = page.get_by_test_id("output")
    # every file in dist/ has its content's hash in its name (or its directory's)
    expect(out).to_contain_text(re.compile(f"pyfrag from {re.escape(origin)}/dist/wheels-[0-9a-f]+/pyfrag-"))
    expect(out).to_contain_text(re.compile(r"versions \d+\.\d+\S* (\d+\.\d+\S*) \1"))
    expect(out).to_contain_text(re.compile(f"lock at {re.escape(origin)}/dist/pyodide-[0-9a-f]+/micropip-"))
    assert "integrity" not in out.text_content().lower()


def test_pyfrag_installed_with_micropip_from_this_origin(playground, shared_context):
    """The lock's micropip and packaging wheels are served beside Pyodide with the
    lock's sha256 rewritten to match (the browser checks them as they load at
    start); micropip then installs pyfrag's wheel from the same origin."""
    expect_installed_from(playground)
    assert not playground.console_log.errors(), playground.console_log.errors()
    assert shared_context.blocked == []


def test_share_link_round_trip(playground, shared_context):
    page = playground
    code = "print('shared', 6 * 7)  # round trip\n"
    set_code(page, code)
    link_box = page.locator("#share-link")
    before = link_box.input_value()       # an earlier test's link, until this click's is made
    page.get_by_test_id("share").click()
    expect(link_box).to_be_visible()
    expect(link_box).not_to_have_value(before)
    link = link_box.input_value()
    base, _, fragment = link.partition("#")
    assert fragment and "?" not in base, link      # the code travels in the fragment only
    assert "round trip" not in base
    # change the code in this page (it is persisted) so the link must win over storage
    set_code(page, "print('something else')\n")
    other = open_page(shared_context, link)
    try:
        expect(other.get_by_test_id("editor").locator(".cm-content")).to_contain_text(
            "print('shared', 6 * 7)  # round trip", timeout=BOOT_TIMEOUT_MS)
    finally:
        other.close()


def test_embed_page_shows_its_examples_stored_run(shared_context, server, shot):
    """The widget opened on its own (widgets in a page: test_embed.py): its example's stored run at once,
    on the module its link names, and no Python until Run."""
    page = open_page(shared_context, server + "embed.html#example=swiss-cheese&module=emmalloc")
    try:
        for testid in ("chart-sim", "chart-real"):
            expect(page.get_by_test_id(testid)).to_have_attribute(
                "data-drawn", "true", timeout=RUN_TIMEOUT_MS)
        expect(page.locator("#caption-real")).to_have_text("real: emmalloc")
        expect(page.get_by_test_id("stored-note")).to_contain_text("Stored run")
        assert not page.workers
        assert not page.console_log.errors(), page.console_log.errors()
        shot(page, "embed-swiss-cheese")
    finally:
        page.close()


def test_bad_upload_shows_an_error_and_the_page_keeps_working(playground, shot):
    page = playground
    page.get_by_test_id("upload").set_input_files(
        files=[{"name": "broken.wasm", "mimeType": "application/wasm",
                "buffer": b"this is not a wasm module"}])
    box = page.locator("#message")
    expect(box).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(box).to_contain_text(re.compile(r"wasm|WebAssembly|module", re.I))
    shot(page, "bad-upload")
    set_code(page, "print('still', 'alive')\n")
    run_and_wait(page)
    expect(page.get_by_test_id("output")).to_contain_text("still alive")


LOOPING_MODULE = """(module
  (memory (export "memory") 2)
  (func (export "malloc") (param i32) (result i32) (loop $forever (br $forever)) (i32.const 0))
  (func (export "free") (param i32))
  (func (export "realloc") (param i32 i32) (result i32) (i32.const 0))
  (func (export "live_bytes") (result i32) (i32.const 0)))"""


def test_an_uploaded_module_that_loops_forever_is_stopped(playground):
    """A module whose malloc never returns: the real replay is stopped with a message that
    says so, and the page goes on working (the next module replays)."""
    wasmtime = pytest.importorskip("wasmtime")
    page = playground
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    set_code(page, "from pyfrag import scenarios\nshow(scenarios.swiss_cheese(rounds=20))\n")
    run_and_wait(page)
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)
    # a module picked (here: uploaded) runs the code again, on it
    page.get_by_test_id("upload").set_input_files(
        files=[{"name": "loops.wasm", "mimeType": "application/wasm",
                "buffer": wasmtime.wat2wasm(LOOPING_MODULE)}])
    expect(page.locator("#message")).to_contain_text(
        re.compile(r"loops\.wasm: made no progress for 15 s after event 0 \(an endless loop"),
        timeout=40_000)
    page.get_by_test_id("module-select").select_option("c-dlmalloc")
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc", timeout=RUN_TIMEOUT_MS)


def test_a_trace_with_invalid_frees_says_so(playground, shot):
    page = playground
    page.get_by_test_id("upload").set_input_files(
        files=[{"name": "dbl.trace", "mimeType": "text/plain",
                "buffer": b"a 1 1024\nf 1\nf 1\nf 99\nr 77 10\n"}])
    expect(page.locator("#message")).to_contain_text("Ctrl+Z")     # the editor's code was replaced
    expect(page.get_by_test_id("editor")).to_contain_text("/uploads/dbl.trace")
    expect(page.get_by_test_id("stop")).to_be_disabled(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true",
                                                                timeout=RUN_TIMEOUT_MS)
    out = page.get_by_test_id("output")
    expect(out).to_contain_text("3 trace events skipped or repaired")
    expect(out).to_contain_text("/uploads/dbl.trace:3: invalid free of id 1")
    expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc")
    sim, real = metrics_row(page, "trace issues")
    assert sim.startswith("3; first: /uploads/dbl.trace:3: invalid free of id 1"), sim
    assert real.startswith("3; first: event 2: invalid free of id 1"), real
    shot(page, "trace-issues")


def test_run_pressed_while_the_page_starts_runs_once_python_is_there(browser, server):
    context = browser.new_context()
    blocked = []
    block_remote(context, blocked)
    try:
        page = open_page(context, server + "index.html")
        page.get_by_test_id("run").click()          # long before Python is ready
        expect(page.get_by_test_id("chart-real")).to_have_attribute(
            "data-drawn", "true", timeout=BOOT_TIMEOUT_MS + RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("output")).to_contain_text("fragmentation OOM")
        assert blocked == []
        assert not page.console_log.errors(), page.console_log.errors()
    finally:
        context.close()


def test_static_build_works_without_isolation_headers(browser, tmp_path, shot):
    """`serve.py --build DIR` served by a plain static server (no COOP/COEP): the page
    loads offline, is not cross-origin isolated, and Stop restarts Python instead.
    The host also serves a broken start-up snapshot: Python must start anyway,
    with pyfrag installed by micropip as usual (one page load covers both, as
    each costs seconds)."""
    import functools
    import http.server
    import subprocess
    import sys
    import threading

    from e2e_helpers import ROOT

    dest = tmp_path / "site"
    r = subprocess.run([sys.executable, "serve.py", "--build", str(dest)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dest))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    context = browser.new_context()
    blocked = []
    block_remote(context, blocked)
    context.route("**/snapshot-*.bin.gz", lambda route: route.fulfill(
        status=200, body=b"\x1f\x8b not really a snapshot"))
    try:
        page = open_page(context, f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
        wait_ready(page)
        assert page.evaluate("crossOriginIsolated") is False
        worker = next(w for w in page.workers if "py-worker" in w.url)
        assert worker.evaluate("performance.getEntriesByName('pyfrag:from-snapshot').length") == 0
        assert any("without the snapshot" in m for _, m in page.console_log)
        expect_installed_from(page)
        # a first visit runs the default example by itself: the page is never a set of empty charts
        expect(page.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true",
                                                                    timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("run")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        set_code(page, "print('spinning', flush=True)\nwhile True:\n    pass\n")
        page.get_by_test_id("run").click()
        expect(page.get_by_test_id("output")).to_contain_text("spinning", timeout=RUN_TIMEOUT_MS)
        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("stop")).to_be_disabled(timeout=5_000)
        expect(page.get_by_test_id("output")).to_contain_text(re.compile(r"restart", re.I))
        wait_ready(page)     # a fresh Python
        # the stopped run showed nothing: the first run's results stay, marked as old, and nothing
        # says "replaying" or "waiting"
        expect(page.get_by_test_id("agreement")).to_have_text(re.compile("from an earlier run"))
        expect(page.locator("#caption-real")).to_have_text("real: c-dlmalloc")
        expect(page.locator("#results")).to_have_class(re.compile(r"\bstale\b"))
        set_code(page, "print('back', 6 * 7)\n")
        run_and_wait(page)
        expect(page.get_by_test_id("output")).to_contain_text("back 42")
        # no shared memory to wait on: time.sleep says why instead of spinning
        set_code(page, "import time\ntime.sleep(0.1)\n")
        run_and_wait(page)
        expect(page.get_by_test_id("output")).to_contain_text("not cross-origin isolated")
        assert blocked == []
        shot(page, "static-build-no-isolation")
    finally:
        context.close()
        httpd.shutdown()
        httpd.server_close()
