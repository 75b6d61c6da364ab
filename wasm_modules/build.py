#!/usr/bin/env python3
"""Rebuild the real WebAssembly modules from src/ and write manifest.json.

Owns the list of modules (`MODULES`): for each, its allocator, language, the
exact build command and the toolchain that runs it. Usage:

    python wasm_modules/build.py                 # rebuild all, rewrite manifest.json
    python wasm_modules/build.py c-dlmalloc      # rebuild some (manifest keeps the rest)
    python wasm_modules/build.py --out DIR       # build into DIR (the toolchain test)
    python wasm_modules/build.py --manifest-only # re-read the committed .wasm files
    python wasm_modules/build.py wee-alloc --wee-alloc-src DIR --memory-units-src DIR
    python wasm_modules/build.py mimalloc --mimalloc-src DIR   # or PYFRAG_MIMALLOC_SRC=DIR
    python wasm_modules/build.py talc lol-alloc rlsf --rustc-web DIR --talc-src DIR ...

The committed .wasm files are the source of truth for tests and the
playground; nothing at test time needs a toolchain. Sizes, sha256, imports,
exports, memory limits and __heap_base are read from each built binary, never
typed in by hand. Missing toolchains are reported and their modules skipped.
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from pyfrag.record.wasmfile import inspect  # noqa: E402

PY = "python3"          # how the command reads in the manifest; sys.executable runs it
RUSTC = "/usr/bin/rustc"  # Debian's rustc: the one with the wasm32 std installed
CRATES = "/usr/share/cargo/registry"   # Debian's librust-*-dev crate sources

# Third-party sources, never copied into the repo, each named by an option or an
# environment variable. A git repository (a clone or a mirror): the build
# extracts the tag into its temporary directory and the manifest records tag and
# commit. A Debian source package (unpacked by `apt-get source`): the build reads
# it where it is and the manifest records package and version.
SOURCES = {
    "wee_alloc": dict(option="--wee-alloc-src", env="WEE_ALLOC_SRC", tag="0.4.5",
                      repository="rustwasm/wee_alloc"),
    "memory_units": dict(option="--memory-units-src", env="MEMORY_UNITS_SRC", tag="0.4.0",
                         repository="pepyakin/memory_units"),
    "mimalloc": dict(option="--mimalloc-src", env="PYFRAG_MIMALLOC_SRC",
                     package="mimalloc"),
    # Debian's rustc-web (a newer rustc than the installed one, which the other Rust
    # modules need) unpacked with dpkg -x, not installed: see wasm_modules/README.md
    "rustc_web": dict(option="--rustc-web", env="RUSTC_WEB", unpacked="rustc-web"),
    "talc": dict(option="--talc-src", env="TALC_SRC", tag="v4.4.2",
                 repository="SFBdragon/talc"),
    # lol_alloc 0.4.1 has no tag: the commit that set the version
    "lol_alloc": dict(option="--lol-alloc-src", env="LOL_ALLOC_SRC", version="0.4.1",
                      commit="4fb0f6ca9f1f80a2384a1b7325a8df23d8963844",
                      repository="Craig-Macomber/lol_alloc"),
    "rlsf": dict(option="--rlsf-src", env="RLSF_SRC", tag="0.2.1", repository="yvt/rlsf"),
    "const_default": dict(option="--const-default-src", env="CONST_DEFAULT_SRC",
                          tag="v1.0.0", repository="AerialX/const-default.rs"),
}

# Every wrapper replays whole traces itself (pyfrag_run, see src/abi.c) and keeps no table of
# blocks: free and realloc take the block's size and alignment back from the host.
RUN_TEXT = ("; free(ptr, size, align) and realloc(ptr, new_size, size, align) take the block's "
            "requested size and alignment back, so the wrapper keeps no table and any number "
            "of blocks may be live; pyfrag_run replays whole traces from arrays in {kib} KiB of "
            "static memory below __heap_base, the host resolving ids to earlier events")

# Every C module shares src/abi.c.
C_WRAPPER = ("src/abi.c: exports forward to the libc malloc family unchanged, live_bytes counts "
             "the requested sizes, never in the measured heap, so addresses are the allocator's "
             "own" + RUN_TEXT.format(kib=512))

AS_WRAPPER = ("src/abi.ts: heap.alloc/heap.free/heap.realloc (no GC objects), live_bytes counts "
              "the requested sizes" + RUN_TEXT.format(kib=512))

# -- the Rust allocator crates (talc, lol_alloc, rlsf): Debian's rustc-web, unpacked ----
#
# Each is a no_std cdylib (src/global_alloc.rs) on core and compiler_builtins built
# here from Debian's rust-web-src (RUSTC_BOOTSTRAP lets a stable rustc build them),
# its crate and the crate's dependencies as plain rlibs, third-party ones with
# --cap-lints allow as cargo builds dependencies; paths under the temporary
# directory are remapped so the build is the same wherever it runs.
RUST_WEB_LIBRARY = "/usr/src/rustc-1.96.0/library"      # Debian's rust-web-src
WASM_LIBS = "{tmp}/sysroot/lib/rustlib/wasm32-unknown-unknown/lib"


def rustc_web(*args, bootstrap=False):
    """A step run by the unpacked rustc-web (its libraries beside it, not installed)."""
    return (["env", "LD_LIBRARY_PATH={rustc_web}/usr/lib/x86_64-linux-gnu"]
            + (["RUSTC_BOOTSTRAP=1"] if bootstrap else [])
            + ["{rustc_web}/usr/bin/rustc", "--remap-path-prefix={tmp}=tmp", *args])


def wasm_rlib(name, edition, src, *args, out=None, bootstrap=False):
    """A crate compiled for wasm32 as an rlib in {tmp} (or `out`)."""
    return rustc_web("--sysroot", "{tmp}/sysroot", "--target", "wasm32-unknown-unknown", "-O",
                     "--edition", edition, "--crate-type", "rlib", "--crate-name", name, *args,
                     "-o", f"{out or '{tmp}'}/lib{name}.rlib", src, bootstrap=bootstrap)


def git_tree(source, prefix):
    """Extract a recorded source (its tag, or its commit where it has none) into {tmp}."""
    rev = SOURCES[source].get("tag") or SOURCES[source]["commit"]
    return [["git", "-C", "{" + source + "}", "archive", f"--prefix={prefix}/",
             "-o", f"{{tmp}}/{prefix}.tar", rev],
            ["tar", "-xf", f"{{tmp}}/{prefix}.tar", "-C", "{tmp}"]]


# core (edition 2024, as the library's own Cargo.toml says) and compiler_builtins with
# the features std's build gives it on wasm32 ("mem": memcpy and friends, no libc here)
SYSROOT = [
    ["mkdir", "-p", WASM_LIBS],
    ["ln", "-s", "{rustc_web}/usr/lib/rustlib/x86_64-unknown-linux-gnu",
     "{tmp}/sysroot/lib/rustlib/x86_64-unknown-linux-gnu"],
    wasm_rlib("core", "2024", RUST_WEB_LIBRARY + "/core/src/lib.rs", out=WASM_LIBS,
              bootstrap=True),
    wasm_rlib("compiler_builtins", "2024",
              RUST_WEB_LIBRARY + "/compiler-builtins/compiler-builtins/src/lib.rs",
              "--cfg", 'feature="compiler-builtins"', "--cfg", 'feature="mem"',
              out=WASM_LIBS, bootstrap=True),
]


def dependency(name, edition, src, *args):
    """A third-party crate: lints capped, as cargo builds dependencies."""
    return wasm_rlib(name, edition, src, "--cap-lints", "allow", *args)


def allocator_module(cfg, crate):
    """src/global_alloc.rs around one allocator (`--cfg pyfrag_alloc=...`)."""
    return rustc_web("--sysroot", "{tmp}/sysroot", "--target", "wasm32-unknown-unknown", "-O",
                     "--edition", "2021", "--crate-type", "cdylib",
                     "--check-cfg", "cfg(pyfrag_alloc, values(any()))",
                     "--cfg", f'pyfrag_alloc="{cfg}"', "--extern", f"{crate}={{tmp}}/lib{crate}.rlib",
                     "-L", "{tmp}", "-C", "link-arg=--export=__heap_base",
                     "-C", "link-arg=--strip-debug", "-o", "{out}", "src/global_alloc.rs")


TALC_STEPS = SYSROOT + git_tree("talc", "talc") + [
    dependency("scopeguard", "2015", CRATES + "/scopeguard-1.1.0/src/lib.rs"),
    # lock_api's build.rs sets this cfg for any rustc >= 1.61
    dependency("lock_api", "2018", CRATES + "/lock_api-0.4.9/src/lib.rs",
               "--cfg", "has_const_fn_trait_bound",
               "--extern", "scopeguard={tmp}/libscopeguard.rlib"),
    # README_WASM.md's configuration: default features off, "lock_api" on
    dependency("talc", "2021", "{tmp}/talc/talc/src/lib.rs", "--cfg", 'feature="lock_api"',
               "--extern", "lock_api={tmp}/liblock_api.rlib", "-L", "{tmp}")]

# spin with only the features lol_alloc uses (LockedAllocator's spin::Mutex, which the
# modules do not build on): the rest of spin's defaults would pull in more crates
LOL_ALLOC_STEPS = SYSROOT + git_tree("lol_alloc", "lol_alloc") + [
    dependency("spin", "2015", CRATES + "/spin-0.9.5/src/lib.rs",
               "--cfg", 'feature="mutex"', "--cfg", 'feature="spin_mutex"'),
    dependency("lol_alloc", "2021", "{tmp}/lol_alloc/lol_alloc/src/lib.rs",
               "--extern", "spin={tmp}/libspin.rlib")]

# svgbobdoc only draws one doc comment: our stand-in (src/svgbobdoc.rs) expands to ""
RLSF_STEPS = SYSROOT + git_tree("rlsf", "rlsf") + git_tree("const_default", "const-default") + [
    rustc_web("--sysroot", "{tmp}/sysroot", "-O", "--edition", "2021", "--crate-type",
              "proc-macro", "--crate-name", "svgbobdoc", "-o", "{tmp}/libsvgbobdoc.so",
              "src/svgbobdoc.rs"),
    dependency("cfg_if", "2018", CRATES + "/cfg-if-1.0.0/src/lib.rs"),
    dependency("const_default", "2018", "{tmp}/const-default/src/lib.rs"),
    dependency("rlsf", "2021", "{tmp}/rlsf/crates/rlsf/src/lib.rs",
               "--extern", "cfg_if={tmp}/libcfg_if.rlib",
               "--extern", "const_default1={tmp}/libconst_default.rlib",
               "--extern", "svgbobdoc={tmp}/libsvgbobdoc.so")]

GLOBAL_ALLOC_WRAPPER = ("src/global_alloc.rs with src/abi.rs: a no_std cdylib, the article's "
                        "TrackingAllocator (#[global_allocator]) around the crate's allocator; "
                        "malloc is Layout(size, 8), aligned_alloc Layout(size, align) for any "
                        "power of two (malloc(0) asks for 1 byte, counted as 0)"
                        + RUN_TEXT.format(kib=64))


MODULES = [
    dict(name="c-dlmalloc", model="dlmalloc", language="C",
         allocator="dlmalloc 2.8.6 (wasi-libc)", toolchain="clang",
         cmd=["clang-14", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
              "-fuse-ld=lld", "-Wl,--export=__heap_base", "-Wl,--strip-debug",
              "-o", "{out}", "src/abi.c"],
         wrapper=C_WRAPPER),
    dict(name="rust-dlmalloc", model="rust-dlmalloc", language="Rust",
         allocator="dlmalloc-rs (Rust std System allocator, wasm32-unknown-unknown)",
         toolchain="rustc",
         cmd=[RUSTC, "--edition", "2018", "--target", "wasm32-unknown-unknown",
              "--crate-type", "cdylib", "-O", "-C", "link-arg=--export=__heap_base",
              "-C", "link-arg=--strip-debug", "-o", "{out}", "src/tracking.rs"],
         wrapper=("src/tracking.rs with src/abi.rs: the article's TrackingAllocator "
                  "(#[global_allocator] around System) counts requested bytes; the exported "
                  "malloc/aligned_alloc call it with align 8 and up (malloc(0) asks for 1 byte, "
                  "counted as 0)" + RUN_TEXT.format(kib=768))),
    dict(name="zig-wasm", model="zig-wasm", language="Zig",
         allocator="std.heap.wasm_allocator (Zig's BrkAllocator: power-of-two size classes)",
         toolchain="zig",
         cmd=[PY, "-m", "ziglang", "build-exe", "src/wasm_allocator.zig",
              "-target", "wasm32-freestanding", "-fno-entry", "-rdynamic",
              "-O", "ReleaseSmall", "--export=__heap_base", "-femit-bin={out}"],
         wrapper=("src/wasm_allocator.zig: rawAlloc/rawFree/rawRemap with alignment 8 and up; "
                  "realloc that cannot remap in place is alloc + copy + free" +
                  RUN_TEXT.format(kib=768))),
    dict(name="zig-libc", model="zig-libc", language="C",
         allocator=("Zig's own libc malloc (zig cc, wasm32-wasi): std.heap.WasmAllocator "
                    "behind a 16-byte size/alignment header in front of each block"),
         toolchain="zig",
         # zig cc's 16 MiB default stack would put the heap 16 MiB up; 64 KiB is what
         # plain clang/wasm-ld give C programs, so the two C modules start alike.
         cmd=[PY, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
              "-mexec-model=reactor", "-Wl,-z,stack-size=65536", "-Wl,--export=__heap_base", "-s", "-o", "{out}",
              "src/abi.c"],
         wrapper=C_WRAPPER),
    dict(name="as-tlsf", model="as-tlsf", language="AssemblyScript",
         allocator="TLSF (AssemblyScript --runtime incremental)", toolchain="asc",
         cmd=["npx", "asc", "src/abi.ts", "-O3", "--runtime", "incremental",
              "--exportStart", "_initialize", "-o", "{out}"],
         wrapper=AS_WRAPPER),
    dict(name="as-stub", model="as-stub", language="AssemblyScript",
         allocator="bump allocator (AssemblyScript --runtime stub)", toolchain="asc",
         cmd=["npx", "asc", "src/abi.ts", "-O3", "--runtime", "stub",
              "--exportStart", "_initialize", "-o", "{out}"],
         wrapper=AS_WRAPPER),
    dict(name="emmalloc", model="emmalloc", language="C",
         allocator="emmalloc (Emscripten)", toolchain="emcc",
         cmd=["emcc", "-O2", "-sMALLOC=emmalloc", "-sSTANDALONE_WASM", "--no-entry",
              "-sALLOW_MEMORY_GROWTH", "-sTOTAL_STACK=65536", "-sINITIAL_MEMORY=1048576",
              "-sEXPORTED_FUNCTIONS=[]", "-Wl,--export=__heap_base", "-o", "{out}", "src/abi.c"],
         wrapper=C_WRAPPER),
    dict(name="emscripten-dlmalloc", model="emscripten-dlmalloc", language="C",
         allocator="dlmalloc 2.8.6 (Emscripten)", toolchain="emcc",
         cmd=["emcc", "-O2", "-sMALLOC=dlmalloc", "-sSTANDALONE_WASM", "--no-entry",
              "-sALLOW_MEMORY_GROWTH", "-sTOTAL_STACK=65536", "-sINITIAL_MEMORY=1048576",
              "-sEXPORTED_FUNCTIONS=[]", "-Wl,--export=__heap_base", "-o", "{out}", "src/abi.c"],
         wrapper=C_WRAPPER),
    dict(name="rust-arena", model="rust-dlmalloc", language="Rust",
         allocator="dlmalloc-rs (Rust std System allocator) with typed-arena 2.0.1 and "
                   "bumpalo 3.12.0 arenas for produce_fragmentation_arena",
         toolchain="rustc-crates",
         # Debian's crate sources, compiled offline for wasm32 as plain rlibs first.
         pre=[[RUSTC, "--edition", "2018", "--crate-type", "rlib", "--crate-name",
               "typed_arena", "--target", "wasm32-unknown-unknown", "-O",
               "--cfg", 'feature="std"', "-o", "{tmp}/libtyped_arena.rlib",
               CRATES + "/typed-arena-2.0.1/src/lib.rs"],
              [RUSTC, "--edition", "2021", "--crate-type", "rlib", "--crate-name",
               "bumpalo", "--target", "wasm32-unknown-unknown", "-O",
               "-o", "{tmp}/libbumpalo.rlib", CRATES + "/bumpalo-3.12.0/src/lib.rs"]],
         cmd=[RUSTC, "--edition", "2018", "--target", "wasm32-unknown-unknown",
              "--crate-type", "cdylib", "-O", "-C", "link-arg=--export=__heap_base",
              "-C", "link-arg=--strip-debug",
              "--extern", "typed_arena={tmp}/libtyped_arena.rlib",
              "--extern", "bumpalo={tmp}/libbumpalo.rlib", "-o", "{out}", "src/arena.rs"],
         wrapper=("the rust-dlmalloc wrapper compiled in unchanged (src/tracking.rs); the "
                  "arenas' own chunks come from the same TrackingAllocator, so "
                  "get_live_data_size counts them")),
    dict(name="wee-alloc", model="wee-alloc", language="Rust",
         allocator="wee_alloc 0.4.5 (size_classes) as the global allocator",
         toolchain="rustc-wee", sources=["wee_alloc", "memory_units"],
         # the crates as plain rlibs (no cargo registry here); wee_alloc's build.rs
         # only writes a size for the static-array backend, which is not built
         pre=[["git", "-C", "{wee_alloc}", "archive", "--prefix=wee_alloc/",
               "-o", "{tmp}/wee_alloc.tar", "0.4.5"],
              ["tar", "-xf", "{tmp}/wee_alloc.tar", "-C", "{tmp}"],
              ["git", "-C", "{memory_units}", "archive", "--prefix=memory_units/",
               "-o", "{tmp}/memory_units.tar", "0.4.0"],
              ["tar", "-xf", "{tmp}/memory_units.tar", "-C", "{tmp}"],
              [RUSTC, "--edition", "2018", "--crate-type", "rlib", "--crate-name", "cfg_if",
               "--target", "wasm32-unknown-unknown", "-O", "-o", "{tmp}/libcfg_if.rlib",
               CRATES + "/cfg-if-0.1.10/src/lib.rs"],
              [RUSTC, "--edition", "2015", "--crate-type", "rlib", "--crate-name",
               "memory_units", "--target", "wasm32-unknown-unknown", "-O",
               "-o", "{tmp}/libmemory_units.rlib", "{tmp}/memory_units/src/lib.rs"],
              [RUSTC, "--edition", "2015", "--crate-type", "rlib", "--crate-name", "wee_alloc",
               "--target", "wasm32-unknown-unknown", "-O",
               "--cfg", 'feature="default"', "--cfg", 'feature="size_classes"',
               "--extern", "cfg_if={tmp}/libcfg_if.rlib",
               "--extern", "memory_units={tmp}/libmemory_units.rlib",
               "-o", "{tmp}/libwee_alloc.rlib", "{tmp}/wee_alloc/wee_alloc/src/lib.rs"]],
         cmd=[RUSTC, "--edition", "2018", "--target", "wasm32-unknown-unknown",
              "--crate-type", "cdylib", "-O",
              "--cfg", "wee_alloc", "--extern", "wee_alloc={tmp}/libwee_alloc.rlib",
              "-L", "{tmp}", "-C", "link-arg=--export=__heap_base",
              "-C", "link-arg=--strip-debug", "-o", "{out}", "src/tracking.rs"],
         wrapper=("src/tracking.rs built with --cfg wee_alloc: the rust-dlmalloc wrapper "
                  "with wee_alloc under the TrackingAllocator; malloc asks align 8 (so it "
                  "never reaches the size classes, which serve align <= 4), aligned_alloc "
                  "passes alignments below 8 through" + RUN_TEXT.format(kib=768))),
    dict(name="mimalloc", model="mimalloc", language="C",
         allocator="mimalloc (MI_MALLOC_OVERRIDE: malloc, free, realloc, posix_memalign)",
         toolchain="clang", sources=["mimalloc"],
         # -DMI_MALLOC_OVERRIDE is the switch static.c reads; -DMI_OVERRIDE would
         # silently leave wasi-libc's dlmalloc in place.
         cmd=["clang-14", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
              "-fuse-ld=lld", "-DMI_MALLOC_OVERRIDE", "-DNDEBUG", "-I{mimalloc}/include",
              "-Wl,--export=__heap_base", "-Wl,--strip-debug", "-o", "{out}",
              "src/abi.c", "{mimalloc}/src/static.c"],
         wrapper=C_WRAPPER),
    dict(name="talc", model="talc", language="Rust",
         allocator="talc 4.4.2 (TalckWasm: Talc<WasmHandler> behind lock_api, AssumeUnlockable)",
         toolchain="rustc-web-talc", sources=["rustc_web", "talc"],
         pre=TALC_STEPS, cmd=allocator_module("talc", "talc"), wrapper=GLOBAL_ALLOC_WRAPPER),
    dict(name="lol-alloc", model="lol-alloc", language="Rust",
         allocator="lol_alloc 0.4.1 (AssumeSingleThreaded<FreeListAllocator>)",
         toolchain="rustc-web-lol", sources=["rustc_web", "lol_alloc"],
         pre=LOL_ALLOC_STEPS, cmd=allocator_module("lol_alloc", "lol_alloc"),
         wrapper=GLOBAL_ALLOC_WRAPPER),
    dict(name="lol-alloc-leaking", model="lol-alloc-leaking", language="Rust",
         allocator="lol_alloc 0.4.1 (AssumeSingleThreaded<LeakingAllocator>: a bump pointer)",
         toolchain="rustc-web-lol", sources=["rustc_web", "lol_alloc"],
         pre=LOL_ALLOC_STEPS, cmd=allocator_module("lol_alloc_leaking", "lol_alloc"),
         wrapper=GLOBAL_ALLOC_WRAPPER),
    dict(name="rlsf", model="rlsf", language="Rust",
         allocator="rlsf 0.2.1 (SmallGlobalTlsf: TLSF, a pool per memory.grow, realloc by "
                   "alloc + copy + free)",
         toolchain="rustc-web-rlsf", sources=["rustc_web", "rlsf", "const_default"],
         pre=RLSF_STEPS, cmd=allocator_module("rlsf", "rlsf"), wrapper=GLOBAL_ALLOC_WRAPPER),
    dict(name="rlsf-global", model="rlsf-global", language="Rust",
         allocator="rlsf 0.2.1 (GlobalTlsf, default options: in-place realloc; its pool "
                   "coalescing never triggers on wasm32)",
         toolchain="rustc-web-rlsf", sources=["rustc_web", "rlsf", "const_default"],
         pre=RLSF_STEPS, cmd=allocator_module("rlsf_global", "rlsf"),
         wrapper=GLOBAL_ALLOC_WRAPPER),
]


def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=HERE)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0].strip() if out.returncode == 0 and text else None


def _deb(package):
    return _first_line(["dpkg-query", "-W", "-f=${Version}", package])


def toolchain_versions(dirs=None):
    """Exact versions of each toolchain, or None where it is missing."""
    found = {}
    web = _rustc_web(dirs or {})
    for key, crates in (("rustc-web-talc", ("librust-lock-api-dev", "librust-scopeguard-dev")),
                        ("rustc-web-lol", ("librust-spin-dev",)),
                        ("rustc-web-rlsf", ("librust-cfg-if-dev",))):
        have = [f"{c} {_deb(c)}" for c in crates if _deb(c)]
        found[key] = web and len(have) == len(crates) and f"{web}; {', '.join(have)}"
    clang = _first_line(["clang-14", "--version"])
    wasi = _deb("wasi-libc")
    found["clang"] = clang and f"{clang}; lld {_deb('lld-14')}; wasi-libc {wasi}"
    rustc = _first_line([RUSTC, "--version"])
    found["rustc"] = rustc and f"{rustc} (Debian {_deb('rustc')}), " \
        f"libstd-rust-dev-wasm32 {_deb('libstd-rust-dev-wasm32')}"
    crates = [_deb("librust-typed-arena-dev"), _deb("librust-bumpalo-dev")]
    found["rustc-crates"] = found["rustc"] and all(crates) and \
        f"{found['rustc']}; librust-typed-arena-dev {crates[0]}, " \
        f"librust-bumpalo-dev {crates[1]}"
    cfg_if = _deb("librust-cfg-if-0.1-dev")
    found["rustc-wee"] = found["rustc"] and cfg_if and \
        f"{found['rustc']}; librust-cfg-if-0.1-dev {cfg_if}"
    zig = _first_line([sys.executable, "-m", "ziglang", "version"])
    found["zig"] = zig and f"zig {zig} (ziglang wheel)"
    asc = _first_line(["npx", "--no-install", "asc", "--version"])
    found["asc"] = asc and f"assemblyscript {asc.split()[-1].lstrip('v')}"
    emcc = _first_line(["emcc", "--version"])
    found["emcc"] = emcc and f"{emcc.split(' (')[0]} {emcc.split(')')[-1].strip()}".strip() \
        + f" (Debian {_deb('emscripten')})"
    return found


def _rustc_web(dirs):
    """rustc-web's version line, with what else its builds use: the library sources
    (rust-web-src), its LLVM and the linker (Debian rustc's rust-lld, lld 14)."""
    if "rustc_web" not in dirs:
        return None
    root = dirs["rustc_web"]
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr/lib/x86_64-linux-gnu"))
    try:
        out = subprocess.run([os.path.join(root, "usr/bin/rustc"), "--version"], env=env,
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    src, llvm, lld = _deb("rust-web-src"), _deb("libllvm22"), _deb("rustc")
    if out.returncode != 0 or not (src and llvm and lld) \
            or not os.path.isdir(RUST_WEB_LIBRARY):
        return None
    version = _unpacked_version(root, "rustc-web")
    return (f"{out.stdout.strip()} (Debian rustc-web {version}, unpacked); rust-web-src {src}; "
            f"libllvm22 {llvm}; rust-lld from Debian rustc {lld}")


def _unpacked_version(root, package):
    """A package's version from the changelog dpkg -x left under `root`, or None."""
    import gzip
    try:
        with gzip.open(os.path.join(root, "usr/share/doc", package, "changelog.Debian.gz"),
                       "rt", encoding="utf-8") as f:
            first = f.readline().split()
    except OSError:
        return None
    return first[1].strip("()") if len(first) > 1 and first[0] == package else None


def steps(spec):
    return spec.get("pre", []) + [spec["cmd"]]


def source_dirs(args):
    """{source name: directory} from the options, else the environment."""
    found = {}
    for name, src in SOURCES.items():
        path = getattr(args, name + "_src", None) or os.environ.get(src["env"])
        if path:
            found[name] = os.path.abspath(path)
    return found


def source_commits(spec, dirs):
    """The manifest's record of a module's third-party sources: repository, tag and commit,
    or Debian source package and version. Raises RuntimeError when one is missing or wrong."""
    out = []
    for name in spec.get("sources", []):
        src = SOURCES[name]
        if name not in dirs:
            raise RuntimeError(f"{spec['name']}: source {name} missing; "
                               f"pass {src['option']} DIR or set {src['env']} "
                               "(see wasm_modules/README.md)")
        if "package" in src:
            out.append(_debian_version(spec, src, dirs[name]))
        elif "unpacked" in src:
            version = _unpacked_version(dirs[name], src["unpacked"])
            if version is None:
                raise RuntimeError(f"{spec['name']}: {dirs[name]} holds no unpacked Debian "
                                   f"package {src['unpacked']} (see wasm_modules/README.md)")
            out.append({"debian_package": src["unpacked"], "version": version,
                        "unpacked": "dpkg -x, not installed"})
        else:
            out.append(_git_commit(spec, src, dirs[name]))
    return out


def _git_commit(spec, src, path):
    rev = src.get("tag") or src["commit"]
    res = subprocess.run(["git", "-C", path, "rev-parse", "--verify", "-q",
                          rev + "^{commit}"], capture_output=True, text=True)
    if res.returncode != 0:
        what = f"tag {rev}" if "tag" in src else f"commit {rev}"
        raise RuntimeError(f"{spec['name']}: {path} is not a git repository "
                           f"of {src['repository']} with {what}")
    named = {"tag": src["tag"]} if "tag" in src else {"version": src["version"]}
    return {"repository": src["repository"], **named, "commit": res.stdout.strip()}


def _debian_version(spec, src, path):
    """Package and version from an unpacked Debian source package's changelog."""
    changelog = os.path.join(path, "debian", "changelog")
    try:
        with open(changelog, encoding="utf-8") as f:
            first = f.readline().split()
        package, version = first[0], first[1].strip("()")
    except (OSError, IndexError):
        raise RuntimeError(f"{spec['name']}: {changelog}: cannot read the package version") \
            from None
    if package != src["package"]:
        raise RuntimeError(f"{spec['name']}: {path} holds Debian source package {package}, "
                           f"not {src['package']}")
    return {"debian_source_package": package, "version": version}


def run_build(spec, out, tmp, dirs=None):
    for step in steps(spec):
        cmd = [c.format(out=out, tmp=tmp, **(dirs or {})) for c in step]
        if cmd[0] == PY:
            cmd[0] = sys.executable
        res = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{spec['name']}: build failed ({' '.join(cmd)}):\n"
                               f"{res.stderr.strip() or res.stdout.strip()}")
    if not os.path.isfile(out):
        raise RuntimeError(f"{spec['name']}: the build wrote no {out}")


def shown(step, file_name):
    """A build step as the manifest shows it: sources as their environment variables."""
    text = shlex.join(c.format(out=file_name, tmp="tmp",
                               **{n: f"${s['env']}" for n, s in SOURCES.items()})
                      for c in step)
    # a word naming a source keeps its variable expandable: "$VAR/..." in double quotes
    return re.sub(r"'([^'\"\\`]*\$[A-Z_]+[^'\"\\`]*)'", r'"\1"', text)


def describe(spec, path, version, file_name, sources=None):
    with open(path, "rb") as f:
        data = f.read()
    info = inspect(data, spec["name"])
    missing = [e for e in ("memory", "malloc", "free", "realloc", "live_bytes")
               if e not in info["exports"]]
    if missing:
        raise RuntimeError(f"{spec['name']}: built module lacks exports {missing}")
    return {
        "name": spec["name"], "file": file_name, "allocator": spec["allocator"],
        "model": spec["model"], "language": spec["language"], "toolchain": version,
        # intermediate files are shown under tmp/; build.py uses a temporary directory
        "build": " && ".join(shown(step, file_name) for step in steps(spec)),
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "heap_base": info["heap_base"], "initial_pages": info["initial_pages"],
        "maximum_pages": info["maximum_pages"], "imports": info["imports"],
        "exports": info["exports"], "wrapper": spec["wrapper"],
        **({"sources": sources} if sources else {}),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="modules to build (default: all)")
    ap.add_argument("--out", help="build into this directory instead of wasm_modules/")
    ap.add_argument("--manifest-only", action="store_true",
                    help="rewrite manifest.json from the committed binaries, build nothing")
    for name, src in SOURCES.items():
        what = (f"git repository of {src['repository']} (tag {src['tag']})" if "tag" in src
                else f"git repository of {src['repository']} (commit {src['commit'][:8]})"
                if "commit" in src
                else f"Debian package {src['unpacked']} unpacked with dpkg -x" if "unpacked" in src
                else f"unpacked Debian source package {src['package']}")
        ap.add_argument(src["option"], dest=name + "_src", metavar="DIR",
                        help=f"{what}; default ${src['env']}")
    args = ap.parse_args(argv)
    known = {m["name"] for m in MODULES}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    wanted = [m for m in MODULES if not args.names or m["name"] in args.names]
    out_dir = os.path.abspath(args.out or HERE)
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, "manifest.json")
    old = {}
    for path in (manifest_path, os.path.join(HERE, "manifest.json")):
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                old = {e["name"]: e for e in json.load(f)["modules"]}
            break
    dirs = source_dirs(args)
    versions = {} if args.manifest_only else toolchain_versions(dirs)
    entries, failed = dict(old), []
    for spec in wanted:
        file_name = f"{spec['name']}.wasm"
        path = os.path.join(out_dir, file_name)
        if args.manifest_only:
            if spec["name"] not in old:
                failed.append(f"{spec['name']}: not in the manifest yet; build it first")
                continue
            entries[spec["name"]] = describe(spec, path, old[spec["name"]]["toolchain"],
                                             file_name, old[spec["name"]].get("sources"))
            continue
        try:
            sources = source_commits(spec, dirs)
        except RuntimeError as e:
            failed.append(str(e))
            continue
        version = versions.get(spec["toolchain"])
        if not version:
            failed.append(f"{spec['name']}: toolchain {spec['toolchain']} is missing")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tmp_out = os.path.join(tmp, file_name)
            try:
                run_build(spec, tmp_out, tmp, dirs)
            except RuntimeError as e:
                failed.append(str(e))
                continue
            shutil.copyfile(tmp_out, path)
        entries[spec["name"]] = describe(spec, path, version, file_name, sources)
        e = entries[spec["name"]]
        print(f"built {spec['name']}: {e['bytes']} bytes, heap base {e['heap_base']}, "
              f"{e['initial_pages']} pages, imports {e['imports'] or 'none'}")
    order = [m["name"] for m in MODULES]
    modules = sorted(entries.values(),
                     key=lambda e: order.index(e["name"]) if e["name"] in order else 99)
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump({"modules": modules}, f, indent=2)
        f.write("\n")
    for line in failed:
        print(f"skipped {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
