"""Build the recording tests' own apps from the sources beside this file.

Main entry points: `build_c(out_dir, strip=False)`, `build_rust(out_dir, target)` and
`build_emscripten(out_dir)` (the C app with Emscripten's JS glue and emmalloc),
each returning the .wasm path, or raising `ToolchainMissing` naming what to
install (tests skip on it). Used by tests/test_record_wasm.py, the browser
test and benchmarks/record_corpus.py. From the command line,

    python tests/apps/build.py [DIR]

writes DIR/lists.wasm (C) and DIR/collections.wasm (Rust), the apps of the
README's `record --wasm` walkthrough (DIR defaults to the current directory).

The C app is compiled with -O2 but linked without clang's -O, which would run
wasm-opt and drop the name section the instrumentation looks the allocator up
in; `strip=True` links with --strip-all to get an app without names. The
Emscripten build keeps names with --profiling-funcs and stays at -O1: at -O2
wasm-opt inlines malloc into its callers, so there is no entry point left
to wrap.
"""

import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
RUSTC = "/usr/bin/rustc"       # Debian's, with libstd-rust-dev-wasm32


class ToolchainMissing(RuntimeError):
    pass


def _run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise ToolchainMissing(f"{' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")


def build_c(out_dir, strip=False):
    if shutil.which("clang-14") is None or not os.path.isdir("/usr/lib/wasm32-wasi"):
        raise ToolchainMissing("needs clang-14, lld-14, wasi-libc, libclang-rt-14-dev-wasm32")
    obj = os.path.join(out_dir, "lists.o")
    out = os.path.join(out_dir, "lists-stripped.wasm" if strip else "lists.wasm")
    _run(["clang-14", "--target=wasm32-wasi", "-O2", "-c", os.path.join(HERE, "lists.c"),
          "-o", obj])
    _run(["clang-14", "--target=wasm32-wasi", "-fuse-ld=lld", obj, "-o", out]
         + (["-Wl,--strip-all"] if strip else []))
    return out


def build_rust(out_dir, target="wasm32-unknown-unknown"):
    """On wasm32-unknown-unknown Rust std allocates with dlmalloc-rs; on wasm32-wasi
    with wasi-libc's malloc."""
    if not os.path.exists(RUSTC) or not os.path.isdir(f"/usr/lib/rustlib/{target}"):
        raise ToolchainMissing(f"needs Debian's rustc and its {target} standard library "
                               "(libstd-rust-dev-wasm32)")
    out = os.path.join(out_dir, f"collections-{target}.wasm")
    _run([RUSTC, "--target", target, "--crate-type", "cdylib", "-O",
          os.path.join(HERE, "collections.rs"), "-o", out])
    return out


def build_emscripten(out_dir):
    """lists.c as an Emscripten app: lists-em.js (MODULARIZE, createApp) + lists-em.wasm."""
    if shutil.which("emcc") is None:
        raise ToolchainMissing("needs emscripten (emcc)")
    out = os.path.join(out_dir, "lists-em.js")
    _run(["emcc", "-O1", "-sMALLOC=emmalloc", "--profiling-funcs", "-sENVIRONMENT=web,node",
          "-sMODULARIZE", "-sEXPORT_NAME=createApp", "-sINVOKE_RUN=0",
          "-sEXPORTED_RUNTIME_METHODS=callMain", os.path.join(HERE, "lists.c"), "-o", out])
    return os.path.join(out_dir, "lists-em.wasm")


def main(argv=None):
    import sys
    out_dir = (argv if argv is not None else sys.argv[1:] or ["."])[0]
    os.makedirs(out_dir, exist_ok=True)
    try:
        built = [build_c(out_dir), build_rust(out_dir)]
    except ToolchainMissing as e:
        raise SystemExit(f"build.py: {e}") from None
    os.replace(built[1], os.path.join(out_dir, "collections.wasm"))
    os.remove(os.path.join(out_dir, "lists.o"))         # the C app's object file
    for name in ("lists.wasm", "collections.wasm"):
        print(os.path.join(out_dir, name))


if __name__ == "__main__":
    main()
