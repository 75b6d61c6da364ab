"""The sweep's table files: rows survive an interrupted sweep, a torn CSV row is redone.

Owns: CSV and Parquet writers keep every row written before an exception
(Ctrl-C included) and leave no partial file; a CSV whose last row was cut
short by a kill reads without it and is completed cleanly by the next writer;
values read back typed, None where a cell has no value. Rows come from
`run_cell`, no Dask needed.
"""

import os

import pytest

from pyfrag.sweep import grid, load_trace, run_cell
from pyfrag.sweep.table import read, writer


@pytest.fixture(scope="module")
def rows():
    cells = grid(["swiss-cheese"], ["bump", "dlmalloc"], ["64kib", "1mib"], {"rounds": [30]})
    return [run_cell(load_trace(c.trace, c.params), c) for c in cells]


def test_csv_rows_read_back_typed(rows, tmp_path):
    path = str(tmp_path / "t.csv")
    with writer(path) as write:
        for row in rows:
            write(row)
    assert read(path) == rows
    assert {r["oom_kind"] for r in rows} == {None, "true"}      # both kinds went through


@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_rows_written_before_an_interrupt_are_kept(rows, tmp_path, name):
    pytest.importorskip("pyarrow")
    path = str(tmp_path / name)
    with pytest.raises(KeyboardInterrupt):
        with writer(path) as write:
            write(rows[0])
            write(rows[1])
            raise KeyboardInterrupt
    assert read(path) == rows[:2]
    assert not os.path.exists(path + ".partial")
    with writer(path) as write:
        write(rows[2])
    assert read(path) == rows[:3]


def test_a_csv_row_cut_short_is_dropped_and_overwritten(rows, tmp_path):
    path = tmp_path / "t.csv"
    with writer(str(path)) as write:
        write(rows[0])
        write(rows[1])
    whole = path.read_bytes()
    path.write_bytes(whole[:-25])                 # killed while writing the second row
    assert read(str(path)) == rows[:1]
    with writer(str(path)) as write:
        write(rows[1])
    assert path.read_bytes() == whole
