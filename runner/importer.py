"""`vlmrun import`: an existing VLMEvalKit predictions file as one more row of a work dir's merged report.

The file ({model}_{bench}.xlsx or .tsv, VLMEvalKit's layout: index, prediction and the benchmark's columns) is
checked against the benchmark (every row predicted once, no other row), scored with the benchmark's own scorer,
and written like an eval's job: the predictions xlsx, the score CSV and a provenance record that says where the
predictions came from (path and sha256), so `vlmrun report` puts it next to vlmrun's own runs.
"""
from __future__ import annotations

import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from . import __version__, scoring
from .datasets import bench_file, bench_rows
from .errors import VlmrunError
from .manifest import Benchmark, Catalogue
from .paths import file_digest
from .predictions import atomic_write, bench_frame, read_predictions, write_json, write_xlsx

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise VlmrunError(f"predictions file {path} not found")
    if path.suffix not in (".xlsx", ".tsv"):
        raise VlmrunError(f"{path}: give a VLMEvalKit predictions file (.xlsx or .tsv)")
    try:
        df = read_predictions(path)
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as e:
        raise VlmrunError(f"{path} could not be read as a predictions {path.suffix} file "
                          f"({type(e).__name__}: {str(e)[:120]})") from None
    missing = [c for c in ("index", "prediction") if c not in df.columns]
    if missing:
        raise VlmrunError(f"{path}: no {' or '.join(missing)} column; VLMEvalKit's predictions files have index and prediction")
    return df


def import_predictions(path: Path, model: str, bench: Benchmark, work_dir: Path, cat: Catalogue,
                       scoring_name: str = "vlmevalkit") -> dict:
    """Check, score and record the file; returns the provenance record (with its scores)."""
    if not NAME.match(model):
        raise VlmrunError(f"--model {model!r}: use letters, digits, '.', '_' and '-' (it names a folder)")
    df = read_file(path)
    rows = bench_rows(bench_file(bench))
    df["index"] = df["index"].astype(str)
    dup = df["index"][df["index"].duplicated()].tolist()
    if dup:
        raise VlmrunError(f"{path}: rows {', '.join(dup[:5])} appear more than once")
    want = [r["index"] for r in rows]
    have = set(df["index"])
    lacking, extra = [i for i in want if i not in have], sorted(have - set(want))
    if lacking or extra:
        raise VlmrunError(f"{path} does not match {bench.name}: {len(lacking)} of its {len(want)} rows have no "
                          f"prediction, {len(extra)} rows are not in it (e.g. {', '.join((lacking or extra)[:3])}); "
                          f"is it a {bench.name} file?")
    preds = dict(zip(df["index"], df["prediction"].map(lambda v: "" if pd.isna(v) else str(v))))
    merged = bench_frame(rows)
    merged["prediction"] = [preds[i] for i in merged["index"]]
    run_dir = work_dir / model / bench.name
    run_dir.mkdir(parents=True, exist_ok=True)
    write_xlsx(merged, run_dir / f"{model}_{bench.name}.xlsx")
    scores = scoring.score(bench.scorer, merged, scoring_name)
    atomic_write(run_dir / f"{model}_{bench.name}_score.csv", lambda p: pd.DataFrame([scores]).to_csv(p, index=False))
    known = cat.models.get(model)
    record = {
        "vlmrun_version": __version__,
        "job": f"{model}_{bench.name}",
        "backend": "import",
        "imported": {"file": str(path.resolve()), "sha256": file_digest(path), "rows": len(rows),
                     "at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "model": {"name": model, "in_catalogue": known is not None,
                  **({"hub": known.source.hub, "revision": known.source.revision, "family": known.family,
                      "reference": known.reference} if known else {})},
        "benchmark": {"name": bench.name, "scorer": bench.scorer, "type": bench.type, "file": bench.file,
                      "md5": bench.md5, "rows": len(rows)},
        "scores": {"scoring": scoring_name, **scores},
    }
    write_json(record, run_dir / "provenance.json")
    return record
