"""MME scoring, with VLMEvalKit's exact-matching semantics (default) or the official MME tool's.

vlmevalkit: lowercase, VLMEvalKit's punctuation processing, then whole-word yes/no ('yes' present and 'no'
  absent -> Yes; the reverse -> No; otherwise Unknown, counted wrong); acc+ groups rows by image_path.
official: the original MME eval tool: lowercase; the whole answer 'yes'/'no', else 'yes' or 'no' inside the
  first 4 characters, else 'other' (wrong); rows are taken in consecutive pairs, one pair per image.
Each subtask scores acc*100 + acc+*100 (at most 200); perception sums the 10 perception subtasks, reasoning
(the official tool's "cognition") the 4 others.
"""
from __future__ import annotations

import functools
import re

import pandas as pd

from ..datasets import MME_PERCEPTION, MME_REASONING
from ..errors import VlmrunError
from . import Scorer, register

# VLMEvalKit's process_punctuation (after the VQA evaluation code): '.', ':' and "'" are not in the list.
_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")


def process_punctuation(text: str) -> str:
    out = text
    for p in _PUNCT:
        if (p + " " in text or " " + p in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    # VLMEvalKit passes re.UNICODE as sub()'s count argument, so at most 32 periods are removed.
    return _PERIOD_STRIP.sub("", out, count=int(re.UNICODE))


@functools.lru_cache(maxsize=65536)  # pure: a bootstrap (vlmrun gate) scores the same answers many times
def _yorn_vlmevalkit(prediction: str) -> str:
    words = process_punctuation(prediction.lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "no" in words and "yes" not in words:
        return "No"
    return "Unknown"


def yorn_vlmevalkit(prediction) -> str:
    return _yorn_vlmevalkit(str(prediction))


def yorn_official(prediction) -> str:
    return _yorn_official(str(prediction))


@functools.lru_cache(maxsize=65536)
def _yorn_official(prediction: str) -> str:
    pred = prediction.lower()
    if pred in ("yes", "no"):
        out = pred
    elif "yes" in pred[:4]:
        out = "yes"
    elif "no" in pred[:4]:
        out = "no"
    else:
        out = "other"
    return {"yes": "Yes", "no": "No"}.get(out, "Unknown")


def _check(df: pd.DataFrame) -> None:
    missing = {"prediction", "answer", "category", "image_path"} - set(df.columns)
    if missing:
        raise VlmrunError(f"MME predictions need the columns {sorted(missing)}")
    unknown = set(df["category"]) - set(MME_PERCEPTION + MME_REASONING)
    if unknown:
        raise VlmrunError(f"MME predictions hold unknown categories {sorted(unknown)}; "
                          f"allowed: {MME_PERCEPTION + MME_REASONING}")


def score(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    """Scores as {'perception', 'reasoning', <subtask>...}, each subtask in [0, 200]."""
    _check(df)
    extract = yorn_vlmevalkit if scoring == "vlmevalkit" else yorn_official
    df = df.copy()
    df["prediction"] = df["prediction"].fillna("").astype(str)
    df["extracted"] = [extract(p) for p in df["prediction"]]
    df["hit"] = (df["extracted"] == df["answer"].astype(str).str.strip().str.capitalize()).astype(float)
    result: dict = {}
    for cat in MME_PERCEPTION + MME_REASONING:
        sub = df[df["category"] == cat]
        if sub.empty:
            continue
        acc = sub["hit"].mean() * 100
        if scoring == "vlmevalkit":
            acc_plus = float((sub.groupby("image_path", sort=False)["hit"].min() > 0).mean()) * 100
        else:
            hits = sub["hit"].tolist()
            if len(hits) % 2:
                raise VlmrunError(f"official MME scoring pairs rows per image; subtask {cat} has an odd count")
            groups = [hits[i:i + 2] for i in range(0, len(hits), 2)]
            acc_plus = sum(all(g) for g in groups) / len(groups) * 100
        result[cat] = float(acc + acc_plus)
    result = {"perception": float(sum(v for k, v in result.items() if k in MME_PERCEPTION)),
              "reasoning": float(sum(v for k, v in result.items() if k in MME_REASONING)), **result}
    result["unknown"] = int((df["extracted"] == "Unknown").sum())
    return result


def _overall(scores: dict) -> dict:
    return {**scores, "overall": scores["perception"] + scores["reasoning"]}


register(Scorer(
    name="mme", fn=lambda df, scoring="vlmevalkit": _overall(score(df, scoring)),
    headline=("perception", "reasoning"), details=tuple(MME_PERCEPTION + MME_REASONING), main="overall",
    labels={"perception": "Perception", "reasoning": "Reasoning", "overall": "Overall"}, official=True))
