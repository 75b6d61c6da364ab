"""The manifest of real WebAssembly modules (wasm_modules/manifest.json).

Main entry points: `manifest()` (all entries) and `find(name)` (one entry).
Each entry says how a real module was built and the start state a simulator
needs to match it: heap base, initial and maximum pages, and the name of the
model ("model") that reproduces its allocator.

Where the manifest is (`manifest_path()`): $PYFRAG_MANIFEST when set, else the
copy an installed pyfrag carries as package data (pyproject.toml maps the
repository's wasm_modules/ to pyfrag/wasm_modules/ in the wheel), else the
source tree beside this package. The playground passes entries in directly.
"""

import json
import os
from importlib import resources

_SOURCE_TREE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                            "wasm_modules", "manifest.json")


class UnknownModule(ValueError):
    pass


def _packaged():
    """The manifest installed with the package, if it is a file on disk."""
    data = resources.files(__package__) / "wasm_modules" / "manifest.json"
    return os.fspath(data) if isinstance(data, os.PathLike) else None


def manifest_path():
    """The manifest's path; FileNotFoundError names every place looked in."""
    override = os.environ.get("PYFRAG_MANIFEST")
    if override:
        if not os.path.isfile(override):
            raise FileNotFoundError(f"no module manifest at {override} (from PYFRAG_MANIFEST)")
        return os.path.normpath(override)
    places = [p for p in (_packaged(), os.path.normpath(_SOURCE_TREE)) if p]
    for place in places:
        if os.path.isfile(place):
            return place
    raise FileNotFoundError(f"no module manifest at {' or '.join(places)} "
                            "(set PYFRAG_MANIFEST to its path)")


def manifest(path=None):
    """The manifest's module entries, as a list of dicts."""
    path = path or manifest_path()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"no module manifest at {path}") from None
    return data["modules"]


def find(name, path=None):
    path = path or manifest_path()
    entries = manifest(path)
    for entry in entries:
        if entry["name"] == name:
            entry = dict(entry)
            entry["path"] = os.path.join(os.path.dirname(path), entry["file"])
            return entry
    raise UnknownModule(f"unknown module {name!r}; known: {', '.join(e['name'] for e in entries)}")
