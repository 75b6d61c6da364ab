# probe.py: runs inside Pyodide (tests/node/run_pyodide.mjs) and prints one
# RESULT line of JSON that tests/test_pyodide_node.py compares with CPython.
# Covers: pyfrag installed from the served wheel, replays on every model, and
# the playground glue's show() payload (as the page's worker receives it).
import hashlib
import json
import os
import sys
import types

import pyfrag
from pyfrag import allocators, scenarios

result = {"python": sys.version.split()[0], "pyfrag": pyfrag.__version__,
          "pyfrag_file": pyfrag.__file__, "platform": sys.platform}

# every model on the same small random trace: a digest of addresses and sizes
trace = scenarios.random_trace(3000, seed=7)
digests = {}
for name in allocators.names():
    try:
        run = trace.replay(name)
    except Exception as e:               # reported, and compared with CPython's outcome
        digests[name] = f"error: {type(e).__name__}"
        continue
    h = hashlib.sha256()
    h.update(run.addresses.tobytes())
    h.update(run.heap_bytes.tobytes())
    h.update(run.live_bytes.tobytes())
    digests[name] = h.hexdigest()
result["digests"] = digests
result["swiss_audit"] = scenarios.swiss_cheese().replay("bump").audit()

# playground glue, with a stand-in for the worker's host module
calls = []
host = types.ModuleType("_playground_host")
host.show = lambda meta, names, *arrays: calls.append((meta, names, arrays))
sys.modules["_playground_host"] = host
# the repository: mounted at /repo under Node, the working tree under CPython
repo = globals().get("PYFRAG_REPO") or os.environ["PYFRAG_REPO"]
sys.path.insert(0, os.path.join(repo, "web", "py"))
import playground  # noqa: E402

ns = playground.namespace(None, 1)
exec("import pyfrag\nrun = show(pyfrag.scenarios.swiss_cheese(rounds=50), allocator='bump')",
     ns)
meta, names, arrays = calls[0]
result["show"] = {
    "meta": json.loads(meta),
    "arrays": {n: [memoryview(a).format, memoryview(a).itemsize, len(a)]
               for n, a in zip(names, arrays)},
    "returned_run": type(ns["run"]).__name__,
}
try:
    playground.show(42)
except TypeError as e:
    result["show_bad_input"] = str(e)
print("RESULT " + json.dumps(result))
