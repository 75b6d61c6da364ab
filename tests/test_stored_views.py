"""The embeds' stored views say what a live run in the page says: for every example and every module
picked, the views the prepare step makes from its stored run (CPython for the simulation, wasmtime for
the real module: web/build/stored_views.py) and the views made from the page's own replay of the same
traces (web/src/realheap.js under Node, as tests/test_page_real.py runs it) have the same chart points,
table numbers, agreement sentence, audit lines and output. Both are made by the page's own view code
(web/build/stored-views.mjs, web/src/views.js). The e2e tests press Run in Chromium and find the same
numbers on screen (tests/e2e/test_embed.py).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyfrag import modules

ROOT = Path(__file__).parent.parent
STORED_VS_LIVE = ROOT / "tests" / "node" / "stored_vs_live.mjs"
EXAMPLES = sorted((ROOT / "web" / "examples").glob("*.py"))
MODULES = [m["name"] for m in modules.manifest()]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
pytest.importorskip("wasmtime")

sys.path.insert(0, str(ROOT / "web" / "build"))
import stored_views  # noqa: E402  (web/build/stored_views.py: the examples as the prepare step runs them)


def without_trap_words(run):
    """The run's views with what a trap says left out: the engine's own words (wasmtime's and the
    browser's differ), and the audit of the instance after it (the stored run has none). Where it
    happened, in which call, stays."""
    for view in run["views"]:
        trap = view["real"] and view["real"]["extra"].get("trap")
        if trap:
            trap["message"] = view["message"] = view["audit"]["real"] = None
    return run


def differences(stored, live, path=""):
    """Where two JSON values differ, as paths."""
    if isinstance(stored, dict) and isinstance(live, dict):
        out = [] if stored.keys() == live.keys() else [f"{path}: keys {sorted(stored)} vs {sorted(live)}"]
        return out + [d for k in stored.keys() & live.keys()
                      for d in differences(stored[k], live[k], f"{path}.{k}")]
    if isinstance(stored, list) and isinstance(live, list) and len(stored) == len(live):
        return [d for i, (a, b) in enumerate(zip(stored, live))
                for d in differences(a, b, f"{path}[{i}]")]
    return [] if stored == live else [f"{path}: {str(stored)[:200]} vs {str(live)[:200]}"]


def test_differences_finds_what_differs():
    a = {"views": [{"n": 3, "points": [[0, 1], [2, 3]]}], "code": "x"}
    b = {"views": [{"n": 3, "points": [[0, 1], [2, 4]]}], "code": "x", "more": 1}
    assert differences(a, a) == []
    assert differences(a, b) == [": keys ['code', 'views'] vs ['code', 'more', 'views']",
                                 ".views[0].points[1][1]: 3 vs 4"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_stored_views_say_what_a_live_run_says(example, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    keys = set()
    for key, run, blob in stored_views.stored_runs(example, MODULES):
        (runs / f"{key}.json").write_text(json.dumps(run, default=str))
        (runs / f"{key}.bin").write_bytes(blob)
        keys.add(key)
    paths = tmp_path / "modules.json"
    paths.write_text(json.dumps({name: {"path": modules.find(name)["path"],
                                        "heap_base": modules.find(name)["heap_base"]}
                                 for name in MODULES}))
    proc = subprocess.run(["node", str(STORED_VS_LIVE), str(runs), str(paths)], capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    views = json.loads(proc.stdout.splitlines()[-1])
    # every module picked, or one run for any module when the example names its modules itself
    assert set(views) == keys and keys in ({f"{example.stem}.{m}" for m in MODULES}, {example.stem})
    for key, both in views.items():
        stored, live = both["stored"], both["live"]
        assert stored["views"] and all(v["real"] for v in stored["views"]), key
        assert differences(without_trap_words(stored), without_trap_words(live)) == [], key
        # the numbers are there to compare: the table's, and the article's audit lines
        for v in stored["views"]:
            assert v["sim"]["summary"]["events"] == v["sim"]["n"] > 0
            assert v["audit"]["sim"]["text"].startswith("Utilization: ")
