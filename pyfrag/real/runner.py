"""The whole replay inside the module: no host work per event, no limit on live blocks.

Main entry point: `run_in_module(trace, module) -> Run`, which
`pyfrag.real.replay_real` uses for every module built here.

Every module built here exports `pyfrag_run(count, flags)` (wasm_modules/src/abi.c
documents the arrays and the rules): it replays a chunk of events with the replay
loop's own rules (pyfrag.replay.drive), so the heap and the allocator's calls are
those of any other replay. The module keeps no ids. The host resolves them once,
vectorised: for each event, the previous event of the same id. Inside a chunk the
module follows that reference itself; across chunks the host copies the block's
state (address, size, held, alignment) out of the earlier chunk's outputs. So any
number of blocks may be live, and ids may be any integers.

The host looks only at the events the module flags (trace issues, failed
requests, blocks past the end of memory). A trap or a call stopped past its time
budget ends the run at the event that did not finish, with what the loop had done
in it (its issue, its live bytes), as `drive` ends it. The `Run` equals the replay
loop's on the same module, event for event (tests/test_runner.py).

numpy does the per-chunk gathers; it comes with the `[real]` extra, like wasmtime.
"""

import time
from array import array
from collections.abc import Mapping

from ..memory import PAGE
from ..metrics import AT_END
from .module import ModuleTrap, RealModuleError
from ..replay import SHIFT, Issue, Run, Trap, estimate, issue_text, outside_text
from ..rules import RUN
from ..steps import Steps
from ..trace import ALLOC, FREE, REALLOC

# the status bits the module sets per event (abi.c's RUN_*), and its flags (pyfrag/rules.json)
FAILED, BAD_FREE, LEAKED, NOT_LIVE, OUTSIDE = (RUN["status"][k] for k in (
    "failed", "bad_free", "leaked", "not_live", "outside"))
STOP, START = RUN["flags"]["stop"], RUN["flags"]["start"]
UNCALLED = RUN["uncalled"]    # a code byte: the request fails without a call
HELD = RUN["held"]            # a meta bit: the id holds a block (or NULL after a failure)
U32 = 0xFFFFFFFF
# Events per call adapt so that a call takes about CALL_SECONDS: a call's time budget
# (pyfrag.real's CALL_BUDGET, 100 times that) then still means "an event never returned".
FIRST_CHUNK = MIN_CHUNK = 1024
CALL_SECONDS = 0.05


def run_in_module(trace, module, *, stop_at_oom=False, progress=None, discard=AT_END):
    """Replay `trace` inside a fresh `module` -> the `Run` (see the module docstring)."""
    np = _numpy()
    n = len(trace)
    ops = np.frombuffer(trace.ops, np.uint8)
    sizes = np.frombuffer(trace.sizes, np.int64)
    prev = previous_events(np, np.frombuffer(trace.ids, np.int64))
    codes = _codes(np, trace, module, ops, sizes)
    sizes32 = sizes.astype(np.uint32)            # a size past 32 bits has code UNCALLED
    cap = module.call("pyfrag_run_capacity")
    base = module.call("pyfrag_run_events") & U32
    # each event's outputs, and at index n a zero block that an id's first event reads
    block, bsize = np.zeros(n + 1, np.uint32), np.zeros(n + 1, np.uint32)
    meta = np.zeros(n + 1, np.uint8)
    addresses, live = np.zeros(n, np.uint32), np.zeros(n, np.int64)
    pages = module.memory.pages
    grew_at, grew_to = [0], [pages]
    failures, issues = [], []
    trap, flags = None, START | (STOP if stop_at_oom else 0)
    start, k = 0, min(cap, FIRST_CHUNK)
    while start < n:
        end = min(n, start + k)
        k = end - start
        p = prev[start:end]
        refs = np.where(p >= start, p - start, -1).astype(np.int32)
        # results and pages go in as 0: a page count still 0 marks an event that never finished
        module.write(base, b"".join((sizes32[start:end].tobytes(), refs.tobytes(),
                                     block[p].tobytes(), bsize[p].tobytes(), bytes(8 * k))))
        module.write(base + 32 * k, b"".join((ops[start:end].tobytes(),
                                              codes[start:end].tobytes(), meta[p].tobytes())))
        began = time.perf_counter()
        try:
            done = module.call("pyfrag_run", k, flags)
        except ModuleTrap as e:
            trap, done = e, None
        took = time.perf_counter() - began
        flags &= ~START
        out = np.frombuffer(module.read(base + 8 * k, 28 * k), np.uint8)
        after_pages = out[12 * k:16 * k].view(np.uint32)
        if trap is not None:
            done = int(np.argmin(after_pages != 0))  # the first event that did not finish
        ran = done + (trap is not None)              # the trapped event belongs to the run
        for whole, part in ((block, 0), (bsize, 4), (addresses, 8)):
            whole[start:start + done] = out[part * k:(part + 4) * k].view(np.uint32)[:done]
        meta[start:start + done] = out[26 * k:27 * k][:done]
        live[start:start + ran] = out[16 * k:24 * k].view(np.int64)[:ran]
        status = out[27 * k:28 * k][:ran]
        steps = after_pages[:done]
        for j in np.flatnonzero(steps != np.concatenate(([pages], steps[:-1]))[:done]).tolist():
            pages = int(steps[j])
            grew_at.append(start + j)
            grew_to.append(pages)
        for j in np.flatnonzero(status).tolist():
            _flagged(trace, start + j, int(status[j]), module, int(live[start + j]),
                     int(after_pages[j]), int(addresses[start + j]), failures, issues)
        start += ran
        if progress is not None:
            progress(start, n)
        if trap is not None or done < k:
            break
        k = max(MIN_CHUNK, min(cap, int(k * CALL_SECONDS / max(took, 1e-6))))
    if trap is not None:
        i = start - 1
        trap = Trap(i, trace.where(i), _call_of(ops[i], codes[i], status[-1]), trap.cause,
                    trap.timeout)
        if ops[i] == REALLOC:      # the loop keeps the block a trapped realloc was given
            block[i], bsize[i], meta[i] = block[prev[i]], bsize[prev[i]], meta[prev[i]]
        if module.memory.pages != pages:
            grew_at.append(i)
            grew_to.append(module.memory.pages)
    m = start
    return Run(trace, module.name, array("I", addresses[:m].tobytes()),
               Steps(grew_at, [pg * PAGE for pg in grew_to], m), array("q", live[:m].tobytes()),
               heap_base=module.heap_base, initial_bytes=grew_to[0] * PAGE,
               maximum_bytes=module.memory.maximum * PAGE, failures=failures, issues=issues,
               live_ids=_live_ids(np, trace, prev[:m], block, bsize, meta),
               discard=discard, trap=trap)


def previous_events(np, ids):
    """For each event, the index of the previous event with the same id, or -1."""
    order = _stable_order(np, ids)              # each id's events together, in trace order
    sorted_ids = ids[order]
    same = sorted_ids[1:] == sorted_ids[:-1]
    prev = np.full(len(ids), -1, np.int64 if len(ids) >> 31 else np.int32)
    prev[order[1:][same]] = order[:-1][same]
    return prev


def _stable_order(np, ids):
    """np.argsort(ids, kind="stable"); ids of 32 bits (most traces') by two passes of numpy's
    radix sort over 16-bit halves, about half the time."""
    if not len(ids) or ids.min() < 0 or ids.max() >> 32:
        return np.argsort(ids, kind="stable")
    low = np.argsort(ids.astype(np.uint16), kind="stable")
    return low[np.argsort((ids[low] >> 16).astype(np.uint16), kind="stable")]


def _codes(np, trace, module, ops, sizes):
    """Each event's code byte: 0 malloc (and any realloc or free), k aligned_alloc(1 << (k - 1)),
    UNCALLED for a request wasm32 cannot carry (a size past 32 bits, an alignment the module
    has no export for), which fails without a call as RealModule fails it."""
    codes = np.zeros(len(ops), np.uint8)
    codes[(sizes > U32) & (ops != FREE)] = UNCALLED
    route = {}
    for i, align in trace.aligns.items():
        if ops[i] != ALLOC or codes[i]:
            continue
        if align not in route:
            export = module.aligned_export(align)
            route[align] = UNCALLED if export is None else align.bit_length() if export else 0
        codes[i] = route[align]
    return codes


def _flagged(trace, i, bits, module, live, pages, address, failures, issues):
    """The issues and the failure the module flagged at event i, as the loop records them."""
    id = trace.ids[i]
    for bit, kind in ((BAD_FREE, "free"), (LEAKED, "alloc"), (NOT_LIVE, "realloc")):
        if bits & bit:
            issues.append(Issue(i, trace.where(i), issue_text(kind, id)))
    op = "malloc" if trace.ops[i] == ALLOC else "realloc"
    if bits & OUTSIDE:
        issues.append(Issue(i, trace.where(i), outside_text(op, trace.sizes[i], address,
                                                            pages * PAGE)))
    if bits & FAILED:
        # a module's free blocks are out of sight: the loop's estimate (pyfrag.real.beside judges
        # failures again with the model where it is in step)
        failures.append(estimate(trace, i, op, trace.sizes[i], live, pages * PAGE,
                                 module.heap_base, failures[-1] if failures else None, module))


def _call_of(op, code, status):
    """The export the event at which the module trapped was calling."""
    if op == FREE:
        return "free"
    if op == ALLOC:
        return "aligned_alloc" if code else "malloc"
    return "malloc" if status & NOT_LIVE else "realloc"


def _live_ids(np, trace, prev, block, bsize, meta):
    """The blocks live after the events `prev` covers: those an id's last event left it
    holding."""
    m = len(prev)
    later = np.zeros(m + 1, bool)
    later[prev] = True                  # (an id's first event marks the spare slot m)
    held = np.flatnonzero(~later[:m] & ((meta[:m] & HELD) != 0) & (block[:m] != 0))
    return LiveIds(np.frombuffer(trace.ids, np.int64)[held], block[held], bsize[held])


class LiveIds(Mapping):
    """id -> address | size << SHIFT (Run.live_ids) from arrays, made a dict on first use: a run
    with a million blocks live does not pay for a dict nobody reads."""

    def __init__(self, ids, addresses, sizes):
        self._arrays, self._dict = (ids, addresses, sizes), None

    def _blocks(self):
        if self._dict is None:
            ids, addresses, sizes = (a.tolist() for a in self._arrays)
            self._dict = {id: a | s << SHIFT for id, a, s in zip(ids, addresses, sizes)}
        return self._dict

    def __getitem__(self, id):
        return self._blocks()[id]

    def __iter__(self):
        return iter(self._blocks())

    def __len__(self):
        return len(self._arrays[0])


def _numpy():
    try:
        import numpy
    except ImportError:
        raise RealModuleError("the replay inside a real module needs numpy "
                              "(pip install 'pyfrag[real]')") from None
    return numpy
