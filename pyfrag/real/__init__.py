"""Drive real WebAssembly modules (wasm_modules/) from Python with wasmtime.

Main entry points: `load(name_or_path) -> RealModule` and
`replay_real(trace, module) -> Run`. The room of the package that drives wasmtime: module.py (one
instance, its calls and checks), ticker.py (the time budget and Ctrl-C), runner.py (the replay
inside the module), beside.py (the model replayed beside a module for its verdicts) and
replay.py (which of them a replay takes).

A `RealModule` follows the simulator's Allocator protocol (malloc, free,
realloc, aligned_alloc, heap_base, spans) and its `.memory` follows the
`Memory` shape the replay loop reads (`pages`, `maximum`, `byte_length`), so
`pyfrag.replay.drive` replays a trace on a real module with the very loop that
replays it on a model, and the two `Run`s compare event by event.

wasmtime is an optional dependency (`pip install pyfrag[real]`): it is
imported on first use, never at import time, so the simulator keeps running
where it is missing (Pyodide, a bare CPython).

Failure policy:

- Bad input raises `RealModuleError` naming the module and the cause: not
  wasm, an ABI export missing or of the wrong kind or signature (see
  `SIGNATURES`), an import pyfrag cannot provide, a trap or an endless loop
  while starting (`_initialize`, the start function).
- A malloc/realloc/aligned_alloc that returns 0 is a failed request (an OOM),
  recorded by `drive` in `run.failures`. A request the module cannot even be
  asked (a size or alignment past 2**32 - 1, which would wrap; an alignment
  above what a module without `aligned_alloc` guarantees) fails the same way
  without calling it, as the models fail it.
- A trap is never an OOM. A call that traps raises `ModuleTrap` (a
  `replay.Trapped`): the replay ends at that event and `run.trap` says where
  (`index`, `where` = file:line, `op` = the export, `cause` = the engine's
  message, `timeout` = False). The module's own count is then not asked for
  (`run.reported_live` stays None). `RealModule.traps` keeps every trap seen.
- Every call has a time budget (`call_budget` seconds, CALL_BUDGET unless
  given), enforced by wasmtime's epoch interruption: a call that runs past it
  is stopped and ends the replay the same way, with `run.trap.timeout` True.
  Ctrl-C (SIGINT) stops a running call too and raises KeyboardInterrupt.

The command line (`pyfrag real`) exits 2 when a call is stopped (an endless
loop) and 3 when the module trapped, after printing the summary up to there.
"""

from .module import (ABI, CALL_BUDGET, SIGNATURES, SIZED, ModuleTrap, RealMemory, RealModule,
                     RealModuleError, engine, load, module_limits, trap_cause)
from .replay import replay_real

__all__ = ["ABI", "CALL_BUDGET", "SIGNATURES", "SIZED", "ModuleTrap", "RealMemory", "RealModule",
           "RealModuleError", "engine", "load", "module_limits", "replay_real", "trap_cause"]
