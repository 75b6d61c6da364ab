"""Every model against its real module on the shared traces, address by address.

The article's scenarios and seeded random traces (1 B - 1 MiB, random
lifetimes, reallocs, aligned requests where the module exports aligned_alloc)
run on every module of the manifest that names a model. Edge cases of one
allocator family live beside this file, one file per family.
"""

import pytest

from exactness import assert_exact, generated, module_or_skip
from pyfrag import scenarios
from pyfrag.modules import manifest

try:
    MODULES = [e["name"] for e in manifest() if e.get("model")]
except FileNotFoundError:            # no checkout of wasm_modules: nothing to compare with
    MODULES = []


@pytest.mark.parametrize("module", MODULES)
def test_swiss_cheese(module):
    module_or_skip(module)
    assert_exact(scenarios.swiss_cheese(), module)


@pytest.mark.parametrize("module", MODULES)
def test_image_task_fails_at_the_same_requests(module):
    module_or_skip(module)
    sim, real = assert_exact(scenarios.image_task(), module)
    # AssemblyScript's modules trap where the others return 0: the replay ends there
    ends = [real.trap.index] if real.trap else []
    assert sim.failures and [f.index for f in sim.failures] == \
        [f.index for f in real.failures] + ends


@pytest.mark.parametrize("module", MODULES)
def test_churn(module):
    module_or_skip(module)
    assert_exact(scenarios.churn(frames=500, seed=3), module)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("module", MODULES)
def test_random_traces(module, seed):
    assert_exact(generated(module_or_skip(module), 2000, seed), module)


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_sweep_200_traces_of_10000_events(module):
    """The issue's bar: 200 generated traces of 10,000 events each."""
    entry = module_or_skip(module)
    for seed in range(200):
        assert_exact(generated(entry, 10_000, 1000 + seed), module)
