"""The page's real column is the engine's truth: every playground example's trace, replayed on every
module of the manifest with the page's own replay code (web/src/realheap.js under Node), gives what the
wasmtime harness gives (`pyfrag real`): the same events, addresses, memory sizes, live bytes, failures
with their kinds, the module's own live_bytes() and the audit snippet's lines.

And so the embeds' stored views, made at prepare from wasmtime's replays, say what a live run in the
page says: for every example and module picked, the views made with the page's own code from the stored
run and from the page's own replay have the same charts, numbers, sentence, audit lines and output.

Traces come from the examples exactly as the page gets them: each example runs under CPython with a
show() that builds the page's payload (web/py/playground.py; web/build/stored_views.py runs it as the
prepare step does); the real side then replays payload.trace on the module named by payload.module, or
on the module picked in the page.
"""

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pyfrag import modules
from pyfrag.audit import audit_lines

ROOT = Path(__file__).parent.parent
PAGE_REPLAY = ROOT / "tests" / "node" / "page_replay.mjs"
EXAMPLES = sorted((ROOT / "web" / "examples").glob("*.py"))

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
real = pytest.importorskip("pyfrag.real")
pytest.importorskip("wasmtime")

sys.path.insert(0, str(ROOT / "web" / "build"))
import stored_views  # noqa: E402  (web/build/stored_views.py: the examples as the page runs them)


def failures(fs):
    return [(f["index"], f["op"], f["size"], f["kind"], f["free_bytes"], f["heap_bytes"]) for f in fs]


def engine_result(trace, name, model):
    run = real.replay_real(trace, name, model=model)
    return {
        "events": run.events,
        "addresses": list(run.addresses),
        "heap_bytes": list(run.heap_bytes),
        "live_bytes": list(run.live_bytes),
        "failures": [(f.index, f.op, f.size, f.kind, f.free_bytes, f.heap_bytes) for f in run.failures],
        "reported_live": run.reported_live,
        "trap": run.trap and (run.trap.index, run.trap.op),
        # after a trap the engine's harness reads nothing more from the module
        "audit": None if run.trap else "\n".join(audit_lines(run.reported_live, run.heap_bytes[-1])),
    }


MODULES = [m["name"] for m in modules.manifest()]


@functools.cache
def stored_runs(stem):
    """The example's stored runs, as the prepare step makes them: each module picked in the menu (one
    run for an example whose show()s name their modules)."""
    return list(stored_views.stored_runs(ROOT / "web" / "examples" / f"{stem}.py", MODULES))


@functools.cache
def page_replays(stem):
    """tests/node/page_replay.mjs on the example's stored runs: {key: {stored, live, replays}}."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        for key, run, blob in stored_runs(stem):
            (runs / f"{key}.json").write_text(json.dumps(run, default=str))
            (runs / f"{key}.bin").write_bytes(blob)
        paths = Path(tmp) / "modules.json"
        paths.write_text(json.dumps({name: {"path": modules.find(name)["path"],
                                            "heap_base": modules.find(name)["heap_base"]}
                                     for name in MODULES}))
        proc = subprocess.run(["node", str(PAGE_REPLAY), str(runs), str(paths)], capture_output=True,
                              text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_page_real_replay_equals_engine_on_every_module(example):
    page = page_replays(example.stem)
    cases = 0
    for key, run, blob in stored_runs(example.stem):
        for show, replay in zip(run["shows"], page[key]["replays"], strict=True):
            meta = show["meta"]
            name, where = meta["module"], f"{example.stem} / {meta['label']} on {meta['module']}"
            trace = stored_views.page_trace(meta, stored_views.read_arrays(show["arrays"], blob))
            # the module alone: its own answers, failures judged by heap - live as the engine sees them
            want = engine_result(trace, name, model=False)
            got = {
                "events": len(replay["heap_bytes"]),
                "addresses": replay["addresses"],
                "heap_bytes": replay["heap_bytes"],
                "live_bytes": replay["live_bytes"],
                "failures": failures(replay["failures"]),
                "reported_live": replay["reported_live"],
                "trap": replay["trap"] and (replay["trap"]["index"], replay["trap"]["op"]),
                "audit": None if replay["trap"] else replay["audit"]["text"],
            }
            for k in want:
                assert got[k] == want[k], f"{where}: {k} differs"
            # and where the simulation started like the module, the verdicts the page shows equal
            # `pyfrag real`'s, which reads the model's free blocks (elsewhere the page estimates)
            if meta["sim"]["like"] == name:
                assert failures(replay["verdicts"]) == engine_result(trace, name, model=True)["failures"], \
                    where
            cases += 1
    assert cases, f"{example.name} shows nothing"


# ---------------------------------------------------------------- stored views

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


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_stored_views_say_what_a_live_run_says(example):
    """The prepare step's stored runs (CPython, wasmtime) made into views, against the same traces
    replayed by the page's own code: every example, every module picked."""
    page = page_replays(example.stem)
    assert set(page) == {key for key, _, _ in stored_runs(example.stem)} and page
    for key, both in page.items():
        stored, live = both["stored"], both["live"]
        assert stored["views"] and all(v["real"] for v in stored["views"]), key
        assert differences(without_trap_words(stored), without_trap_words(live)) == [], key
        # the numbers are there to compare: the table's, and the article's audit lines
        for v in stored["views"]:
            assert v["sim"]["summary"]["events"] == v["sim"]["n"] > 0
            assert v["audit"]["sim"]["text"].startswith("Utilization: ")
