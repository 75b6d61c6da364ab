#!/usr/bin/env python3
"""serve.py: prepares and serves the pyfrag playground (web/). Standard library only.

    python serve.py                  prepare what is stale, then serve on 127.0.0.1:8000
    python serve.py --port 0         any free port (the URL is printed)
    python serve.py --prepare-only   prepare and exit (CI, before the tests)
    python serve.py --build DIR      prepare, then write a static copy of the site to DIR

Owns the prepare step, which fills the git-ignored web/dist/ so the page needs
nothing but this origin (no CDN, works with the network off):

    npm        npm ci when node_modules is missing or older than package-lock.json
    bundle     esbuild: the page entry points web/src/<name>.js the pages load as
               dist/<name>.js, and the module workers web/src/*worker*.mjs
    pyodide    Pyodide's runtime files from the npm package, the micropip and
               packaging wheels its lock names (downloaded once with pip into
               web/vendor/wheels/), and a copy of the lock whose sha256 entries
               match the files served (the browser checks them)
    wheel      pyfrag's own wheel, built from pyfrag/ and pyproject.toml
    modules    wasm_modules/*.wasm and manifest.json
    snapshot   a Pyodide memory snapshot (web/build/snapshot.mjs), micropip and
               packaging imported, the worker boots from, seconds faster;
               optional: without it Python starts normally
    info       dist/build-info.json: versions and file names the worker reads

Each step records a cheap fingerprint of its inputs (paths, sizes, mtimes) and
runs again only when that changes. Serving sends COOP/COEP (+CORP) on every
response so the page is cross-origin isolated (SharedArrayBuffer for Stop),
sets the MIME types module workers and instantiateStreaming insist on, and
never serves anything outside web/.
"""

import argparse
import base64
import contextlib
import hashlib
import http.server
import json
import os
import posixpath
import re
import shutil
import socket
import subprocess
import sys
import tomllib
import urllib.parse
import zipfile

ROOT = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.join(ROOT, "web")
DIST = os.path.join(WEB, "dist")
VENDOR = os.path.join(WEB, "vendor")
NODE_MODULES = os.path.join(ROOT, "node_modules")
STAMPS = os.path.join(DIST, ".prepare-stamps.json")

# Bump when the prepare logic changes, so every step runs again once.
PREPARE_VERSION = 3

# Pyodide's own runtime files; everything else in the npm package (console
# pages, type declarations, source maps) is not needed by the page.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm",
                 "python_stdlib.zip", "pyodide.js")
# Wheels the Pyodide lock names but the npm package does not ship.
LOCK_WHEELS = ("micropip", "packaging")

# Headers every response carries. COOP+COEP make the page cross-origin isolated
# (needed for the SharedArrayBuffer behind Stop); CORP lets our own files load
# under COEP require-corp; no-cache makes browsers revalidate (cheap 304s on
# localhost) so a rebuilt bundle or wheel with the same name is never stale.
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".gz": "application/gzip",
    ".py": "text/x-python; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".rep": "text/plain; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}


class PrepareError(RuntimeError):
    """A prepare step failed; the message says which and what to do."""


def say(msg):
    print(f"serve.py: {msg}", flush=True)


# ---------------------------------------------------------------- fingerprints

def walk_files(path, suffixes=None):
    """Files under path (or path itself), skipping caches, sorted for stable stamps."""
    if os.path.isfile(path):
        return [path]
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "node_modules")
                             and not d.startswith("."))
        for name in sorted(filenames):
            if suffixes is None or name.endswith(suffixes):
                out.append(os.path.join(dirpath, name))
    return out


def fingerprint(paths, extra=""):
    """A digest of (path, size, mtime) for every input: cheap, and changes on any edit."""
    h = hashlib.sha256(f"{PREPARE_VERSION}:{extra}".encode())
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            h.update(f"{p}:missing\n".encode())
            continue
        h.update(f"{os.path.relpath(p, ROOT)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_cmd(cmd, what, cwd=ROOT):
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    except FileNotFoundError:
        raise PrepareError(f"{what}: {cmd[0]!r} not found; the playground needs Node.js >= 18 "
                           "with npm to prepare (the page itself then needs neither)") from None
    if proc.returncode != 0:
        raise PrepareError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                           f"{proc.stdout.strip()}")
    return proc.stdout


# ---------------------------------------------------------------- steps

def npm_needed():
    hidden = os.path.join(NODE_MODULES, ".package-lock.json")
    lock = os.path.join(ROOT, "package-lock.json")
    if not os.path.exists(hidden) or not os.path.isdir(os.path.join(NODE_MODULES, "pyodide")):
        return True
    return os.path.getmtime(lock) > os.path.getmtime(hidden)


def step_npm():
    npm = shutil.which("npm")
    if npm is None:
        raise PrepareError("npm not found; install Node.js >= 18 (with npm) to prepare the "
                           "playground")
    say("installing the browser dependencies (npm ci) ...")
    run_cmd([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci")


def page_entries():
    """Page bundles: web/src/<name>.js for every dist/<name>.js a page refers to, and main.js."""
    names = set()
    for page in walk_files(WEB, (".html",)):
        if os.path.dirname(page) != WEB:
            continue
        with open(page, encoding="utf-8") as f:
            names.update(re.findall(r"dist/([\w.-]+)\.js\b", f.read()))
    names.add("main")
    return sorted(os.path.join(WEB, "src", f"{n}.js") for n in names
                  if os.path.isfile(os.path.join(WEB, "src", f"{n}.js")))


def worker_entries():
    src = os.path.join(WEB, "src")
    if not os.path.isdir(src):
        return []
    return sorted(os.path.join(src, n) for n in os.listdir(src)
                  if n.endswith(".mjs") and "worker" in n)


def esbuild_path():
    exe = os.path.join(NODE_MODULES, ".bin", "esbuild.cmd" if os.name == "nt" else "esbuild")
    if not os.path.exists(exe):
        raise PrepareError("esbuild is missing from node_modules; run `npm ci` (or delete "
                           "node_modules and run serve.py again)")
    return exe


def step_bundle():
    pages, workers = page_entries(), worker_entries()
    common = ["--bundle", "--format=esm", "--target=es2022", "--minify", "--sourcemap",
              "--log-level=warning", f"--outdir={DIST}", "--entry-names=[name]",
              "--loader:.woff2=file", "--loader:.svg=file"]
    if pages:
        say("bundling " + ", ".join(os.path.relpath(p, WEB) for p in pages) + " (esbuild) ...")
        run_cmd([esbuild_path(), *pages, *common], "esbuild (pages)")
    if workers:
        say("bundling " + ", ".join(os.path.relpath(p, WEB) for p in workers) + " (esbuild) ...")
        # Workers keep their .mjs name: the page creates them as dist/<name>.mjs.
        run_cmd([esbuild_path(), *workers, *common, "--out-extension:.js=.mjs"],
                "esbuild (workers)")
    if not pages and not workers:
        say("no web/src entry points yet; nothing to bundle")


def pyodide_lock():
    with open(os.path.join(NODE_MODULES, "pyodide", "pyodide-lock.json"), encoding="utf-8") as f:
        return json.load(f)


def pip_download(specs, python_version, dest):
    """Pure-Python wheels for Pyodide's Python, into dest (once; later runs reuse them)."""
    os.makedirs(dest, exist_ok=True)
    run_cmd([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--python-version", python_version,
             "--dest", dest, *specs], "pip download " + " ".join(specs))


def step_pyodide():
    src = os.path.join(NODE_MODULES, "pyodide")
    out = os.path.join(DIST, "pyodide")
    lock = pyodide_lock()
    version = json.load(open(os.path.join(src, "package.json"), encoding="utf-8"))["version"]
    say(f"copying Pyodide {version} ...")
    os.makedirs(out, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copy2(os.path.join(src, name), os.path.join(out, name))
    py = ".".join(lock["info"]["python"].split(".")[:2])
    wheel_dir = os.path.join(VENDOR, "wheels")
    wanted = {n: lock["packages"][n] for n in LOCK_WHEELS}
    missing = [f"{e['name']}=={e['version']}" for e in wanted.values()
               if not os.path.exists(os.path.join(wheel_dir, e["file_name"]))]
    if missing:
        say(f"downloading {', '.join(missing)} for Python {py} (pip) ...")
        pip_download(missing, py, wheel_dir)
    for entry in wanted.values():
        path = os.path.join(wheel_dir, entry["file_name"])
        if not os.path.exists(path):
            raise PrepareError(f"pip did not produce {entry['file_name']} (the file name the "
                               f"Pyodide {version} lock expects)")
        shutil.copy2(path, os.path.join(out, entry["file_name"]))
        # Pyodide rebuilds its wheels, so its lock's hashes are not those of the
        # released wheels; the browser checks them, so record the files served.
        entry["sha256"] = sha256_file(path)
    with open(os.path.join(out, "pyodide-lock.json"), "w", encoding="utf-8") as f:
        json.dump(lock, f, separators=(",", ":"))


SNAPSHOT = os.path.join(DIST, "pyodide", "snapshot.bin.gz")
# Names of what Python holds in the snapshot: written by snapshot.mjs, read by the bundled worker
SNAPSHOT_REFS = os.path.join(WEB, "build", "snapshot-refs.mjs")


def step_snapshot():
    say("making the Python start-up snapshot ...")
    try:
        run_cmd(["node", os.path.join(WEB, "build", "snapshot.mjs"), os.path.dirname(SNAPSHOT),
                 SNAPSHOT], "snapshot")
    except PrepareError as e:
        # only an optimisation: the page starts Python the slow way without it
        with contextlib.suppress(FileNotFoundError):
            os.remove(SNAPSHOT)
        say(f"warning: no snapshot, Python will start without one ({e})")


def project_meta():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def wheel_name(meta):
    name = re.sub(r"[-_.]+", "_", meta["name"]).lower()
    return f"{name}-{meta['version']}-py3-none-any.whl"


def build_wheel(dest_dir):
    """pyfrag's wheel (pure Python, py3-none-any), written with zipfile.

    The same files and metadata `pip wheel .` puts in, without a build backend:
    no network for build isolation, no build/ or egg-info in the shared tree,
    and about 50 ms instead of seconds."""
    meta = project_meta()
    name, version = meta["name"], meta["version"]
    dist_info = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info"
    files = []
    for path in walk_files(os.path.join(ROOT, "pyfrag")):
        if path.endswith((".pyc", ".pyo")):
            continue
        files.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if meta.get("description"):
        lines.append(f"Summary: {meta['description']}")
    if meta.get("requires-python"):
        lines.append(f"Requires-Python: {meta['requires-python']}")
    for dep in meta.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    generated = {
        f"{dist_info}/METADATA": "\n".join(lines) + "\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: pyfrag-serve.py\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/top_level.txt": "pyfrag\n",
    }
    scripts = meta.get("scripts") or {}
    if scripts:
        generated[f"{dist_info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items())
    os.makedirs(dest_dir, exist_ok=True)
    target = os.path.join(dest_dir, wheel_name(meta))
    record = []
    tmp = target + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, path in files:
            with open(path, "rb") as f:
                data = f.read()
            zf.writestr(arc, data)
            record.append((arc, data))
        for arc, text in generated.items():
            data = text.encode()
            zf.writestr(arc, data)
            record.append((arc, data))
        rows = []
        for arc, data in record:
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(f"{arc},sha256={digest.decode()},{len(data)}")
        rows.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(rows) + "\n")
    os.replace(tmp, target)
    return target


def step_wheel():
    out = os.path.join(DIST, "wheels")
    say("building the pyfrag wheel ...")
    if os.path.isdir(out):
        for old in os.listdir(out):
            if old.endswith(".whl"):
                os.remove(os.path.join(out, old))
    build_wheel(out)


def step_modules():
    src = os.path.join(ROOT, "wasm_modules")
    out = os.path.join(DIST, "modules")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    manifest = os.path.join(src, "manifest.json")
    wasm = [p for p in walk_files(src, (".wasm",))] if os.path.isdir(src) else []
    if not os.path.exists(manifest):
        say("no wasm_modules/manifest.json yet: the page gets an empty module list")
        with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump({"modules": []}, f)
    else:
        say(f"copying {len(wasm)} real module(s) and their manifest ...")
        shutil.copy2(manifest, os.path.join(out, "manifest.json"))
    for p in wasm:
        rel = os.path.relpath(p, src)
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        shutil.copy2(p, os.path.join(out, rel))


def step_info():
    lock = pyodide_lock()
    meta = project_meta()
    info = {
        "pyodide": json.load(open(os.path.join(NODE_MODULES, "pyodide", "package.json"),
                                  encoding="utf-8"))["version"],
        "python": lock["info"]["python"],
        "pyfrag": meta["version"],
        "pyfrag_wheel": f"wheels/{wheel_name(meta)}",
        "lock_wheels": {n: lock["packages"][n]["file_name"] for n in LOCK_WHEELS},
        "snapshot": "pyodide/snapshot.bin.gz" if os.path.exists(SNAPSHOT) else None,
    }
    with open(os.path.join(DIST, "build-info.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)


def steps():
    """(name, inputs fingerprint, outputs, action) in order; fingerprints are computed lazily
    because earlier steps (npm) create the inputs of later ones."""
    src = os.path.join(WEB, "src")
    pages = [p for p in walk_files(WEB, (".html",)) if os.path.dirname(p) == WEB]
    lock = os.path.join(ROOT, "package-lock.json")
    pyodide_pkg = os.path.join(NODE_MODULES, "pyodide", "package.json")
    wasm_src = os.path.join(ROOT, "wasm_modules")
    bundles = [os.path.join(DIST, os.path.basename(p)) for p in page_entries() + worker_entries()]
    return [
        ("bundle", lambda: fingerprint(walk_files(src) + pages + [lock, SNAPSHOT_REFS]), bundles,
         step_bundle),
        ("pyodide", lambda: fingerprint([pyodide_pkg, lock], extra=repr(LOCK_WHEELS)),
         [os.path.join(DIST, "pyodide", "pyodide-lock.json")], step_pyodide),
        # micropip in the snapshot keeps the served lock's entries and snapshot-refs.mjs's names
        ("snapshot", lambda: fingerprint([pyodide_pkg, os.path.join(WEB, "build", "snapshot.mjs"),
                                          SNAPSHOT_REFS,
                                          os.path.join(DIST, "pyodide", "pyodide-lock.json")]),
         [SNAPSHOT], step_snapshot),
        ("wheel", lambda: fingerprint(walk_files(os.path.join(ROOT, "pyfrag"), (".py",))
                                      + [os.path.join(ROOT, "pyproject.toml")]),
         [os.path.join(DIST, "wheels", wheel_name(project_meta()))], step_wheel),
        ("modules", lambda: fingerprint(walk_files(wasm_src, (".wasm", ".json"))
                                        if os.path.isdir(wasm_src) else []),
         [os.path.join(DIST, "modules", "manifest.json")], step_modules),
        ("info", lambda: fingerprint([pyodide_pkg, os.path.join(ROOT, "pyproject.toml"),
                                      SNAPSHOT]),
         [os.path.join(DIST, "build-info.json")], step_info),
    ]


@contextlib.contextmanager
def prepare_lock():
    """One prepare at a time (tests and a person's server may start together)."""
    os.makedirs(DIST, exist_ok=True)
    try:
        import fcntl
    except ImportError:          # Windows: no advisory locks; prepares rarely overlap there
        yield
        return
    with open(os.path.join(DIST, ".prepare.lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


STEP_NAMES = ("npm", "bundle", "pyodide", "snapshot", "wheel", "modules", "info")


def prepare(force=False, only=None):
    """Bring web/dist up to date; returns the names of the steps that ran.

    only: a subset of STEP_NAMES to consider (e.g. the Node tests need no bundle)."""
    ran = []
    with prepare_lock():
        if (only is None or "npm" in only) and (force or npm_needed()):
            step_npm()
            ran.append("npm")
        try:
            with open(STAMPS, encoding="utf-8") as f:
                stamps = json.load(f)
        except (FileNotFoundError, ValueError):
            stamps = {}
        for name, stamp_of, outputs, action in steps():
            if only is not None and name not in only:
                continue
            stamp = stamp_of()
            if (not force and stamps.get(name) == stamp
                    and all(os.path.exists(p) for p in outputs)):
                continue
            action()
            stamps[name] = stamp
            ran.append(name)
            with open(STAMPS, "w", encoding="utf-8") as f:
                json.dump(stamps, f, indent=1)
    if ran:
        say("prepared: " + ", ".join(ran))
    return ran


# ---------------------------------------------------------------- static build

BUILD_MARKER = ".pyfrag-static-build"

# For static hosts that read a _headers file: keeps the page cross-origin
# isolated there too. Hosts without it still work; Stop then restarts the worker.
HEADERS_FILE = "/*\n" + "".join(f"  {k}: {v}\n" for k, v in HEADERS.items()
                                 if k != "Cache-Control")


def static_build(dest):
    dest = os.path.abspath(dest)
    real = os.path.realpath(dest)
    web = os.path.realpath(WEB)
    if real in (os.path.realpath(ROOT), web) or real.startswith(web + os.sep):
        raise PrepareError(f"--build {dest}: choose a directory outside web/ and other "
                               "than the repository root")
    if os.path.exists(dest):
        if not os.path.isdir(dest):
            raise PrepareError(f"--build {dest}: exists and is not a directory")
        if os.listdir(dest) and not os.path.exists(os.path.join(dest, BUILD_MARKER)):
            raise PrepareError(f"--build {dest}: directory is not empty and is not an earlier "
                               "static build; refusing to overwrite it")
        shutil.rmtree(dest)
    skip_top = {"vendor", "build"}     # download cache; prepare-time scripts

    def ignore(directory, names):
        out = {n for n in names if n.startswith(".") or n == "__pycache__"}
        if os.path.realpath(directory) == os.path.realpath(WEB):
            out |= skip_top & set(names)
        return out

    shutil.copytree(WEB, dest, ignore=ignore)
    with open(os.path.join(dest, "_headers"), "w", encoding="utf-8") as f:
        f.write(HEADERS_FILE)
    with open(os.path.join(dest, BUILD_MARKER), "w", encoding="utf-8") as f:
        f.write("written by serve.py --build; safe to replace\n")
    return dest


# ---------------------------------------------------------------- server

class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from web/ with isolation headers, exact MIME types, no escapes."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    quiet = True
    protocol_version = "HTTP/1.1"   # keep-alive: a page load is ~20 requests

    def end_headers(self):
        for k, v in HEADERS.items():
            self.send_header(k, v)
        super().end_headers()

    def log_message(self, fmt, *args):
        if not self.quiet:
            super().log_message(fmt, *args)

    def guess_type(self, path):
        base, ext = posixpath.splitext(path)
        return self.extensions_map.get(ext.lower(), "application/octet-stream")

    def safe_path(self):
        """The file for this request inside the site root, or None (then 403 was sent).

        The base class already drops '..' segments; this refuses them outright,
        plus encoded separators, NUL bytes, backslashes and symlinks leading out,
        so a mistake in either layer cannot expose the repository."""
        raw = self.path.split("?", 1)[0].split("#", 1)[0]
        path = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
        parts = path.split("/")
        if (not path.startswith("/") or "\\" in path or "\0" in path
                or any(p in ("..", ".") for p in parts)
                or any(p.startswith(".") and p not in ("", ".well-known") for p in parts)
                or re.match(r"^/+[A-Za-z]:", path)):
            self.send_error(403, "Forbidden")
            return None
        full = os.path.realpath(os.path.join(self.directory, *[p for p in parts if p]))
        root = os.path.realpath(self.directory)
        if full != root and not full.startswith(root + os.sep):
            self.send_error(403, "Forbidden")
            return None
        return full

    def send_head(self):
        try:
            full = self.safe_path()
        except UnicodeDecodeError:
            self.send_error(400, "Bad request path")
            return None
        if full is None:
            return None
        if os.path.isdir(full) and not os.path.isfile(os.path.join(full, "index.html")):
            # No directory listings: they would show build internals.
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(404, "Not found")
        return None


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler):
        host = addr[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)


def make_server(host, port, directory=WEB, quiet=True):
    handler = type("BoundHandler", (Handler,), {"quiet": quiet})

    def factory(*args, **kwargs):
        return handler(*args, directory=directory, **kwargs)
    return Server((host, port), factory)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="serve.py", description="Prepare and serve the pyfrag playground (web/).")
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=8000,
                    help="port (default 8000; 0 picks a free one)")
    ap.add_argument("--no-prepare", action="store_true",
                    help="serve web/ as it is, without checking web/dist")
    ap.add_argument("--force-prepare", action="store_true",
                    help="run every prepare step even when nothing changed")
    ap.add_argument("--prepare-only", action="store_true", help="prepare, then exit")
    ap.add_argument("--steps", metavar="A,B",
                    help="prepare only these steps (of: " + ", ".join(STEP_NAMES) + ")")
    ap.add_argument("--build", metavar="DIR",
                    help="prepare, then write a static copy of the site to DIR and exit")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    if not 0 <= args.port <= 65535:
        ap.error(f"--port {args.port}: must be 0..65535")
    if args.steps is not None:
        args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
        unknown = [s for s in args.steps if s not in STEP_NAMES]
        if unknown:
            ap.error(f"--steps: unknown step(s) {', '.join(unknown)}; "
                     f"known: {', '.join(STEP_NAMES)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        if not args.no_prepare:
            prepare(force=args.force_prepare, only=args.steps)
        if args.prepare_only:
            return 0
        if args.build:
            dest = static_build(args.build)
            say(f"static site written to {dest} (serve it with COOP/COEP headers for Stop "
                "to interrupt; without them Stop restarts Python instead)")
            return 0
    except PrepareError as e:
        print(f"serve.py: error: {e}", file=sys.stderr, flush=True)
        return 1
    if not os.path.exists(os.path.join(DIST, "build-info.json")):
        print("serve.py: error: web/dist is not prepared; run without --no-prepare",
              file=sys.stderr)
        return 1
    try:
        httpd = make_server(args.host, args.port, quiet=not args.verbose)
    except OSError as e:
        print(f"serve.py: error: cannot listen on {args.host}:{args.port}: {e.strerror}",
              file=sys.stderr)
        return 1
    host, port = httpd.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    say(f"serving web/ at http://{shown}:{port}/ (Ctrl+C stops)")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
