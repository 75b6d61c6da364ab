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
as the call-by-call replay skips the call.
"""

from array import array
from itertools import compress

from .real import ModuleTrap
from .trace import ALLOC, FREE

WORDS = 8                     # u32 words per event in the module's buffer
MALLOC, FREE_OP, REALLOC, ALIGNED, NOTHING = 0, 1, 2, 3, 4
REF = 0x100                   # word 1 names an earlier event of this batch
LOW = 0xFF                    # the op's own bits
SHIFT = 32                    # a known block: address | size << SHIFT | log2(align) << 2 * SHIFT
U32 = 0xFFFFFFFF
MAX_ALIGN = 1 << 31


def supports(module):
    """Whether the module exports the batched replay (uploads may not)."""
    return module.batch is not None


def execute(trace, module, progress=None):
    """Pass 1: run the trace's calls in the module -> (results, pages): the address returned by each
    malloc-like call the replay makes, in trace order, and the memory pages after it."""
    n = len(trace)
    ops, ids, sizes, aligns = trace.ops, trace.ids, trace.sizes, trace.aligns
    batch = module.batch
    results, pages = array("q"), array("q")
    capacity = batch.capacity
    blocks = {}               # id -> address | size << SHIFT, or ~k: made by event k of this batch
    made = []                 # ids given a block by this batch, resolved after it runs
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
            if size > U32 or align > MAX_ALIGN:
                # cannot be passed to wasm32: fails without a call (the module only notes the pages)
                if op == ALLOC:
                    blocks.pop(id, None)          # the old block leaks, the new one fails
                code, old, size = NOTHING, None, 0
            else:
                if op == ALLOC:
                    code, old = batch.alloc_code(align), None
                else:
                    code, old = REALLOC, blocks.get(id)
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
            _run(batch, words, k, blocks, made, results, pages)
            k = 0
            if progress is not None:
                progress(i + 1, n)
    if k:
        _run(batch, words, k, blocks, made, results, pages)
    return results, pages


def _run(batch, words, k, blocks, made, results, pages):
    """Runs a batch, keeps the answers to malloc-like calls, and resolves the blocks it made."""
    out = batch.run(words, k)
    end = k * WORDS
    asked = bytes(map(FREE_OP.__ne__, map(LOW.__and__, out[0:end:WORDS])))   # frees answer nothing
    results.extend(compress(out[4:end:WORDS], asked))
    pages.extend(compress(out[6:end:WORDS], asked))
    for id in made:
        v = blocks.get(id)
        if v is not None and v < 0:
            w = ~v * WORDS
            if out[w + 5]:
                blocks[id] = out[w + 5] | out[w + 7] << SHIFT | (out[w] >> 16 & 0xFF) << 2 * SHIFT
            else:
                del blocks[id]
    made.clear()


class Batch:
    """A module's batched-replay exports: its buffer, and runs that survive traps."""

    def __init__(self, module):
        self.module = module
        self.capacity = module.call("pyfrag_capacity")
        self.address = module.call("pyfrag_events") & U32

    def alloc_code(self, align):
        if not align or not self.module.aligned_export(align):
            return MALLOC
        return ALIGNED | (align.bit_length() - 1) << 16

    def run(self, words, k):
        """Runs events [0, k) of `words` -> the words after, as an array of u32."""
        m = self.module
        m.write(self.address, memoryview(words)[:k * WORDS].cast("B"))
        start = 0
        while start < k:
            try:
                m.call("pyfrag_replay", start, k)
                break
            except ModuleTrap as e:
                start = self._after_trap(start, k, e)
        out = array("I")
        out.frombytes(m.read(self.address, k * WORDS * 4))
        return out

    def _after_trap(self, start, k, error):
        """A trap in malloc or realloc fails that request, as in a call-by-call replay; the wrapper
        has forgotten a block a trapped realloc named (later frees of it do nothing), so that block
        counts as gone here too. A trap in free has no failure to record and ends the replay."""
        m = self.module
        done = array("I")
        done.frombytes(m.read(self.address, k * WORDS * 4))
        j = next(j for j in range(start, k) if not done[j * WORDS + 6])
        w = j * WORDS
        op = done[w] & 0xFF
        if op == FREE_OP:
            raise error
        patch = array("I", [0, 0, m.memory.pages, 0])
        m.write(self.address + (w + 4) * 4, memoryview(patch).cast("B"))
        return j + 1


class Playback:
    """An allocator that answers with the results `execute` recorded, in trace order."""

    def __init__(self, module):
        self.name = module.name
        self.heap_base = module.heap_base
        self.alignment = module.alignment
        self.memory = _PlaybackMemory(module)

    def answers(self, results, pages):
        self._answers = zip(results, pages)

    def _answer(self):
        p, self.memory.pages = next(self._answers)
        return p

    def malloc(self, size):
        return self._answer()

    def aligned_alloc(self, align, size):
        return self._answer()

    def realloc(self, ptr, size):
        return self._answer()

    def free(self, ptr):
        pass

    def spans(self):
        raise NotImplementedError("a real module does not expose its spans")


class _PlaybackMemory:
    def __init__(self, module):
        self.pages = module.memory.pages
        self.maximum = module.memory.maximum
        self.grow_calls = None
