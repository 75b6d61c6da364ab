// run_pyodide.mjs: runs a Python file inside Pyodide under Node, offline, with
// pyfrag installed from the wheel the playground serves. Used by
// tests/test_pyodide_node.py so the Pyodide world is tested without a browser.
//
//   node tests/node/run_pyodide.mjs SCRIPT.py [--wheels DIR] [--mount HOSTDIR:FSDIR]...
//                                   [--snapshot]   (start from web/dist's memory snapshot)
//
// Pyodide comes from the npm package (node_modules/pyodide), the same one the
// page uses; the micropip/packaging wheels and pyfrag's wheel come from
// web/dist (run `python serve.py --prepare-only` first). packageCacheDir points
// there: a wheel missing locally would make Pyodide try a CDN, which fails
// offline. Exit status: 0 when the script ran, 1 on a Python exception
// (traceback on stderr), 2 on a usage or set-up error.

import { readFileSync, readdirSync, existsSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { resolve, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { snapshotDeserializer } from "../../web/build/snapshot-refs.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DIST = join(ROOT, "web", "dist");

function fail(msg) {
  process.stderr.write(`run_pyodide: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let script = null;
const wheelDirs = [];
const mounts = [];
let fromSnapshot = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--snapshot") fromSnapshot = true;
  else if (args[i] === "--wheels") wheelDirs.push(resolve(args[++i] ?? fail("--wheels needs a directory")));
  else if (args[i] === "--mount") {
    const spec = args[++i] ?? fail("--mount needs HOSTDIR:FSDIR");
    const at = spec.lastIndexOf(":");
    if (at <= 0) fail(`--mount ${spec}: expected HOSTDIR:FSDIR`);
    mounts.push([resolve(spec.slice(0, at)), spec.slice(at + 1)]);
  } else if (!script) script = resolve(args[i]);
  else fail(`unexpected argument ${args[i]}`);
}
if (!script) fail("usage: run_pyodide.mjs SCRIPT.py [--wheels DIR] [--mount HOSTDIR:FSDIR]");
if (!existsSync(script)) fail(`${script}: no such file`);

// prepare's record of what it made: every name in web/dist carries its content's hash
const infoPath = join(DIST, ".build-info.json");
if (!existsSync(infoPath)) fail("web/dist is not prepared: run `python serve.py --prepare-only`");
const info = JSON.parse(readFileSync(infoPath, "utf-8"));
if (!info.pyodide || !info.wheel) fail("web/dist is not prepared: run `python serve.py --prepare-only`");

const options = {};
let pyodide = null;
if (fromSnapshot) {
  if (!info.snapshot) fail("web/dist has no snapshot (see serve.py's snapshot step)");
  options._loadSnapshot = gunzipSync(readFileSync(join(DIST, info.snapshot)));
  // micropip, imported in the snapshot, holds Pyodide objects: bound again as the worker does
  options._snapshotDeserializer = snapshotDeserializer(() => pyodide);
}
const { loadPyodide } = await import("pyodide");
pyodide = await loadPyodide({
  ...options,
  packageCacheDir: join(DIST, info.pyodide),
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

// as the worker does (from a snapshot: their files; the modules are imported already)
await pyodide.loadPackage(["micropip", "packaging"], { messageCallback: () => {} });
const micropip = pyodide.pyimport("micropip");
const wheels = [pathToFileURL(join(DIST, info.wheel)).href];
for (const dir of wheelDirs) {
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith(".whl")) wheels.push(pathToFileURL(join(dir, name)).href);
  }
}
// One call with deps=False: everything needed is listed, and micropip would
// otherwise look dependencies up in an index, which is not there offline.
await micropip.install.callKwargs(wheels, { deps: false });

for (const [host, at] of mounts) {
  pyodide.FS.mkdirTree(at);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: host }, at);
}

pyodide.globals.set("PYFRAG_REPO", "/repo");
try {
  await pyodide.runPythonAsync(readFileSync(script, "utf-8"), { filename: script });
} catch (e) {
  process.stderr.write(String(e && e.message ? e.message : e) + "\n");
  process.exit(1);
}
process.exit(0);
