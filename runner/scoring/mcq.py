"""Multiple choice, with VLMEvalKit's exact matching (no judge model).

An answer is matched as VLMEvalKit's can_infer does (vlmeval/utils/matching_util.py at e8e78f05): to an option
letter when exactly one option letter stands in it as a whole token (after '.()[],:;!*#{}' become spaces;
case-sensitive) and its first occurrence is among the last five tokens; else to 'Z' when no letter but a 'Z'
token stands in it; else to the letter of "(correct) answer is X" (X in A-D, any case: "the answer is a dog"
reads as A there too); else, for an answer at most twice
as long as all option texts together, to the one option whose text appears in it (case-insensitive); otherwise it
is unmatched and counted wrong (and counted in 'unmatched'). ms-vlmeval 0.0.20 lacks the "answer is X" rule.
MMBench is scored circularly: the rows of one question (index % 1e6) are the same question with rotated
options, and the question counts only when every rotation is right. Scores are accuracy x100, overall and
per category (and per split where the file has one).
"""
from __future__ import annotations

import re

import pandas as pd

from ..errors import VlmrunError
from . import Scorer, register

_CHARS = ".()[],:;!*#{}"
_REFUSALS = ("Sorry, I can't help with images of people yet.", "I can't process this file.",
             "I'm sorry, but without the image provided", "Cannot determine the answer")
LETTERS = [chr(ord("A") + i) for i in range(26)]


_VERBOSE = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")


def infer_option(answer: str, choices: dict) -> str | None:
    if "Failed to obtain answer via API" in answer:
        return None
    if any(r in answer for r in _REFUSALS):
        return "Z"
    text = answer
    for c in _CHARS:
        text = text.replace(c, " ")
    tokens = text.split()
    hits = [k for k in choices if k in tokens]
    if len(hits) == 1:
        if tokens.index(hits[0]) > len(tokens) - 5:  # a letter early in a long answer is not its choice
            return hits[0]
    elif not hits and "Z" in tokens:
        return "Z"
    m = _VERBOSE.search(answer)
    return m.group(1).upper() if m and m.group(1).upper() in choices else None


def infer_text(answer: str, choices: dict) -> str | None:
    low = answer.lower()
    if len(low) > 2 * sum(len(str(v)) for v in choices.values()):
        return None
    hits = [k for k, v in choices.items() if str(v).lower() in low]
    return hits[0] if len(hits) == 1 else None


def extract(answer, choices: dict) -> str | None:
    answer = "" if answer is None or (isinstance(answer, float) and pd.isna(answer)) else str(answer)
    return infer_option(answer, choices) or infer_text(answer, choices)


def options(row) -> dict:
    return {k: row[k] for k in LETTERS if k in row and not pd.isna(row[k]) and str(row[k]) != ""}


def _hits(df: pd.DataFrame) -> pd.DataFrame:
    missing = {"prediction", "answer"} - set(df.columns)
    if missing or "A" not in df.columns:
        raise VlmrunError(f"MCQ predictions need the columns prediction, answer and option columns A, B, ...")
    df = df.copy()
    df["extracted"] = [extract(r["prediction"], options(r)) for _, r in df.iterrows()]
    df["hit"] = (df["extracted"] == df["answer"].astype(str).str.strip()).astype(float)
    return df


def _breakdown(df: pd.DataFrame, hit_col: str = "hit") -> dict:
    out = {"overall": df[hit_col].mean() * 100}
    for col in ("split", "l2-category", "category"):
        if col in df.columns and df[col].notna().any():
            if col == "split" and df[col].nunique() < 2:
                continue
            for val, sub in sorted(df.groupby(col), key=lambda kv: str(kv[0])):
                out[str(val)] = sub[hit_col].mean() * 100
    return out


def mcq(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    df = _hits(df)
    out = _breakdown(df)
    out["unmatched"] = int(df["extracted"].isna().sum())
    return out


def mmbench(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    """Circular evaluation: a question counts only when all of its rotations are right."""
    df = _hits(df)
    idx = df["index"].astype(int)
    df["g"] = idx % 1_000_000
    main = df[idx == df["g"]].copy()
    main["hit"] = [float(df.loc[df["g"] == g, "hit"].all()) for g in main["g"]]
    out = _breakdown(main)
    out["unmatched"] = int(df["extracted"].isna().sum())
    return out


def mmmu(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    """MMMU as VLMEvalKit scores it: an open question (no options) becomes option A = its answer text and
    B = 'Other Answers', and a ground truth that is not an option letter becomes 'A'."""
    df = df.copy()
    for col in ("A", "B"):
        if col not in df.columns:
            df[col] = None
    open_q = df["A"].isna() | (df["A"].astype(str).str.strip().isin(["", "nan"]))
    df.loc[open_q, "B"] = "Other Answers"
    df.loc[open_q, "A"] = df.loc[open_q, "answer"]
    letters = set(LETTERS)
    df["answer"] = [a if str(a).strip() in letters else "A" for a in df["answer"]]
    return mcq(df, scoring)


register(Scorer("mmmu", mmmu, headline=("overall",), main="overall", labels={"overall": "Overall"}))
register(Scorer("mcq", mcq, headline=("overall",), main="overall", labels={"overall": "Overall"}))
register(Scorer("mmbench", mmbench, headline=("overall",), main="overall", labels={"overall": "Overall"}))
