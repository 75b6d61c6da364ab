"""A sweep's table as one static HTML page: charts drawn here as inline SVG, then the table.

Main entry point: `write(rows, path, source)` (rows as `pyfrag.sweep.table.read`
gives them). The page needs nothing but itself: no script, no stylesheet or
font from elsewhere, so it opens offline and can be mailed around. Per trace
(with its scenario parameters) it draws

- peak memory per allocator: one bar per allocator at each limit of the sweep,
  marked where the run failed a request;
- the OOM map: allocators x memory limits, each cell coloured by the first
  failure (none, or its kind: pyfrag.rules.KINDS) and labelled with its event;

then the whole table. Pure Python; numbers are formatted, never recomputed.
"""

from html import escape

from ..rules import KINDS
from ..report import human

BAR_H, BAR_GAP, LABEL_W, CHART_W = 14, 3, 170, 560
CELL_W, CELL_H = 92, 24
COLOURS = {None: "#5b9a5d", "fragmentation": "#e69f00", "true": "#c8442f",
           "exhausted": "#8e3b8a", "unsupported": "#6b6b6b"}
LIGHT, DARK = (169, 198, 234), (29, 63, 115)     # bar colours: small limit -> large limit
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1b1b;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px}
h3{font-size:15px;margin:18px 0 4px} .note{color:#555;margin:2px 0 10px}
.charts{display:flex;flex-wrap:wrap;gap:10px 36px;align-items:flex-start}
svg text{font:12px system-ui,sans-serif;fill:#1b1b1b} svg .small{font-size:11px}
table{border-collapse:collapse;font-size:12.5px;margin-top:8px}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0} td.t,th.t{text-align:left}
.legend span{display:inline-block;margin-right:16px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
"""


def _shade(k, n):
    t = k / (n - 1) if n > 1 else 1.0
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(LIGHT, DARK))


def _trace_label(row):
    return row["trace"] + (f" ({row['params']})" if row["params"] else "")


def _oom_text(row):
    if not row["oom_kind"]:
        return "none"
    return f"{KINDS[row['oom_kind']]} at event {row['oom_index']}"


def _groups(rows):
    """{trace label: rows}, allocators and limits in the order they first appear / by size."""
    groups = {}
    for row in rows:
        groups.setdefault(_trace_label(row), []).append(row)
    return groups


def _ordered(rows, key):
    seen = []
    for row in rows:
        if row[key] not in seen:
            seen.append(row[key])
    return seen


def _limits(rows):
    sizes = {}
    for row in rows:
        sizes.setdefault(row["limit_bytes"], row["limit"])
    return sorted(sizes.items())


def peak_chart(rows):
    """Horizontal bars: per allocator, one bar per limit, length = peak heap bytes."""
    names = _ordered(rows, "allocator")
    limits = _limits(rows)
    cell = {(r["allocator"], r["limit_bytes"]): r for r in rows}
    top = max([r["peak_heap_bytes"] for r in rows] + [1])
    group_h = len(limits) * (BAR_H + BAR_GAP) + 8
    height = 24 + len(names) * group_h + 20
    scale = (CHART_W - LABEL_W - 130) / top
    out = [f'<svg width="{CHART_W}" height="{height}" role="img" '
           f'aria-label="peak heap per allocator">']
    for k, (nbytes, label) in enumerate(limits):
        x = LABEL_W + k * 110
        out.append(f'<rect x="{x}" y="4" width="12" height="12" '
                   f'fill="{_shade(k, len(limits))}"/>'
                   f'<text x="{x + 16}" y="14" class="small">limit {escape(label)}</text>')
    y = 24
    for name in names:
        out.append(f'<text x="{LABEL_W - 8}" y="{y + group_h / 2}" text-anchor="end" '
                   f'dominant-baseline="middle">{escape(name)}</text>')
        for k, (nbytes, label) in enumerate(limits):
            row = cell.get((name, nbytes))
            by = y + k * (BAR_H + BAR_GAP)
            if row is None:
                continue
            w = max(1, row["peak_heap_bytes"] * scale)
            tip = (f"{name} at {label}: peak heap {row['peak_heap_bytes']} bytes; "
                   f"OOM: {_oom_text(row)}")
            out.append(f'<g><title>{escape(tip)}</title>'
                       f'<rect x="{LABEL_W}" y="{by}" width="{w:.1f}" height="{BAR_H}" '
                       f'fill="{_shade(k, len(limits))}"/>'
                       f'<text x="{LABEL_W + w + 4:.1f}" y="{by + BAR_H - 3}" class="small">'
                       f'{escape(human(row["peak_heap_bytes"]))}'
                       + (f' <tspan fill="{COLOURS[row["oom_kind"]]}">&#9888; OOM</tspan>'
                          if row["oom_kind"] else "") + '</text></g>')
        y += group_h
    out.append(f'<line x1="{LABEL_W}" y1="22" x2="{LABEL_W}" y2="{y}" stroke="#999"/>')
    out.append("</svg>")
    return "".join(out)


def oom_map(rows):
    """Allocators x limits, each cell coloured by its first failure."""
    names = _ordered(rows, "allocator")
    limits = _limits(rows)
    cell = {(r["allocator"], r["limit_bytes"]): r for r in rows}
    width = LABEL_W + len(limits) * CELL_W + 4
    height = 22 + len(names) * CELL_H + 4
    out = [f'<svg width="{width}" height="{height}" role="img" '
           f'aria-label="first OOM per allocator and memory limit">']
    for k, (nbytes, label) in enumerate(limits):
        out.append(f'<text x="{LABEL_W + k * CELL_W + CELL_W / 2}" y="14" '
                   f'text-anchor="middle">{escape(label)}</text>')
    for j, name in enumerate(names):
        y = 22 + j * CELL_H
        out.append(f'<text x="{LABEL_W - 8}" y="{y + CELL_H / 2}" text-anchor="end" '
                   f'dominant-baseline="middle">{escape(name)}</text>')
        for k, (nbytes, label) in enumerate(limits):
            row = cell.get((name, nbytes))
            x = LABEL_W + k * CELL_W
            if row is None:
                out.append(f'<rect x="{x}" y="{y}" width="{CELL_W - 2}" height="{CELL_H - 2}" '
                           f'fill="#eee"/>')
                continue
            text = f"@ {row['oom_index']}" if row["oom_kind"] else "ok"
            tip = f"{name} at {label}: {_oom_text(row)} of {row['events']} events"
            out.append(f'<g><title>{escape(tip)}</title>'
                       f'<rect x="{x}" y="{y}" width="{CELL_W - 2}" height="{CELL_H - 2}" '
                       f'fill="{COLOURS[row["oom_kind"]]}"/>'
                       f'<text x="{x + CELL_W / 2 - 1}" y="{y + CELL_H / 2}" '
                       f'text-anchor="middle" dominant-baseline="middle" class="small" '
                       f'style="fill:#fff">{escape(text)}</text></g>')
    out.append("</svg>")
    return "".join(out)


TABLE = (("trace", "t", lambda r: r["trace"]), ("params", "t", lambda r: r["params"]),
         ("allocator", "t", lambda r: r["allocator"]), ("limit", "", lambda r: r["limit"]),
         ("events", "", lambda r: f"{r['events']:,}"),
         ("peak heap", "", lambda r: human(r["peak_heap_bytes"])),
         ("utilization", "", lambda r: f"{r['utilization']:.2%}"),
         ("heap-only util.", "", lambda r: f"{r['heap_utilization']:.2%}"),
         ("first OOM", "", lambda r: f"{r['oom_kind']} @ {r['oom_index']}"
          if r["oom_kind"] else "none"),
         ("largest free", "", lambda r: human(r["largest_free"])),
         ("ext. frag", "", lambda r: "-" if r["external_fragmentation"] is None
          else f"{r['external_fragmentation']:.2%}"),
         ("events/s", "", lambda r: "-" if r["events_per_s"] is None
          else f"{r['events_per_s']:,.0f}"))


def table_html(rows):
    head = "".join(f'<th class="{c}">{escape(name)}</th>' for name, c, _ in TABLE)
    body = "".join("<tr>" + "".join(f'<td class="{c}">{escape(str(get(r)))}</td>'
                                    for _, c, get in TABLE) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(rows, source):
    # one order everywhere, whatever order the cells finished in
    rows = sorted(rows, key=lambda r: (r["trace"], r["params"], r["allocator"],
                                       r["limit_bytes"]))
    groups = _groups(rows)
    limits = _limits(rows)
    legend = "".join(f'<span><i style="background:{COLOURS[k]}"></i>{label}</span>'
                     for k, label in [(None, "no failed request"), *KINDS.items()])
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>pyfrag sweep: {escape(source)}</title>",
        "<link rel='icon' href='data:,'>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>pyfrag sweep</h1>",
        f"<p class='note'>{len(rows)} runs from {escape(source)}: {len(groups)} traces x "
        f"{len(_ordered(rows, 'allocator'))} allocators x {len(limits)} memory limits "
        f"({escape(', '.join(label for _, label in limits))}). Every run starts with heap "
        "base 1024 in one page; hover a bar or a cell for its numbers.</p>",
    ]
    for label, group in groups.items():
        events = group[0]["events"]
        parts += [f"<h2>{escape(label)}</h2>",
                  f"<p class='note'>{events:,} events</p><div class='charts'>",
                  "<div><h3>Peak memory per allocator</h3>", peak_chart(group), "</div>",
                  "<div><h3>First OOM over memory limits</h3>",
                  f"<div class='legend'>{legend}</div>", oom_map(group),
                  "<p class='note'>@ N: the first failed request was event N.</p></div>",
                  "</div>"]
    parts += ["<h2>All runs</h2>", table_html(rows), "</body></html>"]
    return "\n".join(parts)


def write(rows, path, source):
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(rows, source))
