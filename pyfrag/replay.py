"""Replay a trace on an allocator and record what happened, event by event.

Main entry point: `replay(trace, allocator) -> Run`. Data flows one way:

    trace  ->  replay  ->  Run (per-event arrays + failures + issues)  ->  metrics / audit / views

The same loop drives simulated models and real modules (`pyfrag.real` hands
it an adapter with the same protocol), so both produce the same `Run` and can
be compared line by line. A `Run` keeps, per event i:

    addresses[i]   address returned by alloc/realloc (0 for free, or on failure)
    heap_bytes[i]  memory.buffer.byteLength after the event (a `Steps`: stored as
                   the grow points, read like an array)
    live_bytes[i]  sum of requested sizes of live blocks after the event

addresses and live_bytes are array("I") where 32 bits hold them (wasm32), else "q".

Trace mistakes (free of an unknown id, double free, alloc of a live id) are
recorded as `Issue`s and skipped, like a tracing allocator's "invalid free":
they never reach the allocator, so they cannot corrupt it.

An allocator that raises `Trapped` (a real module that trapped, or a call
stopped for taking too long) ends the replay at that event: the `Run` stops
there and says so in `run.trap`. A trap is never counted as a failed request.
"""

from array import array
from dataclasses import dataclass, field, replace
from functools import cached_property

from .heap import Heap, check_blocks
from .memory import PAGE, Memory
from .metrics import AT_END, DISCARD_MODES, ON_FREE, discardable_bytes
from .rules import ISSUES, KINDS, REASONS, say
from .steps import Steps
from .trace import ALLOC, FREE

CHUNK = 1 << 16     # events between progress reports
# Failures are judged from the model's spans, which cost O(blocks) each: the first
# always, the next while the runs read so far (Spans.read: the blocks walked) stay
# within SPAN_BUDGET per event replayed, and never more than EXACT_FAILURES; the
# others are estimated (Failure.estimated). A run that keeps failing at its limit so
# costs little more than one that does not (benchmarks/limit_speed.py).
EXACT_FAILURES = 1000
SPAN_BUDGET = 1
# discard "on-free": the spans are sampled this many times, evenly spaced, and at
# grow events (resident memory peaks right after one) until GROW_SAMPLES samples
# are taken
DISCARD_SAMPLES = 256
GROW_SAMPLES = 1024
SHIFT = 64          # a live block is packed as address | size << SHIFT
MASK = (1 << SHIFT) - 1


@dataclass(slots=True)
class Failure:
    """A request the allocator could not satisfy (it returned 0). Its figures are those
    of the moment it failed, never of the end of the run. Treat it as immutable (change
    one with dataclasses.replace): it is not frozen only because a frozen dataclass costs
    five times as much to make, and a run at its limit makes one per failed request."""
    index: int
    op: str                 # "malloc" or "realloc"
    size: int
    kind: str               # a key of rules.KINDS: see classify
    free_bytes: int         # bytes in free blocks the allocator could hand out
    largest_free: int | None
    heap_bytes: int
    where: str
    # heap - heap base - live - free: headers, padding, lost cells, pages never used;
    # None when unknown (no spans were ever seen: see classify)
    overhead: int | None = None
    align: int | None = None      # the alignment asked for, if any
    reason: str | None = None     # why the allocator refuses an unsupported request

    @property
    def estimated(self):
        """True when free bytes were estimated, not read from the allocator's spans."""
        return self.largest_free is None

    @property
    def label(self):
        """What the failure was, in words: "fragmentation OOM", "unsupported request"..."""
        return KINDS[self.kind]

    def describe(self):
        request = f"{self.op}({self.size}" + (f", align {self.align})" if self.align else ")")
        head = f"{self.label} at {self.where}: {request} failed"
        if self.kind == "unsupported":
            return f"{head}: {self.reason}; not an OOM (the heap was not full)"
        largest = "" if self.largest_free is None else \
            f", largest free block {self.largest_free} bytes"
        overhead = "" if self.overhead is None else \
            f", {self.overhead} bytes of allocator overhead"
        estimate = " (estimated)" if self.estimated else ""
        if self.kind == "exhausted":
            return (f"{head}; {self.reason}: when it failed only {self.free_bytes} bytes were "
                    f"free{estimate} (at its top) in a {self.heap_bytes}-byte heap"
                    + ("" if self.overhead is None else
                       f"; {self.overhead} bytes were freed blocks or headers, never handed "
                       "out again"))
        return (f"{head}; when it failed {self.free_bytes} bytes were free{estimate} in a "
                f"{self.heap_bytes}-byte heap{largest}{overhead}")


@dataclass(frozen=True, slots=True)
class Issue:
    """A trace event that makes no sense for the heap (skipped, never applied)."""
    index: int
    where: str
    message: str

    def __str__(self):
        return f"{self.where}: {self.message}"


class Trapped(Exception):
    """Raised by an allocator adapter (pyfrag.real) when the code behind a call trapped
    or was stopped: `op` is the call, `cause` the engine's reason, `timeout` True
    when the call was stopped for running past its time budget."""

    def __init__(self, message, op, cause, timeout=False):
        super().__init__(message)
        self.op, self.cause, self.timeout = op, cause, timeout


@dataclass(frozen=True, slots=True)
class Trap:
    """The event at which the allocator trapped; the replay ended there."""
    index: int
    where: str
    op: str                 # the call that trapped: malloc, free, realloc, aligned_alloc
    cause: str              # the engine's reason ("wasm `unreachable` instruction executed")
    timeout: bool           # True: the call ran past its time budget and was stopped

    def describe(self):
        what = "was stopped: " if self.timeout else "trapped: "
        at = self.where if self.where == f"event {self.index}" else \
            f"{self.where} (event {self.index})"
        return f"{self.op} at {at} {what}{self.cause}"


class InvariantBroken(Exception):
    """Raised by a replay with `check`: a model's `check()` (or the live blocks, see
    pyfrag.heap.check_blocks) failed after event `index` (at `where`; -1: before the first).
    With a check every `every` events, one of the events since the last passing check,
    `since`..`index`, broke it. `message` is the invariant's own words."""

    def __init__(self, trace, index, since, allocator, message, every):
        self.index, self.since, self.allocator, self.every = index, since, allocator, every
        self.where = trace.where(index) if index >= 0 else "the start"
        self.message = message or "an invariant without a message"
        at = self.where if self.where == f"event {index}" else f"{self.where} (event {index})"
        head = "before the first event" if index < 0 else f"after {at}"
        suspects = "" if since >= index else (
            f"; checked every {every} events, so one of events {since}..{index} broke it "
            "(check every event to name it)")
        super().__init__(f"model {allocator} broke an invariant {head}: {self.message}{suspects}")


@dataclass
class Run:
    trace: object
    allocator: str
    addresses: array
    heap_bytes: array
    live_bytes: array
    heap_base: int
    initial_bytes: int
    maximum_bytes: int
    failures: list = field(default_factory=list)
    issues: list = field(default_factory=list)
    spans: list | None = None         # final heap layout, where the allocator can tell
    grow_calls: int | None = None     # memory.grow calls, where they can be counted
    reported_live: int | None = None  # a real module's own live_bytes() at the end
    live_ids: dict = field(default_factory=dict)   # id -> address | size << SHIFT at the end
    discard: str = AT_END             # when whole free pages count as discarded (metrics.py)
    # with discard "on-free": flat (event, heap bytes, discardable bytes) triples over the
    # run; None otherwise, or when the allocator's spans cannot be seen
    discard_samples: array | None = None
    trap: Trap | None = None          # set when the replay ended at a trap (see Trapped)
    like: str | None = None           # the real module whose start state the model began in
    checks: int | None = None         # invariant checks passed (replay's `check`), None if off

    @property
    def events(self):
        return len(self.heap_bytes)

    @property
    def final_blocks(self):
        """address -> requested size of the blocks live at the end."""
        return {v & MASK: v >> SHIFT for v in self.live_ids.values()}

    @property
    def oom(self):
        """The first failed request, or None."""
        return self.failures[0] if self.failures else None

    @cached_property
    def metrics(self):
        from .metrics import run_metrics
        return run_metrics(self)

    @cached_property
    def grows(self):
        """Every event at which memory grew, forced or by the allocator's policy (pyfrag.grows;
        past its summary budget a big run's later grows are not classed)."""
        from .grows import SUMMARY_BUDGET, grow_causes
        return grow_causes(self, budget=SUMMARY_BUDGET)

    def audit(self):
        from .audit import audit
        return audit(self)

    def address_lines(self):
        """`event_index address memory_bytes` for every alloc/realloc: diffable across runs."""
        return [f"{i} {address} {heap}" for i, (op, address, heap)
                in enumerate(zip(self.trace.ops, self.addresses, self.heap_bytes)) if op != FREE]

    def __repr__(self):
        m = self.metrics
        oom = f", {self.oom.kind} OOM at event {self.oom.index}" if self.oom else ""
        return (f"<Run {self.trace.name} on {self.allocator}: {self.events} events, "
                f"peak heap {m.peak_heap_bytes}, utilization {m.utilization:.2%}{oom}>")


def replay(trace, allocator=None, *, stop_at_oom=False, progress=None, discard=AT_END,
           pause=None, check=None, **heap_options):
    """Replay `trace` on a model (a name, or a ready `Heap`) and return the `Run`.

    `discard` is when a memory.discard-aware allocator would give whole free
    pages back: "at-end" (once, after the last event) or "on-free" (as soon as
    they are free; the run then samples its spans over time).

    `pause=(indices, look)` calls `look(i, allocator)` before event i for each i
    in `indices` (i == len(trace): after the last event): the heap as the
    events before i left it, for analyses that need its layout at given moments
    (pyfrag.explain), at no cost to the other events.

    `check=N` checks the heap's invariants as mimalloc's debug builds do: the model's
    `check()` and the live blocks (pyfrag.heap.check_blocks) after every N events and
    once at the end; a broken one stops the replay with `InvariantBroken`. Off by
    default, at no cost to the loop. The checks are asserts, so `python -O` would skip
    them: a checked replay refuses to run there.

    heap_options go to `Heap` (heap_base, initial_pages, maximum, memory64).
    `like="module"` starts in a real module's start state, running that module's
    model unless `allocator` names another. Without either, the model is
    dlmalloc. The trace's own `maximum`, if it has one, applies unless
    `maximum` is given.

    >>> from pyfrag import scenarios
    >>> run = replay(scenarios.image_task(), like="c-dlmalloc")
    >>> run.events, run.oom.kind, run.oom.index
    (257, 'fragmentation', 256)
    >>> print(run.audit())
    Utilization: 45.26%
    Wasted (Fragmented): 262340469 bytes
    """
    given = isinstance(allocator, Heap)
    like = None
    if given:
        heap = allocator
    else:
        like = heap_options.pop("like", None)
        if trace.maximum is not None:
            heap_options.setdefault("maximum", trace.maximum)
        heap = (Heap.like(like, allocator, **heap_options) if like
                else Heap(allocator or "dlmalloc", **heap_options))
    model = heap.allocator
    run = drive(trace, model, heap.memory, heap.name, stop_at_oom=stop_at_oom,
                progress=progress, discard=discard, pause=pause, check=check)
    run.spans = model.spans()
    run.grow_calls = heap.memory.grow_calls
    run.like = like
    if given:
        # the caller's heap goes on being usable, holding the surviving blocks
        heap.blocks = run.final_blocks
        heap.live_bytes = sum(heap.blocks.values())
        heap.peak_live = max(heap.peak_live, max(run.live_bytes, default=0))
    return run


def drive(trace, allocator, memory, name, *, stop_at_oom=False, progress=None,
          discard=AT_END, pause=None, check=None):
    """The replay loop. `allocator` follows the Allocator protocol; `memory` is the one it
    grows. Kept flat and local-variable heavy: it is the hot path."""
    if discard not in DISCARD_MODES:
        raise ValueError(f"discard must be one of {', '.join(DISCARD_MODES)}, not {discard!r}")
    check = _check_every(check)
    n = len(trace)
    ops, ids, sizes = trace.ops, trace.ids, trace.sizes
    aligns = trace.aligns
    # tags reach only models that have the optional `tag(label)` hook (allocators/layered.py)
    tag = getattr(allocator, "tag", None)
    tags = trace.tags if tag is not None else None
    # wasm32 addresses, and the live bytes of a model's blocks (disjoint, inside at most
    # 4 GiB), fit 32 bits: half the bytes per event of "q" (a real module could lie)
    wide = memory.maximum * PAGE > 1 << 32
    addresses = array("q" if wide else "I", [0]) * n
    live_arr = array("q" if wide or not isinstance(memory, Memory)
                     or getattr(allocator, "overlaps", False) else "I", [0]) * n
    failures, issues = [], []
    # id -> the event that gave its block (addresses[j], sizes[j]): a small int per
    # live block, nothing to pack or unpack per event
    blocks = {}
    failed = set()               # ids whose allocation failed: their free is free(NULL)
    malloc, free, realloc = allocator.malloc, allocator.free, allocator.realloc
    aligned_alloc = getattr(allocator, "aligned_alloc", None)    # needed for aligned requests
    live = 0
    pages = memory.pages
    initial_bytes = end_bytes = pages * PAGE
    # the first event of each memory size: the run's heap_bytes (a Steps)
    grew_at, grew_to = array("q", [0]), array("q", [pages])
    # the page count after each growth, as the memory reports it (a pyfrag Memory
    # keeps this log itself; any other memory is watched around each request)
    grown = []
    if isinstance(memory, Memory):
        memory.grown = grown
    else:
        malloc, realloc, aligned_alloc = (call and _watched(call, memory, grown)
                                          for call in (malloc, realloc, aligned_alloc))

    read = 0            # spans read for the verdicts so far (their cost)

    def fail(i, op, size, live):
        nonlocal read
        spans = None
        if len(failures) < EXACT_FAILURES and read <= SPAN_BUDGET * i:
            spans = failure_spans(allocator)
            if spans is not None:
                read += getattr(spans, "read", len(spans))
        failures.append(classify(allocator, memory, trace, i, op, size, live, spans,
                                 failures[-1] if failures else None))
        if stop_at_oom:
            raise _Stop

    def issue(i, message):
        issues.append(Issue(i, trace.where(i), message))

    samples, sample, step = None, None, CHUNK
    if discard == ON_FREE:
        samples = array("q")
        step = max(1, min(CHUNK, -(-n // DISCARD_SAMPLES)))

        def sample(i, grew=False):
            nonlocal samples, sample
            if grew and len(samples) >= 3 * GROW_SAMPLES:
                return
            try:
                spans = allocator.spans()
            except NotImplementedError:         # nothing to see: no samples at all
                samples = sample = None
                return
            samples.extend((i, memory.pages * PAGE, discardable_bytes(spans)))

    checks, checked = 0, 0      # checks passed; the event count at the last one

    def verify(k, live):
        """The invariants after the first k events (see replay's `check`); `live` is
        `blocks`, passed in so that the loop keeps it a fast local, not a closure cell."""
        nonlocal checks, checked
        try:
            allocator.check()
            check_blocks(allocator, memory.pages * PAGE,
                         ((addresses[j], sizes[j]) for j in live.values()))
        except Exception as e:      # a check that trips over a corrupted state says so too
            words = str(e) if isinstance(e, AssertionError) else \
                f"its check raised {type(e).__name__}: {e}"
            raise InvariantBroken(trace, k - 1, checked, name, words, check) from e
        checks, checked = checks + 1, k

    # the loop runs in chunks of `step` events, cut also where `pause` looks and `check` checks
    looks, look = pause or ((), None)
    looks = sorted({k for k in looks if 0 <= k <= n})
    extra = set(looks).union(range(check, n, check)) if check else looks
    cuts = sorted(set(range(0, n, step)).union(extra)) if extra else range(0, n, step)
    i = -1
    trap = None
    free_op, alloc_op = FREE, ALLOC      # fast locals in the loop
    try:
        for c, start in enumerate(cuts):
            end = min(n, cuts[c + 1] if c + 1 < len(cuts) else n)
            if check and start and not start % check:
                verify(start, blocks)
            if looks and start == looks[0]:
                look(looks.pop(0), allocator)
            for i, op, id, size in zip(range(start, end), ops[start:end], ids[start:end],
                                       sizes[start:end]):
                if op == free_op:
                    j = blocks.pop(id, -1)
                    if j >= 0:
                        free(addresses[j])
                        live -= sizes[j]
                    elif id in failed:
                        failed.discard(id)           # free(NULL) after a failed malloc
                    else:
                        issue(i, issue_text("free", id))
                    live_arr[i] = live
                    continue                 # a free never grows memory: skip the check
                if op == alloc_op:
                    if id in blocks:
                        issue(i, issue_text("alloc", id))
                        live -= sizes[blocks.pop(id)]
                    if tags and i in tags:
                        tag(tags[i])
                    p = aligned_alloc(aligns[i], size) if aligns and i in aligns \
                        else malloc(size)
                    if p:
                        blocks[id] = i
                        live += size
                        addresses[i] = p
                        if failed:
                            failed.discard(id)
                    else:
                        failed.add(id)
                        fail(i, "malloc", size, live)
                else:
                    j = blocks.get(id, -1)
                    if j < 0:
                        issue(i, issue_text("realloc", id))
                    if tags and i in tags:
                        tag(tags[i])
                    p = realloc(addresses[j], size) if j >= 0 else malloc(size)
                    if p:
                        blocks[id] = i
                        live += size - (sizes[j] if j >= 0 else 0)
                        addresses[i] = p
                        if failed:
                            failed.discard(id)      # it holds a block again: a second free is invalid
                    elif j >= 0 and not size:
                        # realloc(p, 0) returning NULL has freed p (what C allocators
                        # do); the program now holds NULL, so a later free is free(NULL)
                        del blocks[id]
                        live -= sizes[j]
                        failed.add(id)
                    else:
                        fail(i, "realloc", size, live)
                live_arr[i] = live
                if grown:
                    pages = grown[-1]
                    grown.clear()
                    grew_at.append(i)
                    grew_to.append(pages)
                    end_bytes = pages * PAGE
                    if sample is not None:
                        sample(i, True)
                if p + size > end_bytes and p:
                    issue(i, outside_text("malloc" if op == alloc_op else "realloc", size, p,
                                          end_bytes))
            if sample is not None and (end == n or end % step == 0):
                sample(end - 1)
            if progress is not None and (end == n or end // CHUNK != start // CHUNK):
                progress(end, n)
        if looks:                            # after the last event
            look(looks.pop(0), allocator)
    except (_Stop, Trapped) as e:
        if isinstance(e, Trapped):
            trap = Trap(i, trace.where(i), e.op, e.cause, e.timeout)
        live_arr[i] = live
        if memory.pages != pages:
            grew_at.append(i)
            grew_to.append(memory.pages)
        n = i + 1
        del addresses[n:], live_arr[n:]
    finally:
        if isinstance(memory, Memory):
            memory.grown = None
    if check:
        verify(n, blocks)                    # after the last event replayed
    heap_bytes = Steps(grew_at, [pg * PAGE for pg in grew_to], n)
    live_ids = {id: addresses[j] | sizes[j] << SHIFT for id, j in blocks.items()}
    return Run(trace, name, addresses, heap_bytes, live_arr,
               heap_base=allocator.heap_base, initial_bytes=initial_bytes,
               maximum_bytes=memory.maximum * PAGE, failures=failures, issues=issues,
               live_ids=live_ids, discard=discard, discard_samples=samples, trap=trap,
               checks=checks if check else None)


def _check_every(check):
    """replay's `check` as a number of events (0: off)."""
    if check is None or check is False:
        return 0
    if not isinstance(check, int) or check < 1:
        raise ValueError(f"check must be a whole number of events above 0, got {check!r}")
    if not __debug__:
        raise ValueError("invariant checks are asserts, which python -O strips: run without "
                         "-O to check")
    return int(check)


def _watched(call, memory, grown):
    """`call`, noting in `grown` the page count after it whenever memory's size changed:
    for memories that keep no growth log themselves (pyfrag.real's)."""
    last = [memory.pages]

    def watched(*args):
        result = call(*args)
        pages = memory.pages
        if pages != last[0]:
            last[0] = pages
            grown.append(pages)
        return result
    return watched


def issue_text(op, id):
    """The message of a trace event the loop skips (or treats as a malloc): see rules.ISSUES."""
    return say(ISSUES[op], id=id)


def outside_text(op, size, address, heap):
    """The message of a block the allocator placed past the end of memory (AssemblyScript's
    stub wraps its 32-bit offset there): the run goes on, as the module does."""
    return say(ISSUES["outside"], op=op, size=size, address=f"{address:#x}", heap=heap)


class _Stop(Exception):
    """Raised by the loop's failure path under stop_at_oom: ends the replay at once."""


def failure_spans(allocator):
    """The allocator's spans as the request that just failed found them, or None when it
    cannot tell (a real module). Optional `oom_spans`: where failing changed them
    (wee_alloc's walk loses the cells it passes)."""
    try:
        return getattr(allocator, "oom_spans", allocator.spans)()
    except NotImplementedError:
        return None


def classify(allocator, memory, trace, i, op, size, live, spans=None, last=None):
    """The verdict on the request at event i that `allocator` failed, from what it held
    at that moment:

    - "unsupported": a request it never serves, whatever its heap holds (an
      alignment AssemblyScript's allocator does not offer: its `unsupported`);
    - "exhausted": an allocator that never reuses freed memory (a bump allocator:
      `reuses_freed` False) ran out;
    - "fragmentation": the free blocks it could hand out hold at least `size`
      bytes, none of them `size` long;
    - "true": they hold fewer than `size` bytes.

    Free bytes are the allocator's free spans: its overhead (headers, padding,
    wee_alloc's lost cells, pages it never uses, a bump allocator's freed blocks)
    is not free space; `spans` are failure_spans(allocator). Without them (a real
    module whose model is not in step, or past SPAN_BUDGET) free bytes are estimated as
    heap - heap base - live, less the overhead `last` (the previous failure) knew of."""
    heap = memory.pages * PAGE
    if spans is None:
        return estimate(trace, i, op, size, live, heap, allocator.heap_base, last, allocator)
    holes = [length for _, length, used in spans if not used]
    free_bytes = sum(holes)
    return _failure(trace, i, op, size, free_bytes, max(holes, default=0), heap,
                    heap - allocator.heap_base - live - free_bytes, allocator)


def estimate(trace, i, op, size, live, heap, heap_base, last=None, allocator=None):
    """`classify` without spans, from the heap's size and what is live: free bytes are
    heap - heap base - live, less the overhead `last` (the previous failure) knew of.
    Without `allocator` only "fragmentation" or "true" (see `named`)."""
    overhead = last.overhead if last is not None else None
    return _failure(trace, i, op, size, heap - heap_base - live - (overhead or 0), None, heap,
                    overhead, allocator)


def named(failure, allocator, trace):
    """`failure` with the kind the allocator's nature gives it, whatever its heap held:
    "unsupported" for a request it never serves (the reason says why), "exhausted"
    for an allocator that never reuses freed memory, where the bytes not live (free,
    freed or overhead) would have held the request; else as it is. A request's
    alignment goes with it."""
    align = trace.aligns.get(failure.index) if failure.op == "malloc" else None
    kind, reason = _nature(allocator, failure.size, align, failure.free_bytes,
                           failure.overhead, failure.kind)
    if (kind, reason, align) == (failure.kind, failure.reason, failure.align):
        return failure
    return replace(failure, kind=kind, align=align, reason=reason)


def _nature(allocator, size, align, free_bytes, overhead, kind):
    """(kind, reason) of a failed request: see `named`; `kind` is the verdict from free
    bytes, kept when the allocator's nature says nothing."""
    unsupported = getattr(allocator, "unsupported", None)
    reason = unsupported(size, align) if unsupported is not None else None
    if reason is not None:
        return "unsupported", reason
    if not getattr(allocator, "reuses_freed", True) and free_bytes + (overhead or 0) >= size:
        return "exhausted", say(REASONS["never_reuses"], allocator=allocator.name)
    return kind, None


def _failure(trace, i, op, size, free_bytes, largest, heap, overhead, allocator=None):
    kind = "fragmentation" if free_bytes >= size else "true"
    reason = align = None
    if allocator is not None:
        align = trace.aligns.get(i) if op == "malloc" else None
        kind, reason = _nature(allocator, size, align, free_bytes, overhead, kind)
    return Failure(i, op, size, kind, free_bytes, largest, heap, trace.where(i), overhead,
                   align, reason)
