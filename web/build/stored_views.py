"""stored_views.py: every bundled example run as the page runs it, for the embeds' stored views.
Entry points: example_run(path, selected) and real_result(meta, arrays); as a script,

    python web/build/stored_views.py MANIFEST.json OUT_DIR     (prepare's views step, this tree's pyfrag)

For each example (web/examples/*.py) and each module of the manifest picked in the page's menu: the
example's code under CPython with the page's own show() (web/py/playground.py builds every payload),
what it prints, and each payload's trace replayed on its real module by wasmtime (pyfrag.real.replay_real,
the module alone: the page adopts the model's verdicts itself, and so does the view built from this).
An example whose show()s all name their module does not depend on the menu: it runs once, and its
run is stored for any module. Writes OUT_DIR/<example>.<module>.json (<example>.json for one that does
not depend on the menu) with the arrays in a .bin beside it, for
web/build/stored-views.mjs to make the views with the page's own code; the real results have the shape
of the page's replay (web/src/realheap.js), so a test can put the page's own in their place.
"""

import io
import json
import platform
import sys
from array import array
from importlib import metadata
from contextlib import redirect_stdout
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((WEB / "examples").glob("*.py"))
sys.path.insert(0, str(WEB / "py"))

import pyfrag  # noqa: E402
import playground  # noqa: E402  (web/py/playground.py, the page's Python glue)
from pyfrag import Trace  # noqa: E402
from pyfrag.memory import PAGE, WASM32_MAX_PAGES  # noqa: E402

ISSUES_KEPT = 5     # as the page's replay: the first few trace issues listed, all counted


class Output(io.TextIOBase):
    """stdout as the page's output panel gets it: ("stdout", text) pieces, and ("show", i) where the
    i-th show() happened (the page prints that view's trace issues there)."""

    def __init__(self):
        self.chunks = []

    def write(self, text):
        if self.chunks and self.chunks[-1][0] == "stdout":
            self.chunks[-1][1] += text
        else:
            self.chunks.append(["stdout", text])
        return len(text)


def example_run(path, selected):
    """(output chunks, [(meta, arrays)] of every show(), whether a show() took the menu's module) of
    one example, as the page runs it with the module `selected` in its menu."""
    out, shown, follows = Output(), [], []

    def show(x, module=None, label=None, allocator=None):
        follows.append(not module)
        meta, arrays, run = playground.payload(x, module=module or selected, label=label,
                                               allocator=allocator)
        out.chunks.append(["show", len(shown)])
        shown.append((meta, arrays))
        return run

    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    with redirect_stdout(out):
        exec(code, {**playground.namespace(selected), "show": show})
    return out.chunks, shown, any(follows)


def page_trace(meta, arrays):
    """The trace the page hands its real worker (payload.trace), as a pyfrag Trace."""
    t = meta["trace"]
    pages = t["maximum_bytes"] // PAGE
    trace = Trace(t["name"], maximum=pages if pages < WASM32_MAX_PAGES else None)
    trace.ops.extend(arrays["trace.ops"])
    trace.ids.extend(int(v) for v in arrays["trace.ids"])
    trace.sizes.extend(int(v) for v in arrays["trace.sizes"])
    trace.aligns.update({i: a for i, a in t["aligns"]})
    return trace


def real_result(meta, arrays):
    """The payload's trace replayed on its real module by wasmtime -> (the page's replay result without
    its arrays, {name: array}): the shape web/src/realheap.js replay() returns."""
    from pyfrag.real import replay_real
    from pyfrag.strategies import reset_at
    trace, resets = page_trace(meta, arrays), meta["trace"].get("resets")
    # a run that restarted its instance restarts the module at the same events, as the page does
    run = reset_at(trace, resets, lambda segment: replay_real(segment, meta["module"], model=False)) \
        if resets else replay_real(trace, meta["module"], model=False)
    result = {
        "failures": [{"index": f.index, "op": f.op, "size": f.size, "kind": f.kind, "align": f.align,
                      "reason": f.reason, "free_bytes": f.free_bytes, "largest_free": None,
                      "heap_bytes": f.heap_bytes, "where": f"event {f.index}"} for f in run.failures],
        "skipped": len(run.issues),
        "issues": [{"index": i.index, "message": i.message} for i in run.issues[:ISSUES_KEPT]],
        "trap": run.trap and {"index": run.trap.index, "op": run.trap.op, "message": run.trap.cause},
        "heap_base": run.heap_base, "initial_bytes": run.initial_bytes,
        "maximum_bytes": run.maximum_bytes, "reported_live": run.reported_live,
        **({"resets": run.resets, "restored": run.restored} if resets else {}),
    }
    return result, {"addresses": run.addresses, "heap_bytes": run.heap_bytes,
                    "live_bytes": run.live_bytes}


class Blob:
    """Arrays written one after another into one file: each named by [offset, typecode, length]."""

    def __init__(self):
        self.data = bytearray()

    def add(self, arrays, kind):
        index = {}
        for name, a in arrays.items():
            a = a if getattr(a, "typecode", None) == kind(name) else array(kind(name), a)
            while len(self.data) % 8:           # aligned, so the reader can view it in place
                self.data.append(0)
            index[name] = [len(self.data), a.typecode, len(a)]
            self.data += a.tobytes()
        return index


def as_payload(name):
    return "b" if name == "trace.ops" else "d"      # as playground.payload makes them


def engine():
    """The versions that made the stored runs, which an embed names."""
    return {"python": platform.python_version(), "wasmtime": metadata.version("wasmtime"),
            "pyfrag": pyfrag.__version__}


def stored_runs(path, names, made=None):
    """The stored runs of one example: (key, the run's JSON-able part, its arrays' bytes) for each
    module of `names` picked in the menu, or one for any module."""
    made = made or engine()
    for selected in names:
        chunks, shown, follows = example_run(path, selected)
        blob, shows = Blob(), []
        for meta, arrays in shown:
            real = None
            if meta["module"]:
                result, real_arrays = real_result(meta, arrays)
                real = {**result, "arrays": blob.add(real_arrays, lambda name: "d")}
            shows.append({"meta": meta, "arrays": blob.add(arrays, as_payload), "real": real})
        key = f"{path.stem}.{selected}" if follows else path.stem
        yield key, {"example": path.stem, "module": selected if follows else None,
                    "code": path.read_text(encoding="utf-8"), "output": chunks, "shows": shows,
                    "engine": made}, bytes(blob.data)
        if not follows:
            return                    # every show() names its module: the menu does not matter


def write_runs(out_dir, names, examples=EXAMPLES):
    """Writes the stored runs of `examples` as OUT_DIR/<key>.json and <key>.bin."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = engine()
    for path in examples:
        for key, run, blob in stored_runs(path, names, made):
            (out_dir / f"{key}.bin").write_bytes(blob)
            (out_dir / f"{key}.json").write_text(json.dumps(run, default=str), encoding="utf-8")


def main(argv):
    if len(argv) != 2:
        print("usage: stored_views.py MANIFEST.json OUT_DIR", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        names = [m["name"] for m in json.load(f)["modules"]]
    if not names:
        print("stored_views.py: the manifest names no module", file=sys.stderr)
        return 2
    write_runs(argv[1], names)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
