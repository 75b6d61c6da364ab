"""pywheel.py: pyfrag's own wheel (pure Python, py3-none-any), written with zipfile, for the playground to
install with micropip. Entry point: build_wheel(dest_dir) -> path.

The same files and metadata `pip wheel .` puts in, without a build backend: no network for build
isolation, no build/ or egg-info in the shared tree, and about 50 ms instead of seconds. Every entry has
one fixed date, so the same sources give the same bytes, hence the same content-hashed name in web/dist:
a browser that has the wheel keeps it across rebuilds.
"""

import base64
import hashlib
import os
import re
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATE = (1980, 1, 1, 0, 0, 0)      # the earliest a zip can say


def project_meta():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def wheel_name(meta):
    name = re.sub(r"[-_.]+", "_", meta["name"]).lower()
    return f"{name}-{meta['version']}-py3-none-any.whl"


def package_files():
    """(name in the wheel, path) of every file of the pyfrag package, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "pyfrag")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(dirpath, name)
                out.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    return out


def build_wheel(dest_dir):
    meta = project_meta()
    name, version = meta["name"], meta["version"]
    dist_info = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if meta.get("description"):
        lines.append(f"Summary: {meta['description']}")
    if meta.get("requires-python"):
        lines.append(f"Requires-Python: {meta['requires-python']}")
    for dep in meta.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    generated = {
        f"{dist_info}/METADATA": "\n".join(lines) + "\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: pyfrag-serve.py\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/top_level.txt": "pyfrag\n",
    }
    scripts = meta.get("scripts") or {}
    if scripts:
        generated[f"{dist_info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items())
    os.makedirs(dest_dir, exist_ok=True)
    target = os.path.join(dest_dir, wheel_name(meta))
    record = []
    tmp = target + ".tmp"

    def write(zf, arc, data):
        entry = zipfile.ZipInfo(arc, DATE)
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry.external_attr = 0o644 << 16
        zf.writestr(entry, data)

    with zipfile.ZipFile(tmp, "w") as zf:
        for arc, path in package_files():
            with open(path, "rb") as f:
                data = f.read()
            write(zf, arc, data)
            record.append((arc, data))
        for arc, text in generated.items():
            data = text.encode()
            write(zf, arc, data)
            record.append((arc, data))
        rows = []
        for arc, data in record:
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(f"{arc},sha256={digest.decode()},{len(data)}")
        rows.append(f"{dist_info}/RECORD,,")
        write(zf, f"{dist_info}/RECORD", "\n".join(rows) + "\n")
    os.replace(tmp, target)
    return target
