"""The words and tables of a replay that Python and the page share, read from rules.json beside
this file (the page's web/src/rules.js imports the same file), so neither side keeps a copy:

- KINDS: what a failed request was ("fragmentation OOM", "memory exhausted"...);
- ISSUES: the messages of trace events the replay loop skips or reads otherwise;
- REASONS: why a request failed by the allocator's nature, whatever its heap held;
- ABI: the exports a real module must have, and their signatures;
- RUN: the codes of the replay inside a module (pyfrag_run), as wasm_modules/src/abi.c has them.

Entry point: `say(template, **values)` fills a template's {name}s.
"""

import json
import os

with open(os.path.join(os.path.dirname(__file__), "rules.json"), encoding="utf-8") as _f:
    _RULES = json.load(_f)

KINDS = _RULES["kinds"]
ISSUES = _RULES["issues"]
REASONS = _RULES["reasons"]
ABI = _RULES["abi"]
RUN = _RULES["run"]


def say(template, **values):
    """A template of this file with its {name}s filled.

    >>> say(ISSUES["free"], id=7)
    'invalid free of id 7: not live (never allocated, or already freed); skipped'
    """
    return template.format(**values)
