"""serve.py: headers, MIME types, path traversal, prepare staleness, wheel, static build.

The server tests run serve.py's own server class on a temporary site root in
a thread (no prepare, no Node), so they are fast and need no browser.
"""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import serve  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site root with one file of each kind, a secret beside it, and a symlink out."""
    base = tmp_path_factory.mktemp("serve")
    root = base / "web"
    (root / "dist" / "pyodide").mkdir(parents=True)
    (root / "sub").mkdir()
    (base / "secret.txt").write_text("TOP SECRET")
    files = {
        "index.html": "<!doctype html><title>t</title>",
        "dist/main.js": "export {}",
        "dist/py-worker.mjs": "export {}",
        "dist/pyodide/pyodide.asm.wasm": b"\0asm\1\0\0\0",
        "dist/pyodide/pyodide-lock.json": "{}",
        "dist/wheels.whl": b"PK",
        "dist/stdlib.tar": b"x",
        "dist/pyodide/python_stdlib.zip": b"PK",
        "dist/main.css": "body{}",
        "py/playground.py": "x = 1",
        "dist/.prepare-stamps.json": "{}",
        "sub/index.html": "<p>sub</p>",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    (root / "empty").mkdir()
    os.symlink(base / "secret.txt", root / "link.txt")
    httpd = serve.make_server("127.0.0.1", 0, directory=str(root))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def get(port, path, method="GET"):
    """A raw request: http.client sends the path exactly as given (no normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


@pytest.mark.parametrize("path, mime", [
    ("/index.html", "text/html"),
    ("/dist/main.js", "text/javascript"),
    ("/dist/py-worker.mjs", "text/javascript"),
    ("/dist/pyodide/pyodide.asm.wasm", "application/wasm"),
    ("/dist/pyodide/pyodide-lock.json", "application/json"),
    ("/dist/wheels.whl", "application/zip"),
    ("/dist/pyodide/python_stdlib.zip", "application/zip"),
    ("/dist/stdlib.tar", "application/x-tar"),
    ("/dist/main.css", "text/css"),
])
def test_mime_types(site, path, mime):
    status, headers, _ = get(site, path)
    assert status == 200
    assert headers["content-type"].split(";")[0] == mime


@pytest.mark.parametrize("path", ["/index.html", "/dist/main.js", "/nope.js", "/../x"])
def test_isolation_headers_on_every_response(site, path):
    _, headers, _ = get(site, path)
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert headers["cross-origin-resource-policy"] == "same-origin"


def test_root_serves_index(site):
    status, _, body = get(site, "/")
    assert status == 200 and b"<title>t</title>" in body


def test_head_has_headers_without_body(site):
    status, headers, body = get(site, "/dist/main.js", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "9"


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/dist/../../secret.txt",
    "/dist/%2e%2e/%2e%2e/secret.txt", "//../secret.txt", "/..%2fsecret.txt",
    "/..\\secret.txt", "/%5c..%5csecret.txt", "/link.txt", "/./index.html",
    "/dist/.prepare-stamps.json", "/%00", "/C:/Windows/win.ini",
])
def test_paths_outside_the_site_are_refused(site, path):
    status, _, body = get(site, path)
    assert status in (400, 403, 404)
    assert b"TOP SECRET" not in body


def test_repository_files_are_not_served(site):
    for path in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/../serve.py"):
        status, _, body = get(site, path)
        assert status in (403, 404) and b"[project]" not in body


def test_absolute_path_is_inside_the_root(site):
    # "//etc/passwd" must not mean the file system's root
    status, _, body = get(site, "//etc/passwd")
    assert status == 404 and b"root:" not in body


def test_no_directory_listing(site):
    status, _, body = get(site, "/empty/")
    assert status == 404 and b"Directory listing" not in body
    assert get(site, "/sub/")[0] == 200


def test_not_found_is_404(site):
    assert get(site, "/dist/missing.js")[0] == 404


def test_bad_arguments_give_clear_errors():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "serve.py"), "--port", "70000",
                        "--no-prepare"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--port 70000" in r.stderr


def test_port_in_use_is_a_clear_error():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, os.path.join(ROOT, "serve.py"), "--no-prepare",
                            "--port", str(port)], capture_output=True, text=True, timeout=30)
    if not os.path.exists(os.path.join(serve.DIST, "build-info.json")):
        assert "not prepared" in r.stderr
    else:
        assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr


# ---------------------------------------------------------------- prepare logic

def test_fingerprint_changes_on_edit_and_not_otherwise(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = 1")
    first = serve.fingerprint([str(f)])
    assert serve.fingerprint([str(f)]) == first
    f.write_text("x = 22")
    assert serve.fingerprint([str(f)]) != first
    f.unlink()
    assert serve.fingerprint([str(f)]) != first


def test_page_entries_follow_the_pages(tmp_path, monkeypatch):
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    for name in ("main.js", "embed.js", "charts.js", "py-worker.mjs", "helper.mjs"):
        (web / "src" / name).write_text("")
    (web / "index.html").write_text('<script type="module" src="dist/main.js"></script>')
    (web / "embed.html").write_text('<script type="module" src="./dist/embed.js"></script>'
                                    '<script src="dist/missing.js"></script>')
    monkeypatch.setattr(serve, "WEB", str(web))
    assert [os.path.basename(p) for p in serve.page_entries()] == ["embed.js", "main.js"]
    assert [os.path.basename(p) for p in serve.worker_entries()] == ["py-worker.mjs"]


def test_wheel_is_installable_metadata(tmp_path):
    path = serve.build_wheel(str(tmp_path))
    meta = serve.project_meta()
    assert os.path.basename(path) == f"pyfrag-{meta['version']}-py3-none-any.whl"
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "pyfrag/__init__.py" in names and "pyfrag/trace/__init__.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        di = f"pyfrag-{meta['version']}.dist-info"
        metadata = zf.read(f"{di}/METADATA").decode()
        assert f"Version: {meta['version']}" in metadata and "Name: pyfrag" in metadata
        assert "Root-Is-Purelib: true" in zf.read(f"{di}/WHEEL").decode()
        # RECORD lists every other file with its real hash
        import base64
        rows = [r.split(",") for r in zf.read(f"{di}/RECORD").decode().splitlines()]
        assert {r[0] for r in rows} == set(names)
        for name, digest, size in rows:
            if name.endswith("RECORD"):
                continue
            data = zf.read(name)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={want}" and int(size) == len(data)


def test_wheel_installs_with_pip(tmp_path):
    path = serve.build_wheel(str(tmp_path / "w"))
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

prepared = pytest.mark.skipif(not os.path.exists(os.path.join(serve.DIST, "build-info.json")),
                              reason="web/dist not prepared (python serve.py --prepare-only)")


@prepared
def test_prepared_lock_matches_the_served_wheels():
    lock = json.load(open(os.path.join(serve.DIST, "pyodide", "pyodide-lock.json")))
    for name in serve.LOCK_WHEELS:
        entry = lock["packages"][name]
        path = os.path.join(serve.DIST, "pyodide", entry["file_name"])
        assert serve.sha256_file(path) == entry["sha256"]


@prepared
def test_prepared_info_names_existing_files():
    info = json.load(open(os.path.join(serve.DIST, "build-info.json")))
    assert os.path.isfile(os.path.join(serve.DIST, info["pyfrag_wheel"]))
    for name in ("pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        assert os.path.isfile(os.path.join(serve.DIST, "pyodide", name))


@prepared
def test_static_build(tmp_path):
    dest = tmp_path / "site"
    serve.static_build(str(dest))
    assert (dest / "dist" / "build-info.json").is_file()
    assert (dest / "py" / "playground.py").is_file()
    assert not (dest / "vendor").exists() and not (dest / "build").exists()
    assert not (dest / "dist" / ".prepare-stamps.json").exists()
    assert "Cross-Origin-Embedder-Policy: require-corp" in (dest / "_headers").read_text()
    # a second build replaces the first; a foreign non-empty directory is refused
    serve.static_build(str(dest))
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(serve.PrepareError, match="not empty"):
        serve.static_build(str(other))
    assert (other / "keep.txt").read_text() == "mine"
    with pytest.raises(serve.PrepareError, match="outside web/"):
        serve.static_build(os.path.join(serve.WEB, "out"))


def test_prepare_runs_only_stale_steps(tmp_path, monkeypatch):
    """First run: every step; then nothing; an edited input or a lost output reruns that step."""
    src_a, src_b = tmp_path / "a.txt", tmp_path / "b.txt"
    src_a.write_text("a")
    src_b.write_text("b")
    out_a, out_b = tmp_path / "dist" / "a.out", tmp_path / "dist" / "b.out"
    ran = []

    def action(name, out):
        def run():
            ran.append(name)
            out.parent.mkdir(exist_ok=True)
            out.write_text("built")
        return run

    monkeypatch.setattr(serve, "DIST", str(tmp_path / "dist"))
    monkeypatch.setattr(serve, "STAMPS", str(tmp_path / "dist" / ".stamps.json"))
    monkeypatch.setattr(serve, "npm_needed", lambda: False)
    monkeypatch.setattr(serve, "steps", lambda: [
        ("a", lambda: serve.fingerprint([str(src_a)]), [str(out_a)], action("a", out_a)),
        ("b", lambda: serve.fingerprint([str(src_b)]), [str(out_b)], action("b", out_b)),
    ])
    assert serve.prepare() == ["a", "b"]
    assert serve.prepare() == []
    src_b.write_text("b, edited")
    assert serve.prepare() == ["b"]
    out_a.unlink()
    assert serve.prepare() == ["a"]
    assert serve.prepare(only=["b"], force=True) == ["b"]
    assert ran == ["a", "b", "b", "a", "b"]


def test_a_failing_step_is_a_clear_error_and_runs_again(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "DIST", str(tmp_path / "dist"))
    monkeypatch.setattr(serve, "STAMPS", str(tmp_path / "dist" / ".stamps.json"))
    monkeypatch.setattr(serve, "npm_needed", lambda: False)
    attempts = []

    def broken():
        attempts.append(1)
        serve.run_cmd([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], "demo")

    monkeypatch.setattr(serve, "steps", lambda: [("x", lambda: "same", [], broken)])
    for _ in range(2):
        with pytest.raises(serve.PrepareError, match=r"demo failed \(exit 3\)[\s\S]*boom"):
            serve.prepare()
    assert len(attempts) == 2        # a failed step is not recorded as done


def test_missing_tool_is_a_clear_error():
    with pytest.raises(serve.PrepareError, match="not found"):
        serve.run_cmd(["definitely-not-a-real-tool-pyfrag"], "tool")
