"""`pyfrag sweep` on a real Dask cluster: rows equal single replays, resuming, CSV and Parquet.

Owns: the grid (traces x allocators x limits x scenario parameters) run on a
`LocalCluster(processes=True, n_workers=2)`, every row checked against its own
`pyfrag.replay` call; a re-run does no work; a cut-short table is completed;
bad input fails before any work with exit code 2; a missing Dask names the
extra to install.
"""

import csv
import os
import socket
import subprocess
import sys

import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from pyfrag import replay, scenarios                 # noqa: E402
from pyfrag.memory import PAGE                       # noqa: E402
from pyfrag.sweep import COLUMNS, grid               # noqa: E402
from pyfrag.sweep.cluster import run                     # noqa: E402
from pyfrag.sweep.table import read                  # noqa: E402
from pyfrag.trace import dump, load                  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOCATORS = ["dlmalloc", "first-fit", "arena:dlmalloc"]
LIMITS = ["256kib", "4mib"]
PARAMS = {"rounds": [40, 120], "events": [3000]}
TIMING = {"seconds", "events_per_s"}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    path = tmp_path_factory.mktemp("traces") / "churn.rep"
    dump(scenarios.churn(frames=150, seed=3), path)
    return grid(["swiss-cheese", "random", str(path)], ALLOCATORS, LIMITS, PARAMS)


def expected_row(cell):
    """The row computed by hand from one replay, as the issue defines its columns."""
    params = dict(cell.params)
    trace = load(cell.trace) if os.path.exists(cell.trace) else \
        scenarios.get(cell.trace, **params)
    r = replay(trace, cell.allocator, maximum=cell.limit_bytes // PAGE, heap_base=1024,
               initial_pages=1)
    heap, live = r.heap_bytes[-1], r.live_bytes[-1]
    holes = [n for _, n, used in r.spans if not used]
    first = r.failures[0] if r.failures else None
    return {
        "trace": cell.trace, "params": " ".join(f"{k}={v}" for k, v in cell.params),
        "allocator": cell.allocator, "limit": cell.limit, "limit_bytes": cell.limit_bytes,
        "events": len(trace), "peak_heap_bytes": max(r.heap_bytes), "final_heap_bytes": heap,
        "final_live_bytes": live, "utilization": live / heap,
        "heap_utilization": live / (heap - 1024),
        "oom_index": first and first.index, "oom_kind": first and first.kind,
        "failures": len(r.failures), "largest_free": max(holes, default=0),
        "external_fragmentation": 1 - max(holes) / sum(holes) if sum(holes) else 0.0,
    }


def without_timing(row):
    return {k: v for k, v in row.items() if k not in TIMING}


def test_grid_is_the_product_and_params_go_where_they_belong(cells):
    # swiss-cheese takes rounds (2 values), random takes events (1), the file takes none
    assert len(cells) == (2 + 1 + 1) * len(ALLOCATORS) * len(LIMITS)
    assert {c.params for c in cells if c.trace == "random"} == {(("events", 3000),)}
    assert {c.params for c in cells if c.trace.endswith(".rep")} == {()}
    assert len({c.key for c in cells}) == len(cells)


def test_a_name_given_twice_is_one_cell():
    # 16 pages is 1 MiB: the same limit, so the same key
    assert len(grid(["churn", "churn"], ["bump", "bump"], ["1mib", "16pages"])) == 1


def test_csv_rows_equal_single_replays_and_a_rerun_does_no_work(client, cells, tmp_path):
    out = tmp_path / "results.csv"
    assert run(cells, str(out), client=client) == (len(cells), 0)
    rows = read(str(out))
    assert [name for name, _ in COLUMNS] == next(csv.reader(open(out)))
    by_key = {(r["trace"], r["params"], r["allocator"], r["limit_bytes"]): r for r in rows}
    assert len(rows) == len(by_key) == len(cells)
    for cell in cells:
        row = by_key[cell.key]
        assert without_timing(row) == pytest.approx(expected_row(cell)), cell
        assert row["events_per_s"] > 0
    # the small limit makes some cells fail and the large one not: the grid means something
    assert {r["oom_kind"] for r in rows} >= {None, "true"}
    before = out.read_bytes()
    assert run(cells, str(out), client=client) == (0, len(cells))
    assert out.read_bytes() == before


def test_a_cut_short_table_is_completed(client, cells, tmp_path):
    out = tmp_path / "results.csv"
    run(cells[:5], str(out), client=client)
    assert run(cells, str(out), client=client) == (len(cells) - 5, 5)
    keys = [(r["trace"], r["params"], r["allocator"], r["limit_bytes"]) for r in read(str(out))]
    assert sorted(keys) == sorted(c.key for c in cells)


def test_parquet_holds_the_same_rows(client, cells, tmp_path):
    out = tmp_path / "results.parquet"
    run(cells[:7], str(out), client=client)
    assert run(cells, str(out), client=client) == (len(cells) - 7, 7)
    assert not os.path.exists(f"{out}.partial")
    rows = {(r["trace"], r["params"], r["allocator"], r["limit_bytes"]): without_timing(r)
            for r in read(str(out))}
    assert len(rows) == len(cells)
    for cell in cells:
        assert rows[cell.key] == pytest.approx(expected_row(cell)), cell


def pyfrag(*args, code="", env=None):
    return subprocess.run([sys.executable, "-c", code + "import sys; from pyfrag.cli import "
                           "main; sys.exit(main(sys.argv[1:]))", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args,message", [
    (("--allocators", "dlmalloc,nonesuch"), "unknown allocator 'nonesuch'"),
    (("--limits", "lots"), "unknown memory limit 'lots'"),
    (("--limits", "8gib"), "must lie between one page and 4gib"),
    (("--limits", ","), "a sweep needs at least one memory limit"),
    (("-p", "colour=1,2"), "-p colour: no scenario of this sweep takes it"),
    (("-p", "rounds=many"), "-p rounds=many: rounds takes a number"),
    (("--out", "r.xlsx"), "r.xlsx: unknown table format '.xlsx'; use .csv or .parquet"),
])
def test_bad_input_exits_2_before_any_work(args, message, tmp_path):
    options = {"--allocators": "dlmalloc", "--limits": "1mib",
               "--out": str(tmp_path / "r.csv")}
    extra = []
    for flag, value in zip(args[::2], args[1::2]):
        if flag in options:
            options[flag] = value
        else:
            extra += [flag, value]
    flat = [x for pair in options.items() for x in pair]
    r = pyfrag("sweep", "swiss-cheese", *flat, *extra)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "r.csv").exists()


def test_a_table_that_is_not_a_sweep_is_refused(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("name,score\nx,1\n")
    r = pyfrag("sweep", "swiss-cheese", "--allocators", "bump", "--limits", "1mib",
               "--out", out)
    assert r.returncode == 2 and f"{out}:2: no 'trace' column" in r.stderr, r.stderr
    assert out.read_text() == "name,score\nx,1\n"


def test_parquet_without_pyarrow_is_refused_before_any_work(tmp_path):
    r = pyfrag("sweep", "swiss-cheese", "--allocators", "bump", "--limits", "1mib",
               "--out", tmp_path / "r.parquet", code="import sys; sys.modules['pyarrow'] = None; ")
    assert r.returncode == 2, r.stderr
    assert "Parquet tables need pyarrow: pip install 'pyfrag[sweep]'" in r.stderr
    assert "cells to run" not in r.stderr            # no cell was started


def test_without_dask_the_error_names_the_extra(tmp_path):
    r = pyfrag("sweep", "swiss-cheese", "--allocators", "bump", "--limits", "1mib",
               "--out", tmp_path / "r.csv", code="import sys; sys.modules['distributed'] = None; ")
    assert r.returncode == 2
    assert "pip install 'pyfrag[sweep]'" in r.stderr, r.stderr


def test_the_command_writes_table_and_report_and_resumes(tmp_path):
    args = ["sweep", "swiss-cheese", "-p", "rounds=30,60", "--allocators", "bump,dlmalloc",
            "--limits", "1mib", "--out", tmp_path / "r.parquet", "--report", tmp_path / "r.html",
            "--workers", "1"]
    r = pyfrag(*args)
    assert r.returncode == 0, r.stderr
    assert "this sweep ran 4 of its 4 cells" in r.stdout
    assert len(read(str(tmp_path / "r.parquet"))) == 4
    assert (tmp_path / "r.html").read_text().count("<tr>") == 5
    r = pyfrag(*args)
    assert r.returncode == 0, r.stderr
    assert "sweep: nothing to do, all 4 cells are in" in r.stderr
    assert "this sweep ran 0 of its 4 cells (4 were there already)" in r.stdout


def test_scheduler_runs_on_an_existing_cluster_and_leaves_it_up(client, tmp_path):
    out = tmp_path / "r.csv"
    r = pyfrag("sweep", "swiss-cheese", "-p", "rounds=20", "--allocators", "bump,buddy",
               "--limits", "1mib", "--out", out, "--scheduler", client.scheduler.address)
    assert r.returncode == 0, r.stderr
    assert sorted(row["allocator"] for row in read(str(out))) == ["buddy", "bump"]
    assert len(client.scheduler_info()["workers"]) == 2       # still there, still ours


def test_a_scheduler_that_does_not_answer_is_a_clear_error(tmp_path):
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = pyfrag("sweep", "swiss-cheese", "--allocators", "bump", "--limits", "1mib",
               "--out", tmp_path / "r.csv", "--scheduler", f"tcp://127.0.0.1:{port}",
               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})   # not Dask's 30 s
    assert r.returncode == 2, r.stderr
    assert f"--scheduler tcp://127.0.0.1:{port}: no Dask scheduler answers there" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_bad_trace_file_fails_with_its_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.rep"
    bad.write_text("0\n2\n3\n1\na 0 10\nf 0\nr zero 5\n")
    r = pyfrag("sweep", bad, "--allocators", "bump", "--limits", "1mib",
               "--out", tmp_path / "r.csv", "--workers", "1")
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines()[-1] == \
        f"pyfrag sweep: error: {bad}:7: id must be an integer, got 'zero'"
    assert "Traceback" not in r.stderr and "distributed.worker" not in r.stderr
