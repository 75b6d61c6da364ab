"""prepare.py: the playground's prepare pipeline, run by serve.py (standard library, Node.js with npm;
wasmtime for the stored views). Entry points: prepare(), and build_info() for what it made.

Fills the git-ignored web/dist/ so the pages need nothing but their own origin (no CDN, works with the
network off). Every file the pages load from dist/ is named by its content, a hash in its own name or in
its directory's: a host may cache those for good, and only the HTML pages need revalidating. The record
of the names now current is dist/.build-info.json (a dotfile: never served); serve.py rewrites the pages'
dist/<name> references with it, and the bundles have the names compiled in.

    npm       npm ci when node_modules is missing or older than package-lock.json
    pyodide   pyodide-<hash>/: Pyodide's runtime files from the npm package, the micropip and packaging
              wheels its lock names (downloaded once with pip into web/vendor/wheels/), and a copy of
              the lock whose sha256 entries match the files served (the browser checks them)
    snapshot  snapshot-<hash>.bin.gz: a Pyodide memory snapshot (web/build/snapshot.mjs), micropip and
              packaging imported, the worker boots from, seconds faster; optional: without it Python
              starts normally
    wheel     wheels-<hash>/: pyfrag's own wheel (web/build/pywheel.py)
    modules   modules-<hash>/: wasm_modules/*.wasm and manifest.json
    examples  examples-<hash>/: the examples menu's web/examples/*.py
    views     views-<hash>/: each example's stored run on each module, the embeds' first view
              (web/build/stored_views.py with CPython and wasmtime, then web/build/stored-views.mjs);
              optional: without wasmtime the embeds start with Run instead
    bundle    esbuild: the page entry points web/src/<name>.js the pages load as dist/<name>.js and
              the module workers web/src/*worker*.mjs, as <name>-<hash>.js/.mjs, with the names
              above compiled in

Each step records a cheap fingerprint of its inputs (paths, sizes, mtimes) and runs again only when that
changes or what it made is gone. At the end, whatever dist/ holds that the record no longer names (an
earlier build's files) is removed.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

BUILD = os.path.dirname(os.path.abspath(__file__))
if BUILD not in sys.path:      # its siblings, when imported from elsewhere (serve.py, the tests)
    sys.path.insert(0, BUILD)
from pywheel import build_wheel, project_meta  # noqa: E402

WEB = os.path.dirname(BUILD)
ROOT = os.path.dirname(WEB)
DIST = os.path.join(WEB, "dist")
VENDOR = os.path.join(WEB, "vendor")
NODE_MODULES = os.path.join(ROOT, "node_modules")
RULES = os.path.join(ROOT, "pyfrag", "rules.json")     # the page's bundle imports it (web/src/rules.js)
STAMPS = os.path.join(DIST, ".prepare-stamps.json")
INFO = os.path.join(DIST, ".build-info.json")

# Bump when the prepare logic changes, so every step runs again once.
PREPARE_VERSION = 4

# Pyodide's own runtime files; everything else in the npm package (console
# pages, type declarations, source maps) is not needed by the page.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm",
                 "python_stdlib.zip", "pyodide.js")
# Wheels the Pyodide lock names but the npm package does not ship.
LOCK_WHEELS = ("micropip", "packaging")
HASH_CHARS = 10          # hex digits of a content hash in a name: collisions are not a concern here

STEP_NAMES = ("npm", "pyodide", "snapshot", "wheel", "modules", "examples", "views", "bundle")


class PrepareError(RuntimeError):
    """A prepare step failed; the message says which and what to do."""


class StepSkipped(Exception):
    """An optional step could not run here; the message says why. It is tried again next time."""


def say(msg):
    print(f"serve.py: {msg}", flush=True)


# ---------------------------------------------------------------- fingerprints and content names

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


def content_hash(path):
    """The hash of a file, or of a directory's files with their relative names."""
    if os.path.isfile(path):
        return sha256_file(path)[:HASH_CHARS]
    h = hashlib.sha256()
    for p in walk_files(path):
        h.update(f"{os.path.relpath(p, path).replace(os.sep, '/')}:{sha256_file(p)}\n".encode())
    return h.hexdigest()[:HASH_CHARS]


def scratch(name):
    """An empty dist/.tmp-<name> to build into (a dotfile: never served, never kept)."""
    path = os.path.join(DIST, f".tmp-{name}")
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    return path


def publish(tmp, stem, suffix=""):
    """Moves what was built at `tmp` (a file or a directory) to dist/<stem>-<hash><suffix>; -> that name.
    The same content gets the same name, so a browser that has it keeps it across rebuilds."""
    name = f"{stem}-{content_hash(tmp)}{suffix}"
    final = os.path.join(DIST, name)
    if os.path.isdir(final):
        shutil.rmtree(final)
    elif os.path.exists(final):
        os.remove(final)
    os.replace(tmp, final)
    return name


def run_cmd(cmd, what, cwd=ROOT, env=None):
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env)
    except FileNotFoundError:
        raise PrepareError(f"{what}: {cmd[0]!r} not found; the playground needs Node.js >= 18 "
                           "with npm to prepare (the page itself then needs neither)") from None
    if proc.returncode != 0:
        raise PrepareError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                           f"{proc.stdout.strip()}")
    return proc.stdout


# ---------------------------------------------------------------- the record

def build_info():
    """What dist/ holds now: versions, and the current name of each thing the pages load (None when
    web/dist was never prepared)."""
    try:
        with open(INFO, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def update_info(**entries):
    info = build_info() or {}
    info.update(entries)
    tmp = INFO + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    os.replace(tmp, INFO)
    return info


def info_entry(key):
    info = build_info() or {}
    if info.get(key) is None:
        raise PrepareError(f"the {key} step has not run: prepare without --steps first")
    return info[key]


def referenced(info):
    """The top-level names in dist/ the record refers to."""
    names = {info.get(k) for k in ("pyodide", "snapshot", "modules", "examples", "views")}
    names.add((info.get("wheel") or "").split("/")[0])
    names.update(info.get("bundle_files", []))
    return {n for n in names if n}


def collect_garbage(info):
    """Removes what earlier builds left in dist/ (dotfiles, the prepare's own, stay)."""
    keep = referenced(info)
    for name in os.listdir(DIST):
        if name.startswith(".") or name in keep:
            continue
        path = os.path.join(DIST, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


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


def pyodide_lock():
    with open(os.path.join(NODE_MODULES, "pyodide", "pyodide-lock.json"), encoding="utf-8") as f:
        return json.load(f)


def pyodide_version():
    with open(os.path.join(NODE_MODULES, "pyodide", "package.json"), encoding="utf-8") as f:
        return json.load(f)["version"]


def pip_download(specs, python_version, dest):
    """Pure-Python wheels for Pyodide's Python, into dest (once; later runs reuse them)."""
    os.makedirs(dest, exist_ok=True)
    run_cmd([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--python-version", python_version,
             "--dest", dest, *specs], "pip download " + " ".join(specs))


def step_pyodide():
    src = os.path.join(NODE_MODULES, "pyodide")
    out = scratch("pyodide")
    lock = pyodide_lock()
    version = pyodide_version()
    say(f"copying Pyodide {version} ...")
    os.makedirs(out)
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
    update_info(pyodide=publish(out, "pyodide"), pyodide_version=version,
                python=lock["info"]["python"],
                lock_wheels={n: lock["packages"][n]["file_name"] for n in LOCK_WHEELS})


# Names of what Python holds in the snapshot: written by snapshot.mjs, read by the bundled worker
SNAPSHOT_REFS = os.path.join(BUILD, "snapshot-refs.mjs")


def step_snapshot():
    say("making the Python start-up snapshot ...")
    out = scratch("snapshot") + ".bin.gz"
    try:
        run_cmd(["node", os.path.join(BUILD, "snapshot.mjs"),
                 os.path.join(DIST, info_entry("pyodide")), out], "snapshot")
    except PrepareError as e:
        # only an optimisation: the page starts Python the slow way without it
        with contextlib.suppress(FileNotFoundError):
            os.remove(out)
        say(f"warning: no snapshot, Python will start without one ({e})")
        update_info(snapshot=None)
        return
    update_info(snapshot=publish(out, "snapshot", ".bin.gz"))


def step_wheel():
    say("building the pyfrag wheel ...")
    out = scratch("wheels")
    path = build_wheel(out)
    update_info(wheel=f"{publish(out, 'wheels')}/{os.path.basename(path)}",
                pyfrag=project_meta()["version"])


def step_modules():
    src = os.path.join(ROOT, "wasm_modules")
    out = scratch("modules")
    os.makedirs(out)
    manifest = os.path.join(src, "manifest.json")
    wasm = walk_files(src, (".wasm",)) if os.path.isdir(src) else []
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
    update_info(modules=publish(out, "modules"))


EXAMPLES = os.path.join(WEB, "examples")


def step_examples():
    out = scratch("examples")
    os.makedirs(out)
    for p in walk_files(EXAMPLES, (".py",)):
        shutil.copy2(p, os.path.join(out, os.path.basename(p)))
    update_info(examples=publish(out, "examples"))


def step_views():
    """The stored runs: CPython and wasmtime in a process of their own, with this tree's pyfrag (not
    whatever pyfrag the interpreter may have installed), then the page's own view code under Node."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])}
    probe = subprocess.run([sys.executable, "-c", "import wasmtime"], env=env, capture_output=True)
    if probe.returncode != 0:
        update_info(views=None, stored={})
        raise StepSkipped("wasmtime is not installed here (pip install wasmtime, or "
                          "'.[real]'): the embeds have no stored run to show and start with Run")
    runs = scratch("runs")
    out = scratch("views")
    say("running the examples on every module for the embeds' stored views (CPython, wasmtime) ...")
    run_cmd([sys.executable, os.path.join(BUILD, "stored_views.py"),
             os.path.join(DIST, info_entry("modules"), "manifest.json"), runs], "stored runs",
            env=env)
    run_cmd(["node", os.path.join(BUILD, "stored-views.mjs"), runs, out], "stored views")
    shutil.rmtree(runs)
    with open(os.path.join(out, "index.json"), encoding="utf-8") as f:
        stored = json.load(f)
    update_info(views=publish(out, "views"), stored=stored)


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


def worker_build(info):
    """What the Python worker needs to know, compiled into it (it fetches no record of its own)."""
    return {"pyodide": info["pyodide"], "pyodide_version": info["pyodide_version"],
            "snapshot": info.get("snapshot"), "wheel": info["wheel"],
            "lock_wheels": info["lock_wheels"], "modules": info["modules"]}


def page_assets(info, workers):
    """What the page bundles need to know: where the workers, modules, examples and stored views are."""
    return {"workers": workers, "modules": info["modules"], "examples": info["examples"],
            "views": info.get("views"), "stored": info.get("stored") or {}}


def esbuild(entries, what, define, extension=None, split=False):
    """Bundles `entries` into dist/ with content-hashed names -> {entry name: output name}, and the
    list of every file written (bundles, their maps, their CSS and assets)."""
    tmp = scratch(f"bundle-{what}")
    meta = tmp + ".meta.json"
    cmd = [esbuild_path(), *entries, "--bundle", "--format=esm", "--target=es2022", "--minify",
           "--sourcemap", "--log-level=warning", f"--outdir={tmp}", "--entry-names=[name]-[hash]",
           "--asset-names=[name]-[hash]", "--loader:.woff2=file", "--loader:.svg=file",
           "--loader:.py=text", f"--metafile={meta}"]
    # as a JSON string the code parses: an object literal would be a module of its own, split into a chunk
    cmd += [f"--define:{k}={json.dumps(json.dumps(v))}" for k, v in define.items()]
    if extension:
        cmd.append(f"--out-extension:.js={extension}")
    if split:       # what a page imports later (the code editor) in chunks of their own
        cmd += ["--splitting", "--chunk-names=[name]-[hash]"]
    run_cmd(cmd, f"esbuild ({what})")
    with open(meta, encoding="utf-8") as f:
        outputs = json.load(f)["outputs"]
    os.remove(meta)
    names, files = {}, []
    for out, o in outputs.items():
        name = os.path.basename(out)
        files.append(name)
        os.replace(os.path.join(tmp, name), os.path.join(DIST, name))
        if o.get("entryPoint"):
            stem = os.path.splitext(os.path.basename(o["entryPoint"]))[0]
            names[stem + (extension or ".js")] = name
            if o.get("cssBundle"):
                names[stem + ".css"] = os.path.basename(o["cssBundle"])
    shutil.rmtree(tmp)
    return names, files


def step_bundle():
    info = build_info() or {}
    for key in ("pyodide", "wheel", "modules", "examples"):
        info_entry(key)
    pages, workers = page_entries(), worker_entries()
    say("bundling " + ", ".join(os.path.relpath(p, WEB) for p in workers + pages) + " (esbuild) ...")
    # Workers keep their .mjs extension; the page creates them by the names this returns.
    worker_names, worker_files = esbuild(workers, "workers", {"PYFRAG_BUILD": worker_build(info)},
                                         ".mjs")
    # each page entry on its own: split, entries would share chunks, each a round trip before any code runs
    names, files = dict(worker_names), list(worker_files)
    for page in pages:
        page_names, page_files = esbuild([page], os.path.basename(page),
                                         {"PYFRAG_ASSETS": page_assets(info, worker_names)}, split=True)
        names.update(page_names)
        files += [f for f in page_files if f not in files]
    update_info(bundles=names, bundle_files=files)


def module_graph(entry):
    """`entry` and every local module it imports, directly or not (JavaScript, by relative path)."""
    seen, todo = [], [os.path.abspath(entry)]
    while todo:
        path = todo.pop()
        if path in seen or not os.path.isfile(path):
            continue
        seen.append(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        todo += [os.path.normpath(os.path.join(os.path.dirname(path), m))
                 for m in re.findall(r"""(?:from|import)\s*["'](\.{1,2}/[^"']+)["']""", text)]
    return sorted(seen)


def steps():
    """(name, inputs fingerprint, outputs, action) in order; fingerprints and outputs are computed
    lazily, because earlier steps (npm) create the inputs of later ones and name their outputs."""
    src = os.path.join(WEB, "src")
    pages = [p for p in walk_files(WEB, (".html",)) if os.path.dirname(p) == WEB]
    lock = os.path.join(ROOT, "package-lock.json")
    pyodide_pkg = os.path.join(NODE_MODULES, "pyodide", "package.json")
    wasm_src = os.path.join(ROOT, "wasm_modules")
    # (rules.json: the words and tables the page's code shares with Python)
    pyfrag_src = walk_files(os.path.join(ROOT, "pyfrag"), (".py", ".json")) + [
        os.path.join(ROOT, "pyproject.toml")]

    def made(*keys):
        """The record's entries for `keys` (what a step made), as paths; a missing one is a path that
        does not exist, so the step runs."""
        info = build_info() or {}
        return [os.path.join(DIST, info[k]) if info.get(k) else os.path.join(DIST, f"<no {k}>")
                for k in keys]

    def recorded(*keys):
        info = build_info() or {}
        return json.dumps([info.get(k) for k in keys])

    return [
        ("pyodide", lambda: fingerprint([pyodide_pkg, lock], extra=repr(LOCK_WHEELS)),
         lambda: made("pyodide"), step_pyodide),
        # micropip in the snapshot keeps the served lock's entries and snapshot-refs.mjs's names
        ("snapshot", lambda: fingerprint([os.path.join(BUILD, "snapshot.mjs"), SNAPSHOT_REFS],
                                         extra=recorded("pyodide")),
         lambda: made("snapshot"), step_snapshot),
        ("wheel", lambda: fingerprint(pyfrag_src + [os.path.join(BUILD, "pywheel.py")]),
         lambda: made("wheel"), step_wheel),
        ("modules", lambda: fingerprint(walk_files(wasm_src, (".wasm", ".json"))
                                        if os.path.isdir(wasm_src) else []),
         lambda: made("modules"), step_modules),
        ("examples", lambda: fingerprint(walk_files(EXAMPLES, (".py",))),
         lambda: made("examples"), step_examples),
        # the page's own code makes the views from the runs: stored-views.mjs and what it imports
        ("views", lambda: fingerprint(pyfrag_src + walk_files(EXAMPLES, (".py",))
                                      + walk_files(os.path.join(WEB, "py"))
                                      + [os.path.join(BUILD, "stored_views.py")]
                                      + module_graph(os.path.join(BUILD, "stored-views.mjs")),
                                      extra=recorded("modules")),
         lambda: made("views"), step_views),
        ("bundle", lambda: fingerprint(walk_files(src) + pages + [lock, SNAPSHOT_REFS, RULES]
                                       + walk_files(os.path.join(WEB, "py")),
                                       extra=recorded("pyodide", "snapshot", "wheel", "modules",
                                                      "examples", "views")),
         lambda: [os.path.join(DIST, n) for n in (build_info() or {}).get("bundle_files", ["<none>"])],
         step_bundle),
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
                    and all(os.path.exists(p) for p in outputs())):
                continue
            try:
                action()
            except StepSkipped as e:
                say(f"warning: {name}: {e}")
                stamps.pop(name, None)
            else:
                stamps[name] = stamp
            ran.append(name)
            with open(STAMPS, "w", encoding="utf-8") as f:
                json.dump(stamps, f, indent=1)
        info = build_info()
        if ran and info is not None:
            collect_garbage(info)
    if ran:
        say("prepared: " + ", ".join(ran))
    return ran
