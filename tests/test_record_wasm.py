"""Recording WebAssembly apps: instrument, record under wasmtime, run --verify.

Owns: the instrumented app behaves like the original (same output, same
return value), recordings of our own C app (wasi-libc dlmalloc) and Rust app
(Rust std's dlmalloc; on wasm32-wasi, wasi-libc's) verify identical against
their models, a changed
address or the wrong model is reported at the first differing event (exit 1),
nested allocator calls are reported once, and an app without names or
exports gets the clear refusal, and an Emscripten build of the C app recorded
by web/recorder.js through Emscripten's instantiateWasm (in Node) verifies
on `emmalloc`. The apps are built from tests/apps/ here;
skipped when a toolchain, Binaryen or wasmtime is missing.
"""

import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("wasmtime")
if shutil.which("wasm-dis") is None or shutil.which("wasm-as") is None:
    pytest.skip("needs Binaryen's wasm-dis and wasm-as", allow_module_level=True)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
from build import ToolchainMissing, build_c, build_emscripten, build_rust  # noqa: E402

from pyfrag import cli  # noqa: E402
from pyfrag.record.instrument import InstrumentError, instrument  # noqa: E402
from pyfrag.record import run_wasm  # noqa: E402
from pyfrag.trace import load  # noqa: E402
from pyfrag.record.verify import verify  # noqa: E402


def _built(builder, tmp_path_factory, **kw):
    try:
        return builder(str(tmp_path_factory.mktemp("apps")), **kw)
    except ToolchainMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def c_app(tmp_path_factory):
    return _built(build_c, tmp_path_factory)


@pytest.fixture(scope="module")
def rust_app(tmp_path_factory):
    return _built(build_rust, tmp_path_factory)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_instrumented_c_app_prints_what_the_original_prints(c_app, tmp_path):
    original = _read(c_app)
    result = instrument(original, c_app)
    assert set(result.wrapped) == {"malloc", "free", "calloc", "realloc"}
    assert result.allocator == "dlmalloc"
    events = []
    for args in (["5"], ["250"]):
        plain, recorded = tmp_path / "plain.txt", tmp_path / "recorded.txt"
        assert run_wasm(original, args, stdout=str(plain)) == (0, None)
        assert run_wasm(result.data, args, stdout=str(recorded),
                        hook=lambda *e: events.append(e)) == (0, None)
        assert plain.read_text() == recorded.read_text()
        assert f"{args[0]} nodes' text" in plain.read_text()
    assert events, "the hook was never called"


def test_instrumented_rust_app_returns_what_the_original_returns(rust_app):
    original = _read(rust_app)
    result = instrument(original, rust_app)
    assert {"__rust_alloc", "__rust_dealloc", "__rust_realloc"} <= set(result.wrapped)
    assert result.allocator == "rust-dlmalloc"
    assert result.heap_base is not None
    for n in ("3", "400"):
        _, want = run_wasm(original, [n], "run")
        _, got = run_wasm(result.data, [n], "run", hook=lambda *e: None)
        assert got == want


def _cli(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_c_recording_verifies_identical(c_app, tmp_path, capsys):
    out = str(tmp_path / "c.trace")
    status, _, err = _cli(capsys, "record", "--wasm", c_app, "-o", out, "--", "400")
    assert status == 0, err
    assert "wrapped: malloc, free, calloc, realloc" in err
    trace = load(out)
    counts = trace.counts()
    assert counts["alloc"] > 400 and counts["realloc"] > 3 and counts["free"] > 400
    assert trace.recorded.allocator == "dlmalloc" and trace.recorded.heap_base
    status, stdout, _ = _cli(capsys, "run", out, "--verify")
    assert status == 0
    assert f"all {len(trace)} events identical" in stdout


def test_rust_recording_verifies_identical(rust_app, tmp_path, capsys):
    out = str(tmp_path / "rust.trace")
    status, _, err = _cli(capsys, "record", "--wasm", rust_app, "--invoke", "run",
                          "-o", out, "--", "600")
    assert status == 0, err
    trace = load(out)
    assert trace.counts()["realloc"] > 10            # Vec and String growth
    assert trace.recorded.initial_pages == 17
    status, stdout, _ = _cli(capsys, "run", out, "--verify")
    assert status == 0
    assert f"all {len(trace)} events identical" in stdout
    # the same recording is not what another allocator would have returned
    status, stdout, _ = _cli(capsys, "run", out, "--verify", "--allocator", "dlmalloc")
    assert status == 1 and "first difference at event 0" in stdout


def test_rust_on_wasi_libc_malloc_verifies_identical_on_dlmalloc(tmp_path_factory, tmp_path,
                                                                 capsys):
    app = _built(build_rust, tmp_path_factory, target="wasm32-wasi")
    out = str(tmp_path / "rust-wasi.trace")
    status, _, err = _cli(capsys, "record", "--wasm", app, "--invoke", "run", "-o", out,
                          "--", "600")
    assert status == 0, err
    assert "__rust_alloc" in err and "malloc" in err    # both layers wrapped, reported once
    assert load(out).recorded.allocator == "dlmalloc"
    status, stdout, _ = _cli(capsys, "run", out, "--verify")
    assert status == 0 and "events identical" in stdout


def test_verify_names_the_first_changed_event(c_app, tmp_path, capsys):
    out = tmp_path / "c.trace"
    assert _cli(capsys, "record", "--wasm", c_app, "-o", str(out), "--", "50")[0] == 0
    lines = out.read_text().splitlines()
    reallocs = [i for i, l in enumerate(lines) if l.startswith("r ")]
    n = reallocs[1]
    addr = int(lines[n].split("addr=")[1].split()[0])
    lines[n] = lines[n].replace(f"addr={addr}", f"addr={addr + 16}")
    out.write_text("\n".join(lines) + "\n")
    status, stdout, _ = _cli(capsys, "run", str(out), "--verify")
    assert status == 1
    assert f"{out}:{n + 1}: realloc" in stdout
    assert f"address {addr + 16:#x} recorded, {addr:#x} on the model" in stdout


def test_stripped_app_is_refused_with_what_to_add(tmp_path_factory, capsys):
    app = _built(build_c, tmp_path_factory, strip=True)
    status, _, err = _cli(capsys, "instrument", app, "-o", app + ".out")
    assert status == 2
    assert "no allocator entry point found" in err and "name section" in err
    assert "--export=malloc" in err
    assert not os.path.exists(app + ".out")


def test_verify_refuses_a_trace_that_is_not_a_recording(tmp_path, capsys):
    plain = tmp_path / "plain.trace"
    plain.write_text("# pyfrag trace v1\na 1 10\nf 1\n")
    status, _, err = _cli(capsys, "run", str(plain), "--verify")
    assert status == 2 and "is not a recording" in err


# A bump allocator whose calloc, realloc and posix_memalign call malloc (and
# free): the hook must see one event per outermost call.
NESTED = """
(module
 (memory (export "memory") 2)
 (global $top (mut i32) (i32.const 1024))
 (func $malloc (export "malloc") (param $n i32) (result i32)
  (local $p i32)
  (local.set $p (global.get $top))
  (global.set $top (i32.and (i32.add (i32.add (global.get $top) (local.get $n)) (i32.const 15))
                            (i32.const -16)))
  (local.get $p))
 (func $free (param $p i32))
 (func $calloc (param $n i32) (param $m i32) (result i32)
  (call $malloc (i32.mul (local.get $n) (local.get $m))))
 (func $realloc (param $p i32) (param $n i32) (result i32)
  (local $q i32)
  (local.set $q (call $malloc (local.get $n)))
  (call $free (local.get $p))
  (local.get $q))
 (func $posix_memalign (param $pp i32) (param $al i32) (param $n i32) (result i32)
  (i32.store (local.get $pp) (call $malloc (local.get $n)))
  (i32.const 0))
 (func (export "run") (result i32)
  (local $p i32)
  (local.set $p (call $calloc (i32.const 3) (i32.const 8)))
  (local.set $p (call $realloc (local.get $p) (i32.const 100)))
  (drop (call $posix_memalign (i32.const 16) (i32.const 64) (i32.const 40)))
  (call $free (local.get $p))
  (i32.load (i32.const 16)))
)
"""


def test_nested_calls_are_reported_once(tmp_path):
    src, wasm = tmp_path / "nested.wat", tmp_path / "nested.wasm"
    src.write_text(NESTED)
    subprocess.run(["wasm-as", "-g", str(src), "-o", str(wasm)], check=True)
    result = instrument(_read(wasm))
    assert set(result.wrapped) == {"malloc", "free", "calloc", "realloc", "posix_memalign"}
    events = []
    _, aligned = run_wasm(result.data, [], "run", hook=lambda *e: events.append(e))
    assert events == [(0, 24, 0, 0, 1024, 2),          # calloc(3, 8): one alloc of 24
                      (2, 1024, 100, 0, 1056, 2),      # realloc: not its malloc or free
                      (0, 40, 64, 0, aligned, 2),      # posix_memalign reports *pp
                      (1, 1056, 0, 0, 0, 2)]


def test_instrumenting_twice_is_refused(tmp_path):
    src, wasm = tmp_path / "nested.wat", tmp_path / "nested.wasm"
    src.write_text(NESTED)
    subprocess.run(["wasm-as", "-g", str(src), "-o", str(wasm)], check=True)
    once = instrument(_read(wasm)).data
    with pytest.raises(InstrumentError, match="instrumented already"):
        instrument(once)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_emscripten_app_recorded_through_instantiate_wasm_verifies_on_emmalloc(
        tmp_path_factory, tmp_path):
    wasm = _built(build_emscripten, tmp_path_factory)
    result = instrument(_read(wasm), wasm)
    assert result.allocator == "emmalloc" and "malloc" in result.wrapped
    recording = tmp_path / "lists-em.recording.wasm"
    recording.write_bytes(result.data)
    out = tmp_path / "em.trace"
    script = os.path.join(os.path.dirname(__file__), "apps", "emscripten_record.mjs")
    done = subprocess.run(["node", script, wasm[:-len(".wasm")] + ".js", str(recording),
                           str(out), "300"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "300 nodes' text" in done.stdout            # the app ran and printed
    trace = load(str(out))
    assert trace.recorded.allocator == "emmalloc" and trace.counts()["alloc"] > 300
    verdict = verify(trace)
    assert verdict.identical, verdict.describe()
    assert not verify(trace, heap_base=trace.recorded.heap_base + 16).identical


def test_an_app_needing_js_imports_is_refused_under_wasmtime(tmp_path_factory, capsys):
    wasm = _built(build_emscripten, tmp_path_factory)
    status, _, err = _cli(capsys, "record", "--wasm", wasm, "--", "3")
    assert status == 2 and "imports env." in err and "provides WASI" in err
