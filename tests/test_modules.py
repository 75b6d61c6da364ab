"""Committed real modules (wasm_modules/) against their manifest, and the rebuild.

Owns: every .wasm listed in manifest.json exists and matches its entry (sha256,
size, imports, exports, memory limits, __heap_base, all read back from the
binary), every module carries the ABI, and -- marked `toolchain`, not in the
default run -- a rebuild from source succeeds with the same imports/exports.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from pyfrag.modules import manifest, manifest_path
from pyfrag.record.wasmfile import inspect

ENTRIES = manifest()
NAMES = [e["name"] for e in ENTRIES]
ABI = {"memory", "malloc", "free", "realloc", "live_bytes"}
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "wasm_modules", "src")
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
    toolchain version equals the manifest's, it also expects the same sha256."""
    build = os.path.join(WASM_DIR, "build.py")
    res = subprocess.run([sys.executable, build, "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=1800)
    # a module built from third-party sources is left out only when they were not given
    # (wasm_modules/README.md says where they come from), never for another reason
    unsourced = re.findall(r"^skipped ([\w-]+): source \S+ missing", res.stderr, re.M)
    others = [l for l in res.stderr.splitlines() if l.startswith("skipped ")
              and not re.match(r"skipped [\w-]+: source \S+ missing", l)]
    assert res.returncode == 0 or (unsourced and not others), res.stderr
    with open(tmp_path / "manifest.json", encoding="utf-8") as f:
        rebuilt = {e["name"]: e for e in json.load(f)["modules"]}
    for entry in ENTRIES:
        if entry["name"] in unsourced:
            continue
        new = rebuilt[entry["name"]]
        for key in ("exports", "imports", "initial_pages", "maximum_pages", "heap_base"):
            assert new[key] == entry[key], (entry["name"], key)
        if new["toolchain"] == entry["toolchain"]:
            assert new["sha256"] == entry["sha256"], entry["name"]


def test_third_party_sources_are_recorded_not_vendored():
    entry = next(e for e in ENTRIES if e["name"] == "wee-alloc")
    assert [(s["repository"], s["tag"]) for s in entry["sources"]] == \
        [("rustwasm/wee_alloc", "0.4.5"), ("pepyakin/memory_units", "0.4.0")]
    assert all(len(s["commit"]) == 40 and int(s["commit"], 16) for s in entry["sources"])
    assert '"$WEE_ALLOC_SRC"' in entry["build"] and "--cfg wee_alloc" in entry["build"]
    root = os.path.dirname(WASM_DIR)
    tracked = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    if tracked.returncode == 0:             # a checkout: no wee_alloc source file in it
        assert not [p for p in tracked.stdout.split() if "wee_alloc/src" in p or
                    p.endswith(("imp_wasm32.rs", "size_classes.rs"))]


def test_a_build_without_its_sources_says_which_option_to_pass(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("WEE_ALLOC_SRC", "MEMORY_UNITS_SRC")}
    res = subprocess.run([sys.executable, os.path.join(WASM_DIR, "build.py"), "wee-alloc",
                          "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 1
    assert "--wee-alloc-src" in res.stderr or "toolchain rustc-wee is missing" in res.stderr
    assert not (tmp_path / "wee-alloc.wasm").exists()


RUST_CRATES = {"talc": ["SFBdragon/talc"], "lol-alloc": ["Craig-Macomber/lol_alloc"],
               "lol-alloc-leaking": ["Craig-Macomber/lol_alloc"],
               "rlsf": ["yvt/rlsf", "AerialX/const-default.rs"],
               "rlsf-global": ["yvt/rlsf", "AerialX/const-default.rs"]}


@pytest.mark.parametrize("name", sorted(RUST_CRATES))
def test_rust_allocator_crates_are_recorded_not_vendored(name):
    entry = next(e for e in ENTRIES if e["name"] == name)
    toolchain, *repos = entry["sources"]
    assert toolchain["debian_package"] == "rustc-web" and toolchain["version"] in entry["toolchain"]
    assert [s["repository"] for s in repos] == RUST_CRATES[name]
    assert all(len(s["commit"]) == 40 and ("tag" in s or "version" in s) for s in repos)
    assert '"$RUSTC_WEB/usr/bin/rustc"' in entry["build"]
    root = os.path.dirname(WASM_DIR)
    tracked = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    if tracked.returncode == 0:             # a checkout: none of the crates' files in it
        assert not [p for p in tracked.stdout.split()
                    if p.endswith(("talck.rs", "free_list_allocator.rs", "tlsf.rs", "flex.rs"))]


def test_a_rust_crate_build_without_rustc_web_says_which_option_to_pass(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTC_WEB", "TALC_SRC")}
    res = subprocess.run([sys.executable, os.path.join(WASM_DIR, "build.py"), "talc",
                          "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 1
    assert "skipped talc: source rustc_web missing; pass --rustc-web DIR" in res.stderr
    assert not (tmp_path / "talc.wasm").exists()


@pytest.mark.parametrize("source", ["abi.c", "abi.rs", "abi.ts"])
def test_the_modules_state_the_replay_codes_the_hosts_read(source):
    """The replay inside a module: its status bits, flags and codes in each ABI source are those of
    pyfrag/rules.json, which pyfrag.real.runner and the page's realheap.js read."""
    from pyfrag.rules import RUN
    want = {f"RUN_{k.upper()}": v for k, v in {**RUN["status"], **RUN["flags"]}.items()}
    want.update(UNCALLED=RUN["uncalled"], HELD=RUN["held"])
    with open(os.path.join(SRC, source), encoding="utf-8") as f:
        text = f.read()
    # `NAME = 1` (C's enums), `#define NAME 255u`, `const NAME: u8 = 1;`
    found = {m[0]: int(m[1]) for m in re.findall(
        r"\b(RUN_[A-Z_]+|UNCALLED|HELD)\b(?:\s*=|\s*:\s*\w+\s*=|\s+)\s*(\d+)u?\b", text)}
    assert {k: found.get(k) for k in want} == want
