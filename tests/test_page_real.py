"""The page's real column is the engine's truth: every playground example's trace, replayed on every
module of the manifest with the page's own replay code (web/src/realheap.js under Node), gives what the
wasmtime harness gives (`pyfrag real`): the same events, addresses, memory sizes, live bytes, failures
with their kinds, the module's own live_bytes() and the audit snippet's lines.

Traces come from the examples exactly as the page gets them: each example runs under CPython with a
show() that builds the page's payload (web/py/playground.py); the real side then replays payload.trace
on the module named by payload.module, or on the page's default module.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import types
from array import array
from pathlib import Path

import pytest

from pyfrag import Heap, Trace, modules, replay, scenarios
from pyfrag.audit import audit_lines
from pyfrag.memory import PAGE, WASM32_MAX_PAGES

ROOT = Path(__file__).parent.parent
RUNNER = ROOT / "tests" / "node" / "replay_real.mjs"
EXAMPLES = sorted((ROOT / "web" / "examples").glob("*.py"))

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
real = pytest.importorskip("pyfrag.real")
pytest.importorskip("wasmtime")

sys.path.insert(0, str(ROOT / "web" / "py"))
import playground  # noqa: E402


def example_payloads(path, selected):
    """(meta, arrays) of every show() an example makes, as the page receives them with the module
    `selected` in its menu."""
    shown = []

    def show(x, module=None, label=None, allocator=None):
        meta, arrays, run = playground.payload(x, module=module or selected, label=label,
                                               allocator=allocator)
        shown.append((meta, arrays))
        return run

    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    exec(code, {**playground.namespace(selected), "show": show})
    return shown


def page_trace(meta, arrays):
    """The arrays the page hands the real worker, and the same trace for the wasmtime harness."""
    t = meta["trace"]
    js = {"ops": list(arrays["trace.ops"]), "ids": [int(v) for v in arrays["trace.ids"]],
          "sizes": [int(v) for v in arrays["trace.sizes"]], "aligns": t["aligns"],
          "maximum_bytes": t["maximum_bytes"], "malloc_alignment": t["malloc_alignment"],
          "reuses_freed": t["reuses_freed"],
          "resets": t["resets"]}
    pages = t["maximum_bytes"] // PAGE
    trace = Trace(t["name"], maximum=pages if pages < WASM32_MAX_PAGES else None)
    for i, (op, id, size) in enumerate(zip(js["ops"], js["ids"], js["sizes"])):
        trace.ops.append(op)
        trace.ids.append(id)
        trace.sizes.append(size)
    trace.aligns.update({i: a for i, a in t["aligns"]})
    return js, trace


def failures(fs):
    return [(f["index"], f["op"], f["size"], f["kind"], f["free_bytes"], f["heap_bytes"]) for f in fs]


def engine_result(trace, name, model, resets=()):
    """The wasmtime run as the page shows it; `resets` restart the module there (the example's
    periodic reset), each segment on a fresh instance, as the page does."""
    if resets:
        from pyfrag.strategies import reset_at
        run = reset_at(trace, resets, lambda segment: real.replay_real(segment, name, model=model))
    else:
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


def page_results(jobs, tmp_path):
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(jobs))
    proc = subprocess.run(["node", str(RUNNER), str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


MODULES = [m["name"] for m in modules.manifest()]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_page_real_replay_equals_engine_on_every_module(example, tmp_path):
    cases, jobs, seen = [], [], set()
    for selected in MODULES:
        payloads = example_payloads(example, selected)
        if selected != MODULES[0] and all(meta["module"] != selected for meta, _ in payloads):
            break                     # every show() names its module: the menu does not matter
        for meta, arrays in payloads:
            if (meta["label"], meta["module"]) in seen:
                continue              # the example names its module: the menu does not matter
            seen.add((meta["label"], meta["module"]))
            js, trace = page_trace(meta, arrays)
            entry = modules.find(meta["module"])
            sim = {"addresses": list(arrays["sim.addresses"]), "heap_bytes": list(arrays["sim.heap_bytes"]),
                   "failures": meta["sim"]["failures"] if meta["sim"]["like"] == meta["module"] else []}
            jobs.append({"module": entry["path"], "heap_base": entry["heap_base"], "trace": js,
                         "sim": sim})
            cases.append((meta["label"], meta["module"], trace, bool(sim["failures"] or
                          meta["sim"]["like"] == meta["module"]), js["resets"]))
    assert jobs, f"{example.name} shows nothing"
    for (label, name, trace, like, resets), page in zip(cases, page_results(jobs, tmp_path)):
        where = f"{example.stem} / {label} on {name}"
        assert "error" not in page, f"{where}: {page['error']}"
        # the module alone: its own answers, failures judged by heap - live as the engine sees them
        want = engine_result(trace, name, model=False, resets=resets)
        got = {
            "events": len(page["heap_bytes"]),
            "addresses": page["addresses"],
            "heap_bytes": page["heap_bytes"],
            "live_bytes": page["live_bytes"],
            "failures": failures(page["failures"]),
            "reported_live": page["reported_live"],
            "trap": page["trap"] and (page["trap"]["index"], page["trap"]["op"]),
            "audit": None if page["trap"] else page["audit"]["text"],
        }
        for key in want:
            assert got[key] == want[key], f"{where}: {key} differs"
        # and where the simulation started like the module, the verdicts the page shows equal
        # `pyfrag real`'s, which reads the model's free blocks (elsewhere the page estimates)
        if like:
            assert failures(page["verdicts"]) == \
                engine_result(trace, name, model=True, resets=resets)["failures"], where


@pytest.fixture(scope="module")
def big_trace(tmp_path_factory):
    """A program at real scale: 1,000,000 events with 318,589 blocks live at the peak, as a file the
    page's code reads into the typed arrays the page hands its worker."""
    t = scenarios.random_trace(1_000_000, seed=1, live=400_000, max_size=512)
    path = tmp_path_factory.mktemp("big") / "trace.bin"
    pad = bytes(-len(t) % 8)
    path.write_bytes(t.ops.tobytes() + pad + array("d", t.ids).tobytes() + array("d", t.sizes).tobytes())
    return t, path


def digests(run):
    return {key: hashlib.sha256(array("d", getattr(run, key)).tobytes()).hexdigest()
            for key in ("addresses", "heap_bytes", "live_bytes")}


# lol_alloc's FreeListAllocator walks its whole free list on every request (its docs say
# O(length of free list)): with 300,000 blocks live this trace is quadratic there, hours long
# in the model and many minutes in the module; its fidelity is checked on smaller traces
LINEAR_LISTS = {"lol-alloc"}


@pytest.mark.parametrize("name", [
    pytest.param(m, marks=pytest.mark.skip(reason="free-list walk: quadratic at this scale"))
    if m in LINEAR_LISTS else m for m in MODULES])
def test_page_replays_a_real_program_scale_trace_address_exact(name, big_trace, tmp_path):
    """No table fills: the page's replay, the engine's and the module's model give the same addresses,
    memory sizes and live bytes at every event of a trace with over 300,000 blocks live at once."""
    t, path = big_trace
    entry = modules.find(name)
    job = {"module": entry["path"], "heap_base": entry["heap_base"], "digest": True,
           "trace": {"bin": str(path), "n": len(t), "aligns": [], "maximum_bytes": 0,
                     "malloc_alignment": 8},
           "sim": {"addresses": [], "heap_bytes": [], "failures": []}}
    page, = page_results([job], tmp_path)
    assert "error" not in page, page["error"]
    engine = real.replay_real(t, name, model=False)
    assert {k: page[k] for k in ("addresses", "heap_bytes", "live_bytes")} == digests(engine)
    assert not page["failures"] and page["trap"] is None and not engine.failures
    assert page["reported_live"] == engine.reported_live == engine.live_bytes[-1]
    assert digests(replay(t, like=name)) == digests(engine)


@pytest.mark.parametrize("name", MODULES)
def test_page_replays_every_rule_as_the_engine_both_ways(name, tmp_path):
    """The replay loop's rules (trace issues, failures, leaks, realloc(p, 0), aligned requests,
    a trap) through the page's two paths, inside the module and one call per event, against the
    engine's run."""
    from test_runner import TRACES
    jobs, traces = [], []
    entry = modules.find(name)
    for make in ("awkward", "rules", "trapping"):
        trace = TRACES[make]()
        js = {"ops": list(trace.ops), "ids": list(trace.ids), "sizes": list(trace.sizes),
              "aligns": sorted([i, a] for i, a in trace.aligns.items()),
              "maximum_bytes": trace.maximum * PAGE if trace.maximum else 0,
              "malloc_alignment": playground._malloc_alignment(name),
              "reuses_freed": playground._model_says(name, "reuses_freed", True)}
        for call_by_call in (False, True):
            jobs.append({"module": entry["path"], "heap_base": entry["heap_base"], "trace": js,
                         "call_by_call": call_by_call,
                         "sim": {"addresses": [], "heap_bytes": [], "failures": []}})
            traces.append((make, call_by_call, trace))
    for (make, call_by_call, trace), page in zip(traces, page_results(jobs, tmp_path)):
        where = f"{make} on {name}, {'one call per event' if call_by_call else 'inside the module'}"
        assert "error" not in page, f"{where}: {page['error']}"
        want = engine_result(trace, name, model=False)
        got = {"events": len(page["heap_bytes"]), "addresses": page["addresses"],
               "heap_bytes": page["heap_bytes"], "live_bytes": page["live_bytes"],
               "failures": failures(page["failures"]), "reported_live": page["reported_live"],
               "trap": page["trap"] and (page["trap"]["index"], page["trap"]["op"]),
               "audit": None if page["trap"] else page["audit"]["text"]}
        for key in want:
            assert got[key] == want[key], f"{where}: {key} differs"
        run = real.replay_real(trace, name, model=False)
        assert page["skipped"] == len(run.issues), where
        assert [(i["index"], i["message"]) for i in page["issues"]] == \
            [(i.index, i.message) for i in run.issues[:5]], where


@pytest.mark.parametrize("name", ["c-dlmalloc", "rust-dlmalloc", "zig-wasm", "as-tlsf"])
def test_page_resets_the_real_module_as_the_engine_does(name, tmp_path):
    """The reset pattern for real: every 128 events a fresh instance gets the live blocks back,
    packed; the page's replay and `replay_real(reset_every=...)` agree, and the image task's OOM is
    gone (but on Zig's power-of-two allocator)."""
    t = scenarios.image_task()
    entry = modules.find(name)
    js = {"ops": list(t.ops), "ids": list(t.ids), "sizes": list(t.sizes), "aligns": [],
          "maximum_bytes": t.maximum and 512 << 20, "malloc_alignment": 8,
          "resets": list(range(128, len(t), 128))}
    page, = page_results([{"module": entry["path"], "heap_base": entry["heap_base"], "trace": js,
                           "sim": {"addresses": [], "heap_bytes": [], "failures": []}}], tmp_path)
    assert "error" not in page, page["error"]
    run = real.replay_real(t, name, reset_every=128, model=False)
    assert (page["addresses"], page["heap_bytes"], page["live_bytes"]) == \
        (list(run.addresses), list(run.heap_bytes), list(run.live_bytes))
    assert failures(page["failures"]) == [(f.index, f.op, f.size, f.kind, f.free_bytes,
                                           f.heap_bytes) for f in run.failures]
    assert page["resets"] == run.resets == 2 and page["restored"] == run.restored
    assert page["reported_live"] == run.reported_live
    assert name == "zig-wasm" or not run.failures    # power-of-two classes fail anyway


def parting_model(name, after):
    """The model of module `name`, but from its `after`-th request on it asks for 16 bytes more: a model
    that stays in step for a while, then parts from the module."""
    from pyfrag import allocators
    base = allocators.get(modules.find(name)["model"])

    class Parting(base):
        asked = 0

        def malloc(self, size):
            self.asked += 1
            return super().malloc(size + 16 * (self.asked >= after))

    Parting.name = f"{base.name}-parting"
    return Parting


@pytest.mark.parametrize("name", ["c-dlmalloc", "lol-alloc-leaking", "as-tlsf"])
def test_page_and_engine_agree_on_every_verdict_after_the_sides_part(name, tmp_path, monkeypatch):
    """Failures before and after the first difference between a module and its model: before it the model's
    verdicts (free blocks, overhead) stand for the module's, after it both sides estimate from heap - live less
    the overhead the last failure knew of, and name the request by the allocator's nature (memory exhausted for
    a bump allocator, an alignment a module without aligned_alloc never serves). The page's JS
    (realheap.js, timeline.js adoptVerdicts) and `pyfrag real` (real/beside.py) give the same verdicts."""
    from pyfrag import allocators
    entry = modules.find(name)
    model = parting_model(name, after=48)            # the 45th block or so
    room = types.ModuleType("pyfrag.allocators.parting")      # where allocators.get finds a model
    room.Parting = model
    monkeypatch.setitem(sys.modules, room.__name__, room)
    monkeypatch.setitem(allocators.MODELS, model.name, "parting:Parting")
    parted = dict(entry, model=model.name)
    find = modules.find
    monkeypatch.setattr(modules, "find", lambda n, *a, **k: parted if n == name else find(n, *a, **k))
    assemblyscript = name.startswith("as-")         # it traps when memory cannot grow
    t = Trace("parted", maximum=entry["initial_pages"] + (64 if assemblyscript else 4))
    aligned = lambda k: 256 if k % 10 == 5 else 0    # noqa: E731 (AssemblyScript never serves it)
    for k in range(40):
        t.alloc(k, 4096 + 512 * (k % 3), align=aligned(k))
    for j in range(0 if assemblyscript else 3):      # past the limit: failures while in step
        t.alloc(1000 + j, (8 + j) << 20)
    for k in range(0, 40, 2):
        t.free(k)
    for k in range(40, 160):                         # the model parts; memory fills
        t.alloc(k, 2048 if k % 2 else 9000, align=aligned(k))
    engine = real.replay_real(t, name)
    assert engine.beside.parted and engine.failures[0].index < engine.beside.in_step < engine.failures[-1].index
    sim = replay(t, Heap.like(parted, maximum=engine.module.memory.maximum))
    js = {"ops": list(t.ops), "ids": list(t.ids), "sizes": list(t.sizes),
          "aligns": sorted([i, a] for i, a in t.aligns.items()), "maximum_bytes": t.maximum * PAGE,
          "malloc_alignment": playground._malloc_alignment(name),
          "reuses_freed": playground._model_says(name, "reuses_freed", True)}
    failures_js = [{"index": f.index, "op": f.op, "size": f.size, "kind": f.kind, "align": f.align,
                    "reason": f.reason, "free_bytes": f.free_bytes, "largest_free": f.largest_free,
                    "overhead": f.overhead, "heap_bytes": f.heap_bytes} for f in sim.failures]
    page, = page_results([{"module": entry["path"], "heap_base": entry["heap_base"], "name": name, "trace": js,
                           "sim": {"addresses": list(sim.addresses), "heap_bytes": list(sim.heap_bytes),
                                   "failures": failures_js}}], tmp_path)
    assert "error" not in page, page["error"]
    fields = ("index", "op", "size", "kind", "free_bytes", "largest_free", "overhead", "align", "reason",
              "heap_bytes")
    got = [tuple(f[k] for k in fields) for f in page["verdicts"]]
    want = [tuple(getattr(f, k) for k in fields) for f in engine.failures]
    assert got == want
    kinds = {f.kind for f in engine.failures if f.index >= engine.beside.in_step}
    assert kinds and any(f.overhead for f in engine.failures if f.index >= engine.beside.in_step), kinds
