"""The report: one table per benchmark, rows = models, columns = the benchmark's scores; plus a table of
runs (status, environment, timings). Printed with rich and written as CSV and Markdown."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from .datasets import MME_PERCEPTION, MME_REASONING
from .predictions import atomic_write

MME_COLUMNS = {"perception": "Perception", "reasoning": "Reasoning",
               **{c: c for c in MME_PERCEPTION + MME_REASONING}}


def collect(work_dir: Path) -> list[dict]:
    """Every job record (provenance with scores) under a work dir."""
    out = []
    for p in sorted(Path(work_dir).glob("*/*/provenance.json")):
        try:
            out.append(json.loads(p.read_text()))
        except ValueError:
            continue
    return out


def score_tables(records: list[dict]) -> dict[str, pd.DataFrame]:
    tables: dict[str, list[dict]] = {}
    for rec in records:
        scores = rec.get("scores")
        if not scores:
            continue
        row = {"Model": rec["model"]["name"]}
        row.update({label: round(float(scores[k]), 2) for k, label in MME_COLUMNS.items() if k in scores})
        tables.setdefault(rec["benchmark"]["name"], []).append(row)
    return {b: pd.DataFrame(rows).set_index("Model") for b, rows in tables.items()}


def runs_table(results) -> pd.DataFrame:
    rows = []
    for r in results:
        env = {}
        prov = r.job.run_dir / "provenance.json"
        if prov.is_file():
            env = (json.loads(prov.read_text()).get("environment") or {})
        rows.append({"Model": r.job.model.name, "Benchmark": r.job.bench.name, "Status": r.status,
                     "Family": r.job.family, "transformers": env.get("transformers", ""),
                     "torch": env.get("torch", ""), "Computed": r.computed,
                     **{k: v for k, v in r.times.items() if k.endswith("_s")},
                     "Error": r.error or ""})
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame, index: bool = True) -> str:
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        cells = ([str(idx)] if index else []) + [_fmt(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def write_report(work_dir: Path, tables: dict[str, pd.DataFrame], runs: pd.DataFrame | None = None) -> list[Path]:
    work_dir.mkdir(parents=True, exist_ok=True)
    written = []
    long = []
    md = ["# vlmrun report", ""]
    for bench, df in tables.items():
        md += [f"## {bench}", "", to_markdown(df), ""]
        long.append(df.reset_index().assign(Benchmark=bench))
    if runs is not None and not runs.empty:
        md += ["## Runs", "", to_markdown(runs, index=False), ""]
    if long:
        all_scores = pd.concat(long, ignore_index=True)
        cols = ["Model", "Benchmark"] + [c for c in all_scores.columns if c not in ("Model", "Benchmark")]
        path = work_dir / "report.csv"
        atomic_write(path, lambda p: all_scores[cols].to_csv(p, index=False))
        written.append(path)
    path = work_dir / "report.md"
    atomic_write(path, lambda p: p.write_text("\n".join(md)))
    written.append(path)
    return written


TIME_LABELS = {"image_s": "image", "tiny_model_s": "tiny", "container_start_s": "start", "load_s": "load",
               "infer_s": "infer", "merge_s": "merge", "score_s": "score"}


def print_tables(console: Console, tables: dict[str, pd.DataFrame], runs: pd.DataFrame | None = None) -> None:
    for bench, df in tables.items():
        # rows = models; a terminal too narrow for every subtask gets the same table turned on its side
        wide = 12 + 9 * len(df.columns) <= console.width
        view = df if wide else df.T
        t = Table(title=f"{bench}" + ("" if wide else " (metrics × models)"))
        t.add_column("Model" if wide else "Metric", style="bold")
        for c in view.columns:
            t.add_column(str(c), justify="right")
        for idx, row in view.iterrows():
            t.add_row(str(idx), *[_fmt(v) for v in row.tolist()])
        console.print(t)
    if runs is not None and not runs.empty:
        t = Table(title="Runs")
        for c in ("Model", "Benchmark", "Status", "transformers", "Computed", "Time (s)"):
            t.add_column(c)
        for _, row in runs.iterrows():
            times = " ".join(f"{label} {row[k]:.1f}" for k, label in TIME_LABELS.items()
                             if k in row and pd.notna(row[k]))
            status = ("[red]" if row["Status"] == "failed" else "[green]") + str(row["Status"])
            t.add_row(str(row["Model"]), str(row["Benchmark"]), status, str(row["transformers"]),
                      str(row["Computed"]), times)
        console.print(t)
