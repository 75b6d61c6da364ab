"""The blog widgets (embed.html in web/blog-demo.html) end to end in Chromium, offline.

A widget shows its example's stored run as soon as it loads, says it is stored, and starts no Python;
Run makes it live with the same numbers; two widgets run on one Python; and the playground's Embed
snippet, pasted into a page of another site, gives a working widget of the code, module and view shown.
"""

import base64
import contextlib
import functools
import http.server
import re
import threading
import zlib

import pytest
from playwright.sync_api import expect

from e2e_helpers import BOOT_TIMEOUT_MS, block_remote, open_page, wait_ready
from test_playground import pick_example, run_and_wait, set_code

pytestmark = pytest.mark.e2e

PYTHON_FILES = re.compile(r"py-worker-|pyodide\.asm\.wasm|snapshot-|python_stdlib")


def code_link(code):
    """#code=... as the page's share links carry it (deflate-raw, base64url)."""
    packer = zlib.compressobj(wbits=-15)
    token = base64.urlsafe_b64encode(packer.compress(code.encode()) + packer.flush()).rstrip(b"=")
    return "#code=" + token.decode()


SPIN = "print('spinning', flush=True)\nwhile True:\n    pass\n"


def widgets(page):
    return [f for f in page.frames if "embed.html" in f.url]


def stored_shown(frame):
    expect(frame.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true", timeout=30_000)
    expect(frame.get_by_test_id("stored-note")).to_be_visible()


def live(frame):
    """The widget shows a live run: Python done, the real replay and the audit in."""
    expect(frame.locator("#results:not([data-stored])")).to_be_attached(timeout=BOOT_TIMEOUT_MS)
    expect(frame.get_by_test_id("stored-note")).to_be_hidden()
    expect(frame.get_by_test_id("output")).to_contain_text(re.compile(r"finished in \d"), timeout=BOOT_TIMEOUT_MS)
    expect(frame.locator("#caption-real")).to_have_text(re.compile(r"^real: [\w-]+$"), timeout=BOOT_TIMEOUT_MS)
    expect(frame.get_by_test_id("audit-real")).to_contain_text("Utilization", timeout=BOOT_TIMEOUT_MS)
    wait_ready(frame)


def table(frame):
    """The metrics table's cells, row by row (shown or folded away)."""
    return frame.evaluate("""() => [...document.querySelectorAll("#metrics tr")]
      .map((r) => [...r.cells].map((c) => c.textContent))""")


def numbers(frame):
    """What a widget says in figures: the sentence, the charts' captions, the metrics table, the audit
    lines, and what the code printed (the live run's timing line aside)."""
    return frame.evaluate("""() => {
      const text = (id) => document.querySelector(`[data-testid="${id}"]`).textContent;
      return {
        agreement: text("agreement"),
        captions: [...document.querySelectorAll("figcaption[id^=caption]")].map((c) => c.textContent),
        audit: [text("audit-sim"), text("audit-real")],
        output: [...document.querySelectorAll('[data-testid="output"] span.stdout, [data-testid="output"] span.stderr')]
          .map((s) => s.textContent).join(""),
      };
    }""") | {"table": table(frame)}


@pytest.fixture(scope="module")
def own_playground(browser, server):
    """A playground of this module's own, in a context of its own: the tests here change its code and
    module, which the shared one's tests must not see (not even in localStorage)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    block_remote(context, [])
    page = open_page(context, server + "index.html")
    wait_ready(page)
    yield page
    context.close()


@pytest.fixture(scope="module")
def blog(browser, server):
    """web/blog-demo.html in a context of its own, its requests listed."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.blocked, context.requests = [], []
    block_remote(context, context.blocked)
    context.on("request", lambda r: context.requests.append(r.url))
    page = open_page(context, server + "blog-demo.html")
    yield page
    context.close()


def test_every_widget_shows_its_stored_run_before_any_python(blog, shot):
    page = blog
    frames = widgets(page)
    assert len(frames) == 4
    for frame in frames:
        stored_shown(frame)
        expect(frame.get_by_test_id("stored-note")).to_contain_text("Stored run")
        expect(frame.get_by_test_id("stored-note")).to_contain_text(re.compile(r"CPython \d+\.\d+.*wasmtime \d"))
        expect(frame.get_by_test_id("status")).to_have_text(re.compile("stored run"))
        expect(frame.get_by_test_id("chart-sim")).to_have_attribute("data-drawn", "true")
        expect(frame.get_by_test_id("agreement")).to_have_text(re.compile(r"agree|compared by their numbers"))
        n = numbers(frame)
        assert len(n["table"]) == 18 and all(len(row) == 3 for row in n["table"])
        assert n["audit"][0].startswith("Utilization: ") and n["audit"][1].startswith("Utilization: ")
        assert n["output"].strip(), frame.url
    # the image task's stored run is the article's fragmentation OOM
    expect(frames[0].locator("#metrics")).to_contain_text("fragmentation OOM at event 256")
    # nothing of Python was asked for, and no request left this machine
    assert not [u for u in page.context.requests if PYTHON_FILES.search(u)]
    assert not page.workers
    assert page.context.blocked == []
    assert not page.console_log.errors(), page.console_log.errors()
    shot(page, "blog-demo-stored")


def test_run_goes_live_with_the_stored_numbers_and_two_widgets_share_one_python(blog, shot):
    page = blog
    first, second = widgets(page)[:2]
    for frame in (first, second):
        stored_shown(frame)
    stored = [numbers(f) for f in (first, second)]
    first.get_by_test_id("run").click()
    second.get_by_test_id("run").click()
    for frame, before in zip((first, second), stored):
        live(frame)
        assert numbers(frame) == before, frame.url
    # one Python for the page: one worker, Pyodide fetched once, its hub in the widget that asked first
    assert sum("py-worker" in w.url for w in page.workers) == 1
    assert sum(u.endswith("pyodide.asm.wasm") for u in page.context.requests) == 1
    assert [f.evaluate("!!window.pyfragHub") for f in widgets(page)] == [True, False, False, False]
    assert page.context.blocked == []
    assert not page.console_log.errors(), page.console_log.errors()
    shot(page, "blog-demo-live")


def widget_in(host, title=None):
    """The widget frame of a host page (the one in the iframe called `title`), once it is there."""
    for _ in range(100):
        frames = [f for f in host.frames if "embed.html" in f.url
                  and (title is None or f.frame_element().get_attribute("title") == title)]
        if frames:
            return frames[0]
        host.wait_for_timeout(100)
    raise AssertionError(f"no widget in {[f.url for f in host.frames]}")


@contextlib.contextmanager
def pasted_into_a_page(browser, snippet, tmp_path):
    """A page of another site (this machine, another port: another origin) with `snippet` in it ->
    (its context, the page)."""
    (tmp_path / "post.html").write_text(
        f"<!doctype html><title>a post</title><h1>My post</h1>{snippet}<p>The end.</p>")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    context.blocked = []
    block_remote(context, context.blocked)
    try:
        yield context, open_page(context, f"http://127.0.0.1:{httpd.server_address[1]}/post.html")
    finally:
        context.close()
        httpd.shutdown()
        httpd.server_close()


def test_the_playground_embed_snippet_works_pasted_into_another_site(own_playground, browser, tmp_path,
                                                                   shot):
    page = own_playground
    pick_example(page, "arena")
    page.get_by_test_id("module-select").select_option("zig-wasm")     # a run on it, no trap to word
    run_and_wait(page)
    expect(page.locator("#view-select option")).to_have_count(2, timeout=BOOT_TIMEOUT_MS)
    expect(page.locator("#caption-real")).to_have_text("real: zig-wasm", timeout=BOOT_TIMEOUT_MS)
    page.locator("#view-select").select_option("0")
    # the first view: the global heap's 60 rounds of scratch, result and free, then the request
    expect(page.locator("#metrics tbody tr").first).to_contain_text("181")
    expect(page.locator("#caption-real")).to_have_text("real: zig-wasm", timeout=BOOT_TIMEOUT_MS)
    page.get_by_test_id("embed").click()
    box = page.get_by_test_id("embed-snippet")
    expect(box).to_be_visible(timeout=30_000)
    snippet = box.input_value()
    assert re.search(r'src="[^"]*/embed\.html\?theme=\w+#example=arena&amp;module=zig-wasm&amp;view=0"', snippet)
    height = int(re.search(r'height="(\d+)"', snippet).group(1))
    live_table = table(page)
    with pasted_into_a_page(browser, snippet, tmp_path) as (context, host):
        frame = host.frame_locator("iframe")
        widget = widget_in(host)
        stored_shown(widget)
        # the snippet's iframe was as tall as the widget it shows, before the widget said anything
        inner = widget.evaluate("Math.ceil(document.documentElement.getBoundingClientRect().height)")
        assert abs(inner - height) <= 2, (inner, height)
        expect(frame.locator("#caption-real")).to_have_text("real: zig-wasm")
        expect(frame.locator("#view-select")).to_have_value("0")
        # the stored view is the playground's live one, number for number
        assert table(widget) == live_table
        widget.get_by_test_id("run").click()
        live(widget)
        expect(frame.locator("#view-select")).to_have_value("0")
        assert table(widget) == live_table
        assert context.blocked == []
        assert not host.console_log.errors(), host.console_log.errors()
        shot(host, "embed-snippet-pasted")
    shot(page, "playground-embed-snippet")


def test_an_edited_code_snippet_waits_for_run_and_runs(own_playground, browser, tmp_path):
    page = own_playground
    set_code(page, "from pyfrag import scenarios\nprint('mine', 6 * 7)\nshow(scenarios.swiss_cheese(rounds=20))\n")
    page.get_by_test_id("embed").click()
    box = page.get_by_test_id("embed-snippet")
    expect(box).to_have_value(re.compile(r"#code="), timeout=30_000)
    with pasted_into_a_page(browser, box.input_value(), tmp_path) as (context, host):
        widget = widget_in(host)
        expect(widget.get_by_test_id("status")).to_have_text(re.compile("Python starts when you press"))
        expect(widget.get_by_test_id("stored-note")).to_be_hidden()
        assert not host.workers
        widget.get_by_test_id("run").click()
        expect(widget.get_by_test_id("output")).to_contain_text("mine 42", timeout=BOOT_TIMEOUT_MS)
        expect(widget.get_by_test_id("chart-real")).to_have_attribute("data-drawn", "true",
                                                                      timeout=BOOT_TIMEOUT_MS)
        assert context.blocked == []


def test_stop_in_a_widget_interrupts_the_shared_python(blog, server):
    """A widget added to the blog page runs on the Python another widget started; its Stop interrupts
    its own run (the page is cross-origin isolated: no restart), and that Python goes on for the others."""
    page = blog
    page.evaluate("""src => { const f = document.createElement("iframe"); f.src = src; f.title = "spin";
                              document.body.append(f); }""", server + "embed.html" + code_link(SPIN))
    spin = widget_in(page, "spin")
    spin.get_by_test_id("run").click()
    expect(spin.get_by_test_id("output")).to_contain_text("spinning", timeout=BOOT_TIMEOUT_MS)
    spin.get_by_test_id("stop").click()
    expect(spin.get_by_test_id("output")).to_contain_text("KeyboardInterrupt", timeout=10_000)
    expect(spin.get_by_test_id("run")).to_be_enabled()
    assert sum("py-worker" in w.url for w in page.workers) == 1
    third = widgets(page)[2]
    third.get_by_test_id("run").click()
    live(third)
    assert not page.console_log.errors(), page.console_log.errors()


def test_stop_in_a_widget_on_a_page_without_isolation_restarts_python(browser, server, tmp_path):
    snippet = f'<iframe src="{server}embed.html{code_link(SPIN)}"></iframe>'
    with pasted_into_a_page(browser, snippet, tmp_path) as (context, host):
        spin = widget_in(host)
        assert spin.evaluate("crossOriginIsolated") is False
        spin.get_by_test_id("run").click()
        expect(spin.get_by_test_id("output")).to_contain_text("spinning", timeout=BOOT_TIMEOUT_MS)
        spin.get_by_test_id("stop").click()
        expect(spin.get_by_test_id("output")).to_contain_text("Python restarted", timeout=10_000)
        wait_ready(spin)
        spin.get_by_test_id("run").click()     # the new Python runs it again
        expect(spin.get_by_test_id("output")).to_contain_text("spinning", timeout=BOOT_TIMEOUT_MS)
        spin.get_by_test_id("stop").click()
        expect(spin.get_by_test_id("run")).to_be_enabled(timeout=10_000)


def test_a_widget_follows_the_theme_its_page_asks_for(browser, server, tmp_path):
    """?theme= in its URL, then the page's own messages (a host with a theme switch)."""
    snippet = f'<iframe src="{server}embed.html?theme=dark#example=arena"></iframe>'
    with pasted_into_a_page(browser, snippet, tmp_path) as (context, host):
        widget = widget_in(host)
        stored_shown(widget)
        expect(widget.locator("html")).to_have_attribute("data-theme", "dark")
        host.evaluate("document.querySelector('iframe').contentWindow.postMessage("
                      "{type: 'pyfrag:theme', theme: 'light'}, '*')")
        expect(widget.locator("html")).to_have_attribute("data-theme", "light")
        widget.evaluate("postMessage({type: 'pyfrag:theme', theme: 'dark'}, '*')")   # not from its page
        host.wait_for_timeout(300)
        expect(widget.locator("html")).to_have_attribute("data-theme", "light")
