"""Fuzz every trace reader and the converter: generated inputs, no traceback allowed.

    python benchmarks/fuzz.py                     # 100,000 generated inputs
    python benchmarks/fuzz.py --inputs 5000 --seed 3

Main entry points: `run(inputs, seed) -> Tally`, and `strategy(generator)`,
which turns the same generators (`gen_trace`, `gen_valid_trace`, `gen_mutated`)
into hypothesis strategies for tests/test_fuzz.py's short slice: the budget
run draws its choices from a seeded random source, which is what makes
100,000 inputs affordable. Each input is one of:

- a round trip: a generated trace (hostile tags, names, descriptions, maxima)
  written in a format and read back: the same events, tags and names (rep
  keeps events only, with its own ids; valgrind logs are rendered from the
  trace the way valgrind prints them, large-block and realloc(NULL) forms
  included, and must read back as the same calls);
- a mutation: a valid file of any format with random edits (cut, doubled and
  swapped lines, nasty tokens, 5000-digit numbers, deep nesting, lone
  surrogates) read with its format or by detection: it must give a trace or a
  TraceError, and a trace it gives must survive the converter (written as
  pyfrag and JSON lines and read back the same).

Anything else raised is a traceback. Prints inputs tried, tracebacks (the
first few, with their input) and the time taken.
"""

import argparse
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a checkout

from hypothesis import strategies as st  # noqa: E402

from pyfrag.trace import ALLOC, FREE, Trace, TraceError, dumps, loads  # noqa: E402

WRITABLE = ("pyfrag", "jsonl", "rep")
FORMATS = WRITABLE + ("valgrind",)
STRINGS = ["", " ", "x y", "x\na 3 999999", '"', '"q"', "tag=x", "a=b", "#", "\u2028", "\x85",
           "\ud800", "\t", "{}", "[", "--1-- malloc(1) = 0x10", " 2gib", "trace"]
MAXIMA = [None, 1, 20, 65536, "512mib", "2gib", "4gib", "wasm32", "64kib"]
NASTY = ["\n", " ", "{", "}", "[", "]", '"', "=", ":", ",", "-", "0x", "#", "a ", "f ", "r ",
         "tag=", 'tag="', "align=", "\\u", "\\ud800", "\ud800", "\x00", "9" * 5000,
         "[" * 5000, "-1", "0", "# maximum: ", '"maximum": ', "--1-- ", "--2-- ", " = 0x10",
         "realloc(0x0,8)", "free(", "memalign(al ", "Warning: ", "==1== ", "\u2028"]


# -- two sources of choices, one set of generators ------------------------------------

class Seeded:
    """Choices from a seeded random.Random: fast, for the large budget."""

    def __init__(self, seed):
        import random
        self.r = random.Random(seed)

    def int(self, lo, hi):
        return self.r.randint(lo, hi)

    def pick(self, seq):
        return self.r.choice(seq)

    def text(self, n):
        # any code point, lone surrogates included (a JSON line can carry them)
        return "".join(chr(self.r.choice((self.r.randint(32, 126), self.r.randint(0, 31),
                                          self.r.randint(0, 0x10FFFF))))
                       for _ in range(self.r.randint(0, n)))


class Drawn:
    """Choices drawn by hypothesis: shrinkable, for the test suite."""

    def __init__(self, draw):
        self.draw = draw

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def pick(self, seq):
        return self.draw(st.sampled_from(seq))

    def text(self, n):
        return self.draw(st.text(st.characters(codec=None, exclude_categories=()), max_size=n))


def hostile_text(src):
    return src.pick(STRINGS) if src.int(0, 1) else src.text(12)


def gen_trace(src, max_events=12):
    """A trace of any shape (frees of unknown ids, reused ids) with hostile strings."""
    t = Trace(hostile_text(src), hostile_text(src), src.pick(MAXIMA))
    for _ in range(src.int(1, max_events)):
        op = src.pick((ALLOC, ALLOC, FREE, 2))
        id = src.int(-(1 << 63), (1 << 63) - 1) if src.int(0, 3) == 0 else src.int(0, 5)
        if op == FREE:
            t.free(id)
            continue
        size = src.int(0, (1 << 48) - 1) if src.int(0, 3) == 0 else src.int(0, 4096)
        tag = hostile_text(src) if src.int(0, 1) else None
        if op == ALLOC:
            t.alloc(id, size, src.pick([0, 0, 1, 8, 64, 1 << 20, 1 << 40]), tag)
        else:
            t.realloc(id, size, tag)
    return t


def gen_valid_trace(src, max_events=12):
    """A trace a program could have made: frees and reallocs of live blocks only."""
    t, live, next_id = Trace(), [], 0
    for _ in range(src.int(1, max_events)):
        choice = src.int(0, 3) if live else 0
        if choice == 0:
            t.alloc(next_id, src.int(1, 1 << 30), src.pick([0, 0, 0, 16, 64, 4096]))
            live.append(next_id)
            next_id += 1
        elif choice == 1:
            t.realloc(live[src.int(0, len(live) - 1)], src.int(1, 1 << 29))
        else:
            t.free(live.pop(src.int(0, len(live) - 1)))
    return t


def valgrind_log(trace, pid=4242):
    """`trace` as valgrind --trace-malloc=yes prints it (the trace must be valid: frees
    and reallocs of live ids only), with the forms valgrind uses for large blocks
    and realloc of NULL. Returns (log, the calls it holds as (op, size, align))."""
    live, lines, calls, next_addr = {}, [], [], 0x4A40000
    for e in trace:
        if e.op == FREE:
            lines.append(f"--{pid}-- free(0x{live.pop(e.id):X})")
            calls.append((FREE, 0, 0))
            continue
        next_addr += 16 * (1 + (e.size >> 20))
        addr = next_addr
        if e.op == ALLOC:
            call = (f"memalign(al {e.align}, size {e.size})" if e.align else
                    f"realloc(0x0,{e.size})malloc({e.size})" if e.size % 3 == 0 else
                    f"malloc({e.size})")
        else:
            call = f"realloc(0x{live.pop(e.id):X},{e.size})"
        if e.size >= 256 << 20:               # valgrind splits the line of a large block
            lines.append(f"--{pid}-- {call}Warning: set address range perms: large range "
                         f"[0x{addr:x}, 0x{addr + e.size:x}) (undefined)")
            lines.append(f"--{pid}--  = 0x{addr:X}")
        else:
            lines.append(f"--{pid}-- {call} = 0x{addr:X}")
        live[e.id] = addr
        calls.append((e.op, e.size, e.align))
    return "==4242== Memcheck, a memory error detector\n" + "\n".join(lines) + "\n", calls


def gen_valid_file(src):
    """(format, text) of a file pyfrag reads, in every format."""
    fmt = src.pick(FORMATS)
    if fmt == "valgrind":
        return fmt, valgrind_log(gen_valid_trace(src))[0]
    return fmt, dumps(gen_trace(src), fmt)


def gen_mutated(src):
    """(format, or None for detection; text): a valid file after random edits."""
    fmt, text = gen_valid_file(src)
    for _ in range(src.int(1, 4)):
        kind = src.int(0, 4)
        pos = src.int(0, len(text))
        if kind == 0:
            text = text[:pos] + text[pos + src.int(1, 40):]
        elif kind == 1:
            text = text[:pos] + src.pick(NASTY) + text[pos:]
        elif kind == 2:
            text = text[:pos] + src.text(8) + text[pos:]
        else:
            lines = text.splitlines(keepends=True) or [""]
            i, j = src.int(0, len(lines) - 1), src.int(0, len(lines) - 1)
            if kind == 3:
                lines.insert(j, lines[i])             # a doubled line
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return src.pick([fmt, None]), text


def strategy(generator):
    """A hypothesis strategy drawing through `generator`."""
    return st.composite(lambda draw: generator(Drawn(draw)))()


# -- the checks --------------------------------------------------------------------

def same_header(a, b):
    return (a.name, a.description, a.maximum) == (b.name, b.description, b.maximum)


def check_round_trip(trace, fmt):
    """Write `trace` in `fmt` and read it back: nothing lost that the format keeps.
    The writer may refuse (TraceError) a string JSON cannot give back; nothing else."""
    try:
        text = dumps(trace, fmt)
    except TraceError as e:
        assert "cannot be written" in str(e), e
        return
    back = loads(text, fmt)
    if fmt == "rep":
        assert list(back.ops) == list(trace.ops) and list(back.sizes) == list(trace.sizes)
        pairs = set(zip(trace.ids, back.ids))    # one block id each way within a lifetime
        assert len({a for a, _ in pairs}) <= len(pairs)
    else:
        assert list(back) == list(trace), (fmt, list(back)[:3], list(trace)[:3])
        assert same_header(back, trace), (fmt, back.name, trace.name)


def check_valgrind(trace):
    log, calls = valgrind_log(trace)
    back = loads(log, "valgrind")
    assert [(e.op, e.size, e.align) for e in back] == calls and back.skipped == 1


def check_read(fmt, text):
    """Read hostile text: a TraceError is fine; a trace must survive the converter."""
    try:
        trace = loads(text, fmt)
    except TraceError:
        return
    for out in ("pyfrag", "jsonl"):
        check_round_trip(trace, out)
    dumps(trace, "rep")


@dataclass
class Tally:
    inputs: int = 0
    tracebacks: int = 0
    first: list = field(default_factory=list)     # (input, traceback text) of the first few

    def one(self, check, *args):
        self.inputs += 1
        try:
            check(*args)
        except Exception:
            self.tracebacks += 1
            if len(self.first) < 5:
                self.first.append((repr(args)[:300], traceback.format_exc(limit=4)))


def run(inputs, seed=0):
    """`inputs` generated inputs: a third round trips, two thirds mutated files."""
    src, tally = Seeded(seed), Tally()
    for _ in range(inputs):
        k = src.int(0, 5)
        if k == 0:
            tally.one(check_round_trip, gen_trace(src), src.pick(WRITABLE))
        elif k == 1:
            tally.one(check_valgrind, gen_valid_trace(src))
        else:
            tally.one(check_read, *gen_mutated(src))
    return tally


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    start = time.perf_counter()
    tally = run(args.inputs, args.seed)
    took = time.perf_counter() - start
    print(f"inputs tried  {tally.inputs}")
    print(f"tracebacks    {tally.tracebacks}")
    print(f"time          {took:.1f} s ({tally.inputs / took:.0f} inputs/s)")
    for text, tb in tally.first:
        print(f"\n--- input {text}\n{tb}")
    return 1 if tally.tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
