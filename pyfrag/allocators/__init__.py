"""The allocator registry: model names to the module that implements them.

Main entry point: `get(name)` returns the model class. Modules are imported on
first use so `pyfrag list` and start-up stay cheap. To add a model, write its
module (one allocator per file, with a `check()` of its invariants) and add a
line to MODELS.
"""

import importlib

from .base import Allocator

# name -> "module:Class" inside this package
MODELS = {
    "bump": "bump:Bump",
    "dlmalloc": "dlmalloc:Dlmalloc",
    "rust-dlmalloc": "dlmalloc:RustDlmalloc",
    "emscripten-dlmalloc": "dlmalloc:EmscriptenDlmalloc",
    "zig-wasm": "zig_wasm:ZigWasm",
    "zig-libc": "zig_libc:ZigLibc",
    "emmalloc": "emmalloc:Emmalloc",
    "as-tlsf": "as_tlsf:AsTlsf",
    "as-stub": "as_stub:AsStub",
    "wee-alloc": "wee_alloc:WeeAlloc",
    "mimalloc": "mimalloc:Mimalloc",
    "talc": "talc:Talc",
    "lol-alloc": "lol_alloc:LolAlloc",
    "lol-alloc-leaking": "lol_alloc:LolAllocLeaking",
    "rlsf": "rlsf:Rlsf",
    "rlsf-global": "rlsf:RlsfGlobal",
    "first-fit": "freelist:FirstFit",
    "best-fit": "freelist:BestFit",
    "next-fit": "freelist:NextFit",
    "first-fit-nocoalesce": "freelist:FirstFitNoCoalesce",
    "best-fit-nocoalesce": "freelist:BestFitNoCoalesce",
    "next-fit-nocoalesce": "freelist:NextFitNoCoalesce",
    "buddy": "buddy:Buddy",
    "arena": "arena:Arena",
    "pool": "pool:Pool",
    "hot-cold": "hotcold:HotCold",
}


class UnknownAllocator(ValueError):
    pass


def names():
    return list(MODELS)


def get(name):
    """The model class registered as `name` (case and '_'/'-' insensitive).

    "strategy:parent" (e.g. "arena:dlmalloc", nesting allowed) puts a strategy
    model from layered.py on the parent model of that name."""
    key, _, parent = str(name).strip().lower().replace("_", "-").partition(":")
    if key not in MODELS:
        raise UnknownAllocator(
            f"unknown allocator {name!r}; known: {', '.join(MODELS)}")
    module, _, cls = MODELS[key].partition(":")
    model = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    if not parent:
        return model
    if not hasattr(model, "over"):
        raise UnknownAllocator(f"allocator {key!r} does not sit on a parent: {name!r}")
    return model.over(parent)


__all__ = ["Allocator", "UnknownAllocator", "MODELS", "get", "names"]
