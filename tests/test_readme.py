"""The README's Python quick start and the docstring examples run as written."""

import contextlib
import io
import os
import re

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def test_quick_start_runs_and_prints_what_it_claims():
    text = open(README, encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for code in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
        # lines the README shows as output: "# Utilization: ..." right after a print
        claimed = [c.strip()[2:] for c in code.splitlines()
                   if re.match(r"\s*# (Utilization|Wasted)", c)]
        for line in claimed:
            assert line in out.getvalue().splitlines(), line


def test_docstring_examples_run():
    import doctest
    import importlib
    for name in ("pyfrag", "pyfrag.heap", "pyfrag.scenarios"):
        result = doctest.testmod(importlib.import_module(name))
        assert result.attempted and not result.failed, name
