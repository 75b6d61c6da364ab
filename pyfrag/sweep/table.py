"""A sweep's results table on disk: CSV or Parquet, written row by row, read back typed.

Main entry points: `read(path) -> [row dict]` (an absent file reads as no rows),
`done_keys(path)` (the cells a resumed sweep skips) and `writer(path)`, a
context manager whose `write(row)` stores one row as its cell finishes.

CSV rows are appended and flushed one by one, so a sweep killed at any point
keeps every finished row (a row cut short by the kill is dropped and its cell
runs again). A Parquet file cannot be appended to: its rows go as
row groups into PATH.partial (the rows already in PATH first), which replaces
PATH when the writer closes, also on Ctrl-C or an error; only a hard kill
loses the rows of that run. Parquet needs pyarrow (the `sweep` extra).
"""

import contextlib
import csv
import io
import os

from .grid import COLUMNS, KEY

NAMES = [name for name, _ in COLUMNS]
TYPES = dict(COLUMNS)
FORMATS = (".csv", ".parquet")
# rows buffered before a Parquet row group is written: small groups make a slow file
PARQUET_BATCH = 64


class TableError(ValueError):
    pass


def table_format(path):
    """".csv" or ".parquet", by extension; a Parquet name without pyarrow is refused
    here, before a sweep starts any work."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise TableError(f"{path}: unknown table format {ext or '(no extension)'!r}; "
                         f"use {' or '.join(FORMATS)}")
    if ext == ".parquet":
        _pyarrow()
    return ext


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("Parquet tables need pyarrow: pip install 'pyfrag[sweep]'") from None
    return pyarrow


def _schema(pa):
    kinds = {str: pa.string(), int: pa.int64(), float: pa.float64()}
    return pa.schema([(name, kinds[kind]) for name, kind in COLUMNS])


def _typed(path, line, raw):
    """A CSV row as Python values: an empty number, or an empty OOM kind, is None."""
    row = {}
    for name in NAMES:
        text = raw.get(name)
        if text is None:
            raise TableError(f"{path}:{line}: no {name!r} column; this is not a sweep table "
                             "of this pyfrag (write to a new file)")
        kind = TYPES[name]
        if text == "" and (kind is not str or name == "oom_kind"):
            row[name] = None
            continue
        try:
            row[name] = kind(text)
        except ValueError:
            raise TableError(f"{path}:{line}: {name} {text!r} is not a number") from None
    return row


def read(path):
    """Every row of the table at `path`, typed as COLUMNS says; [] when there is none."""
    fmt = table_format(path)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    if fmt == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
        # a row cut short (the sweep was killed while writing it) is not a row: its
        # cell runs again, and the writer overwrites it
        lines = io.StringIO(text[:text.rfind("\n") + 1])
        return [_typed(path, i + 2, raw) for i, raw in enumerate(csv.DictReader(lines))]
    pa = _pyarrow()
    try:
        table = pa.parquet.read_table(path)
    except pa.ArrowException as e:
        raise TableError(f"{path}: not a readable Parquet file ({e})") from None
    missing = [n for n in NAMES if n not in table.column_names]
    if missing:
        raise TableError(f"{path}: no {missing[0]!r} column; this is not a sweep table of "
                         "this pyfrag (write to a new file)")
    return table.select(NAMES).to_pylist()


def done_keys(path):
    return {tuple(row[k] for k in KEY) for row in read(path)}


@contextlib.contextmanager
def writer(path):
    """Yields write(row); rows already in `path` stay."""
    if table_format(path) == ".csv":
        with _csv_writer(path) as write:
            yield write
    else:
        with _parquet_writer(path) as write:
            yield write


@contextlib.contextmanager
def _csv_writer(path):
    if os.path.exists(path):
        read(path)              # refuses a file that is not a sweep table before appending
        with open(path, "rb+") as f:
            f.truncate(f.read().rfind(b"\n") + 1)      # drops a row cut short
    fresh = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, NAMES)
        if fresh:
            out.writeheader()

        def write(row):
            out.writerow({k: ("" if v is None else v) for k, v in row.items()})
            f.flush()
        yield write


@contextlib.contextmanager
def _parquet_writer(path):
    pa = _pyarrow()
    schema = _schema(pa)
    old = read(path)
    partial = f"{path}.partial"
    out = pa.parquet.ParquetWriter(partial, schema)
    pending = list(old)

    def flush():
        if pending:
            out.write_table(pa.Table.from_pylist(pending, schema=schema))
            pending.clear()

    def write(row):
        pending.append(row)
        if len(pending) >= PARQUET_BATCH:
            flush()
    try:
        yield write
    finally:
        flush()
        out.close()
        os.replace(partial, path)
