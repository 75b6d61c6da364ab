"""Batched replay on a real module: thousands of events per host call.

Main entry points: `execute(trace, module)`, and `Playback`, which
`pyfrag.real.replay_real` hands to the replay loop.

Calling a module's exports once per event costs wasmtime's per-call overhead
(~20 µs) a million times. A module built with pyfrag's wrappers also exports
`pyfrag_replay(from, to)`, which runs events the host wrote into a static
buffer below `__heap_base` (the same memory as the wrapper's size table, so
the heap is untouched) and writes back, per event, the address returned, the
block's address and size after it, and the memory pages after it. See
wasm_modules/src/abi.c for the layout.

Two passes, so that the semantics of a replay live in one place:

1. `execute` walks the trace, keeps only which ids hold a block and where
   (ids of blocks made in the current batch are passed as references to the
   event that made them: the module resolves them), and runs the module's
   calls batch by batch. It keeps, for each malloc-like call, the address
   returned and the memory pages after it.
2. `pyfrag.replay.drive` replays the trace on a `Playback` of those answers:
   the same loop as every other replay decides live bytes, trace issues and
   failures, so a batched `Run` equals the call-by-call one.

The module makes the same allocator calls either way: a free of a block whose
allocation failed reaches the module as a free of address 0, which it skips
as the call-by-call replay skips the call. A trap (or a call stopped past its
time budget) ends the batches at the event that trapped; the playback raises
it there, so the run ends at the same event with the same `run.trap`.
"""

from array import array
from itertools import compress

from .real import ModuleTrap
from .trace import ALLOC, FREE

WORDS = 8                     # u32 words per event in the module's buffer
MALLOC, FREE_OP, REALLOC, ALIGNED, NOTHING = 0, 1, 2, 3, 4
CALLS = {MALLOC: "malloc", FREE_OP: "free", REALLOC: "realloc", ALIGNED: "aligned_alloc"}
# events per host call: at most this many, so one call's time budget still means "this event
# never returned" (pyfrag.real's CALL_BUDGET), at ~5 ns of host overhead per event
BATCH = 4096
REF = 0x100                   # word 1 names an earlier event of this batch
LOW = 0xFF                    # the op's own bits
SHIFT = 32                    # a known block: address | size << SHIFT | log2(align) << 2 * SHIFT
U32 = 0xFFFFFFFF


def execute(trace, module, progress=None):
    """Pass 1: run the trace's calls in the module -> (results, pages): the address returned by each
    malloc-like call the replay makes, in trace order, and the memory pages after it."""
    n = len(trace)
    ops, ids, sizes, aligns = trace.ops, trace.ids, trace.sizes, trace.aligns
    batch = module.batch
    results, pages = array("q"), array("q")     # per call the replay makes
    capacity = batch.capacity
    blocks = {}               # id -> address | size << SHIFT, or ~k: made by event k of this batch
    made = []                 # ids given a block by this batch, resolved after it runs
    # the host writes words 0-3 of each event; 4-7, the module's answers, go in as 0
    words = array("I", [0]) * (capacity * WORDS)
    k = 0
    for i in range(n):
        op, id, size = ops[i], ids[i], sizes[i]
        if op == FREE:
            v = blocks.pop(id, None)
            if v is None:
                continue                          # not live: the replay skips it
            code, old, size = FREE_OP, v, 0
        else:
            align = aligns.get(i, 0) if aligns and op == ALLOC else 0
            code = REALLOC if op != ALLOC else batch.alloc_code(align)
            if size > U32 or code == NOTHING:
                # fails without a call (too big for wasm32, or an alignment the module cannot
                # give): the module only notes the pages
                if op == ALLOC:
                    blocks.pop(id, None)          # the old block leaks, the new one fails
                code, old, size = NOTHING, None, 0
            else:
                old = blocks.get(id) if op != ALLOC else None
                blocks[id] = ~k
                made.append(id)
        w = k * WORDS
        if old is None:
            words[w + 1] = words[w + 3] = 0
        elif old < 0:
            code |= REF
            words[w + 1] = ~old
        else:
            words[w + 1], words[w + 3] = old & U32, old >> SHIFT & U32
            code |= old >> 2 * SHIFT << 16
        words[w] = code
        words[w + 2] = size
        k += 1
        if k == capacity:
            trap = _run(batch, words, k, blocks, made, results, pages)
            if trap is not None:
                return results, pages, trap
            k = 0
            if progress is not None:
                progress(i + 1, n)
    trap = _run(batch, words, k, blocks, made, results, pages) if k else None
    return results, pages, trap


def _called(op, address):
    """Whether the replay loop makes this call: not a free of a block that failed."""
    return op & LOW != FREE_OP or address != 0


def _run(batch, words, k, blocks, made, results, pages):
    """Runs a batch, keeps the answers to the calls the replay makes, resolves the blocks it
    made -> the trap that ended it early, or None."""
    out, k, trap = batch.run(words, k)
    end = k * WORDS
    called = bytes(map(_called, out[0:end:WORDS], out[1:end:WORDS]))
    results.extend(compress(out[4:end:WORDS], called))
    pages.extend(compress(out[6:end:WORDS], called))
    if trap is not None:
        return trap                       # the replay ends at it: nothing more to resolve
    for id in made:
        v = blocks.get(id)
        if v is not None and v < 0:
            w = ~v * WORDS
            if out[w + 5]:
                blocks[id] = out[w + 5] | out[w + 7] << SHIFT | (out[w] >> 16 & 0xFF) << 2 * SHIFT
            else:
                del blocks[id]
    made.clear()
    return None


class Batch:
    """A module's batched-replay exports: its buffer, and runs that survive traps."""

    def __init__(self, module):
        self.module = module
        self.capacity = min(BATCH, module.call("pyfrag_capacity"))
        self.address = module.call("pyfrag_events") & U32

    def alloc_code(self, align):
        """The event's op for an allocation aligned to `align` (0: malloc's own)."""
        route = self.module.aligned_export(align) if align else False
        if route is None:
            return NOTHING
        return ALIGNED | (align.bit_length() - 1) << 16 if route else MALLOC

    def run(self, words, k):
        """Runs events [0, k) of `words` -> (the words after, as u32, how many ran, the trap
        that stopped the batch at the event after them or None)."""
        m = self.module
        m.write(self.address, memoryview(words)[:k * WORDS].cast("B"))
        trap = None
        try:
            m.call("pyfrag_replay", 0, k)
        except ModuleTrap as e:
            trap = e
        out = array("I")
        out.frombytes(m.read(self.address, k * WORDS * 4))
        if trap is not None:
            k, trap = self._trapped(out, k, trap)
        return out, k, trap

    def _trapped(self, out, k, error):
        """(events that ran, the trap as the event that did not finish raises it). The host
        writes word 6 as 0 and the module sets it after each event, so the first 0 is where
        the batch stopped."""
        j = next(j for j in range(k) if not out[j * WORDS + 6])
        op = CALLS.get(out[j * WORDS] & LOW, "malloc")
        name = self.module.name
        message = (f"module {name}: {op} was stopped: {error.cause}" if error.timeout
                   else f"module {name} trapped in {op}: {error.cause}")
        return j, ModuleTrap(message, op, error.cause, error.timeout)


class Playback:
    """An allocator that answers with the results `execute` recorded, in trace order."""

    def __init__(self, module):
        self.name = module.name
        self.heap_base = module.heap_base
        self.alignment = module.alignment
        self.memory = _PlaybackMemory(module)

    def answers(self, results, pages, trap=None):
        self._answers = zip(results, pages)
        self._trap = trap

    def _answer(self):
        try:
            p, self.memory.pages = next(self._answers)
        except StopIteration:
            raise self._trap from None          # the call that trapped: the replay ends here
        return p

    def malloc(self, size):
        return self._answer()

    def aligned_alloc(self, align, size):
        return self._answer()

    def realloc(self, ptr, size):
        return self._answer()

    def free(self, ptr):
        self._answer()

    def spans(self):
        raise NotImplementedError("a real module does not expose its spans")


class _PlaybackMemory:
    def __init__(self, module):
        self.pages = module.memory.pages
        self.maximum = module.memory.maximum
        self.grow_calls = None
