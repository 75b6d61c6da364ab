"""Invariant checks while a replay runs: `replay(trace, model, check=N)` and `pyfrag run --check`.

Owns: every model (and strategy composition) holds its invariants at every event of every
scenario; a strategy's check() reaches the models inside it and catches a piece its parent
lost; a model whose state is corrupted mid-run stops `pyfrag run --check` with exit code 4
and a message naming the event, where it is in the trace file, the model and the invariant
(never a traceback); a check every N events names the events that may have broken it and
counts its checks exactly; without --check the loop never checks; python -O is refused.
"""

import importlib
import subprocess
import sys

import pytest

from pyfrag import Heap, scenarios
from pyfrag.allocators import dlmalloc, freelist, get, names
from pyfrag.allocators.arena import Arena
from pyfrag.allocators.base import Allocator
from pyfrag.allocators.layered import Layered
from pyfrag.cli import main
from pyfrag.cli.commands import BROKEN
from pyfrag.replay import InvariantBroken, replay
from pyfrag.record import TraceBuilder
from pyfrag.strategies import periodic_reset
from pyfrag.trace import ALLOC, FREE, Trace, dump, load
from pyfrag.trace.recording import Recording

replay_module = importlib.import_module("pyfrag.replay")   # (pyfrag.replay is also the function)

MODELS = names() + ["arena:bump", "pool:dlmalloc", "hot-cold:best-fit", "hot-cold:arena",
                    "arena:pool:wee-alloc"]

# every scenario, small enough to check at every event
SMALL = {
    "swiss-cheese": dict(rounds=30),
    "image-task": dict(images=12, keep=5),
    "churn": dict(frames=15),
    "varying-churn": dict(rounds=150),
    "random": dict(events=400, align_rate=0.2, realloc_rate=0.2),
}


def test_every_scenario_is_covered():
    assert set(SMALL) == set(scenarios.SCENARIOS)


@pytest.fixture(scope="module")
def traces():
    return {name: scenarios.get(name, **params) for name, params in SMALL.items()}


@pytest.mark.parametrize("model", MODELS)
def test_every_model_holds_its_invariants_at_every_event_of_every_scenario(model, traces):
    for name, trace in traces.items():
        run = replay(trace, model, check=1)
        assert run.checks == len(trace), (name, run.checks)


@pytest.mark.parametrize("name", names())
def test_every_registered_model_has_a_check_of_its_own(name):
    assert get(name).check is not Allocator.check, f"{name} checks nothing"


# -- strategies check what they sit on ---------------------------------------------------

@pytest.mark.parametrize("name", ["arena:dlmalloc", "pool:first-fit", "hot-cold:bump",
                                  "hot-cold:arena:bump"])
def test_a_strategy_checks_the_models_inside_it(name, monkeypatch):
    heap = Heap(name)
    for size in (24, 300, 5000, 100_000):           # small ones reach hot-cold's sub-heap
        assert heap.malloc(size, tag="temp")
    called = []
    inner = [heap.allocator.parent] + [m for m in [getattr(heap.allocator, "hot", None)] if m]
    inner += [m.parent for m in inner if isinstance(m, Layered)]
    for model in inner:                             # spies that check on as before
        monkeypatch.setattr(model, "check", lambda model=model, check=model.check:
                            (called.append(model), check())[1])
    heap.check()
    assert called and set(map(id, called)) == set(map(id, inner))


@pytest.mark.parametrize("name,piece", [
    ("arena:first-fit", lambda a: a.region.chunks[0][0]),
    ("pool:best-fit", lambda a: a.slabs[0][0]),
    ("hot-cold:first-fit", lambda a: a.block),
])
def test_a_strategy_catches_a_piece_its_parent_no_longer_holds(name, piece):
    heap = Heap(name)
    heap.malloc(40, tag="temp")
    heap.check()
    heap.allocator.parent.free(piece(heap.allocator))     # behind the strategy's back
    with pytest.raises(AssertionError, match="is not a block .* holds as used"):
        heap.check()


def test_the_heap_check_catches_live_blocks_that_overlap():
    heap = Heap("first-fit")
    p = heap.malloc(64)
    heap.check()
    heap.blocks[p + 8] = 8                  # a second live block inside the first
    with pytest.raises(AssertionError, match="overlaps the one before it"):
        heap.check()


# -- a broken model stops the run ----------------------------------------------------------

def after_call(monkeypatch, cls, method, k, damage):
    """Make `cls.method` apply `damage(self, result)` after its k-th call."""
    original = getattr(cls, method)
    calls = [0]

    def wrapped(self, *args):
        result = original(self, *args)
        calls[0] += 1
        if calls[0] == k:
            result = damage(self, result) or result
        return result
    monkeypatch.setattr(cls, method, wrapped)


def nth(trace, op, k):
    """The index of the k-th event of kind `op` (1-based)."""
    return [i for i, o in enumerate(trace.ops) if o == op][k - 1]


def flip_smallmap(a, _):
    a.smallmap ^= 1 << 3                    # a bin marked empty/full that is not


def mark_wrong_class(a, _):
    hole = next(b for b, _, used in a.blocks.blocks() if not used)
    k, i = a.blocks.locate(hole)
    a.blocks.marks[k][i] += 1               # a free block's header: a wrong size class


def free_a_chunk_in_the_parent(a, _):
    a.parent.free(a.region.chunks[0][0])


CORRUPTIONS = [
    # model, method whose k-th call corrupts, the damage, the invariant's words
    ("dlmalloc", dlmalloc.Dlmalloc, "free", flip_smallmap, "smallmap bit 3 is wrong"),
    ("first-fit", freelist.Merging, "free", mark_wrong_class, ""),
    ("arena:first-fit", Arena, "free", free_a_chunk_in_the_parent,
     "is not a block first-fit holds as used"),
]


@pytest.mark.parametrize("model,cls,method,damage,words", CORRUPTIONS,
                         ids=[c[0] for c in CORRUPTIONS])
def test_a_corrupted_model_stops_run_check_naming_event_model_and_invariant(
        model, cls, method, damage, words, monkeypatch, tmp_path, capsys):
    trace_file = tmp_path / "cheese.trace"
    dump(scenarios.swiss_cheese(rounds=40), trace_file)
    trace = load(trace_file)
    after_call(monkeypatch, cls, method, 5, damage)
    broken = nth(trace, FREE, 5)
    assert main(["run", str(trace_file), "-a", model, "--check"]) == BROKEN
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith(f"pyfrag run: model {model} broke an invariant after "
                          f"{trace.where(broken)} (event {broken}): ")
    assert words in err.splitlines()[0]
    assert trace.where(broken).startswith(str(trace_file) + ":")


def test_a_check_that_trips_over_a_corrupted_state_is_a_broken_invariant_too(monkeypatch,
                                                                              capsys):
    def check(model):
        raise KeyError(0x408)               # as a walk that follows a link to nowhere
    monkeypatch.setattr(dlmalloc.Dlmalloc, "check", check)
    assert main(["run", "swiss-cheese", "-p", "rounds=3", "--check", "4"]) == BROKEN
    err = capsys.readouterr().err
    assert err.startswith("pyfrag run: model dlmalloc broke an invariant after event 3: its "
                          "check raised KeyError: 1032; checked every 4 events, so one of "
                          "events 0..3 broke it") and "Traceback" not in err


def test_run_verify_checks_a_recording_replay_too(monkeypatch, tmp_path, capsys):
    # a recording of what the dlmalloc model itself returns, as the recording hook writes it
    heap, trace = Heap("dlmalloc"), Trace("recorded")
    trace.recorded = Recording(heap_base=heap.allocator.heap_base,
                               initial_pages=heap.memory.pages, allocator="dlmalloc")
    builder, ptrs = TraceBuilder(trace, trace.recorded), {}
    for e in scenarios.swiss_cheese(rounds=10):
        if e.op == ALLOC:
            ptrs[e.id] = p = heap.malloc(e.size)
            builder.event(ALLOC, e.size, 0, 0, p, heap.memory.pages)
        else:
            heap.free(ptrs[e.id])
            builder.event(FREE, ptrs.pop(e.id), 0, 0, 0, heap.memory.pages)
    dump(trace, tmp_path / "app.trace")
    command = ["run", str(tmp_path / "app.trace"), "--verify", "--check"]
    assert main(command) == 0
    assert f"dlmalloc held its invariants at all {len(trace)} checks" in capsys.readouterr().err
    after_call(monkeypatch, dlmalloc.Dlmalloc, "free", 2, flip_smallmap)
    assert main(command) == BROKEN
    assert f"after {tmp_path / 'app.trace'}:" in capsys.readouterr().err


def test_without_check_the_same_corruption_goes_unnoticed(monkeypatch, capsys):
    after_call(monkeypatch, dlmalloc.Dlmalloc, "free", 5, flip_smallmap)
    assert main(["run", "swiss-cheese", "-p", "rounds=40", "-a", "dlmalloc"]) == 0
    assert "invariant" not in capsys.readouterr().err


def test_a_block_handed_out_twice_is_caught_even_when_the_model_looks_sound(monkeypatch):
    trace = scenarios.swiss_cheese(rounds=20)
    # the 4th malloc returns the 1st one's block, still live, leaving the model's state intact
    first = []
    after_call(monkeypatch, freelist.FreeList, "malloc", 1, lambda a, p: first.append(p))
    after_call(monkeypatch, freelist.FreeList, "malloc", 4, lambda a, p: first[0])
    with pytest.raises(InvariantBroken, match="overlaps the one before it") as e:
        replay(trace, "first-fit", check=1)
    assert e.value.index == nth(trace, ALLOC, 4) and e.value.allocator == "first-fit"


def test_a_check_every_n_events_names_the_events_that_may_have_broken_it(monkeypatch):
    trace = scenarios.swiss_cheese(rounds=40)
    after_call(monkeypatch, dlmalloc.Dlmalloc, "free", 5, flip_smallmap)
    broken = nth(trace, FREE, 5)                        # event 14: found at the check after 19
    with pytest.raises(InvariantBroken) as e:
        replay(trace, "dlmalloc", check=10)
    found = (broken // 10 + 1) * 10 - 1
    assert (e.value.since, e.value.index, e.value.every) == (found - 9, found, 10)
    assert f"one of events {found - 9}..{found} broke it" in str(e.value)


def test_a_reset_run_names_the_event_in_the_whole_trace(monkeypatch):
    trace = scenarios.swiss_cheese(rounds=40)
    after_call(monkeypatch, dlmalloc.Dlmalloc, "free", 30, flip_smallmap)
    broken = nth(trace, FREE, 30)
    assert broken > 50                      # past the first reset: restored events came first
    with pytest.raises(InvariantBroken) as e:
        periodic_reset(trace, "dlmalloc", every=50, check=1)
    assert e.value.index == broken and e.value.where == trace.where(broken)


# -- how often the check runs --------------------------------------------------------------

class Spy:
    def __init__(self, monkeypatch):
        self.calls = 0
        original = dlmalloc.Dlmalloc.check

        def check(model):
            self.calls += 1
            return original(model)
        monkeypatch.setattr(dlmalloc.Dlmalloc, "check", check)
        monkeypatch.setattr(replay_module, "check_blocks", self.no_blocks)

    def no_blocks(self, *args):
        self.calls += 1000                  # the live-block check is the loop's too


@pytest.mark.parametrize("every", [1, 7, 61, 100])
def test_a_checked_replay_checks_every_n_events_and_at_the_end(every, monkeypatch):
    spy = Spy(monkeypatch)
    trace = scenarios.swiss_cheese(rounds=20)           # 61 events
    run = replay(trace, "dlmalloc", check=every)
    expected = len(range(every, len(trace), every)) + 1
    assert run.checks == expected and spy.calls == 1001 * expected


def test_the_default_replay_never_checks(monkeypatch, capsys):
    spy = Spy(monkeypatch)
    trace = scenarios.swiss_cheese(rounds=20)
    assert replay(trace, "dlmalloc").checks is None
    assert replay(trace, "dlmalloc", stop_at_oom=True, pause=([0, 30, 61], print)).checks is None
    assert main(["run", "swiss-cheese", "-p", "rounds=20", "-a", "dlmalloc"]) == 0
    assert spy.calls == 0
    assert "invariants" not in capsys.readouterr().err


def test_run_check_says_how_many_checks_held(capsys):
    assert main(["run", "swiss-cheese", "-p", "rounds=20", "-a", "arena:dlmalloc",
                 "--check", "7"]) == 0
    err = capsys.readouterr().err
    assert "arena:dlmalloc held its invariants at all 9 checks (every 7 events and at the end)" \
        in err


@pytest.mark.parametrize("bad", [0, -3, 2.5, "often"])
def test_replay_refuses_a_check_that_is_not_a_number_of_events(bad):
    with pytest.raises(ValueError, match="whole number of events"):
        replay(scenarios.swiss_cheese(rounds=2), "dlmalloc", check=bad)


def test_check_before_the_source_says_where_to_put_it():
    r = subprocess.run([sys.executable, "-m", "pyfrag", "run", "--check", "swiss-cheese"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "put --check after SOURCE" in r.stderr


def test_python_O_refuses_to_check_rather_than_skip_the_asserts():
    def run(*extra):
        return subprocess.run([sys.executable, "-O", "-m", "pyfrag", "run", "swiss-cheese",
                               "-p", "rounds=5", *extra], capture_output=True, text=True)
    r = run("--check")
    assert r.returncode == 2 and "python -O strips" in r.stderr and "Traceback" not in r.stderr
    assert run().returncode == 0
