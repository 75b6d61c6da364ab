"""The allocator registry: model names to the module that implements them.

Main entry point: `get(name)` returns the model class. Modules are imported on
first use so `pyfrag list` and start-up stay cheap. To add a model, write its
module (one allocator per file, with a `check()` of its invariants) and add a
line to MODELS.
"""

# >>> COORDINATION NOTE from the lead (delete once read by both): the "generic
# allocator family" task was started twice by mistake. Split it like this:
#  - the engineer whose brief says "about 120 minutes of wall time" owns the
#    free-list family (freelist.py: first/best/next-fit +/- coalescing), buddy.py,
#    tests/test_allocators.py and the free-list performance target;
#  - the engineer whose brief says "about 110 minutes of wall time" owns arena.py,
#    pool.py, hotcold.py, tests/test_strategies.py and tests/test_properties.py
#    (the hypothesis properties over every registered model).
# Do not edit the other's files. <<<


import importlib

from .base import Allocator

# name -> "module:Class" inside this package
MODELS = {
    "bump": "bump:Bump",
    "zig-wasm": "zig_wasm:ZigWasm",
    "zig-libc": "zig_libc:ZigLibc",
    "emmalloc": "emmalloc:Emmalloc",
    "as-tlsf": "as_tlsf:AsTlsf",
    "as-stub": "as_stub:AsStub",
    "wee-alloc": "wee_alloc:WeeAlloc",
    "first-fit": "freelist:FirstFit",
    "best-fit": "freelist:BestFit",
    "next-fit": "freelist:NextFit",
    "first-fit-nocoalesce": "freelist:FirstFitNoCoalesce",
    "best-fit-nocoalesce": "freelist:BestFitNoCoalesce",
    "next-fit-nocoalesce": "freelist:NextFitNoCoalesce",
}


class UnknownAllocator(ValueError):
    pass


def names():
    return list(MODELS)


def get(name):
    """The model class registered as `name` (case and '_'/'-' insensitive)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS:
        raise UnknownAllocator(
            f"unknown allocator {name!r}; known: {', '.join(MODELS)}")
    module, _, cls = MODELS[key].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


__all__ = ["Allocator", "UnknownAllocator", "MODELS", "get", "names"]
