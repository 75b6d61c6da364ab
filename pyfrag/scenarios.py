"""Allocation patterns from the article, as seeded trace generators.

Main entry points: one function per scenario, each returning a `Trace`, and
`get(name, **params)` / `names()` for the CLI and the playground.

Each generator first estimates the memory its trace would take from its
parameters and refuses (ValueError, exit 2 from the CLI) past MAX_TRACE_BYTES,
before building anything: `-p rounds=100000000` is an error, not a process the
kernel kills at 19 GB. The environment variable PYFRAG_MAX_TRACE_BYTES raises
the limit.

    >>> from pyfrag import scenarios
    >>> t = scenarios.swiss_cheese()
    >>> run = t.replay("first-fit")
    >>> run.oom is None
    True
"""

import functools
import inspect
import math
import os
import random as _random

from .trace import Trace

KIB, MIB = 1 << 10, 1 << 20

MAX_TRACE_BYTES = 2 << 30    # default limit; PYFRAG_MAX_TRACE_BYTES overrides it
EVENT_BYTES = 17             # a Trace event: op (1) + id (8) + size (8)
SPARSE_BYTES = 100           # an entry of Trace.tags or Trace.aligns (dict slot + int key)
# parameters that are a memory limit: the command line wants a unit on them (512mib)
LIMIT_PARAMS = ("memory",)


def max_trace_bytes():
    value = os.environ.get("PYFRAG_MAX_TRACE_BYTES")
    if value is None:
        return MAX_TRACE_BYTES
    try:
        return int(value, 0)
    except ValueError:
        raise ValueError(f"PYFRAG_MAX_TRACE_BYTES must be a number of bytes, got "
                         f"{value!r}") from None


def sized(name, param, estimate):
    """Guard a generator: `estimate(**arguments)` gives (events, tagged events) of
    the trace the arguments would build; past the limit, a ValueError naming
    `param` instead of the trace."""
    def wrap(generator):
        signature = inspect.signature(generator)

        @functools.wraps(generator)
        def guarded(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            events, sparse = estimate(**bound.arguments)
            need, limit = events * EVENT_BYTES + sparse * SPARSE_BYTES, max_trace_bytes()
            if need > limit:
                from .report import human
                raise ValueError(
                    f"{name}: {param}={bound.arguments[param]} would build about {events:,} "
                    f"events, {human(int(need))} in memory, past the limit of {human(limit)} "
                    "(set PYFRAG_MAX_TRACE_BYTES to raise it)")
            return generator(*args, **kwargs)
        guarded.estimate = lambda **params: estimate(**{
            **{k: v.default for k, v in signature.parameters.items()}, **params})
        return guarded
    return wrap


@sized("swiss-cheese", "rounds", lambda rounds, **_: (3 * rounds + 1, 2 * rounds + 1))
def swiss_cheese(rounds=1000, anchor=1 * KIB, temp=100 * KIB, probe=500 * KIB):
    """The article's `produce_fragmentation()`: keep a 1 KiB anchor, drop a 100 KiB
    temporary, `rounds` times; then ask for one contiguous `probe` block."""
    t = Trace("swiss-cheese",
              f"{rounds} x (keep a {anchor}-byte anchor, allocate and drop a {temp}-byte "
              f"temporary), then one {probe}-byte request")
    for i in range(rounds):
        t.alloc(2 * i, anchor, tag="anchor")
        t.alloc(2 * i + 1, temp, tag="temp")
        t.free(2 * i + 1)
    t.alloc(2 * rounds, probe, tag="probe")
    return t


@sized("image-task", "images",
       lambda images, keep, **_: (2 * images + max(images - keep, 0) + 1, 2 * images + 1))
def image_task(memory="512mib", images=100, keep=44, image=(4 * MIB, 5 * MIB),
               thumbnail=64 * KIB, request=64 * MIB, seed=7):
    """The article's image job: a 512 MiB memory, ~200 MiB live, and a malloc that fails.

    Decode `images` images (4-5 MiB each), keeping a small thumbnail of each;
    keep `keep` full images as results and drop the rest. The thumbnails pin
    the holes apart, so ~250 MiB lies free in 4-5 MiB pieces, and the final
    `request` for one contiguous buffer fits nowhere: the memory is at its
    maximum and cannot grow."""
    rng = _random.Random(seed)
    # the memory is the trace's limit, which every summary prints as it applies
    t = Trace("image-task",
              f"{images} images decoded with thumbnails, {keep} kept; "
              f"then one {request}-byte request", maximum=memory)
    for i in range(images):
        t.alloc(2 * i, rng.randint(*image), tag="image")
        t.alloc(2 * i + 1, thumbnail, tag="thumbnail")
    for i in sorted(rng.sample(range(images), images - keep)):
        t.free(2 * i)
    t.alloc(2 * images, request, tag="request")
    return t


# a frame allocates 14.3 blocks on average (5-20 temporaries, 0-3 medium, ...), every
# one tagged, and frees as many
@sized("churn", "frames", lambda frames, **_: (29 * frames, 15 * frames))
def churn(frames=2000, seed=1):
    """A long-running editor or game: per frame many short-lived small objects, some
    medium ones living a few frames, a slowly growing document, and now and then a
    large buffer (a level, an image) that lives long."""
    rng = _random.Random(seed)
    t = Trace("churn", f"{frames} frames of editor/game churn (seed {seed})")
    next_id = 0
    expiring = {}            # frame -> ids that die then

    def alloc(size, tag, lifetime):
        nonlocal next_id
        t.alloc(next_id, size, tag=tag)
        if lifetime is not None:
            expiring.setdefault(frame + lifetime, []).append(next_id)
        next_id += 1

    for frame in range(frames):
        for _ in range(rng.randint(5, 20)):
            alloc(rng.choice((16, 24, 32, 48, 64, 96, 128, 256)), "temp", 0)
        for _ in range(rng.randint(0, 3)):
            alloc(rng.randint(1, 16) * KIB, "medium", rng.randint(1, 30))
        if rng.random() < 0.3:
            alloc(rng.choice((64, 128, 512)), "document", None)
        if rng.random() < 0.01:
            alloc(rng.randint(256 * KIB, 2 * MIB), "large", rng.randint(50, 500))
        for id in expiring.pop(frame, ()):
            t.free(id)
    return t


@sized("random", "events", lambda events, align_rate, **_: (events, events * align_rate))
def random_trace(events=100_000, seed=0, min_size=16, max_size=64 * KIB, live=1000,
                 realloc_rate=0.05, align_rate=0.0):
    """Random sizes (log-uniform in [min_size, max_size]) and lifetimes, holding about
    `live` blocks; a share of events are reallocs, a share of allocs are aligned."""
    rng = _random.Random(seed)
    t = Trace("random", f"{events} random events (seed {seed}, sizes {min_size}-{max_size}, "
                        f"~{live} live)")
    alloc, free, realloc = t.alloc, t.free, t.realloc
    rand, randrange = rng.random, rng.randrange
    lo, span = math.log(min_size), math.log(max_size) - math.log(min_size)
    exp = math.exp
    ids, next_id = [], 0
    for _ in range(events):
        r = rand()
        if ids and r < realloc_rate:
            realloc(ids[randrange(len(ids))], int(exp(lo + rand() * span)))
        elif not ids or rand() < live / (live + len(ids)):
            align = 1 << rng.randint(4, 12) if align_rate and rand() < align_rate else 0
            alloc(next_id, int(exp(lo + rand() * span)), align)
            ids.append(next_id)
            next_id += 1
        else:
            k = randrange(len(ids))
            ids[k], ids[-1] = ids[-1], ids[k]
            free(ids.pop())
    return t


@sized("varying-churn", "rounds", lambda rounds, **_: (4 * rounds, 2 * rounds))
def varying_churn(rounds=60_000, seed=5, keep=20, temp=(1 * KIB, 200 * KIB),
                  small=(16, 4 * KIB)):
    """Repeated alloc/free of varying sizes with a small live set (wee_alloc's
    reported leak): each round allocates a temporary of 1-200 KiB and a small
    block, frees the temporary at once, and keeps about `keep` small blocks,
    freeing a random one when there are more. A coalescing allocator stays flat;
    wee_alloc walks its free list past cells it then loses, and keeps growing."""
    rng = _random.Random(seed)
    t = Trace("varying-churn",
              f"{rounds} rounds of a {temp[0]}-{temp[1]}-byte temporary freed at once and a "
              f"{small[0]}-{small[1]}-byte block, ~{keep} kept (seed {seed})")
    kept = []
    for r in range(rounds):
        t.alloc(2 * r, rng.randint(*temp), tag="temp")
        t.alloc(2 * r + 1, rng.randint(*small), tag="kept")
        kept.append(2 * r + 1)
        t.free(2 * r)
        if len(kept) > keep:
            t.free(kept.pop(rng.randrange(len(kept))))
    return t


SCENARIOS = {
    "swiss-cheese": swiss_cheese,
    "image-task": image_task,
    "churn": churn,
    "varying-churn": varying_churn,
    "random": random_trace,
}


def names():
    return list(SCENARIOS)


def get(name, **params):
    key = name.strip().lower().replace("_", "-")
    if key not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return SCENARIOS[key](**params)
