"""Yes/No benchmarks besides MME, as VLMEvalKit scores them with exact matching.

POPE: F1 of 'Yes' (Unknown counts as No), accuracy, precision and recall, overall and per category (a row may
      list several categories, comma-separated); main metric: overall F1.
HallusionBench: aAcc (per question), fAcc (per figure: all questions on one figure right) and qAcc (per
      question across figures); ids come from the index 'x_x_x_set_figure_question'; main metric: the mean
      of the three.
All values x100.
"""
from __future__ import annotations

import pandas as pd

from ..errors import VlmrunError
from . import Scorer, register
from .mme import yorn_vlmevalkit


def _extract(df: pd.DataFrame) -> pd.DataFrame:
    missing = {"prediction", "answer"} - set(df.columns)
    if missing:
        raise VlmrunError(f"Y/N predictions need the columns {sorted(missing)}")
    df = df.copy()
    df["extracted"] = [yorn_vlmevalkit("" if pd.isna(p) else p) for p in df["prediction"]]
    df["hit"] = (df["extracted"] == df["answer"].astype(str)).astype(float)
    return df


def _prf(sub: pd.DataFrame) -> dict:
    pred = sub["extracted"] == "Yes"
    gold = sub["answer"].astype(str) == "Yes"
    tp, fp, fn = int((pred & gold).sum()), int((pred & ~gold).sum()), int((~pred & gold).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": f1 * 100, "acc": sub["hit"].mean() * 100, "precision": p * 100, "recall": r * 100}


def pope(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    df = _extract(df)
    overall = _prf(df)
    out = {"overall": overall["f1"], "acc": overall["acc"], "precision": overall["precision"],
           "recall": overall["recall"]}
    if "category" in df.columns:
        exploded = df.assign(category=df["category"].astype(str).str.split(",")).explode("category")
        for cat, sub in sorted(exploded.groupby("category"), key=lambda kv: kv[0]):
            out[f"{cat.strip()} F1"] = _prf(sub)["f1"]
    out["unknown"] = int((df["extracted"] == "Unknown").sum())
    return out


def _group_acc(df: pd.DataFrame, key) -> float:
    groups = df.groupby(key)["hit"].apply(lambda h: float(h.all()))
    return groups.mean() * 100


def hallusionbench(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    df = _extract(df)
    parts = df["index"].astype(str).str.split("_")
    if not parts.map(len).ge(6).all():
        raise VlmrunError("HallusionBench indices must look like 'x_x_x_set_figure_question'")
    l2 = df["l2-category"].astype(str) if "l2-category" in df.columns else ""
    df["fkey"] = l2 + "_" + parts.str[3] + "_" + parts.str[4]
    df["qkey"] = l2 + "_" + parts.str[3] + "_" + parts.str[5]
    a, f, q = df["hit"].mean() * 100, _group_acc(df, "fkey"), _group_acc(df, "qkey")
    out = {"overall": (a + f + q) / 3, "aAcc": a, "fAcc": f, "qAcc": q}
    if "category" in df.columns:
        for cat, sub in sorted(df.groupby("category"), key=lambda kv: kv[0]):
            out[f"{cat} aAcc"] = sub["hit"].mean() * 100
    out["unknown"] = int((df["extracted"] == "Unknown").sum())
    return out


register(Scorer("pope", pope, headline=("overall", "acc"), details=(), main="overall",
                labels={"overall": "F1", "acc": "Acc", "precision": "Precision", "recall": "Recall"}))
register(Scorer("hallusionbench", hallusionbench, headline=("aAcc", "fAcc", "qAcc"), main="overall",
                labels={"overall": "Overall"}))
