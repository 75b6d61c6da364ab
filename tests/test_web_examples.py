"""The playground's examples (web/examples/*.py) run under CPython against the current pyfrag, with
`show()` standing in for the page's (a replay in the start state of the page's default module), so an
API change that would break an example in the browser fails here first."""

import re
from pathlib import Path

import pytest

import pyfrag
from pyfrag import replay

WEB = Path(__file__).parent.parent / "web"
EXAMPLES = sorted((WEB / "examples").glob("*.py"))


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
         {"__name__": "__main__", "show": fake_show(shown), "pyfrag": pyfrag,
          "module": "c-dlmalloc"})
    assert shown, f"{path.name} never calls show()"
    assert capsys.readouterr().out.strip(), f"{path.name} prints nothing"


def test_every_menu_entry_has_its_file_and_the_default_dies_of_fragmentation():
    menu = re.findall(r'\{ id: "([\w-]+)"', (WEB / "src" / "examples.js").read_text(encoding="utf-8"))
    assert menu and set(menu) == {p.stem for p in EXAMPLES}
    # the first entry is the page's default: the example that shows the OOM the page is about
    assert menu[0] == "image-task"
    shown = []
    exec(compile((WEB / "examples" / f"{menu[0]}.py").read_text(encoding="utf-8"), menu[0], "exec"),
         {"__name__": "__main__", "show": fake_show(shown), "pyfrag": pyfrag,
          "module": "c-dlmalloc"})
    assert shown[0][1].oom is not None and shown[0][1].oom.kind == "fragmentation"
