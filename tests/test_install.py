"""pyfrag installed as a user installs it, and the set-up script's failure message.

Owns: `pip install '<repo>[real]'` into a fresh virtual environment, then from
a directory outside the repository `python -m pyfrag real ... --module
c-dlmalloc`, `run --like c-dlmalloc` and `python -m pyfrag list` reach the
real modules the wheel carries; `list` says why when it cannot list them; tests/run.py explains a pip
that refuses to install instead of printing a traceback.

The venv is a plain one (no system site-packages), so nothing from this
checkout or this machine's Python can stand in for what the wheel carries;
pip takes wasmtime and the build backend from its local cache when it has
them.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import venv

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean_env():
    env = dict(os.environ)
    for key in ("PYFRAG_MANIFEST", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv holding pyfrag[real], a directory outside the repo)."""
    where = tmp_path_factory.mktemp("install")
    venv.create(where / "venv", with_pip=True)
    python = str(where / "venv" / "bin" / "python")
    elsewhere = where / "elsewhere"
    elsewhere.mkdir()
    # setuptools builds inside the tree (build/lib, build/bdist.*, pyfrag.egg-info);
    # what it adds there is removed again, so no stale build/lib can slip removed
    # files into a later wheel. Other things in build/ (other tests' caches) stay.
    build = os.path.join(ROOT, "build")
    before = set(os.listdir(build)) if os.path.isdir(build) else None
    egg_info = os.path.join(ROOT, "pyfrag.egg-info")
    had_egg_info = os.path.exists(egg_info)
    try:
        res = subprocess.run([python, "-m", "pip", "install", "-q", f"{ROOT}[real]"],
                             cwd=elsewhere, env=clean_env(), capture_output=True, text=True,
                             timeout=600)
    finally:
        if not had_egg_info:
            shutil.rmtree(egg_info, ignore_errors=True)
        if before is None:
            shutil.rmtree(build, ignore_errors=True)
        elif os.path.isdir(build):
            for name in set(os.listdir(build)) - before:
                shutil.rmtree(os.path.join(build, name), ignore_errors=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return python, elsewhere


def run_in(installed, *args):
    python, elsewhere = installed
    return subprocess.run([python, *args], cwd=elsewhere, env=clean_env(),
                          capture_output=True, text=True, timeout=300)


def test_the_venv_imports_the_installed_copy(installed):
    r = run_in(installed, "-c", "import pyfrag, pyfrag.modules as m; "
                                "print(pyfrag.__file__); print(m.manifest_path())")
    assert r.returncode == 0, r.stderr
    package, manifest = r.stdout.split()
    venv_dir = os.path.dirname(os.path.dirname(installed[0]))
    assert package.startswith(venv_dir) and not package.startswith(ROOT)
    assert manifest == os.path.join(os.path.dirname(package), "wasm_modules", "manifest.json")


def test_real_module_runs_from_another_directory(installed):
    r = run_in(installed, "-m", "pyfrag", "real", "swiss-cheese", "--module", "c-dlmalloc")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("swiss-cheese on c-dlmalloc: 3001 events")
    assert "live_bytes() " in r.stdout        # the module itself answered


def test_run_like_a_real_module_from_another_directory(installed):
    r = run_in(installed, "-m", "pyfrag", "run", "swiss-cheese", "--like", "c-dlmalloc")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("swiss-cheese on dlmalloc: 3001 events")


def test_list_shows_the_real_modules(installed):
    from pyfrag.modules import manifest
    r = run_in(installed, "-m", "pyfrag", "list")
    assert r.returncode == 0, r.stderr
    section = r.stdout.split("real modules:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in section] == [e["name"] for e in manifest()]


def pyfrag_list(code="", env=None):
    return subprocess.run([sys.executable, "-c", code + "from pyfrag.cli import main; "
                           "raise SystemExit(main(['list']))"],
                          capture_output=True, text=True, env=env, cwd=ROOT)


def test_list_says_why_without_a_manifest(tmp_path):
    missing = tmp_path / "nowhere" / "manifest.json"
    r = pyfrag_list(env={**os.environ, "PYFRAG_MANIFEST": str(missing)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(f"real modules:\n  none listed: no module manifest at "
                             f"{missing} (from PYFRAG_MANIFEST)\n")


def test_list_says_why_without_wasmtime():
    # a None entry in sys.modules makes the import system report wasmtime as absent
    r = pyfrag_list("import sys; sys.modules['wasmtime'] = None; ")
    assert r.returncode == 0, r.stderr
    assert ("real modules:\n  (replaying them needs wasmtime, which is not installed: "
            "pip install 'pyfrag[real]')\n  c-dlmalloc ") in r.stdout


def load_run_py():
    spec = importlib.util.spec_from_file_location("run_tests", os.path.join(ROOT, "tests",
                                                                            "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("pip_says,expected", [
    ("error: externally-managed-environment\n\nThis environment is externally managed",
     "pip refused to install into this Python, which the system manages"),
    ("/usr/bin/python3: No module named pip", "this Python has no pip"),
])
def test_run_py_explains_a_refusing_pip(pip_says, expected):
    fake_pip = [sys.executable, "-c",
                f"import sys; sys.stderr.write({pip_says!r}); sys.exit(1)"]
    message = load_run_py().install(fake_pip)
    assert message.startswith(f"tests/run.py: {expected}")
    assert "python3 -m venv .venv" in message and "Traceback" not in message


def test_run_py_passes_other_pip_errors_on():
    fake_pip = [sys.executable, "-c", "import sys; sys.stderr.write('ERROR: no network'); "
                                      "sys.exit(1)"]
    message = load_run_py().install(fake_pip)
    assert message.startswith("pip could not install") and "ERROR: no network" in message
