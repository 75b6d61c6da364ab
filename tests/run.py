"""Run every test pyfrag has: `python tests/run.py [pytest options]`.

Installs the test extras (pytest, hypothesis, wasmtime, Playwright) with pip
when they are missing, then runs pytest over tests/: unit and property tests,
fidelity against the committed real modules, Pyodide under Node, and the
playground end to end in Chromium. The browser tests need Debian's
`chromium` (or PYFRAG_CHROMIUM pointing at a Chromium binary) and Node.js.
"""

import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDED = ("pytest", "hypothesis", "wasmtime", "playwright", "pytest_playwright")


def main():
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        print(f"installing test dependencies ({', '.join(missing)} missing)", flush=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e",
                               f"{ROOT}[test]"])
    return subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
