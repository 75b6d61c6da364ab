"""Runs a sweep's cells on dask.distributed and streams their rows into the table.

Main entry point: `run(cells, out, client=None, scheduler=None, workers=None)
-> (ran, skipped)`. Cells whose row is already in `out` are skipped, so a
sweep that stopped half-way goes on where it was, and one that finished does
no work (no cluster is even started). Without a client or a scheduler address
it starts a LocalCluster of one single-threaded worker process per core (the
simulator is pure Python: threads would share one GIL). Each trace is built
once, by a task on a worker, and the cells that replay it depend on that task;
a row is written as soon as its cell finishes. With --scheduler the workers
must have pyfrag installed and see trace files under the same paths.

Dask comes from the optional `sweep` extra and is imported only here.
"""

import importlib.util
import logging
import os
import sys
import time

from . import table
from .grid import load_trace, run_cell


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("pyfrag sweep runs on Dask, which is not installed: "
                          "pip install 'pyfrag[sweep]'") from None
    return distributed


class Progress:
    """`sweep: 12/72 cells, 9.1 s, about 46 s left` on stderr: redrawn in place on a
    terminal, otherwise a line at every tenth of the work."""

    def __init__(self, total, skipped, out):
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.shown = -1
        note = f" ({skipped} already in {out})" if skipped else ""
        print(f"sweep: {total} cells to run{note}", file=sys.stderr, flush=True)

    def step(self):
        self.done += 1
        tenth = self.done * 10 // self.total
        if not self.tty and tenth == self.shown:
            return
        self.shown = tenth
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        line = (f"sweep: {self.done}/{self.total} cells, {elapsed:.1f} s"
                + (f", about {left:.0f} s left" if self.done < self.total else ""))
        end = "\n" if not self.tty or self.done == self.total else ""
        # on a terminal: back to the line's start, and clear what a longer line left
        print(f"\r{line}\033[K" if self.tty else line, end=end, file=sys.stderr, flush=True)


class SchedulerError(ValueError):
    pass


def _client(distributed, scheduler, workers):
    if scheduler:
        try:
            return distributed.Client(scheduler)
        except OSError as e:
            raise SchedulerError(f"--scheduler {scheduler}: no Dask scheduler answers "
                                 f"there ({e})") from None
    # worker logs stay quiet: a failing cell's error reaches the client, which reports
    # it once, as the command's error
    cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                       threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    return distributed.Client(cluster)


def run(cells, out, *, client=None, scheduler=None, workers=None):
    """Run every cell not yet in `out`; returns (cells run, cells skipped)."""
    done = table.done_keys(out)
    todo = [c for c in cells if c.key not in done]
    skipped = len(cells) - len(todo)
    if not todo:
        print(f"sweep: nothing to do, all {len(cells)} cells are in {out}", file=sys.stderr)
        return 0, skipped
    distributed = _distributed()
    own = client is None
    if own:
        client = _client(distributed, scheduler, workers)
    try:
        if own and client.dashboard_link and _has_dashboard():
            print(f"sweep: Dask dashboard at {client.dashboard_link}", file=sys.stderr)
        _run(distributed, client, todo, out, Progress(len(todo), skipped, out))
    finally:
        if own:
            cluster = client.cluster
            client.close()
            if cluster is not None and not scheduler:
                cluster.close()
    return len(todo), skipped


def _has_dashboard():
    return importlib.util.find_spec("bokeh") is not None


def _run(distributed, client, todo, out, progress):
    traces, left = {}, {}
    for cell in todo:
        source = (cell.trace, cell.params)
        if source not in traces:
            traces[source] = client.submit(load_trace, *source, pure=False)
            left[source] = 0
        left[source] += 1
    futures = {client.submit(run_cell, traces[(c.trace, c.params)], c, pure=False): c
               for c in todo}
    with table.writer(out) as write:
        for future in distributed.as_completed(futures):
            write(future.result())
            cell = futures.pop(future)
            source = (cell.trace, cell.params)
            left[source] -= 1
            if not left[source]:
                del traces[source]          # its last cell is done: workers may drop it
            progress.step()
