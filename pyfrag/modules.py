"""The manifest of real WebAssembly modules (wasm_modules/manifest.json).

Main entry points: `manifest()` (all entries) and `find(name)` (one entry).
Each entry says how a real module was built and the start state a simulator
needs to match it: heap base, initial and maximum pages, and the name of the
model ("model") that reproduces its allocator.

The file is looked for in $PYFRAG_MANIFEST, then in the source tree beside
this package; the playground passes entries in directly instead.
"""

import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


class UnknownModule(ValueError):
    pass


def manifest_path():
    path = os.environ.get("PYFRAG_MANIFEST") or os.path.join(
        _HERE, os.pardir, "wasm_modules", "manifest.json")
    return os.path.normpath(path)


def manifest(path=None):
    """The manifest's module entries, as a list of dicts."""
    path = path or manifest_path()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no module manifest at {path} (set PYFRAG_MANIFEST to its path)") from None
    return data["modules"]


def find(name, path=None):
    entries = manifest(path)
    for entry in entries:
        if entry["name"] == name:
            entry = dict(entry)
            entry["path"] = os.path.join(os.path.dirname(path or manifest_path()), entry["file"])
            return entry
    raise UnknownModule(f"unknown module {name!r}; known: {', '.join(e['name'] for e in entries)}")
