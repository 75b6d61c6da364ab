// snapshot.mjs: makes the Pyodide memory snapshot the playground boots from
// (run by the prepare step, web/build/prepare.py; not served).
//
//   node web/build/snapshot.mjs PYODIDE_DIR OUT.bin.gz
//
// PYODIDE_DIR is the prepared web/dist/pyodide-<hash>: Pyodide's files, the lock the
// page is served and the micropip and packaging wheels beside it.
//
// A snapshot is Python's linear memory right after start-up, with the stdlib
// modules pyfrag needs, micropip and packaging already imported. Restoring it
// skips most of Pyodide's own initialisation and those imports (measured here:
// ~2.5 s -> ~0.6 s in the browser; micropip's import alone is ~0.25 s in Node).
// It is tied to the exact pyodide.asm.wasm it was made with, so prepare
// remakes it whenever the npm package or the lock changes, and the worker falls
// back to a normal start if it is missing or does not load. The snapshot
// options are Pyodide's own but not a stable API (hence the pinned version).
// Gzipped: ~6 MB instead of ~31 MB on a host; the worker inflates it natively.

import { writeFileSync, renameSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { loadPyodide } from "pyodide";
import { snapshotSerializer } from "./snapshot-refs.mjs";

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
  process.stderr.write("usage: node web/build/snapshot.mjs PYODIDE_DIR OUT.bin.gz\n");
  process.exit(2);
}
// The served directory as index and package cache: the same lock (micropip
// keeps its entries from its import) and only local wheels.
const index = resolve(dir) + "/";
const py = await loadPyodide({ _makeSnapshot: true, indexURL: index, packageCacheDir: index,
                               stdout: () => {}, stderr: () => {} });
const failed = [];
await py.loadPackage(["micropip", "packaging"], { messageCallback: () => {}, errorCallback: (m) => failed.push(m) });
if (failed.length) throw new Error(failed.join("\n"));
// Modules pyfrag, the playground glue and micropip's install import: importing
// them now puts them in the snapshot. micropip's wheel tags are cached once
// computed; they belong to this runtime, which is the browser's too.
py.runPython(`
import array, bisect, dataclasses, functools, hashlib, heapq, io, itertools, json, math
import os, random, re, struct, sys, zipfile, importlib.metadata, email.parser
import micropip, micropip._utils, packaging.requirements, packaging.specifiers, packaging.tags
import packaging.utils, packaging.version
micropip._utils.sys_tags()
`);
// The snapshot is memory, not files: the wheels' files are not in it, so the
// worker loads both packages again at start (unpacking only: their modules are
// imported already). Pyodide's record of loaded packages must agree, and
// makeMemorySnapshot refuses a snapshot whose record changed.
for (const name of Object.keys(py.loadedPackages)) delete py.loadedPackages[name];
const snapshot = py.makeMemorySnapshot({ serializer: snapshotSerializer(py) });
writeFileSync(out + ".tmp", gzipSync(snapshot, { level: 6 }));
renameSync(out + ".tmp", out);
process.stdout.write(`snapshot: ${snapshot.length} bytes of memory\n`);
