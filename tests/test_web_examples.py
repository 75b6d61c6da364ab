"""The playground's examples (web/examples/*.py) run under CPython against the current pyfrag, with
`show()` standing in for the page's (a replay in the start state of the page's default module), so an
API change that would break an example in the browser fails here first."""

from pathlib import Path

import pytest

import pyfrag
from pyfrag import replay

EXAMPLES = sorted((Path(__file__).parent.parent / "web" / "examples").glob("*.py"))


def fake_show(shown):
    def show(x, module=None, label=None, allocator=None):
        if isinstance(x, pyfrag.Run):
            run = x
        elif allocator:
            run = replay(x, allocator)
        else:
            run = replay(x, like=module or "c-dlmalloc")
        shown.append((label, run))
        return run
    return show


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_and_shows(path, capsys):
    shown = []
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"),
         {"__name__": "__main__", "show": fake_show(shown), "pyfrag": pyfrag})
    assert shown, f"{path.name} never calls show()"
    assert capsys.readouterr().out.strip(), f"{path.name} prints nothing"


def test_the_default_example_is_there():
    assert "swiss-cheese" in {p.stem for p in EXAMPLES}
