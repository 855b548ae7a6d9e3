"""The HTML report: one self-contained page (charts embedded as SVG), every score one click from the
provenance of the run that produced it."""
from __future__ import annotations

import base64
import html
import json
import re

import pandas as pd

from . import __version__


def _anchor(model: str, bench: str) -> str:
    return "prov-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{model}-{bench}")


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _ticks(top: float) -> list[float]:
    """Round y-axis ticks from 0 to at least `top` (1, 2 or 5 times a power of ten apart, about 5 of them)."""
    import math

    top = top if top > 0 else 1.0
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [step * k for k in range(int(math.ceil(top / step)) + 1)]


def _chart(df: pd.DataFrame, columns: list[str], title: str, ylabel: str) -> str:
    """Grouped bars, models side by side, as an SVG drawn here (no plotting library: it costs nearly a second
    to import and render, on every eval); returns a data: URI."""
    models = list(df.index)
    values = [[float(df.loc[m, c]) if not pd.isna(df.loc[m, c]) else 0.0 for c in columns] for m in models]
    ticks = _ticks(max((v for row in values for v in row), default=0.0))
    slanted = len(columns) > 4
    left, top, bottom = 60, 40, 90 if slanted else 50
    right = 40 + 7 * max((len(str(m)) for m in models), default=0)  # the legend, right of the plot
    width = int(min(1300, max(550, 45 * len(columns) * max(len(models), 1) + 200)))
    height = 420
    plot_w, plot_h = width - left - right, height - top - bottom
    y = lambda v: top + plot_h * (1 - v / ticks[-1])  # noqa: E731
    group = plot_w / max(len(columns), 1)
    bar = 0.8 * group / max(len(models), 1)
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-size="14">{esc(title)}</text>']
    for tk in ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tk):.1f}" y2="{y(tk):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(tk) + 4:.1f}" text-anchor="end">{tk:g}</text>')
    out.append(f'<text transform="translate(16 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">{esc(ylabel)}</text>')
    for i, col in enumerate(columns):
        cx = left + group * (i + 0.5)
        for k, row in enumerate(values):
            x = cx + (k - len(models) / 2) * bar
            out.append(f'<rect x="{x:.1f}" y="{y(row[i]):.1f}" width="{bar:.1f}" height="{y(0) - y(row[i]):.1f}" '
                       f'fill="{PALETTE[k % len(PALETTE)]}"><title>{esc(models[k])} {esc(col)}: {row[i]:g}</title></rect>')
        label = (f'<text transform="translate({cx:.1f} {top + plot_h + 12}) rotate(-30)" text-anchor="end">{esc(col)}</text>'
                 if slanted else f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{esc(col)}</text>')
        out.append(label)
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>')
    for k, m in enumerate(models):  # the legend, top right
        ly = top + 4 + 16 * k
        out.append(f'<rect x="{left + plot_w + 12}" y="{ly}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                   f'<text x="{left + plot_w + 26}" y="{ly + 9}">{esc(m)}</text>')
    out.append("</svg>")
    return "data:image/svg+xml;base64," + base64.b64encode("".join(out).encode()).decode()


def _table(df: pd.DataFrame, bench: str | None, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [df.index.name or "Model", *df.columns])
    rows = []
    for model, row in df.iterrows():
        cells = [f"<th>{html.escape(str(model))}</th>"]
        for col, v in row.items():
            b = bench or str(col)
            text = "" if pd.isna(v) else (f"{v:.2f}" if isinstance(v, float) else html.escape(str(v)))
            cls = ' class="neg"' if str(col).startswith("Δ") and isinstance(v, float) and v < 0 else ""
            cells.append(f'<td{cls}><a href="#{_anchor(str(model), b)}" title="provenance">{text}</a></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render(summary: pd.DataFrame, tables: dict[str, pd.DataFrame], comparisons: dict[str, str],
           references: dict[str, list], records: list[dict], runs: pd.DataFrame | None = None,
           caveat: str | None = None) -> str:
    from .report import bench_label, details, headline, slim_record, title

    parts = [f"<h1>vlmrun report</h1><p class=meta>vlmrun {__version__}. Click any score for the run that made it "
             "(image, environment, model settings, timings).</p>"]
    if not summary.empty:
        parts.append("<h2>Summary</h2><p>Main metric per benchmark (MME: Overall = Perception + Reasoning).</p>")
        parts.append(_table(summary, None, "summary"))
        if caveat:
            parts.append(f"<p class=caveat>{html.escape(caveat)}</p>")
    for bench, df in tables.items():
        bid = re.sub(r"[^A-Za-z0-9_-]+", "-", bench)
        parts.append(f'<h2 id="bench-{bid}">{html.escape(title(bench, df))}</h2>')
        parts.append(_table(df, bench, f"table-{bid}"))
        if bench in comparisons:
            parts.append(f"<p class=cmp>{html.escape(comparisons[bench])}</p>")
        for n in references.get(bench, []):
            parts.append(f"<p class=ref>Reference for {html.escape(n['model'])}: {html.escape(json.dumps(n['scores']))}"
                         f" ({html.escape(n['source'])}).</p>")
        imgs = [f'<img class=chart alt="{html.escape(bench)} main scores" '
                f'src="{_chart(df, headline(df), f"{bench}: " + ", ".join(headline(df)), "score")}">']
        if details(df):
            imgs.append(f'<img class=chart alt="{html.escape(bench)} sub-scores" '
                        f'src="{_chart(df, details(df), f"{bench}: sub-scores", "score")}">')
        parts.append(f"<div class=charts>{''.join(imgs)}</div>")
    if runs is not None and not runs.empty:
        parts.append("<h2>Runs</h2>" + runs.to_html(index=False, na_rep="", classes="runs", border=0))
    parts.append("<h2>Provenance</h2>")
    for rec in records:
        model, bench = rec["model"]["name"], bench_label(rec)
        slim = slim_record(rec)
        freeze = rec["environment"].get("pip_freeze") if isinstance(rec.get("environment"), dict) else None
        env = slim.get("environment") or {}
        if rec.get("imported"):
            summary_line = (f"{model} · {bench} — imported from {rec['imported']['file']} "
                            f"(sha256 {rec['imported']['sha256'][:12]}…)")
        else:
            summary_line = (f"{model} · {bench} — {(slim.get('image') or {}).get('tag', 'no image recorded')}, "
                            f"transformers {env.get('transformers', '?')}, torch {env.get('torch', '?')}")
        block = f"<pre>{html.escape(json.dumps(slim, indent=1))}</pre>"
        if freeze:
            block += f"<details><summary>pip freeze ({len(freeze)} packages)</summary><pre>{html.escape(chr(10).join(freeze))}</pre></details>"
        parts.append(f'<details class=prov id="{_anchor(model, bench)}"><summary>{html.escape(summary_line)}</summary>{block}</details>')
    script = """<script>
// open the provenance a score links to
function openTarget() { const el = document.getElementById(location.hash.slice(1)); if (el && el.tagName === 'DETAILS') el.open = true; }
window.addEventListener('hashchange', openTarget); openTarget();
document.body.dataset.charts = String(Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length);
</script>"""
    style = """<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
thead th{background:#f2f2f2;position:sticky;top:0} tbody th{text-align:left}
td a{color:inherit;text-decoration:none} td a:hover{text-decoration:underline}
td.neg{color:#b00} .meta{color:#666} .caveat{color:#8a5a00} .cmp{background:#f6f8fa;padding:.5em;border-left:3px solid #58a}
.charts{display:flex;flex-wrap:wrap;gap:1em} .chart{max-width:100%;border:1px solid #eee}
details.prov{margin:.3em 0} details.prov:target{outline:2px solid #58a} pre{font-size:12px;background:#fafafa;padding:.5em;overflow:auto}
</style>"""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>vlmrun report</title>"
            f"{style}</head><body>{''.join(parts)}{script}</body></html>")
