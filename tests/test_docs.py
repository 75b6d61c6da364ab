"""The examples in pyfrag's docstrings run, and print what they say: every module of the package
(those that drive real modules only where wasmtime is installed)."""

import doctest
import importlib
import pkgutil

import pytest

import pyfrag

# (pyfrag.__main__ runs the command line when imported)
MODULES = sorted(m.name for m in pkgutil.walk_packages(pyfrag.__path__, "pyfrag.")
                 if m.name != "pyfrag.__main__")


def test_the_public_calls_have_examples():
    from pyfrag import Trace, real, replay, strategies
    for call in (Trace, replay, strategies.periodic_reset, real.replay_real, pyfrag.explain):
        assert ">>>" in call.__doc__, call


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    tests = [t for t in finder.find(module) if t.examples]
    if not tests:
        pytest.skip("no examples")
    if name in ("pyfrag.real",) or "replay_real" in " ".join(e.source for t in tests for e in t.examples):
        pytest.importorskip("wasmtime")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} examples failed in {name}"
