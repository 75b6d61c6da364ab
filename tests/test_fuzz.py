"""Fuzz the trace readers and the converter (issue 13): hypothesis over benchmarks/fuzz.py.

Owns the short slice CI runs: round trips for every format (tags and names
included; rep keeps events, valgrind logs are rendered the way valgrind prints
them), random mutations of valid files in every format that give a trace or
a TraceError and nothing else, and a small seeded run of the benchmark's own
loop. `python benchmarks/fuzz.py` runs the 100,000-input budget.
"""

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "benchmarks", "fuzz.py")
_spec = importlib.util.spec_from_file_location("pyfrag_fuzz", _PATH)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

SLICE = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("fmt", fuzz.WRITABLE)
@SLICE
@given(trace=fuzz.strategy(fuzz.gen_trace))
def test_write_then_read_gives_the_same_trace(fmt, trace):
    fuzz.check_round_trip(trace, fmt)


@SLICE
@given(trace=fuzz.strategy(fuzz.gen_valid_trace))
def test_valgrind_logs_read_back_as_their_calls(trace):
    fuzz.check_valgrind(trace)


@SLICE
@given(case=fuzz.strategy(fuzz.gen_mutated))
def test_mutated_files_give_a_trace_or_a_trace_error(case):
    fuzz.check_read(*case)


@given(text=st.text(st.characters(codec=None, exclude_categories=()), max_size=200),
       fmt=st.sampled_from([None, *fuzz.FORMATS]))
@SLICE
def test_any_text_gives_a_trace_or_a_trace_error(text, fmt):
    fuzz.check_read(fmt, text)


def test_the_benchmark_loop_finds_no_traceback():
    tally = fuzz.run(2000, seed=1)
    assert tally.inputs == 2000
    assert tally.tracebacks == 0, tally.first


def test_a_reader_crash_is_counted_as_a_traceback(monkeypatch):
    def crash(text, fmt):
        raise KeyError("boom")
    monkeypatch.setattr(fuzz, "loads", crash)
    tally = fuzz.run(50, seed=2)
    assert tally.tracebacks == 50 and "KeyError: 'boom'" in tally.first[0][1]
