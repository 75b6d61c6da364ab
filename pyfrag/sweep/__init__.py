"""Sweeps: traces x allocators x memory limits x scenario parameters, one table.

Main entry points: `grid(sources, allocators, limits, params) -> [Cell]` and
`run(cells, out) -> (ran, skipped)`. The room of the package that runs many replays:
grid.py (the cells, checked before any work, and one cell's row), cluster.py (the cells
on dask.distributed, rows streamed to the table), table.py (the table on disk: CSV or
Parquet, resumable) and report.py (the table as one static HTML page).

>>> cells = grid(["churn"], ["dlmalloc", "buddy"], ["64mib"], {"seed": [1, 2]})
>>> [(c.allocator, c.params) for c in cells]
[('dlmalloc', (('seed', 1),)), ('buddy', (('seed', 1),)), ('dlmalloc', (('seed', 2),)), ('buddy', (('seed', 2),))]
>>> row = run_cell(load_trace("churn", (("frames", 200),)), cells[0])
>>> row["allocator"], row["events"] > 0, row["oom_index"]
('dlmalloc', True, None)
"""

from .cluster import run
from .grid import COLUMNS, KEY, Cell, expand_params, grid, load_trace, run_cell
from .table import read, writer

__all__ = ["COLUMNS", "KEY", "Cell", "expand_params", "grid", "load_trace", "read", "run",
           "run_cell", "writer"]
