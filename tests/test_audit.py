"""The article's audit lines, and the exports-shaped facade."""

import pytest

from pyfrag import Exports, Heap, audit, scenarios
from pyfrag.audit import to_fixed
from pyfrag.memory import PAGE


@pytest.mark.parametrize("x,text", [(0.125, "0.13"), (1.005, "1.00"), (2.5, "2.50"),
                                    (99.999, "100.00"), (0, "0.00"), (12.345, "12.35")])
def test_to_fixed_matches_javascript(x, text):
    # JS: (0.125).toFixed(2) === "0.13", (1.005).toFixed(2) === "1.00" (binary value < 1.005)
    assert to_fixed(x) == text


def test_audit_lines_for_a_heap():
    h = Heap("bump", heap_base=1024, initial_pages=1)
    h.malloc(6553)
    assert audit(h) == f"Utilization: 10.00%\nWasted (Fragmented): {PAGE - 6553} bytes"


def test_facade_looks_like_instance_exports():
    h = Heap("bump", heap_base=1024, initial_pages=1)
    exports = Exports(h)
    h.malloc(1000)
    assert exports.memory.buffer.byteLength == PAGE       # read live, not captured once
    assert exports.get_live_data_size() == exports.live_bytes() == 1000


def test_audit_of_a_run_uses_its_final_state():
    run = scenarios.swiss_cheese(rounds=10).replay("bump")
    m = run.metrics
    assert run.audit().splitlines()[1] == f"Wasted (Fragmented): {m.heap_bytes - m.live_bytes} bytes"


def test_audit_of_something_else_is_a_type_error():
    with pytest.raises(TypeError, match="audit takes a Heap or a Run, not int"):
        audit(42)
