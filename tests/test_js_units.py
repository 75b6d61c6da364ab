"""Runs the playground's JavaScript unit tests (tests/js/*.test.mjs, node's own test runner) under pytest,
so the single test command covers them. Skipped when node is not installed."""

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).parent / "js"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_js_units():
    files = sorted(str(p) for p in TESTS.glob("*.test.mjs"))
    assert files, f"no JavaScript tests in {TESTS}"
    result = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
