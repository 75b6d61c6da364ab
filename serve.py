#!/usr/bin/env python3
"""serve.py: serves the pyfrag playground (web/), after preparing it, or writes a static copy of it.
Standard library only.

    python serve.py                  prepare what is stale, then serve on 127.0.0.1:8000
    python serve.py --port 0         any free port (the URL is printed)
    python serve.py --prepare-only   prepare and exit (CI, before the tests)
    python serve.py --build DIR      prepare, then write a static copy of the site to DIR

The prepare pipeline (npm, Pyodide, the snapshot, the wheel, the modules, the examples' stored views, the
bundles) is web/build/prepare.py; every file it puts in web/dist/ has its content's hash in its name.
Serving sends COOP/COEP (+CORP) on every response so the page is cross-origin isolated
(SharedArrayBuffer for Stop), lets browsers keep dist/ for good and revalidate the rest, rewrites the
pages' dist/<name> references to the names prepare made (build_info), sets the MIME types module workers
and instantiateStreaming insist on, and never serves anything outside web/. --build writes the same
layout, with the pages rewritten once and a _headers file for hosts that read one.
"""

import argparse
import hashlib
import http.server
import io
import os
import posixpath
import re
import shutil
import socket
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "web", "build"))
import prepare  # noqa: E402  (web/build/prepare.py)
from prepare import STEP_NAMES, WEB, PrepareError, build_info  # noqa: E402

# Headers every response carries. COOP+COEP make the page cross-origin isolated
# (needed for the SharedArrayBuffer behind Stop); CORP lets our own files load
# under COEP require-corp.
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
# Everything in dist/ is named by its content: a browser keeps it for a year without asking again. The
# rest (the pages, and the few files beside them) is revalidated each time: a 304 when it has not changed.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def cache_control(path):
    """The Cache-Control of a request path."""
    return IMMUTABLE if path.startswith("/dist/") else REVALIDATE


def rewrite_page(html, info):
    """A page's dist/<name> references (dist/main.js) turned into the names prepare made
    (dist/main-<hash>.js); names it did not make are left as they are."""
    bundles = (info or {}).get("bundles", {})
    return re.sub(r"\bdist/([\w.-]+)", lambda m: f"dist/{bundles.get(m.group(1), m.group(1))}", html)


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


# ---------------------------------------------------------------- static build

BUILD_MARKER = ".pyfrag-static-build"
# web/'s build inputs and caches: the site needs only what prepare made from them
SOURCES = {"vendor", "build", "src", "py"}


def headers_file():
    """_headers, for static hosts that read one (Netlify, Cloudflare Pages and the like): the page stays
    cross-origin isolated there too, and dist/ is kept for good. Hosts without it still work: Stop then
    restarts Python, and the cache is the host's own."""
    isolation = "".join(f"  {k}: {v}\n" for k, v in HEADERS.items())
    return f"/*\n{isolation}/dist/*\n  Cache-Control: {IMMUTABLE}\n"


def static_build(dest, info=None):
    """Writes the site to `dest`: the pages (their dist/ references rewritten), dist/ as prepared, and
    the files beside the pages; -> dest."""
    info = info or build_info()
    if info is None or not info.get("bundles"):
        raise PrepareError("web/dist is not prepared: run without --no-prepare")
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

    def ignore(directory, names):
        out = {n for n in names if n.startswith(".") or n == "__pycache__"}
        if os.path.realpath(directory) == web:
            out |= SOURCES & set(names)
        return out

    shutil.copytree(WEB, dest, ignore=ignore)
    for name in os.listdir(dest):
        if name.endswith(".html"):
            path = os.path.join(dest, name)
            with open(path, encoding="utf-8") as f:
                page = rewrite_page(f.read(), info)
            with open(path, "w", encoding="utf-8") as f:
                f.write(page)
    with open(os.path.join(dest, "_headers"), "w", encoding="utf-8") as f:
        f.write(headers_file())
    with open(os.path.join(dest, BUILD_MARKER), "w", encoding="utf-8") as f:
        f.write("written by serve.py --build; safe to replace\n")
    return dest


# ---------------------------------------------------------------- server

class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from web/ with isolation headers, caching by kind, exact MIME types, no escapes."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    quiet = True
    protocol_version = "HTTP/1.1"   # keep-alive: a page load is ~20 requests
    info = staticmethod(build_info)  # the record the pages' references are rewritten with

    def end_headers(self):
        for k, v in HEADERS.items():
            self.send_header(k, v)
        self.send_header("Cache-Control", cache_control(self.path.split("?", 1)[0]))
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
        if os.path.isdir(full):
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()       # the redirect to the directory's own URL
            full = os.path.join(full, "index.html")
        if full.endswith(".html") and os.path.isfile(full):
            return self.send_page(full)
        return super().send_head()

    def send_page(self, path):
        """A page, its dist/ references rewritten; its ETag makes a revisit a 304."""
        with open(path, encoding="utf-8") as f:
            return self.send_html(f.read())

    def send_html(self, page):
        body = rewrite_page(page, self.info()).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if etag in (self.headers.get("If-None-Match") or ""):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Type", MIME_TYPES[".html"])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        return io.BytesIO(body)

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


def make_server(host, port, directory=WEB, quiet=True, info=build_info):
    """A server for `directory`; `info()` gives the record its pages are rewritten with."""
    handler = type("BoundHandler", (Handler,), {"quiet": quiet, "info": staticmethod(info)})

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
            prepare.prepare(force=args.force_prepare, only=args.steps)
        if args.prepare_only:
            return 0
        if args.build:
            dest = static_build(args.build)
            prepare.say(f"static site written to {dest} (serve it with COOP/COEP headers for Stop "
                        "to interrupt; without them Stop restarts Python instead)")
            return 0
    except PrepareError as e:
        print(f"serve.py: error: {e}", file=sys.stderr, flush=True)
        return 1
    if not (build_info() or {}).get("bundles"):
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
    prepare.say(f"serving web/ at http://{shown}:{port}/ (Ctrl+C stops)")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
