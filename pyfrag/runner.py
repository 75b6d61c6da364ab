"""The whole replay inside the module: no host work per event.

Main entry point: `run_in_module(trace, module) -> Run | None`, which
`pyfrag.real.replay_real` tries first.

Every module built here (wasm_modules/src/abi.c documents the layout) also
exports `pyfrag_run(from, to)`: it replays events with the replay loop's own
rules (pyfrag.replay.drive), keeping each id's block in a table of its own
below `__heap_base`, so the heap and the allocator's calls are those of any
other replay. The host copies the trace's arrays in and the run's arrays out
a few thousand events per call, and looks only at the events the module
flags: trace issues and failed requests.
The `Run` equals the replay loop's on the same module, event for event.

It returns None where this path cannot tell the loop's answer; the caller then
replays on a fresh instance another way (pyfrag.batch, or call by call):
ids outside 0..2**32-2, more live ids than the module's table holds, or a
trap (what the loop had done inside the trapped event is its own to say).
"""

from array import array
from bisect import bisect_right
from itertools import compress

from .memory import PAGE
from .metrics import AT_END
from .real import ModuleTrap
from .replay import SHIFT, Issue, Run, estimate, issue_text
from .steps import Steps
from .trace import ALLOC

# the status bits the module sets per event (abi.c's RUN_*)
FAILED, BAD_FREE, LEAKED, NOT_LIVE = 1, 2, 4, 8
UNCALLED = 0xFF       # an align byte: the request fails without a call
TABLE_SLOTS = 1 << 15  # abi.c's RUN_SLOTS: (id + 1, address, size) u32 triples after the events
EVENT_BYTES = 35       # i64 id, size, live; u32 result, pages; u8 op, align, status
U32 = 0xFFFFFFFF


def run_in_module(trace, module, *, progress=None, discard=AT_END):
    """Replay `trace` inside a fresh `module` -> the `Run`, or None (see the module docstring)."""
    n = len(trace)
    ops, ids, sizes = trace.ops, trace.ids, trace.sizes
    if not _u32_ids(_q(ids)):
        return None
    cap = module.call("pyfrag_run_capacity")
    base = module.call("pyfrag_run_events") & U32
    # abi.c's layout: i64 id, size, live; u32 result, pages; u8 op, align, status
    at_size, at_live, at_op, at_align = (base + w * cap for w in (8, 16, 32, 33))
    # the outputs, read at once from at_live: offsets of result, pages and status from there
    out_result, out_pages, out_status = 8 * cap, 12 * cap, 18 * cap
    read, write = module.read, module.write
    aligned = sorted(i for i, op in zip(trace.aligns, map(ops.__getitem__, trace.aligns))
                     if op == ALLOC)
    codes = {}
    # the replay loop's arrays for a real module: wasm32 addresses, live bytes as it reports them
    addresses, live = array("I", bytes(4 * n)), array("q", bytes(8 * n))
    into_addresses, into_live = memoryview(addresses).cast("B"), memoryview(live).cast("B")
    pages = module.memory.pages
    grew_at, grew_to = [0], [pages]
    failures, issues = [], []
    a = 0
    for start in range(0, n, cap):
        end = min(n, start + cap)
        k = end - start
        write(base, _q(ids[start:end]))
        write(at_size, _q(sizes[start:end]))
        write(at_op, ops[start:end].tobytes())
        align = bytearray(k)
        while a < len(aligned) and aligned[a] < end:
            i = aligned[a]
            code = codes.get(trace.aligns[i])
            if code is None:
                code = codes[trace.aligns[i]] = _align_code(module, trace.aligns[i])
            align[i - start] = code
            a += 1
        write(at_align, align)
        try:
            if module.call("pyfrag_run", 0, k) != k:
                return None                          # its table is full
        except ModuleTrap:
            return None
        out = memoryview(read(at_live, out_status + k))
        into_live[8 * start:8 * end] = out[:8 * k]
        into_addresses[4 * start:4 * end] = out[out_result:out_result + 4 * k]
        pages_after = _u32(out[out_pages:out_pages + 4 * k])
        if pages_after[-1] != pages:
            j = 0
            while (j := bisect_right(pages_after, pages, j)) < k:
                pages = pages_after[j]
                grew_at.append(start + j)
                grew_to.append(pages)
        status = out[out_status:].tobytes()
        if status.count(0) != k:
            for j in compress(range(k), status):
                _flagged(trace, start + j, status[j], module, live[start + j], pages_after[j],
                         failures, issues)
        if progress is not None:
            progress(end, n)
    heap_bytes = Steps(grew_at, [pg * PAGE for pg in grew_to], n)
    return Run(trace, module.name, addresses, heap_bytes, live,
               heap_base=module.heap_base, initial_bytes=grew_to[0] * PAGE,
               maximum_bytes=module.memory.maximum * PAGE, failures=failures, issues=issues,
               live_ids=_live_ids(module, base + cap * EVENT_BYTES), discard=discard)


def _flagged(trace, i, bits, module, live, pages, failures, issues):
    """The issues and the failure the module flagged at event i, as the loop records them."""
    id = trace.ids[i]
    for bit, kind in ((BAD_FREE, "free"), (LEAKED, "alloc"), (NOT_LIVE, "realloc")):
        if bits & bit:
            issues.append(Issue(i, trace.where(i), issue_text(kind, id)))
    if bits & FAILED:
        op = "malloc" if trace.ops[i] == ALLOC else "realloc"
        # a module's free blocks are out of sight: the loop's estimate (pyfrag.beside judges
        # failures again with the model where it is in step)
        failures.append(estimate(trace, i, op, trace.sizes[i], live, pages * PAGE,
                                 module.heap_base, failures[-1] if failures else None, module))


def _align_code(module, align):
    """The align byte of an allocation aligned to `align`, as RealModule.aligned_alloc routes it."""
    route = module.aligned_export(align)
    if route is None:
        return UNCALLED
    return align.bit_length() if route else 0


def _live_ids(module, at):
    """id -> address | size << SHIFT of the blocks live at the end, from the module's table."""
    table = _u32(module.read(at, 12 * TABLE_SLOTS))
    return {key - 1: ptr | size << SHIFT
            for key, ptr, size in zip(table[0::3], table[1::3], table[2::3]) if key and ptr}


def _q(part):
    """An array slice as i64 bytes."""
    return (part if part.typecode == "q" else array("q", part)).tobytes()


def _u32_ids(data):
    """Whether the i64 ids in `data` all fit the module's table (0..2**32-2): their high halves
    are zero bytes, so four 0xff bytes in a row can only be an id of 2**32-1."""
    high = _u32(data)[1::2].tobytes()
    return high == bytes(len(high)) and b"\xff" * 4 not in data


def _u32(data):
    out = array("I")
    out.frombytes(data)
    return out
