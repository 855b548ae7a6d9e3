"""Scoring is host-side and pure Python: predictions are the contract between container and host."""
from __future__ import annotations

from typing import Callable

import pandas as pd

from ..errors import VlmrunError
from . import mme

# scorer name (benchmark manifest field 'scorer') -> (score function, ordered main columns)
SCORERS: dict[str, Callable[..., dict]] = {"mme": mme.score}
SCORINGS = ("vlmevalkit", "official")


def score(scorer: str, predictions: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    if scorer not in SCORERS:
        raise VlmrunError(f"unknown scorer '{scorer}'; known: {', '.join(SCORERS)}")
    if scoring not in SCORINGS:
        raise VlmrunError(f"unknown scoring '{scoring}'; use one of: {', '.join(SCORINGS)}")
    return SCORERS[scorer](predictions, scoring=scoring)
