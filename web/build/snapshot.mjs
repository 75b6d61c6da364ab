// snapshot.mjs: makes the Pyodide memory snapshot the playground boots from
// (run by serve.py's prepare step; not served).
//
//   node web/build/snapshot.mjs OUT.bin.gz
//
// A snapshot is Python's linear memory right after start-up, with the stdlib
// modules pyfrag needs already imported. Restoring it skips most of
// Pyodide's own initialisation (measured here: ~2.5 s -> ~0.6 s in the
// browser). It is tied to the exact pyodide.asm.wasm it was made with, so
// serve.py remakes it whenever the npm package changes, and the worker falls
// back to a normal start if it is missing or does not load. The snapshot
// options are Pyodide's own but not a stable API (hence the pinned version).
// Gzipped: ~6 MB instead of ~31 MB on a host; the worker inflates it natively.

import { writeFileSync, renameSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { loadPyodide } from "pyodide";

const out = process.argv[2];
if (!out) {
  process.stderr.write("usage: node web/build/snapshot.mjs OUT.bin.gz\n");
  process.exit(2);
}
const py = await loadPyodide({ _makeSnapshot: true, stdout: () => {}, stderr: () => {} });
// Modules pyfrag and the playground glue import: importing them now puts them
// in the snapshot. No JavaScript objects may be alive in Python at this point.
py.runPython(`
import array, bisect, dataclasses, functools, hashlib, heapq, io, itertools, json, math
import os, random, re, struct, sys, zipfile, importlib.metadata, email.parser
`);
const snapshot = py.makeMemorySnapshot();
writeFileSync(out + ".tmp", gzipSync(snapshot, { level: 6 }));
renameSync(out + ".tmp", out);
process.stdout.write(`snapshot: ${snapshot.length} bytes of memory\n`);
