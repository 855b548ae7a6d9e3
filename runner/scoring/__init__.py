"""Scoring is host-side and pure Python: predictions are the contract between container and host.

Each scorer is registered with how its scores are shown: the column labels (headline metrics first), which
of them are the headline ones, which are sub-scores, and the benchmark's main metric for the summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..errors import VlmrunError

SCORINGS = ("vlmevalkit", "official")
COUNTS = ("unknown", "unmatched", "judged")  # answers no rule could read (counted wrong), and those a judge decided


@dataclass(frozen=True)
class Scorer:
    name: str
    fn: Callable[..., dict]
    headline: tuple  # score keys charted and compared first
    details: tuple = ()  # sub-score keys (subtasks, splits, categories)
    main: str = "overall"  # the summary's metric: a score key
    labels: dict = field(default_factory=dict)  # score key -> column label
    official: bool = False  # has an `official` scoring besides VLMEvalKit's
    judge: bool = False  # scored by a judge model (open-ended answers): fn takes judge=
    judge_optional: bool = False  # fn takes judge= and asks it where its rules fail (video MCQ)

    def label(self, key: str) -> str:
        return self.labels.get(key, {"unknown": "Unknown answers", "unmatched": "Unmatched answers",
                                     "judged": "Decided by judge"}.get(key, key))

    def ordered(self, scores: dict) -> list[str]:
        """Score keys in display order: headline, details, anything else, then the counts of answers that
        could not be matched (counted wrong, and shown so)."""
        counts = [k for k in COUNTS if k in scores]
        first = [k for k in (*self.headline, *self.details) if k in scores]
        rest = [k for k in scores if k not in first and k not in counts and k != "scoring"]
        return first + rest + counts


SCORERS: dict[str, Scorer] = {}


def need_columns(df: pd.DataFrame, cols, what: str) -> None:
    """A predictions table without a column its scorer reads: one line naming them."""
    missing = set(cols) - set(df.columns)
    if missing:
        raise VlmrunError(f"{what} predictions need the columns {sorted(missing)}")


def register(scorer: Scorer) -> Scorer:
    SCORERS[scorer.name] = scorer
    return scorer


def get(name: str) -> Scorer:
    if name not in SCORERS:
        raise VlmrunError(f"unknown scorer '{name}'; known: {', '.join(sorted(SCORERS))}")
    return SCORERS[name]


def score(scorer: str, predictions: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    s = get(scorer)
    if s.judge:
        if judge is None:
            raise VlmrunError(f"the {scorer} scorer needs a judge model: add --judge MODEL (an API model such as "
                              "gpt-4o, VLMEvalKit's GPT-4 judge, or a zoo model served here)")
        return s.fn(predictions, scoring=scoring, judge=judge)
    if s.judge_optional:
        return s.fn(predictions, scoring=scoring, judge=judge)
    if scoring not in SCORINGS:
        raise VlmrunError(f"unknown scoring '{scoring}'; use one of: {', '.join(SCORINGS)}")
    if scoring == "official" and not s.official:
        raise VlmrunError(f"scorer {scorer} has only VLMEvalKit's semantics: drop --scoring official")
    return s.fn(predictions, scoring=scoring)


from . import judged, mcq, mme, video, vqa, yorn  # noqa: E402,F401  (each registers its scorers)
