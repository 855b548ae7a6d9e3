"""The HTML report: one self-contained page (charts embedded as PNG), every score one click from the
provenance of the run that produced it."""
from __future__ import annotations

import base64
import html
import io
import json
import re

import pandas as pd

from . import __version__


def _anchor(model: str, bench: str) -> str:
    return "prov-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{model}-{bench}")


def _chart(df: pd.DataFrame, columns: list[str], title: str, ylabel: str) -> str:
    """Grouped bars, models side by side; returns a data: URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(df.index)
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(min(13.0, max(5.5, 0.45 * len(columns) * max(len(models), 1) + 2)), 4.2),
                           dpi=100)
    for k, model in enumerate(models):
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(columns))]
        ax.bar(xs, [float(df.loc[model, c]) for c in columns], width=width, label=model)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=30 if len(columns) > 4 else 0, ha="right" if len(columns) > 4 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


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
