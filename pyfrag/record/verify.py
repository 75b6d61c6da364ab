"""Check a recorded trace against the model of the allocator that produced it.

Main entry point: `verify(trace, allocator=None) -> Verdict`. The trace is
replayed on the model (the recording's guessed allocator unless one is named)
started like the app (its heap base, initial pages and maximum), and each
event's address and memory size are compared with what the app saw; the
first difference is the verdict, or "all N events identical".
"""

from dataclasses import dataclass

from ..trace.model import FREE, OP_NAMES


class NotRecorded(ValueError):
    pass


@dataclass
class Verdict:
    events: int
    allocator: str
    start: dict
    index: int | None = None     # first differing event, None when all agree
    detail: str = ""
    checks: int | None = None    # invariant checks the replay passed (`check`), None if off

    @property
    def identical(self):
        return self.index is None

    def describe(self):
        start = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.start.items())
        head = f"replayed on {self.allocator}" + (f" from {start}" if start else "")
        if self.identical:
            return f"{head}: all {self.events} events identical"
        return f"{head}: first difference at {self.detail}"


def verify(trace, allocator=None, check=None, **start):
    """Replay `trace` on `allocator` (default: the recording's) from the recorded start
    state, or from `start` (heap_base, initial_pages) where given, and compare. `check`:
    as replay's (the model's invariants every N events)."""
    rec = trace.recorded
    if rec is None:
        raise NotRecorded(f"{trace.source or trace.name} is not a recording: it has no "
                          "addr=/mem= fields (record one with pyfrag record)")
    allocator = allocator or rec.allocator
    if not allocator:
        raise NotRecorded(f"{trace.source or trace.name}: the recording names no allocator "
                          "(none was recognised in the module); pass --allocator")
    start = {**rec.start(), **{k: v for k, v in start.items() if v is not None}}
    run = trace.replay(allocator, check=check, **start)
    verdict = Verdict(len(trace), run.allocator, start, checks=run.checks)
    for i, op in enumerate(trace.ops):
        got, want = run.addresses[i], rec.addresses[i]
        if op != FREE and got != want:
            what = f"address {_hex(want)} recorded, {_hex(got)} on the model"
        elif run.heap_bytes[i] != rec.memory_bytes[i]:
            what = (f"memory {rec.memory_bytes[i]} bytes recorded, "
                    f"{run.heap_bytes[i]} on the model")
        else:
            continue
        verdict.index = i
        verdict.detail = f"event {i} ({trace.where(i)}: {OP_NAMES[op]} {trace[i].id}" \
                         f"{'' if op == FREE else ' ' + str(trace.sizes[i])}): {what}"
        break
    return verdict


def _hex(n):
    return f"{n:#x}"
