"""serve.py: headers, caching, pages rewritten to the prepared names, MIME types, path traversal,
static build.

The server tests run serve.py's own server class on a temporary site root in a thread (no prepare, no
Node), so they are fast and need no browser. (The prepare pipeline's tests: test_prepare.py.)"""

import http.client
import os
import subprocess
import sys
import threading

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
        "index.html": '<!doctype html><title>t</title><script src="dist/main.js"></script>'
                      '<link href="dist/main.css"><a href="dist/other.js">',
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
    httpd = serve.make_server("127.0.0.1", 0, directory=str(root), info=lambda: INFO)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


INFO = {"bundles": {"main.js": "main-ABC123.js", "main.css": "main-DEF456.css"}}


def get(port, path, method="GET", headers=()):
    """A raw request: http.client sends the path exactly as given (no normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for k, v in headers:
        conn.putheader(k, v)
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


def test_pages_name_the_prepared_files_and_revalidate_to_a_304(site):
    status, headers, body = get(site, "/index.html")
    assert status == 200 and headers["cache-control"] == "no-cache"
    assert b'src="dist/main-ABC123.js"' in body and b'href="dist/main-DEF456.css"' in body
    assert b'href="dist/other.js"' in body          # a name prepare did not make stays as it is
    assert int(headers["content-length"]) == len(body)
    status, again, body = get(site, "/index.html", headers=[("If-None-Match", headers["etag"])])
    assert status == 304 and body == b"" and again["etag"] == headers["etag"]
    assert get(site, "/sub/")[2] == b"<p>sub</p>"


def test_dist_is_cached_for_good_and_the_rest_revalidates(site):
    assert get(site, "/dist/main.js")[1]["cache-control"] == "public, max-age=31536000, immutable"
    assert get(site, "/py/playground.py")[1]["cache-control"] == "no-cache"


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
    if not (serve.build_info() or {}).get("bundles"):
        assert "not prepared" in r.stderr
    else:
        assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr




@pytest.mark.skipif(not (serve.build_info() or {}).get("bundles"),
                    reason="web/dist not prepared (python serve.py --prepare-only)")
def test_static_build(tmp_path):
    info = serve.build_info()
    dest = tmp_path / "site"
    serve.static_build(str(dest))
    assert (dest / "dist" / info["wheel"]).is_file()
    for gone in ("vendor", "build", "src", "py"):
        assert not (dest / gone).exists(), gone
    assert not any(n.startswith(".") for n in os.listdir(dest / "dist"))
    page = (dest / "embed.html").read_text()
    assert f'src="dist/{info["bundles"]["main.js"]}"' in page and 'src="dist/main.js"' not in page
    headers = (dest / "_headers").read_text()
    assert "Cross-Origin-Embedder-Policy: require-corp" in headers
    assert "/dist/*\n  Cache-Control: public, max-age=31536000, immutable" in headers
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
