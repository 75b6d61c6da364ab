"""The command line, run as a user would: `python -m pyfrag ...`."""

import subprocess
import sys

import pytest

from pyfrag import scenarios
from pyfrag.trace import dump, load


def pyfrag(*args):
    return subprocess.run([sys.executable, "-m", "pyfrag", *map(str, args)],
                          capture_output=True, text=True)


def test_run_scenario_prints_summary_and_audit_lines():
    r = pyfrag("run", "swiss-cheese", "--allocator", "bump")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("swiss-cheese on bump: 3001 events")
    assert lines[-2].startswith("Utilization: ") and lines[-2].endswith("%")
    assert lines[-1].startswith("Wasted (Fragmented): ") and lines[-1].endswith(" bytes")


def test_malformed_trace_exits_2_with_line_number(tmp_path):
    bad = tmp_path / "bad.rep"
    bad.write_text("0\n2\n3\n1\na 0 10\nf 0\nr zero 5\n")
    r = pyfrag("run", bad, "--allocator", "bump")
    assert r.returncode == 2
    assert f"{bad}:7: id must be an integer, got 'zero'" in r.stderr
    assert r.stdout == ""


def test_a_dash_reads_the_trace_from_standard_input(tmp_path):
    """`pyfrag record ... | pyfrag run -`: the same run as from the file, errors naming stdin."""
    path = tmp_path / "churn.trace"
    dump(scenarios.churn(frames=40), path)
    text = path.read_text()
    piped = subprocess.run([sys.executable, "-m", "pyfrag", "run", "-", "-a", "dlmalloc"],
                           input=text, capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    from_file = pyfrag("run", path, "-a", "dlmalloc")
    assert piped.stdout.split("\n", 1)[1] == from_file.stdout.split("\n", 1)[1]  # past the name
    bad = subprocess.run([sys.executable, "-m", "pyfrag", "run", "-"], input=text + "q 1\n",
                         capture_output=True, text=True)
    assert bad.returncode == 2 and f"/dev/stdin:{text.count(chr(10)) + 1}: unknown event 'q'" \
        in bad.stderr
    r = pyfrag("sweep", "-", "--allocators", "bump", "--limits", "64mib", "--out",
               tmp_path / "x.csv")
    assert r.returncode == 2 and "not - (standard input)" in r.stderr


@pytest.mark.parametrize("to", [None, "jsonl", "rep"])
def test_convert_to_a_dash_writes_standard_output(tmp_path, to):
    """`pyfrag convert T - [--to F]`: the file it would write, on stdout (pyfrag by default)."""
    trace = scenarios.churn(frames=30)
    r = pyfrag("convert", "churn", "-", "-p", "frames=30", *(("--to", to) if to else ()))
    assert r.returncode == 0, r.stderr
    assert f"wrote {len(trace)} events to standard output" in r.stderr
    path = tmp_path / f"churn.{ {None: 'trace', 'jsonl': 'jsonl', 'rep': 'rep'}[to] }"
    assert pyfrag("convert", "churn", path, "-p", "frames=30").returncode == 0
    assert r.stdout == path.read_text()


@pytest.mark.parametrize("args,message", [
    (("run", "swiss-cheese", "--allocator", "nonesuch"), "unknown allocator 'nonesuch'"),
    (("run", "no-such-thing"), "neither a trace file nor a scenario"),
    (("run", "swiss-cheese", "-p", "rounds"), "-p wants key=value"),
    (("run", "swiss-cheese", "-p", "colour=3"), "has no parameter 'colour'"),
    (("run", "swiss-cheese", "-a", "bump", "--maximum", "lots"), "unknown memory limit 'lots'"),
    (("run", "swiss-cheese", "-a", "bump", "--maximum", "70000pages"), "past the wasm32 limit"),
    (("run", "image-task", "--maximum", "512"),
     "--maximum 512: a bare number could mean pages or bytes; did you mean 512mib?"),
    (("compare", "image-task", "--maximum", "64"), "did you mean 64mib?"),
    (("run", "image-task", "-p", "memory=512"), "-p memory=512: a bare number"),
    (("sweep", "churn", "--limits", "64mib,512", "--out", "x.csv"), "--limits 512: a bare"),
    (("run", "swiss-cheese", "-p", "rounds=abc"), "-p rounds=abc: rounds takes a number"),
    (("run", "swiss-cheese", "-p", "rounds=-5"), "rounds must be >= 0"),
    (("compare", "missing/trace.rep"), "missing/trace.rep: no such file"),
    (("compare", "swiss-cheese", "--like", "c-dlmalloc"), "use run --like"),
])
def test_bad_input_exits_2_and_says_what(args, message):
    r = pyfrag(*args)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_compare_on_a_malloc_lab_trace_lists_every_allocator(tmp_path):
    path = tmp_path / "t.rep"
    dump(scenarios.random_trace(400, seed=5), path)
    r = pyfrag("compare", path)
    assert r.returncode == 0, r.stderr
    from pyfrag import allocators
    assert "every allocator starts with heap base 1024 in 1 page, limit 4 GiB (4294967296 " \
        "bytes, 65536 pages)" in r.stdout
    block = r.stdout.split("\n\n")[0].splitlines()      # the table and its note, then the recommendation
    rows = block[4:-1]
    assert [row.split()[0] for row in rows] == allocators.names()
    assert "peak heap" in r.stdout and "first failure" in r.stdout
    assert "overhead" in r.stdout and "resident" in r.stdout
    assert "memory.discard" in block[-1]


def test_discard_on_free_reports_a_peak_and_says_the_address_space_stays():
    r = pyfrag("run", "swiss-cheese", "-p", "rounds=50", "-a", "first-fit", "--discard", "on-free")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.strip().startswith("discard"))
    assert "peak" in line and "as it appears" in line and "does not shrink" in line
    r = pyfrag("compare", "swiss-cheese", "--allocators", "bump", "--discard", "sometimes")
    assert r.returncode == 2 and "--discard" in r.stderr


def test_addresses_output_is_one_line_per_alloc_or_realloc():
    r = pyfrag("run", "swiss-cheese", "-p", "rounds=3", "--allocator", "bump", "--addresses")
    lines = r.stdout.splitlines()
    assert len(lines) == 3 * 2 + 1
    index, address, memory = map(int, lines[0].split())
    assert index == 0 and address > 0 and memory % 65536 == 0


def test_convert_between_formats(tmp_path):
    out = tmp_path / "s.jsonl"
    r = pyfrag("convert", "swiss-cheese", out, "-p", "rounds=4")
    assert r.returncode == 0, r.stderr
    t = load(out)
    assert len(t) == 13 and t.name == "swiss-cheese"


def test_list_names_allocators_and_scenarios():
    r = pyfrag("list")
    assert r.returncode == 0
    assert "bump" in r.stdout and "swiss-cheese" in r.stdout


def test_maximum_in_pages_limits_the_memory():
    r = pyfrag("run", "swiss-cheese", "-a", "first-fit", "--maximum", "10pages")
    assert r.returncode == 0, r.stderr
    assert "limit        640 KiB (655360 bytes, 10 pages)" in r.stdout
    assert "the first: true OOM" in r.stdout and "655360-byte heap" in r.stdout


@pytest.mark.parametrize("given,shown", [
    ([], "512 MiB (536870912 bytes, 8192 pages)"),                 # the trace's own
    (["--maximum", "64mib"], "64 MiB (67108864 bytes, 1024 pages)"),
    (["--maximum", "512pages"], "32 MiB (33554432 bytes, 512 pages)"),
    (["-p", "memory=256mib"], "256 MiB (268435456 bytes, 4096 pages)"),
    (["--maximum", "100kib"], "128 KiB (131072 bytes, 2 pages)"),  # rounded up to whole pages
])
def test_every_header_states_the_limit_in_force(given, shown):
    """The limit applied, in bytes and pages, in run's summary and compare's header; the
    scenario's description does not name one of its own."""
    run = pyfrag("run", "image-task", *given)
    compare = pyfrag("compare", "image-task", "--allocators", "dlmalloc", *given)
    assert run.returncode == compare.returncode == 0, run.stderr + compare.stderr
    assert f"  limit        {shown}\n" in run.stdout
    assert f"limit {shown}\n" in compare.stdout
    assert "mib memory" not in run.stdout + compare.stdout


def test_run_names_a_failure_that_is_not_an_oom_for_what_it_is():
    r = pyfrag("run", "random", "-p", "events=3000", "-p", "align_rate=0.5", "-a", "as-tlsf")
    assert r.returncode == 0, r.stderr
    assert "the first: unsupported request at event 1: malloc(50137, align 256) failed: " \
        "AssemblyScript's allocator aligns to 16 bytes at most; not an OOM" in r.stdout
    assert "OOM at event 1" not in r.stdout


def test_a_bump_allocator_run_to_exhaustion_counts_no_freed_byte_free():
    r = pyfrag("run", "varying-churn", "-p", "rounds=3000", "--like", "as-stub",
               "--maximum", "64mib")
    assert r.returncode == 0, r.stderr
    failed = next(l for l in r.stdout.splitlines() if l.startswith("  failed"))
    assert "the first: memory exhausted at event 2628: malloc(201851) failed; as-stub never " \
        "reuses freed memory: when it failed only 18948 bytes were free (at its top)" in failed
    free = next(l for l in r.stdout.splitlines() if l.startswith("  free"))
    assert free.startswith("  free         68 B at the end in 1 block")


def test_end_state_and_moment_of_failure_are_told_apart():
    r = pyfrag("run", "image-task")
    lines = {l.split()[0]: l for l in r.stdout.splitlines() if l.startswith("  ")}
    for label in ("heap", "live", "utilization", "free", "overhead", "discard"):
        assert "at the end" in lines[label], lines[label]
    assert "failed; when it failed 261746912 bytes were free" in lines["failed"]


def test_like_with_an_allocator_runs_that_allocator_in_the_modules_start_state():
    from pyfrag.modules import find
    r = pyfrag("run", "swiss-cheese", "--like", "c-dlmalloc", "-a", "first-fit", "--addresses")
    assert r.returncode == 0, r.stderr
    first = int(r.stdout.split()[1])
    assert first > find("c-dlmalloc")["heap_base"]
    default = pyfrag("run", "swiss-cheese", "--like", "c-dlmalloc", "--addresses")
    assert default.stdout != r.stdout       # dlmalloc, the module's model, places blocks differently


def test_converting_to_rep_says_what_it_leaves_out(tmp_path):
    src = tmp_path / "t.trace"
    src.write_text("a 1 64 align=16 tag=x\nf 1\n")
    r = pyfrag("convert", src, tmp_path / "t.rep")
    assert r.returncode == 0
    assert "1 alignments and 1 tags were left out" in r.stderr


def test_real_reads_the_verdict_from_the_model_unless_told_not_to():
    """Zig's power-of-two classes: at the image task's OOM the free bytes heap - live suggests are
    padding inside the classes. With its model beside it `real` says so (a true OOM); with
    --no-model it can only estimate."""
    import pytest
    pytest.importorskip("wasmtime")
    with_model = pyfrag("real", "image-task", "-m", "zig-wasm")
    alone = pyfrag("real", "image-task", "-m", "zig-wasm", "--no-model")
    assert with_model.returncode == alone.returncode == 0, with_model.stderr + alone.stderr
    assert "true OOM at event 124" in with_model.stdout and "allocator overhead" in with_model.stdout
    assert "fragmentation OOM at event 124" in alone.stdout and "(estimated)" in alone.stdout
    assert "failure verdicts from its model zig-wasm, in step" in with_model.stdout
    assert "failure verdicts estimated from heap - live (--no-model)" in alone.stdout


@pytest.mark.parametrize("module", ["c-dlmalloc", "mimalloc", "wee-alloc"])
def test_real_takes_maximum_and_fails_as_run_like_does(module):
    pytest.importorskip("wasmtime")
    real = pyfrag("real", "image-task", "--module", module, "--maximum", "256mib")
    run = pyfrag("run", "image-task", "--like", module, "--maximum", "256mib")
    assert real.returncode == run.returncode == 0, real.stderr + run.stderr

    def lines(out, label):
        return [l for l in out.splitlines() if l.startswith(f"  {label} ")]
    assert lines(real.stdout, "limit") == lines(run.stdout, "limit") == \
        ["  limit        256 MiB (268435456 bytes, 4096 pages)"]
    assert lines(real.stdout, "failed") == lines(run.stdout, "failed")
    assert "OOM at event" in lines(real.stdout, "failed")[0]
    assert pyfrag("real", "image-task", "--module", module, "--maximum", "256").returncode == 2
