"""The sweep report: one offline HTML page with the table, peak bars and the OOM map.

Owns: the page has a peak chart and an OOM map per trace, one bar and one map
cell per row, coloured by that row's first failure; it references nothing
outside itself; names are escaped; `pyfrag report TABLE` writes it from a CSV
table, and refuses what is no table. Rows come from `run_cell`, no Dask needed.
"""

import os
import re
import subprocess
import sys

import pytest

from pyfrag.sweep import grid, load_trace, run_cell
from pyfrag.sweep.report import COLOURS, render
from pyfrag.sweep.table import writer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def rows():
    cells = grid(["swiss-cheese", "image-task", "churn"], ["dlmalloc", "buddy", "bump"],
                 ["1mib", "64mib", "512mib"], {"rounds": [60], "images": [60], "frames": [300]})
    return [run_cell(load_trace(c.trace, c.params), c) for c in cells]


def test_one_peak_chart_and_one_oom_map_per_trace(rows):
    page = render(rows, "results.csv")
    assert page.count('aria-label="peak heap per allocator"') == 3
    assert page.count('aria-label="first OOM per allocator and memory limit"') == 3
    # every row is one bar and one map cell, each with its own tooltip
    assert len(re.findall(r"<title>[^<]*: peak heap \d+ bytes", page)) == len(rows)
    assert len(re.findall(r"<title>[^<]* events</title>", page)) == len(rows)
    assert page.count("<tr>") == len(rows) + 1


def test_map_cells_are_coloured_by_the_first_failure(rows):
    page = render(rows, "results.csv")
    cells = re.findall(r'<title>([^<]*) events</title><rect [^>]*fill="(#\w+)"', page)
    assert len(cells) == len(rows)
    kinds = {"fragmentation OOM": COLOURS["fragmentation"], "true OOM": COLOURS["true"],
             "memory exhausted": COLOURS["exhausted"], ": none of": COLOURS[None]}
    for tip, colour in cells:
        assert [kinds[k] for k in kinds if k in tip] == [colour], tip
    # the grid holds these four outcomes (bump runs out exhausted), so they were really tested
    assert {colour for _, colour in cells} == set(kinds.values())


def test_the_page_stands_alone_and_escapes_names(rows):
    odd = [dict(r, trace="<b>my&trace</b>.rep", params="") for r in rows[:3]]
    page = render(odd, "a<b>.csv")
    assert "<b>my" not in page and "&lt;b&gt;my&amp;trace&lt;/b&gt;.rep" in page
    assert not re.search(r"(src|href)=['\"](?!data:)", page)
    assert "<script" not in page and "http" not in page


def pyfrag(*args):
    return subprocess.run([sys.executable, "-m", "pyfrag", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_report_command_writes_the_page_beside_the_table(rows, tmp_path):
    table = tmp_path / "results.csv"
    with writer(str(table)) as write:
        for row in rows:
            write(row)
    r = pyfrag("report", table)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "results.html").read_text()
    assert page == render(rows, str(table))


@pytest.mark.parametrize("name,message", [
    ("missing.csv", "missing.csv: no such file"),
    ("results.txt", "unknown table format '.txt'; use .csv or .parquet"),
    ("empty.csv", "empty.csv: no rows in it"),
])
def test_report_refuses_what_is_no_table(tmp_path, name, message):
    (tmp_path / "empty.csv").write_text("")
    r = pyfrag("report", tmp_path / name)
    assert r.returncode == 2 and message in r.stderr, r.stderr
