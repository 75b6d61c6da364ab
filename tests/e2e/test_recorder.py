"""web/recorder.js in Chromium, on the recording tests' own apps.

Owns: a page of our own (recorder_page.html, served with the instrumented apps
by a local http.server thread) records the C app through a plain
instantiateStreaming and the Rust app through `install()`; each download
verifies identical with `pyfrag run --verify`, and equals, event for event and
address for address, what `pyfrag record --wasm` recorded under wasmtime.
Skipped when a toolchain, Binaryen or wasmtime is missing.
"""

import functools
import http.server
import os
import shutil
import sys
import threading

import pytest

pytest.importorskip("wasmtime")
if shutil.which("wasm-dis") is None:
    pytest.skip("needs Binaryen's wasm-dis and wasm-as", allow_module_level=True)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "apps"))
from build import ToolchainMissing, build_c, build_rust  # noqa: E402

from pyfrag import cli  # noqa: E402
from pyfrag.record.instrument import instrument  # noqa: E402
from pyfrag.trace import load  # noqa: E402


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    try:
        apps = {"lists": build_c(str(root)), "collections": build_rust(str(root))}
    except ToolchainMissing as e:
        pytest.skip(str(e))
    for name, path in apps.items():
        with open(path, "rb") as f:
            (root / f"{name}.recording.wasm").write_bytes(instrument(f.read(), path).data)
    shutil.copy(os.path.join(ROOT, "web", "recorder.js"), root)
    shutil.copy(os.path.join(HERE, "recorder_page.html"), root / "index.html")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, apps, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()


def _download(page, path):
    with page.expect_download() as download:
        page.evaluate("rec.download()")
    download.value.save_as(path)
    return path


def _same_recording(browser_trace, wasmtime_trace):
    a, b = load(str(browser_trace)), load(str(wasmtime_trace))
    assert (a.ops, a.ids, a.sizes, a.aligns) == (b.ops, b.ids, b.sizes, b.aligns)
    assert a.recorded.addresses == b.recorded.addresses
    assert a.recorded.memory_bytes == b.recorded.memory_bytes
    assert a.recorded.start() == b.recorded.start()
    assert a.recorded.allocator == b.recorded.allocator


def test_c_app_recorded_in_chromium_verifies_identical(browser, site, tmp_path, capfd):
    root, apps, url = site
    page = browser.new_page()
    page.goto(url)
    result = page.evaluate("recordC(['300'])")
    assert result["code"] == 0 and "300 nodes' text" in result["output"]
    path = _download(page, tmp_path / "lists.trace")
    page.close()
    assert cli.main(["run", str(path), "--verify"]) == 0
    assert f"all {len(load(str(path)))} events identical" in capfd.readouterr().out
    ours = tmp_path / "wasmtime.trace"
    assert cli.main(["record", "--wasm", apps["lists"], "-o", str(ours), "--", "300"]) == 0
    assert result["output"] in capfd.readouterr().out       # the app printed the same
    _same_recording(path, ours)


def test_rust_app_recorded_through_install_verifies_identical(browser, site, tmp_path, capsys):
    root, apps, url = site
    page = browser.new_page()
    page.goto(url)
    result = page.evaluate("recordRust(700)")
    assert result["events"] > 1000
    path = _download(page, tmp_path / "collections.trace")
    page.close()
    assert cli.main(["run", str(path), "--verify"]) == 0
    assert "events identical" in capsys.readouterr().out
    ours = tmp_path / "wasmtime.trace"
    assert cli.main(["record", "--wasm", apps["collections"], "--invoke", "run",
                     "-o", str(ours), "--", "700"]) == 0
    _same_recording(path, ours)
