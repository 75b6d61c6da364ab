"""playground.py: the Python glue of the browser playground (runs inside Pyodide).

Owns `show()`, which hands a run to the page, running the editor's code in
a fresh namespace, and the `time.sleep` the worker puts in place. The worker (web/src/py-worker.mjs) registers
the `_playground_host` module this talks to; everything else here is plain
Python, so it also runs under Node's Pyodide and, for tests, under CPython
with a stand-in host.

Data crosses to JavaScript as array.array buffers (zero-copy views the worker
copies once), never one call per event: a million-event trace costs
milliseconds, not seconds.
"""

import json
import traceback
from array import array

import pyfrag
from pyfrag import Run, Trace, replay

__all__ = ["show", "sleep"]

_state = {"module": None, "run": None}
# run id -> [(what show() got, module, allocator)] of its show()s, for explain_view (the page's Explain
# panel); the last KEPT_RUNS runs only
_shown = {}
KEPT_RUNS = 3


def namespace(module=None, run_id=None):
    """A fresh globals dict for one run of the editor's code.

    `module` is the real module selected in the page: the default for `show()`, and the code's
    own `module`, so it can start the simulation like it (`replay(trace, like=module)`).
    """
    _state["module"] = module or None
    _state["run"] = run_id
    return {"__name__": "__main__", "__builtins__": __builtins__, "show": show,
            "pyfrag": pyfrag, "module": module or None}


async def run(code, module=None, run_id=None):
    """Runs the editor's code (top-level `await` allowed) in a fresh namespace.

    Returns None, or the traceback text of what it raised. Catching it here,
    inside the asyncio task, matters for a Stop: a KeyboardInterrupt escaping
    a task is raised again out of Pyodide's event loop, where it would be an
    unhandled error in the page.
    """
    from pyodide.code import eval_code_async   # Pyodide's; absent under CPython
    try:
        await eval_code_async(code, namespace(module, run_id), filename="<editor>",
                              return_mode="none")
    except BaseException:
        return traceback.format_exc()
    return None


def _run_for(x, module, allocator):
    """(run, like): the simulated Run, and the real module whose start state it
    began in when it was replayed here like one (None otherwise)."""
    if isinstance(x, Run):
        return x, x.like
    if isinstance(x, Trace):
        if allocator:
            return replay(x, allocator), None
        if module:
            # The simulator starts in the real module's state (heap base, pages,
            # the model of its allocator) so the two sides are comparable.
            return replay(x, like=module), module
        return replay(x), None
    raise TypeError(f"show() takes a pyfrag.Run or a pyfrag.Trace, not {type(x).__name__}")


def _model_says(module, trait, usual):
    """What the real module's model says of its allocator (its malloc's `alignment`, whether it
    `reuses_freed` memory), or the `usual` answer: no manifest here, an upload, or no model."""
    from pyfrag import allocators, modules
    try:
        return getattr(allocators.get(modules.find(module)["model"]), trait)
    except Exception:
        return usual


def _malloc_alignment(module):
    return _model_says(module, "alignment", 8)


def _float64(a):
    # JavaScript numbers are doubles: exact for any address or size below 2**53.
    return a if getattr(a, "typecode", None) == "d" else array("d", a)


def payload(x, module=None, label=None, allocator=None):
    """(meta, arrays, run): the JSON-able part of a show() payload, its typed arrays,
    and the simulated Run they describe.

    arrays maps dotted payload paths ("sim.addresses") to array.array objects:
    int8 for the ops, float64 for everything else.
    """
    module = module or _state["module"]
    run, like = _run_for(x, module, allocator)
    trace = run.trace
    meta = {
        "label": label or trace.name,
        "module": module,
        "allocator": run.allocator,
        "trace": {
            "name": trace.name,
            "description": trace.description,
            "n": len(trace),
            "aligns": sorted([i, a] for i, a in trace.aligns.items()),
            "maximum_bytes": run.maximum_bytes,
            # aligned requests a module without aligned_alloc still serves with malloc
            "malloc_alignment": _malloc_alignment(module),
            # a module whose allocator never reuses freed memory runs out "exhausted" (failures.js)
            "reuses_freed": _model_says(module, "reuses_freed", True),
            # a run that restarted its instance (pyfrag.strategies.reset_at): the page restarts
            # the real module at the same events
            "resets": list(getattr(run, "reset_points", ())),
        },
        "sim": {
            "like": like,
            "heap_base": run.heap_base,
            "initial_bytes": run.initial_bytes,
            "maximum_bytes": run.maximum_bytes,
            "failures": [
                {"index": f.index, "op": f.op, "size": f.size, "kind": f.kind,
                 "align": f.align, "reason": f.reason,
                 "free_bytes": f.free_bytes, "largest_free": f.largest_free, "overhead": f.overhead,
                 "heap_bytes": f.heap_bytes, "where": f.where}
                for f in run.failures],
            "issues": [{"index": i.index, "where": i.where, "message": i.message}
                       for i in run.issues],
            "metrics": run.metrics.as_dict(),
            "audit": run.audit(),
        },
    }
    # why each grow happened (pyfrag.grows, within a summary's budget): the charts' grow ticks say
    grows = run.grows
    meta["sim"]["grows"] = len(grows)
    shown = _shown.setdefault(_state["run"], [])
    while len(_shown) > KEPT_RUNS:
        del _shown[next(iter(_shown))]
    meta["run"], meta["index"] = _state["run"], len(shown)
    shown.append((x, module, allocator))
    ops = trace.ops if trace.ops.typecode == "b" else array("b", trace.ops)
    arrays = {
        "sim.grow_index": array("d", (g.index for g in grows)),
        # 1 forced, 2 policy, 0 not classed (past the summary's budget)
        "sim.grow_cause": array("d", ({"forced": 1, "policy": 2}.get(g.cause, 0) for g in grows)),
        "sim.grow_gap": array("d", (g.largest_gap or 0 for g in grows)),
        "trace.ops": ops,
        "trace.ids": _float64(trace.ids),
        "trace.sizes": _float64(trace.sizes),
        "sim.addresses": _float64(run.addresses),
        "sim.heap_bytes": _float64(run.heap_bytes),
        "sim.live_bytes": _float64(run.live_bytes),
    }
    return meta, arrays, run


def explain_view(run, index):
    """`pyfrag explain`'s answer for show() number `index` of run `run` (the page's Explain panel):
    on the model the view replayed, started like its module; the fixes replayed on the model only
    (the page has no wasmtime: `pyfrag explain` replays them on the real module too)."""
    from pyfrag.explain import explain
    try:
        x, module, allocator = _shown[run][index]
    except (KeyError, IndexError):
        return "This view's run is gone from Python (each run keeps its own): run the code again."
    if isinstance(x, Run):
        # a run not started like a module: its model (a strategy's label, "dlmalloc (reset every
        # 128)", names it first)
        model = None if x.like else x.allocator.split(" (")[0]
        return explain(x.trace, x.like, model, real=False).describe()
    return explain(x, None if allocator else module, allocator, real=False).describe()


def show(x, module=None, label=None, allocator=None):
    """Draw `x` in the page next to the real module.

    x: a `pyfrag.Run`, or a `pyfrag.Trace` (replayed here on the simulator: on
    `allocator` if given, else in the state of the real `module`, which
    defaults to the one selected in the page). The page replays the same trace
    on the real module and charts both. Returns the simulated Run.
    """
    meta, arrays, run = payload(x, module=module, label=label, allocator=allocator)
    import _playground_host   # provided by the worker; absent outside the playground
    names = list(arrays)
    _playground_host.show(json.dumps(meta, default=str), names, *arrays.values())
    return run


def sleep(seconds):
    """time.sleep in the playground: blocks the worker (not the page) and stays
    interruptible by Stop. Pyodide's own sleep needs WebAssembly stack
    switching, which the browser may not have."""
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    import _playground_host
    if not _playground_host.sleep(seconds):
        raise RuntimeError(
            "time.sleep cannot block in this page: it is not cross-origin isolated, so "
            "there is no SharedArrayBuffer to wait on. Use `await asyncio.sleep(seconds)`.")
