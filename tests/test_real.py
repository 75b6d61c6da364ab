"""The harness pyfrag.real: every committed module through the ABI, and bad input.

Owns: ABI smoke tests per module (distinct, non-overlapping, aligned blocks;
live_bytes tracks requests; realloc keeps contents, read back through memory),
a trace replay through the shared `drive` loop, and the clear errors for a
non-wasm file, a missing export and an import pyfrag cannot provide.
Skipped when wasmtime is not installed.
"""

import pytest

pytest.importorskip("wasmtime")

from pyfrag import real, scenarios  # noqa: E402
from pyfrag.modules import find, manifest  # noqa: E402
from pyfrag.memory import resolve_limit  # noqa: E402
from pyfrag.trace import Trace  # noqa: E402

NAMES = [e["name"] for e in manifest()]


@pytest.mark.parametrize("name", NAMES)
def test_abi_smoke(name):
    m = real.load(name)
    assert m.live_bytes() == 0
    sizes = [1, 8, 24, 100, 1000, 4096, 70000, 0, 300000]
    blocks = []
    for n in sizes:
        p = m.malloc(n)
        assert p, f"{name}: malloc({n}) failed"
        # C17 (DR 445): a block must suit every object that fits in it, so one
        # under 8 bytes needs only the largest power of two within it; mimalloc
        # serves malloc(0..4) from 4-byte blocks (tests/fidelity/test_mimalloc.py).
        need = min(8, 1 << (max(n, 1).bit_length() - 1))
        assert p % need == 0, f"{name}: malloc({n}) -> {p:#x} is not {need}-aligned"
        assert p >= m.heap_base or name.startswith("zig-wasm"), (name, p, m.heap_base)
        assert p + n <= m.memory.byte_length
        blocks.append((p, n))
    assert m.live_bytes() == sum(sizes)
    spans = sorted((p, max(n, 1)) for p, n in blocks)
    for (a, n), (b, _) in zip(spans, spans[1:]):
        assert a + n <= b, f"{name}: blocks at {a:#x}+{n} and {b:#x} overlap"
    # fill every block with its own pattern, then check none was clobbered
    for i, (p, n) in enumerate(blocks):
        m.write(p, bytes([i + 1]) * n)
    for i, (p, n) in enumerate(blocks):
        assert m.read(p, n) == bytes([i + 1]) * n
    # realloc grows and keeps the contents
    p, n = blocks[4]
    q = m.realloc(p, 50000)
    assert q and m.read(q, n) == bytes([5]) * n
    assert m.live_bytes() == sum(sizes) - n + 50000
    blocks[4] = (q, 50000)
    # and shrinks keeping the prefix
    p, n = blocks[6]
    q = m.realloc(p, 10)
    assert q and m.read(q, 10) == bytes([7]) * 10
    blocks[6] = (q, 10)
    for p, _ in blocks:
        m.free(p)
    assert m.live_bytes() == 0
    assert not m.traps


@pytest.mark.parametrize("name", NAMES)
def test_aligned_alloc(name):
    m = real.load(name)
    if "aligned_alloc" not in find(name)["exports"]:
        # AssemblyScript: malloc's 16 is all there is; more fails, as in the model
        assert m.alignment == 16
        assert m.aligned_alloc(64, 10) == 0 and m.live_bytes() == 0
        p = m.aligned_alloc(16, 10)
        assert p and p % 16 == 0 and m.live_bytes() == 10
        return
    for align in (16, 64, 4096):
        p = m.aligned_alloc(align, 100)
        assert p and p % align == 0, (name, align, p)
    assert m.live_bytes() == 300


@pytest.mark.parametrize("name", NAMES)
def test_replay_through_the_shared_loop(name):
    t = Trace("small")
    for i in range(50):
        t.alloc(i, 16 + 37 * i)
    for i in range(0, 50, 2):
        t.free(i)
    t.realloc(1, 5000)
    t.alloc(100, 200000)
    run = real.replay_real(t, name)
    assert not run.failures and not run.issues
    expected_live = sum(16 + 37 * i for i in range(1, 50, 2)) - (16 + 37) + 5000 + 200000
    assert run.live_bytes[-1] == expected_live
    assert run.reported_live == expected_live       # the module's own count agrees
    assert run.heap_bytes[-1] == run.module.memory.byte_length
    assert run.heap_bytes[-1] >= expected_live
    addrs = [run.addresses[i] for i in range(50)]
    assert len(set(addrs)) == 50


def test_swiss_cheese_on_dlmalloc_reuses_the_hole():
    run = real.replay_real(scenarios.swiss_cheese(), "c-dlmalloc")
    assert not run.failures
    assert run.reported_live == 1000 * 1024 + 500 * 1024
    # dlmalloc coalesces each freed temporary with the top chunk, so the heap stays
    # near live size instead of growing by 100 KiB a round
    assert run.heap_bytes[-1] < 4 * run.reported_live


LIMIT_TRACES = {
    "image-task": lambda: scenarios.image_task(),
    # aligned requests too: unsupported ones on AssemblyScript, posix_memalign's elsewhere
    "random": lambda: scenarios.random_trace(events=3000, align_rate=0.5, seed=2),
}


@pytest.mark.parametrize("trace", LIMIT_TRACES)
@pytest.mark.parametrize("name", NAMES)
def test_real_at_a_limit_fails_what_the_model_fails(name, trace):
    """`real --maximum` and `run --like --maximum` agree on every failure: where, what, its
    kind and its figures at that moment. AssemblyScript's modules trap where memory runs
    out: up to that trap, the same; the trap is at a request the model fails."""
    from pyfrag import replay
    t = LIMIT_TRACES[trace]()
    limit = "256mib" if trace == "image-task" else "4mib"
    got = real.replay_real(t, name, maximum=limit)
    want = replay(t, like=name, maximum=limit)
    assert got.maximum_bytes == want.maximum_bytes == resolve_limit(limit) * 65536

    def key(f):
        return (f.index, f.op, f.size, f.kind, f.free_bytes, f.largest_free, f.overhead, f.align)
    end = got.trap.index if got.trap else len(t)
    assert [key(f) for f in got.failures] == [key(f) for f in want.failures if f.index < end]
    assert want.failures
    if got.trap:
        assert find(name)["language"] == "AssemblyScript"
        assert end in {f.index for f in want.failures}


def test_trace_maximum_is_enforced_by_the_engine():
    t = Trace("capped", maximum=20)           # pages
    t.alloc(0, 2 << 20)                       # 2 MiB cannot fit in 20 pages
    run = real.replay_real(t, "c-dlmalloc")
    assert run.failures and run.failures[0].op == "malloc"
    assert run.heap_bytes[-1] <= 20 * 65536
    assert run.maximum_bytes == 20 * 65536


def test_not_wasm(tmp_path):
    bad = tmp_path / "notes.wasm"
    bad.write_bytes(b"hello world")
    with pytest.raises(real.RealModuleError, match=r"notes\.wasm: not a WebAssembly module "
                                                   r"\(magic bytes b'hell'"):
        real.load(str(bad))


def test_unknown_module_name():
    with pytest.raises(real.RealModuleError, match="unknown module 'no-such'; known: c-dlmalloc"):
        real.load("no-such")


def _wat(tmp_path, name, text):
    import wasmtime
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(wasmtime.wat2wasm(text))
    return str(path)


ABI_BODY = """
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))
  (func (export "malloc") (param i32) (result i32)
    global.get $top global.get $top local.get 0 i32.add global.set $top)
  (func (export "realloc") (param i32 i32) (result i32) unreachable)
  (func (export "live_bytes") (result i32) i32.const 0)
"""


def test_missing_free(tmp_path):
    path = _wat(tmp_path, "nofree", f"(module {ABI_BODY})")
    with pytest.raises(real.RealModuleError, match="module nofree lacks export 'free'"):
        real.load(path)


def test_every_missing_export_is_named_at_once(tmp_path):
    path = _wat(tmp_path, "bare", """(module (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32) i32.const 0))""")
    with pytest.raises(real.RealModuleError) as e:
        real.load(path)
    assert str(e.value) == ("module bare lacks exports 'free', 'realloc', 'live_bytes' (pyfrag "
                            "real needs memory, malloc, free, realloc, live_bytes; aligned_alloc "
                            "and __heap_base are optional)")


def test_unsatisfiable_import(tmp_path):
    path = _wat(tmp_path, "needsfoo", f"""(module
      (import "env" "foo" (func (param i32)))
      {ABI_BODY}
      (func (export "free") (param i32)))""")
    with pytest.raises(real.RealModuleError,
                       match="module needsfoo imports env.foo, which pyfrag cannot provide"):
        real.load(path)


def test_trap_in_malloc_ends_the_replay_and_is_no_oom(tmp_path):
    path = _wat(tmp_path, "trappy", """(module
      (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32)
        local.get 0 i32.const 1000 i32.gt_u if unreachable end i32.const 64)
      (func (export "free") (param i32))
      (func (export "realloc") (param i32 i32) (result i32) unreachable)
      (func (export "live_bytes") (result i32) i32.const 0))""")
    t = Trace("t")
    t.alloc(0, 10)
    t.alloc(1, 5000)
    t.realloc(0, 20)
    run = real.replay_real(t, path)
    assert not run.failures and run.events == 2
    assert run.addresses[0] == 64
    assert (run.trap.index, run.trap.op, run.trap.timeout) == (1, "malloc", False)
    assert "unreachable" in run.trap.cause and run.reported_live is None
    assert "trapped in malloc(5000)" in run.module.traps[0][2]


def test_trap_in_free_is_a_clear_error(tmp_path):
    path = _wat(tmp_path, "badfree", f"""(module {ABI_BODY}
      (func (export "free") (param i32) unreachable))""")
    m = real.load(path)
    p = m.malloc(8)
    with pytest.raises(real.ModuleTrap, match=r"module badfree trapped in free\(1024\)"):
        m.free(p)


def test_env_abort_becomes_a_clear_error(tmp_path):
    path = _wat(tmp_path, "aborts", f"""(module
      (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
      {ABI_BODY}
      (func (export "free") (param i32)
        i32.const 0 i32.const 0 i32.const 7 i32.const 3 call $abort))""")
    m = real.load(path)
    with pytest.raises(real.ModuleTrap, match="env.abort.*:7:3"):
        m.free(m.malloc(8))


@pytest.mark.parametrize("name", NAMES)
def test_out_of_memory_is_a_recorded_failure(name):
    # a memory cap 4 pages above the start, or 8 MiB for mimalloc's first
    # 4 MiB-aligned segment: a request of the whole cap cannot fit, 1 KiB can
    cap = max(find(name)["initial_pages"] + 4, 128)
    t = Trace("oom", maximum=cap)
    t.alloc(0, cap * 65536)
    t.alloc(1, 1024)
    run = real.replay_real(t, name)
    if find(name)["language"] == "AssemblyScript":
        # its heap.alloc never returns 0: when memory cannot grow it traps
        # (`unreachable`), and a trap ends the replay; it is never an OOM
        assert not run.failures and run.events == 1
        assert run.trap.index == 0 and "unreachable" in run.trap.cause
        return
    assert [f.index for f in run.failures] == [0], run.failures
    assert run.failures[0].kind == "true"
    assert run.heap_bytes[-1] <= cap * 65536
    assert run.addresses[1] and run.reported_live == 1024


def test_limit_below_the_initial_memory_is_a_clear_error():
    with pytest.raises(real.RealModuleError, match="module rust-dlmalloc: cannot be instantiated"):
        real.load("rust-dlmalloc", limit=2)


@pytest.mark.parametrize("name", ["rust-dlmalloc", "rust-arena"])
def test_rust_produce_fragmentation(name):
    m = real.load(name)
    before = m.memory.byte_length
    assert m.call("get_live_data_size") == 0
    m.call("produce_fragmentation")
    live = m.call("get_live_data_size")
    # 1000 kept 1 KiB anchors plus the Vec that holds them (1000 pointers, grown to 1024)
    assert live == 1000 * 1024 + 1024 * 4
    assert live == m.live_bytes()
    assert m.memory.byte_length > before            # the 100 KiB temporaries needed room
    m.call("release_fragments")
    assert m.call("get_live_data_size") == 0


def test_rust_arena_strategy():
    m = real.load("rust-arena")
    m.call("produce_fragmentation_arena")
    live = m.call("get_live_data_size")
    # the anchors (in typed-arena chunks) and one 100 KiB bump chunk stay live
    assert live >= 1000 * 1024 + 100 * 1024
    m.call("release_arenas")
    assert m.call("get_live_data_size") == 0
    with pytest.raises(real.RealModuleError, match="module rust-arena lacks export 'nope'"):
        m.call("nope")
