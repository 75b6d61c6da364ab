"""pyfrag inside Pyodide under Node: the playground's Python world without a browser.

Pyodide is the npm package the page uses; pyfrag is the wheel serve.py
prepares and the page installs; everything loads from this machine (the
runner points packageCacheDir at web/dist's Pyodide, so a missing wheel fails
instead of reaching for a CDN). The same probe runs under CPython and the
results must be identical: the simulator runs unchanged in both worlds.
Then pyfrag's own unit tests run inside Pyodide with pytest.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "tests", "node", "run_pyodide.mjs")
PROBE = os.path.join(ROOT, "tests", "node", "probe.py")
TEST_WHEELS = os.path.join(ROOT, "build", "pyodide-test-wheels")
# pure-Python wheels for running pytest inside Pyodide (fetched once, then cached)
TEST_WHEEL_SPECS = ("pytest==9.0.3", "hypothesis==6.155.2")

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="Node.js with npm is needed for Pyodide under Node")


@pytest.fixture(scope="module")
def prepared():
    """web/dist up to date for Python (serve.py's prepare step, a no-op when nothing
    changed; the page bundles are not needed here, so a broken one does not matter)."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "serve.py"), "--prepare-only",
                        "--steps", "npm,pyodide,snapshot,wheel,modules"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr


def run_pyodide(script, *args, timeout=600):
    return subprocess.run(["node", RUNNER, script, "--mount", f"{ROOT}:/repo", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def result_of(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def in_pyodide(prepared):
    return result_of(run_pyodide(PROBE))


@pytest.fixture(scope="module")
def in_cpython():
    env = {**os.environ, "PYFRAG_REPO": ROOT, "PYTHONPATH": ROOT}
    return result_of(subprocess.run([sys.executable, PROBE], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=600))


def test_runs_in_pyodide_from_the_served_wheel(in_pyodide):
    assert in_pyodide["platform"] == "emscripten"
    assert in_pyodide["python"].startswith("3.")
    assert "/site-packages/pyfrag/" in in_pyodide["pyfrag_file"]
    import tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        assert in_pyodide["pyfrag"] == tomllib.load(f)["project"]["version"]


def test_every_model_replays_identically_in_both_worlds(in_pyodide, in_cpython):
    assert in_pyodide["digests"].keys() == in_cpython["digests"].keys()
    differ = [n for n in in_cpython["digests"]
              if in_pyodide["digests"][n] != in_cpython["digests"][n]]
    assert not differ, f"models whose replay differs between Pyodide and CPython: {differ}"


def test_audit_text_matches_the_article_format(in_pyodide, in_cpython):
    assert in_pyodide["swiss_audit"] == in_cpython["swiss_audit"]
    assert re.fullmatch(r"Utilization: \d+\.\d\d%\nWasted \(Fragmented\): \d+ bytes",
                        in_pyodide["swiss_audit"])


def test_show_payload_shape(in_pyodide, in_cpython):
    show = in_pyodide["show"]
    assert show == in_cpython["show"]
    n = show["meta"]["trace"]["n"]
    assert n == 50 * 3 + 1       # swiss cheese: anchor, temp, free per round, then the probe
    assert show["arrays"]["trace.ops"] == ["b", 1, n]
    for name in ("trace.ids", "trace.sizes", "sim.addresses", "sim.heap_bytes",
                 "sim.live_bytes"):
        assert show["arrays"][name] == ["d", 8, n], name
    sim = show["meta"]["sim"]
    assert sim["audit"].startswith("Utilization: ")
    assert sim["metrics"]["events"] == n
    assert show["meta"]["allocator"] == "bump" and show["returned_run"] == "Run"


def test_the_start_up_snapshot_gives_the_same_python(prepared, in_pyodide):
    """The snapshot the page boots from (serve.py's snapshot step) restores a
    working interpreter that computes exactly what a normal start does."""
    info = json.load(open(os.path.join(ROOT, "web", "dist", ".build-info.json")))
    if not info.get("snapshot"):
        pytest.skip("serve.py made no snapshot on this machine (see its warning)")
    from_snapshot = result_of(run_pyodide(PROBE, "--snapshot"))
    assert from_snapshot["digests"] == in_pyodide["digests"]
    assert from_snapshot["show"] == in_pyodide["show"]


def test_show_rejects_other_objects(in_pyodide):
    assert "pyfrag.Run or a pyfrag.Trace, not int" in in_pyodide["show_bad_input"]


def pyodide_safe_tests(with_hypothesis):
    """Top-level test files that need nothing Pyodide lacks (processes, threads,
    wasmtime, a browser, Node). The property tests (hypothesis) take minutes
    inside Pyodide on this machine, so they only run with the slow marker."""
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "tests"))):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        with open(os.path.join(ROOT, "tests", name), encoding="utf-8") as f:
            text = f.read()
        if re.search(r"\b(subprocess|threading|multiprocessing|wasmtime|playwright|socket)\b",
                     text) or name in ("test_serve.py", "test_pyodide_node.py"):
            continue
        if not with_hypothesis and re.search(r"\bhypothesis\b", text):
            continue
        out.append(name)
    return out


@pytest.fixture(scope="module")
def test_wheels():
    os.makedirs(TEST_WHEELS, exist_ok=True)
    have = [n for n in os.listdir(TEST_WHEELS) if n.endswith(".whl")]
    if not any(n.startswith("pytest-") for n in have) or not any(
            n.startswith("hypothesis-") for n in have):
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                            "--disable-pip-version-check", "--only-binary=:all:",
                            "--python-version", "3.14", "--platform", "any",
                            "--dest", TEST_WHEELS, *TEST_WHEEL_SPECS],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.skip(f"cannot download pytest wheels for Pyodide: {r.stderr.strip()[-500:]}")
    return TEST_WHEELS


@pytest.mark.parametrize("with_hypothesis", [
    False, pytest.param(True, marks=pytest.mark.slow, id="with-properties")])
def test_pyfrag_unit_tests_pass_inside_pyodide(prepared, test_wheels, tmp_path,
                                               with_hypothesis):
    files = pyodide_safe_tests(with_hypothesis)
    if not files:
        pytest.skip("no Pyodide-safe test files yet")
    script = tmp_path / "run_pytest.py"
    script.write_text(f"""
import os, sys, json
sys.dont_write_bytecode = True          # the repository is mounted: leave it clean
os.chdir("/tmp")                        # hypothesis keeps its database in the cwd
# an installed pyfrag finds the real modules' manifest the way the playground tells it
os.environ["PYFRAG_MANIFEST"] = "/repo/wasm_modules/manifest.json"
os.environ["PYFRAG_MANIFEST"] = "/repo/wasm_modules/manifest.json"  # the wheel has no modules
import pyfrag, pytest
assert "/site-packages/" in pyfrag.__file__, pyfrag.__file__
files = {json.dumps(files)}
code = pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir=/repo",
                    "-m", "not slow and not toolchain and not e2e",
                    *["/repo/tests/" + f for f in files]])
print("RESULT " + json.dumps({{"exit": int(code), "files": files}}))
""")
    proc = run_pyodide(str(script), "--wheels", test_wheels, timeout=900)
    result = result_of(proc)
    assert result["exit"] == 0, proc.stdout[-6000:]
    assert re.search(r"\d+ passed", proc.stdout), proc.stdout[-2000:]
