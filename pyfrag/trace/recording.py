"""What a recorded trace keeps of the run it came from: `Recording`.

Main entry point: `Recording`, set as `trace.recorded` by the recorders
(pyfrag.record, web/recorder.js through the pyfrag text format) and by the
text reader. Per event it holds the address the app got back (0 for a free
or a failed request) and the memory size in bytes after the event; once per
trace, the start state the app's allocator began in (heap base, initial
pages; the maximum is the trace's own `maximum`), the module recorded and the
pyfrag model guessed for its allocator. `pyfrag.record.verify` replays a trace from
that start state and compares.
"""

from array import array
from dataclasses import dataclass, field


@dataclass
class Recording:
    addresses: array = field(default_factory=lambda: array("q"))
    memory_bytes: array = field(default_factory=lambda: array("q"))
    heap_base: int | None = None
    initial_pages: int | None = None
    module: str | None = None
    allocator: str | None = None      # pyfrag model name, when one was guessed

    def add(self, address, memory_bytes):
        self.addresses.append(address)
        self.memory_bytes.append(memory_bytes)

    def start(self):
        """Heap options for `Trace.replay` that start a model like the app."""
        return {key: value for key, value in (("heap_base", self.heap_base),
                                              ("initial_pages", self.initial_pages))
                if value is not None}
