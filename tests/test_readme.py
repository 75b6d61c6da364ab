"""The README's examples run as written and print what the README shows.

Owns three kinds of example:

- Python blocks run as they are; the comment lines right after a line that
  prints are that output (a wrapped line goes on over several comments).
- Shell blocks that show output: each command (a line starting with `python`)
  followed by lines starting with "# " runs, from a scratch folder holding
  links to the repository's tests/ and benchmarks/, and its output (stdout and
  stderr) holds those lines, in that order. A figure marked `~` depends on
  the machine or its toolchain and matches any number. The other commands of
  such a block run too, in order (a recording, then its check); a block whose
  tools are missing here (valgrind, clang-14, Debian's rustc, wasmtime) skips.
- The table of the article's pattern on the real modules: each row is what
  `pyfrag real swiss-cheese --module M` gives (module size, memory after the
  pattern, where the 500 KiB block landed).
"""

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
TEXT = open(README, encoding="utf-8").read()
# what a missing tool looks like in a command's output: the block cannot run here
MISSING = ("valgrind not found", "ToolchainMissing", "build.py: needs",
           "needs the optional dependency wasmtime", "needs Binaryen")


def blocks(language):
    """(line number, text) of every ``` block in that language, indented ones too."""
    out = []
    for m in re.finditer(rf"^( *)```{language}\n(.*?)^\1```", TEXT, re.M | re.S):
        indent = len(m.group(1))
        body = "".join(line[indent:] for line in m.group(2).splitlines(keepends=True))
        out.append((TEXT.count("\n", 0, m.start()) + 1, body))
    return out


def shown(body):
    """[(command, [output lines shown])] of a shell block; continued lines joined."""
    steps = []
    for line in body.replace("\\\n", " ").splitlines():
        if line.startswith("# "):
            steps[-1][1].append(line[2:])
        elif line.strip():
            steps.append((line, []))
    return steps


def pattern(claim):
    """A shown output line as a regex: `~` before a number matches any number."""
    parts = re.split(r"~[\d.,]*\d", claim)
    return r"~?[\d.,]+".join(map(re.escape, parts))   # the output may print its own ~


def holds(output, claims):
    """Whether the lines of `output` hold `claims`, in order."""
    lines = iter(line.rstrip() for line in output.splitlines())
    return all(any(re.fullmatch(pattern(c.rstrip()), line) for line in lines) for c in claims)


SHELL = [(n, body) for n, body in blocks("sh") if any(claims for _, claims in shown(body))]


def test_the_readme_shows_commands_with_their_output():
    assert len(SHELL) >= 5


@pytest.mark.parametrize("line,body", SHELL, ids=[f"README.md:{n}" for n, _ in SHELL])
def test_shell_example_prints_what_it_shows(line, body, tmp_path):
    for name in ("tests", "benchmarks"):
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    env = dict(os.environ, PYTHONPATH=ROOT)
    for command, claims in shown(body):
        argv = shlex.split(command, comments=True)
        assert argv[0] == "python", f"README.md:{line}: not a python command: {command}"
        done = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        output = done.stdout + done.stderr
        if any(m in output for m in MISSING):
            pytest.skip(f"README.md:{line}: a tool is missing here: {output.strip()[-200:]}")
        assert holds(output, claims), f"README.md:{line}: {command}\nshows:\n" + \
            "\n".join(claims) + "\nprinted:\n" + output


def test_a_shown_line_matches_loosely_only_where_marked():
    assert holds("recorded 431 events in 1.02 s\n", ["recorded ~427 events in ~0.85 s"])
    assert not holds("recorded 431 events in 1.02 s\n", ["recorded 427 events in ~0.85 s"])
    assert not holds("b\na\n", ["a", "b"])                 # in order


def test_quick_start_runs_and_prints_what_it_claims():
    python = blocks("python")
    assert python
    for line, code in python:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
        printed = " ".join(out.getvalue().split())
        claims, lines = [], code.splitlines()
        for k, text in enumerate(lines):
            if "print(" in text:
                comments = []
                for after in lines[k + 1:]:
                    if not after.startswith("# "):
                        break
                    comments.append(after[2:])
                if comments:
                    claims.append(" ".join(" ".join(comments).split()))
        assert claims, f"README.md:{line}: no output shown"
        for claim in claims:
            assert claim in printed, f"README.md:{line}: {claim!r} not in {printed!r}"


def test_the_real_modules_table_is_what_real_prints():
    pytest.importorskip("wasmtime")
    from pyfrag import scenarios
    from pyfrag.modules import find
    from pyfrag.real import replay_real
    table = TEXT.split("`python -m pyfrag real swiss-cheese --module M`:", 1)[1]
    rows = re.findall(r"^\| ([\w-]+) \| [^|]+ \| ([\d,]+) \| ([\d,]+) \| (0x[0-9a-f]+) \|$",
                      table.split("\n\n", 2)[1], re.M)
    assert len(rows) == 11
    trace = scenarios.swiss_cheese()
    for name, size, memory, landed in rows:
        run = replay_real(trace, name)
        assert (int(size.replace(",", "")), run.heap_bytes[-1], hex(run.addresses[-1])) == \
            (find(name)["bytes"], int(memory.replace(",", "")), landed), name


def test_docstring_examples_run():
    import doctest
    import importlib
    for name in ("pyfrag", "pyfrag.heap", "pyfrag.scenarios"):
        result = doctest.testmod(importlib.import_module(name))
        assert result.attempted and not result.failed, name
