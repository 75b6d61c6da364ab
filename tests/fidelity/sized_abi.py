"""Drive modules of the per-call ABI that takes sizes back, call by call, with wasmtime.

Main entry point: `replay_sized(trace, name) -> Run`, the `pyfrag.real.replay_real` of
modules whose `free(ptr, size, align)` and `realloc(ptr, new_size, size, align)` take
each block's requested size and alignment from the caller (src/global_alloc.rs: talc,
lol-alloc, rlsf), until pyfrag.real drives that ABI itself (issue 19). The host keeps
each live block's size and alignment, as the replay loop knows them; the module keeps
no table. Everything else (loading, traps, time budget, memory limit) is
pyfrag.real's `RealModule`, and the replay is pyfrag.replay's own loop.
"""

from pyfrag.real import RealModule, RealModuleError, _resolve
from pyfrag.replay import drive

# the exports whose signatures differ from the table ABI's
SIZED = {"free": (("i32", "i32", "i32"), ()),
         "realloc": (("i32", "i32", "i32", "i32"), ("i32",))}


def is_sized(entry):
    """Whether a manifest entry's module takes sizes back (its wrapper is src/global_alloc.rs)."""
    return entry.get("wrapper", "").startswith("src/global_alloc.rs")


class SizedModule(RealModule):
    """A RealModule whose free and realloc are told each block's size and alignment."""

    def __init__(self, *args, **kwargs):
        self.blocks = {}                # live address -> (requested size, alignment; 0: malloc)
        super().__init__(*args, **kwargs)

    def _check_exports(self, wasmtime, module):
        import pyfrag.real as real
        table_abi = real.SIGNATURES
        real.SIGNATURES = {**table_abi, **SIZED}
        try:
            return super()._check_exports(wasmtime, module)
        finally:
            real.SIGNATURES = table_abi

    def _keep(self, ptr, size, align):
        if ptr:
            self.blocks[ptr] = (size, align)
        return ptr

    def malloc(self, size):
        return self._keep(super().malloc(size), size, 0)

    def aligned_alloc(self, align, size):
        if align > 0xFFFFFFFF:
            return 0
        return self._keep(self._request("aligned_alloc", self._aligned, align, size),
                          size, align)

    def free(self, ptr):
        size, align = self.blocks.pop(ptr)
        self._call("free", self._free, ptr, size, align)

    def realloc(self, ptr, size):
        old, align = self.blocks[ptr]
        new = self._request("realloc", self._realloc, ptr, size, old, align)
        if new:
            del self.blocks[ptr]
            self.blocks[new] = (size, align)
        return new

    @property
    def runs(self):
        return False

    @property
    def batch(self):
        return None


def replay_sized(trace, name, *, call_budget=None):
    """`trace` on a fresh instance of manifest module `name`, one call per event."""
    name, path, entry = _resolve(name)
    if not is_sized(entry):
        raise RealModuleError(f"module {name} does not take sizes back on free")
    module = SizedModule(name, path, entry, limit=trace.maximum, call_budget=call_budget)
    run = drive(trace, module, module.memory, module.name)
    if run.trap is None:
        run.reported_live = module.live_bytes()
    run.module = module
    return run
