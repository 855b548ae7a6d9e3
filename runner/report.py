"""The report: a summary (models x benchmarks, each benchmark's main metric), one detail table per benchmark
(rows = models, columns = its scores, with deltas against the reference scores in the model manifests), a
short comparison of the leading models, and a table of runs. Printed with rich; written as CSV, Markdown,
xlsx, JSON and an HTML page with charts (runner/report_html.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from . import scoring
from .predictions import atomic_write

FORMATS = ("csv", "md", "xlsx", "json", "html")


def collect(work_dir: Path) -> list[dict]:
    """Every job record (provenance with scores) under a work dir."""
    out = []
    for p in sorted(Path(work_dir).glob("*/*/provenance.json")):
        try:
            out.append(json.loads(p.read_text()))
        except ValueError:
            continue
    return out


def scored_records(work_dir: Path) -> list[dict]:
    """The records of a work dir that carry scores; a one-line error where there are none."""
    from .errors import VlmrunError

    if not Path(work_dir).is_dir():
        raise VlmrunError(f"{work_dir} is not a folder")
    records = [r for r in collect(work_dir) if r.get("scores")]
    if not records:
        raise VlmrunError(f"no scored results under {work_dir}: run `vlmrun eval ... --work-dir {work_dir}` first")
    return records


def scorer_of(rec: dict, cat=None) -> scoring.Scorer:
    name = rec.get("benchmark", {}).get("scorer")
    if not name and cat is not None and rec["benchmark"]["name"] in cat.benchmarks:
        name = cat.benchmarks[rec["benchmark"]["name"]].scorer
    return scoring.get(name or "mme")


def bench_label(rec: dict) -> str:
    """A record's benchmark as its column and table are named: a video benchmark with its frame setting
    (Video-MME_8frame), so two settings of one benchmark stay apart."""
    b = rec.get("benchmark") or {}
    return b.get("label") or b.get("name")


def score_tables(records: list[dict], cat=None) -> dict[str, pd.DataFrame]:
    """One table per benchmark: rows = models, columns = the scorer's labels in its order.
    Each table's scorer name is kept in df.attrs['scorer']."""
    rows: dict[str, list[dict]] = {}
    scorers: dict[str, scoring.Scorer] = {}
    judges: dict[str, set] = {}  # the judge models that scored (or read answers of) each benchmark
    for rec in records:
        scores = rec.get("scores")
        if not scores:
            continue
        sc = scorer_of(rec, cat)
        bench = bench_label(rec)
        scorers[bench] = sc
        row = {"Model": rec["model"]["name"]}
        if scores.get("judge") not in (None, "exact_matching") and (sc.judge or scores.get("judged", 0) > 0):
            judges.setdefault(bench, set()).add(scores["judge"])  # the judge made (some of) these scores
        row.update({sc.label(k): round(float(scores[k]), 2) for k in sc.ordered(scores)
                    if isinstance(scores[k], (int, float))})
        rows.setdefault(bench, []).append(row)
    out = {}
    for bench, r in rows.items():
        df = pd.DataFrame(r).set_index("Model")
        df.attrs["scorer"] = scorers[bench].name
        df.attrs["judges"] = sorted(judges.get(bench, ()))
        out[bench] = df
    return out


def _scorer(df: pd.DataFrame) -> scoring.Scorer:
    return scoring.get(df.attrs.get("scorer", "mme"))


def headline(df: pd.DataFrame) -> list[str]:
    sc = _scorer(df)
    return [sc.label(k) for k in sc.headline if sc.label(k) in df.columns]


def details(df: pd.DataFrame) -> list[str]:
    """Sub-score columns: the scorer's own list, or else whatever the benchmark's data broke scores down by."""
    sc = _scorer(df)
    if sc.details:
        return [sc.label(k) for k in sc.details if sc.label(k) in df.columns]
    skip = set(headline(df)) | {main_metric(df)} | {sc.label(k) for k in ("acc", "precision", "recall",
                                                                          *scoring.COUNTS)}
    return [c for c in df.columns if c not in skip and not str(c).startswith("Δ")]


def title(bench: str, df: pd.DataFrame) -> str:
    """A table's title: the benchmark, and the judge model(s) behind its scores."""
    judges = df.attrs.get("judges") or []
    return bench + (f" (judge: {', '.join(judges)})" if judges else "")


def main_metric(df: pd.DataFrame) -> str:
    return _scorer(df).label(_scorer(df).main)


def summary_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Models x benchmarks, each benchmark's main metric (MME: Overall = Perception + Reasoning)."""
    out = pd.DataFrame({bench: df[main_metric(df)] for bench, df in tables.items()})
    out.index.name = "Model"
    return out


def reference_deltas(tables: dict[str, pd.DataFrame], cat) -> dict[str, list[dict]]:
    """Score minus the reference score in each model's manifest (same benchmark only): a drifting
    environment shows up at once. Adds 'Δ <metric>' columns to the detail tables in place."""
    notes: dict[str, list[dict]] = {}
    for bench, df in tables.items():
        sc = _scorer(df)
        for model in df.index:
            m = cat.models.get(model) if cat else None
            for ref in (m.references if m else []):
                if ref.bench != bench:
                    continue
                for key, value in ref.scores.items():
                    label = sc.label(key)
                    if label in df.columns:
                        df.loc[model, f"Δ {label}"] = round(float(df.loc[model, label]) - value, 2)
                notes.setdefault(bench, []).append({"model": model, "scores": ref.scores, "source": ref.source})
    return notes


def compare(df: pd.DataFrame, a: str, b: str) -> str:
    """Where each of two models leads, and by how much (headline metrics first, then sub-scores)."""
    parts = []
    for metric in headline(df):
        x, y = float(df.loc[a, metric]), float(df.loc[b, metric])
        if x == y:
            parts.append(f"{a} and {b} tie on {metric} ({x:.2f})")
        else:
            lead, trail, hi, lo = (a, b, x, y) if x > y else (b, a, y, x)
            parts.append(f"{lead} leads on {metric} by {hi - lo:.2f} ({hi:.2f} vs {lo:.2f})")
    subs = details(df)
    if subs:
        diff = {c: float(df.loc[a, c]) - float(df.loc[b, c]) for c in subs}
        wins_a = [c for c, d in diff.items() if d > 0]
        wins_b = [c for c, d in diff.items() if d < 0]
        kind = "subtasks" if _scorer(df).name == "mme" else "sub-scores"
        for name, wins, sign in ((a, wins_a, 1), (b, wins_b, -1)):
            if wins:
                top = sorted(wins, key=lambda c: -sign * diff[c])[:3]
                parts.append(f"{name} leads in {len(wins)} of {len(subs)} {kind}, most in "
                             + ", ".join(f"{c} (+{abs(diff[c]):.2f})" for c in top))
        ties = len(subs) - len(wins_a) - len(wins_b)
        if ties:
            parts.append(f"{ties} {kind} tie")
    return "; ".join(parts) + "."


def comparisons(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """For each benchmark with two or more models: the two best by the main metric, compared."""
    out = {}
    for bench, df in tables.items():
        if len(df) < 2:
            continue
        top = df[main_metric(df)].sort_values(ascending=False, kind="stable").index[:2]
        out[bench] = compare(df, top[0], top[1])
    return out


def _batch(asked, used) -> str:
    """The batch column: the batch size, or 'asked→used' where the worker grew it on a GPU."""
    return f"{asked}→{used}" if used and asked != "" and int(used) != int(asked) else str(asked)


def _run_row(model, bench, status, family, batch, follows, env: dict, computed, times: dict) -> dict:
    return {"Model": model, "Benchmark": bench, "Status": status, "Family": family, "Batch": batch,
            # which VLMEvalKit wrapper and version the model's inputs follow (proved by tests/test_parity.py)
            "Inputs follow": follows, "transformers": env.get("transformers", ""), "torch": env.get("torch", ""),
            "Computed": computed, **{k: v for k, v in times.items() if k.endswith("_s")}}


def _runs_frame(rows: list[dict], errors: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows).assign(Error=errors)  # last, whichever rows carry which timings


def runs_table(results) -> pd.DataFrame:
    """The runs of one eval, failed ones included."""
    rows = []
    for r in results:
        prov = r.job.run_dir / "provenance.json"
        env = (json.loads(prov.read_text()).get("environment") or {}) if prov.is_file() else {}
        rows.append(_run_row(r.job.model.name, r.job.label, r.status, r.job.family,
                             _batch(r.job.batch_size, r.times.get("batch_size_used")),
                             r.job.model.reference, env, r.computed, r.times))
    return _runs_frame(rows, [r.error or "" for r in results])


def record_runs_table(records: list[dict]) -> pd.DataFrame:
    """The runs table from the provenance records of a work dir (`vlmrun report`, `vlmrun import`): the same
    columns as an eval's, imported files included with where they came from."""
    rows = []
    for rec in records:
        model, run, env = rec.get("model") or {}, rec.get("run") or {}, rec.get("environment") or {}
        imported = rec.get("imported")
        follows = (f"imported: {Path(imported['file']).name} (sha256 {imported['sha256'][:12]})" if imported
                   else model.get("reference") or "")
        rows.append(_run_row(model.get("name"), bench_label(rec),
                             "imported" if imported else "ok",
                             (rec.get("image") or {}).get("family") or model.get("family") or "",
                             _batch(run.get("batch_size", ""), (run.get("times") or {}).get("batch_size_used")),
                             follows, env,
                             run.get("samples_computed", imported["rows"] if imported else ""), run.get("times") or {}))
    return _runs_frame(rows, [""] * len(rows))


def random_weight_note(models, cat) -> str | None:
    """One line naming the models of the report that have random weights (demo and test models)."""
    if cat is None:
        return None
    tiny = sorted({m for m in models if m in cat.models and cat.models[m].source.tiny})
    if not tiny:
        return None
    return (f"{', '.join(tiny)}: random weights, built from a config (DEMO/TEST models): their scores are chance "
            "level and say nothing about any real model.")


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


def write_report(work_dir: Path, tables: dict[str, pd.DataFrame], runs: pd.DataFrame | None = None,
                 records: list[dict] | None = None, cat=None, formats=FORMATS) -> list[Path]:
    """Write the report in the asked formats; returns the files written."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        from .errors import VlmrunError

        raise VlmrunError(f"unknown report format(s) {sorted(unknown)}; use some of {', '.join(FORMATS)}")
    work_dir.mkdir(parents=True, exist_ok=True)
    tables = {b: _copy(df) for b, df in tables.items()}
    notes = reference_deltas(tables, cat)
    summary = summary_table(tables) if tables else pd.DataFrame()
    texts = comparisons(tables)
    caveat = random_weight_note(summary.index if tables else [], cat)
    written = []

    def out(name, write):
        path = work_dir / name
        atomic_write(path, write)
        written.append(path)

    if "csv" in formats and tables:
        long = pd.concat([df.reset_index().assign(Benchmark=b) for b, df in tables.items()], ignore_index=True)
        cols = ["Model", "Benchmark"] + [c for c in long.columns if c not in ("Model", "Benchmark")]
        out("report.csv", lambda p: long[cols].to_csv(p, index=False))
        out("summary.csv", lambda p: summary.to_csv(p))
    if "md" in formats:
        md = ["# vlmrun report", ""]
        if tables:
            md += ["## Summary", "", "Main metric per benchmark (MME: Overall = Perception + Reasoning).", "",
                   to_markdown(summary), ""] + ([caveat, ""] if caveat else [])
        for bench, df in tables.items():
            md += [f"## {title(bench, df)}", "", to_markdown(df), ""]
            if bench in texts:
                md += [texts[bench], ""]
            for n in notes.get(bench, []):
                md += [f"Reference for {n['model']}: {n['scores']} ({n['source']}).", ""]
        if runs is not None and not runs.empty:
            md += ["## Runs", "", to_markdown(runs, index=False), ""]
        out("report.md", lambda p: p.write_text("\n".join(md)))
    if "xlsx" in formats and tables:
        def xlsx(p):
            with pd.ExcelWriter(p, engine="openpyxl") as w:
                summary.to_excel(w, sheet_name="summary")
                for bench, df in tables.items():
                    df.to_excel(w, sheet_name=bench[:31])
                if runs is not None and not runs.empty:
                    runs.to_excel(w, sheet_name="runs", index=False)
        out("report.xlsx", xlsx)
    if "json" in formats:
        doc = {"summary": json.loads(summary.to_json(orient="index")) if tables else {},
               "benchmarks": {b: json.loads(df.to_json(orient="index")) for b, df in tables.items()},
               "comparisons": texts, "references": notes,
               "provenance": [slim_record(r) for r in (records or [])]}
        out("report.json", lambda p: p.write_text(json.dumps(doc, indent=1, default=str)))
    if "html" in formats:
        from .report_html import render

        html = render(summary, tables, texts, notes, records or [], runs, caveat)
        out("report.html", lambda p: p.write_text(html, encoding="utf-8"))
    return written


def _copy(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.attrs = dict(df.attrs)
    return out


def slim_record(record: dict) -> dict:
    """A provenance record without the long pip freeze (it stays in provenance.json)."""
    rec = json.loads(json.dumps(record, default=str))
    if isinstance(rec.get("environment"), dict):
        rec["environment"].pop("pip_freeze", None)
    return rec


TIME_LABELS = {"image_s": "image", "tiny_model_s": "tiny", "container_start_s": "start", "load_s": "load",
               "infer_s": "infer", "merge_s": "merge", "score_s": "score"}


def print_tables(console: Console, tables: dict[str, pd.DataFrame], runs: pd.DataFrame | None = None) -> None:
    if len(tables) > 1:
        summary = summary_table(tables)
        t = Table(title="Summary (main metric per benchmark; MME: Overall = Perception + Reasoning)")
        t.add_column("Model", style="bold")
        for c in summary.columns:
            t.add_column(str(c), justify="right")
        for idx, row in summary.iterrows():
            t.add_row(str(idx), *[_fmt(v) for v in row.tolist()])
        console.print(t)
    texts = comparisons(tables)
    for bench, df in tables.items():
        # rows = models; a terminal too narrow for every subtask gets the same table turned on its side
        wide = 12 + 9 * len(df.columns) <= console.width
        view = df if wide else df.T
        t = Table(title=title(bench, df) + ("" if wide else " (metrics × models)"))
        t.add_column("Model" if wide else "Metric", style="bold")
        for c in view.columns:
            t.add_column(str(c), justify="right")
        for idx, row in view.iterrows():
            t.add_row(str(idx), *[_fmt(v) for v in row.tolist()])
        console.print(t)
        if bench in texts:
            console.print(texts[bench], highlight=False)
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
