"""web/build/prepare.py: staleness of the steps, content-hashed names, the wheel, the prepared tree.

The pipeline tests replace the steps with small ones in a temporary dist/ (no Node, no network); the
prepared-tree tests read web/dist when `python serve.py --prepare-only` has filled it.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "web", "build"))
import prepare  # noqa: E402
import pywheel  # noqa: E402


def test_fingerprint_changes_on_edit_and_not_otherwise(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = 1")
    first = prepare.fingerprint([str(f)])
    assert prepare.fingerprint([str(f)]) == first
    f.write_text("x = 22")
    assert prepare.fingerprint([str(f)]) != first
    f.unlink()
    assert prepare.fingerprint([str(f)]) != first


def test_page_entries_follow_the_pages(tmp_path, monkeypatch):
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    for name in ("main.js", "embed.js", "charts.js", "py-worker.mjs", "helper.mjs"):
        (web / "src" / name).write_text("")
    (web / "index.html").write_text('<script type="module" src="dist/main.js"></script>')
    (web / "embed.html").write_text('<script type="module" src="./dist/embed.js"></script>'
                                    '<script src="dist/missing.js"></script>')
    monkeypatch.setattr(prepare, "WEB", str(web))
    assert [os.path.basename(p) for p in prepare.page_entries()] == ["embed.js", "main.js"]
    assert [os.path.basename(p) for p in prepare.worker_entries()] == ["py-worker.mjs"]


def test_module_graph_follows_relative_imports(tmp_path):
    """The views step reruns when stored-views.mjs or anything it imports changes, and only then."""
    (tmp_path / "src").mkdir()
    (tmp_path / "entry.mjs").write_text('import { a } from "./src/a.js";\nimport "node:fs";\n')
    (tmp_path / "src" / "a.js").write_text("import { b } from './b.js';\nexport * from \"../src/c.js\";\n")
    (tmp_path / "src" / "b.js").write_text('import x from "uplot";\n')
    (tmp_path / "src" / "c.js").write_text('import { a } from "./a.js";\n')       # a cycle
    (tmp_path / "src" / "unused.js").write_text("")
    got = [os.path.relpath(p, tmp_path) for p in prepare.module_graph(str(tmp_path / "entry.mjs"))]
    assert sorted(got) == ["entry.mjs", os.path.join("src", "a.js"), os.path.join("src", "b.js"),
                           os.path.join("src", "c.js")]


@pytest.fixture
def dist(tmp_path, monkeypatch):
    d = tmp_path / "dist"
    d.mkdir()
    monkeypatch.setattr(prepare, "DIST", str(d))
    monkeypatch.setattr(prepare, "STAMPS", str(d / ".stamps.json"))
    monkeypatch.setattr(prepare, "INFO", str(d / ".build-info.json"))
    monkeypatch.setattr(prepare, "npm_needed", lambda: False)
    return d


def test_names_are_the_contents_hash(dist):
    """The same content gets the same name (a browser keeps what it has across rebuilds); any change of
    a file's bytes or name gives another."""
    def build(files):
        tmp = prepare.scratch("x")
        os.makedirs(tmp)
        for name, data in files.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(data)
        return prepare.publish(tmp, "thing")

    first = build({"a.txt": "one", "b.txt": "two"})
    assert first.startswith("thing-") and (dist / first / "a.txt").read_text() == "one"
    assert build({"a.txt": "one", "b.txt": "two"}) == first
    assert build({"a.txt": "one", "b.txt": "two!"}) != first
    assert build({"a.txt": "one", "c.txt": "two"}) != first
    assert not (dist / ".tmp-x").exists()


def test_prepare_runs_only_stale_steps_and_removes_what_the_record_drops(tmp_path, dist, monkeypatch):
    """First run: every step; then nothing; an edited input or a lost output reruns that step; files
    of an earlier build that the record no longer names are removed, dotfiles kept."""
    src_a, src_b = tmp_path / "a.txt", tmp_path / "b.txt"
    src_a.write_text("a")
    src_b.write_text("b")
    ran = []

    def action(name, src):
        def run():
            ran.append(name)
            tmp = prepare.scratch(name)
            os.makedirs(tmp)
            with open(os.path.join(tmp, "out.txt"), "w") as f:
                f.write(src.read_text())
            prepare.update_info(**{name: prepare.publish(tmp, name)})
        return run

    def made(key):
        return lambda: [os.path.join(prepare.DIST, (prepare.build_info() or {}).get(key) or "<none>")]

    monkeypatch.setattr(prepare, "referenced", lambda info: {info.get("a"), info.get("b")})
    monkeypatch.setattr(prepare, "steps", lambda: [
        ("a", lambda: prepare.fingerprint([str(src_a)]), made("a"), action("a", src_a)),
        ("b", lambda: prepare.fingerprint([str(src_b)]), made("b"), action("b", src_b)),
    ])
    (dist / "left-over.js").write_text("from an earlier build")
    assert prepare.prepare() == ["a", "b"]
    assert prepare.prepare() == []
    old_b = prepare.build_info()["b"]
    src_b.write_text("b, edited")
    assert prepare.prepare() == ["b"]
    new_b = prepare.build_info()["b"]
    assert new_b != old_b and not (dist / old_b).exists() and (dist / new_b).is_dir()
    assert not (dist / "left-over.js").exists() and (dist / ".build-info.json").exists()
    shutil.rmtree(dist / prepare.build_info()["a"])
    assert prepare.prepare() == ["a"]
    assert prepare.prepare(only=["b"], force=True) == ["b"]
    assert ran == ["a", "b", "b", "a", "b"]


def test_a_failing_step_is_a_clear_error_and_runs_again(dist, monkeypatch):
    attempts = []

    def broken():
        attempts.append(1)
        prepare.run_cmd([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], "demo")

    monkeypatch.setattr(prepare, "steps", lambda: [("x", lambda: "same", lambda: [], broken)])
    for _ in range(2):
        with pytest.raises(prepare.PrepareError, match=r"demo failed \(exit 3\)[\s\S]*boom"):
            prepare.prepare()
    assert len(attempts) == 2        # a failed step is not recorded as done


def test_a_skipped_optional_step_warns_and_is_tried_again(dist, monkeypatch, capsys):
    attempts = []

    def optional():
        attempts.append(1)
        raise prepare.StepSkipped("wasmtime is not installed here")

    monkeypatch.setattr(prepare, "steps", lambda: [("views", lambda: "same", lambda: [], optional)])
    prepare.prepare()
    prepare.prepare()
    assert len(attempts) == 2
    assert "warning: views: wasmtime is not installed here" in capsys.readouterr().out


def test_missing_tool_is_a_clear_error():
    with pytest.raises(prepare.PrepareError, match="not found"):
        prepare.run_cmd(["definitely-not-a-real-tool-pyfrag"], "tool")


def test_wheel_is_installable_metadata_and_the_same_bytes_each_time(tmp_path):
    path = pywheel.build_wheel(str(tmp_path))
    meta = pywheel.project_meta()
    assert os.path.basename(path) == f"pyfrag-{meta['version']}-py3-none-any.whl"
    again = pywheel.build_wheel(str(tmp_path / "again"))
    assert open(path, "rb").read() == open(again, "rb").read()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "pyfrag/__init__.py" in names and "pyfrag/trace/__init__.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        di = f"pyfrag-{meta['version']}.dist-info"
        metadata = zf.read(f"{di}/METADATA").decode()
        assert f"Version: {meta['version']}" in metadata and "Name: pyfrag" in metadata
        assert "Root-Is-Purelib: true" in zf.read(f"{di}/WHEEL").decode()
        # RECORD lists every other file with its real hash
        rows = [r.split(",") for r in zf.read(f"{di}/RECORD").decode().splitlines()]
        assert {r[0] for r in rows} == set(names)
        for name, digest, size in rows:
            if name.endswith("RECORD"):
                continue
            data = zf.read(name)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={want}" and int(size) == len(data)


def test_wheel_installs_with_pip(tmp_path):
    path = pywheel.build_wheel(str(tmp_path / "w"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-index", "--disable-pip-version-check", "--target", str(target),
                        path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", "import pyfrag; print(pyfrag.__file__)"],
                       cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and str(target) in r.stdout


# ---------------------------------------------------------------- prepared tree

INFO = prepare.build_info()
prepared = pytest.mark.skipif(not (INFO or {}).get("bundles"),
                              reason="web/dist not prepared (python serve.py --prepare-only)")


@prepared
def test_prepared_lock_matches_the_served_wheels():
    pyodide = os.path.join(prepare.DIST, INFO["pyodide"])
    lock = json.load(open(os.path.join(pyodide, "pyodide-lock.json")))
    for name in prepare.LOCK_WHEELS:
        entry = lock["packages"][name]
        assert prepare.sha256_file(os.path.join(pyodide, entry["file_name"])) == entry["sha256"]


@prepared
def test_prepared_record_names_existing_files_and_dist_holds_nothing_else():
    dist = prepare.DIST
    assert os.path.isfile(os.path.join(dist, INFO["wheel"]))
    for name in ("pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        assert os.path.isfile(os.path.join(dist, INFO["pyodide"], name))
    for name in INFO["bundles"].values():
        assert os.path.isfile(os.path.join(dist, name)), name
    served = {n for n in os.listdir(dist) if not n.startswith(".")}
    assert served == prepare.referenced(INFO)
    # every name carries its content's hash, which is what lets a host cache dist/ for good
    for name in served:
        path = os.path.join(dist, name)
        if os.path.isdir(path) or name.startswith("snapshot-"):
            stem = name.split(".")[0]
            assert stem.endswith("-" + prepare.content_hash(path)), name
