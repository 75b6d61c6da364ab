"""Committed real modules (wasm_modules/) against their manifest, and the rebuild.

Owns: every .wasm listed in manifest.json exists and matches its entry (sha256,
size, imports, exports, memory limits, __heap_base, all read back from the
binary), every module carries the ABI, and -- marked `toolchain`, not in the
default run -- a rebuild from source succeeds with the same imports/exports.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from pyfrag.modules import manifest, manifest_path
from pyfrag.wasmfile import inspect

ENTRIES = manifest()
NAMES = [e["name"] for e in ENTRIES]
ABI = {"memory", "malloc", "free", "realloc", "live_bytes"}
FIELDS = {"name", "file", "allocator", "model", "language", "toolchain", "build", "sha256",
          "bytes", "heap_base", "initial_pages", "maximum_pages", "imports", "exports",
          "wrapper"}
WASM_DIR = os.path.dirname(manifest_path())


def _data(entry):
    with open(os.path.join(WASM_DIR, entry["file"]), "rb") as f:
        return f.read()


def test_manifest_covers_enough_allocators():
    # issue 3: at least six modules, at least five different allocators
    assert len(NAMES) == len(set(NAMES))
    assert len(ENTRIES) >= 6, NAMES
    assert len({e["allocator"] for e in ENTRIES}) >= 5


@pytest.mark.parametrize("entry", ENTRIES, ids=NAMES)
def test_binary_matches_manifest(entry):
    assert FIELDS <= set(entry), FIELDS - set(entry)
    data = _data(entry)
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["bytes"]
    info = inspect(data, entry["name"])
    assert info["exports"] == entry["exports"]
    assert info["imports"] == entry["imports"]
    assert info["initial_pages"] == entry["initial_pages"]
    assert info["maximum_pages"] == entry["maximum_pages"]
    assert info["heap_base"] == entry["heap_base"]
    assert ABI <= set(entry["exports"])
    # the heap starts inside the initial memory, past the wrapper's static table
    assert 0 < entry["heap_base"] <= entry["initial_pages"] * 65536


@pytest.mark.parametrize("entry", ENTRIES, ids=NAMES)
def test_imports_are_ones_the_harness_provides(entry):
    for imp in entry["imports"]:
        mod, _, field = imp.partition(".")
        assert mod == "wasi_snapshot_preview1" or imp in (
            "env.abort", "env.emscripten_notify_memory_growth"), imp


@pytest.mark.toolchain
def test_rebuild_from_source(tmp_path):
    """Builds are not bit-for-bit reproducible across toolchain versions, so this checks
    that every module builds and keeps its imports, exports and heap layout; where the
    toolchain version equals the manifest's, it also expects the same sha256. Modules
    built from a third-party source tree (mimalloc) are left out unless
    PYFRAG_MIMALLOC_SRC points at it."""
    build = os.path.join(WASM_DIR, "build.py")
    entries = [e for e in ENTRIES if "source" not in e or os.environ.get("PYFRAG_MIMALLOC_SRC")]
    res = subprocess.run([sys.executable, build, "--out", str(tmp_path)]
                         + [e["name"] for e in entries],
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "manifest.json", encoding="utf-8") as f:
        rebuilt = {e["name"]: e for e in json.load(f)["modules"]}
    for entry in entries:
        new = rebuilt[entry["name"]]
        for key in ("exports", "imports", "initial_pages", "maximum_pages", "heap_base"):
            assert new[key] == entry[key], (entry["name"], key)
        if new["toolchain"] == entry["toolchain"]:
            assert new["sha256"] == entry["sha256"], entry["name"]
