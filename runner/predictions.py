"""Predictions: the shards written by the worker's ranks, merged on the host into VLMEvalKit's layout."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from vlmrun_worker.shards import read_records  # the container side's own reader

from .datasets import is_missing

# Characters an .xlsx cell cannot hold as such: they are written as the OOXML escape _xHHHH_ (and a literal
# '_xHHHH_' as '_x005F_xHHHH_'), as xlsxwriter writes VLMEvalKit's files, so no answer loses a character.
_ILLEGAL_XLSX = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_ESCAPE_LIKE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_ESCAPED = re.compile(r"_x([0-9a-fA-F]{4})_")


def xlsx_escape(v: str) -> str:
    return _ILLEGAL_XLSX.sub(lambda m: f"_x{ord(m.group()):04X}_", _ESCAPE_LIKE.sub(r"_x005F\1", v))


def xlsx_unescape(v: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), v)
PRED_COLUMNS_FIRST = ["index", "question", "answer", "category", "image_path", "prediction"]


def bench_frame(rows: list[dict]) -> pd.DataFrame:
    """The benchmark's rows without images. Option cells (A, B, ...) and the hint read as pandas reads them in
    VLMEvalKit (an empty cell or 'None', 'NA', 'null', ... is missing), so the scorer's choices are the options
    the model was shown (the worker builds prompts with the same semantics)."""
    df = pd.DataFrame(rows)
    for c in df.columns:
        if (len(c) == 1 and c.isupper()) or c == "hint":
            df[c] = df[c].map(lambda v: None if is_missing(v) else v)
    return df.drop(columns=[c for c in ("image",) if c in df.columns])


def missing(rows: list[dict], shard_dir: Path) -> list[str]:
    done = read_records(shard_dir)
    return [r["index"] for r in rows if r["index"] not in done]


def merge(rows: list[dict], shard_dir: Path) -> pd.DataFrame:
    """Bench rows (without images) plus a prediction column, in the benchmark's order."""
    done = read_records(shard_dir)
    df = bench_frame(rows)
    df["prediction"] = [done[i]["prediction"] if i in done else None for i in df["index"]]
    first = [c for c in PRED_COLUMNS_FIRST if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if e.filename is None:  # name the file the user has to make room for
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_xlsx(df: pd.DataFrame, path: Path) -> None:
    clean = df.copy()
    for col in clean.columns:
        clean[col] = clean[col].map(lambda v: xlsx_escape(v) if isinstance(v, str) else v)
    atomic_write(path, lambda p: clean.to_excel(p, index=False, engine="openpyxl"))


def write_json(obj, path: Path) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=1, default=str, ensure_ascii=False)))


def read_predictions(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        df = pd.read_excel(path, engine="openpyxl", dtype={"index": str})
        for col in df.columns:
            df[col] = df[col].map(lambda v: xlsx_unescape(v) if isinstance(v, str) else v)
        return df
    return pd.read_csv(path, sep="\t", dtype={"index": str}, keep_default_na=False)
