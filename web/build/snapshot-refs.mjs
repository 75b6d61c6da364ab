// snapshot-refs.mjs: the JavaScript objects Python holds in the start-up memory
// snapshot, written down by name and found again on restore.
//
// A Pyodide memory snapshot is Python's linear memory; JavaScript objects that
// Python refers to cannot be saved in it. Pyodide handles its own and anything
// reached through `js`; for the rest it asks a serializer (when the snapshot is
// made: snapshot.mjs) and a deserializer (when it is restored: web/src/py-worker.mjs,
// which bundles this file, and tests/node/run_pyodide.mjs). micropip is imported in the
// snapshot, and its import keeps Pyodide's API object and three functions of it
// (micropip 0.11's _compat_in_pyodide); these are all there is.

// [owner, name]: owner "pyodide" is the object loadPyodide returns, "api" its _api; no name: the owner itself
const REFS = [["pyodide", null], ["pyodide", "loadPackage"], ["api", "install"], ["api", "loadBinaryFile"]];

const ownerOf = (pyodide, owner) => (owner === "api" ? pyodide._api : pyodide);

export function snapshotSerializer(pyodide) {
  return (obj) => {
    for (const [owner, name] of REFS) {
      const o = ownerOf(pyodide, owner);
      if (obj === (name ? o[name] : o)) return { owner, name };
    }
    // makeMemorySnapshot fails with this: a package imported in the snapshot keeps something new
    throw new Error("snapshot: Python holds a JavaScript object snapshot-refs.mjs does not name");
  };
}

// Restoring happens inside loadPyodide, before its result exists: each name
// becomes a stand-in that forwards to the real object once runtime() returns
// it (micropip only calls them later, when it installs something).
export function snapshotDeserializer(runtime) {
  return ({ owner, name }) => {
    const of = () => ownerOf(runtime(), owner);
    return name ? (...args) => of()[name](...args) : new Proxy({}, { get: (_, key) => of()[key] });
  };
}
