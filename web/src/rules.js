// The words and tables of a replay that the page shares with Python: pyfrag/rules.json, which pyfrag/rules.py
// reads too, so neither side keeps a copy. KINDS names a failed request, ISSUES the trace events the replay
// skips or reads otherwise, REASONS why a request failed by the allocator's nature, ABI a module's exports, RUN
// the codes of the replay inside a module (wasm_modules/src/abi.c).
// Entry point: say(template, values) fills a template's {name}s, as Python's str.format does.

import RULES from "../../pyfrag/rules.json" with { type: "json" };

export const { kinds: KINDS, issues: ISSUES, reasons: REASONS, abi: ABI, run: RUN } = RULES;

export const say = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));
