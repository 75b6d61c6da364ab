"""Run every test pyfrag has: `python tests/run.py [pytest options]`.

Installs the test and sweep extras (pytest, pytest-xdist, hypothesis, wasmtime,
Playwright, Dask, pyarrow) with pip when they are missing, then runs pytest over
tests/, a test file to each of up to WORKERS processes (`-n 1` runs them in one):
unit and property tests, fidelity against the committed real modules, sweeps
on a local Dask cluster, Pyodide under Node, and the playground end to end in
Chromium. The browser tests need Debian's `chromium` (or PYFRAG_CHROMIUM
pointing at a Chromium binary) and Node.js.

When pip refuses to install (a system Python marked externally managed, or
one without pip), it says so and how to go on in a virtual environment,
instead of failing with a traceback.
"""

import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDED = ("pytest", "xdist", "hypothesis", "wasmtime", "numpy", "playwright", "pytest_playwright",
          "dask", "distributed", "pyarrow")
# Test files run in parallel, a file to a worker (its fixtures, such as e2e's shared page, stay
# whole): the suite is CPU-bound between Node, wasmtime, Pyodide and Chromium. More workers than
# this mostly add Chromium and Pyodide start-ups.
WORKERS = max(1, min(os.cpu_count() or 1, 4))
VENV_HINT = """\
Run the tests in a virtual environment instead:

    python3 -m venv .venv
    . .venv/bin/activate
    python tests/run.py"""


def install(command):
    """Run a pip command; None when it worked, else a message for the person at the
    terminal that says what went wrong and what to do."""
    res = subprocess.run(command, capture_output=True, text=True)
    if res.returncode == 0:
        return None
    output = res.stdout + res.stderr
    if "externally-managed-environment" in output:
        why = ("pip refused to install into this Python, which the system manages "
               "(externally-managed-environment)")
    elif "No module named pip" in output:
        why = "this Python has no pip"
    else:
        tail = "\n".join(output.strip().splitlines()[-15:])
        return f"pip could not install the test dependencies:\n{tail}"
    return f"tests/run.py: {why}.\n{VENV_HINT}"


def main():
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        print(f"installing test dependencies ({', '.join(missing)} missing)", flush=True)
        problem = install([sys.executable, "-m", "pip", "install", "-q", "-e",
                           f"{ROOT}[test,sweep]"])
        if problem:
            print(problem, file=sys.stderr)
            return 1
    args = sys.argv[1:]
    if not any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args) and WORKERS > 1:
        args = ["-n", str(WORKERS), "--dist", "loadfile", *args]
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
