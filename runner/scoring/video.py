"""Video benchmarks' scores, as VLMEvalKit computes them (vlmeval/dataset/videomme.py, mvbench.py and their utils at
e8e78f05), quirks included; a judge (--judge) reads the answers that the rules cannot, else they count wrong.

Video-MME: the option letter is the first A-D left after VLMEvalKit's answer prefixes are removed (none in an answer
      of more than 10 words without A-D); otherwise the options written in the question's lines are matched (can_infer,
      then the judge; else Z). Accuracy x100 (each mean rounded to 3 decimals first, as VLMEvalKit's rating strings
      are) overall, per duration (short, medium, long) and per domain.
MVBench: right when the answer's first word (dots removed) lies within the ground truth's '(x)', or '(x)' within that
      word (so an empty answer counts right, as there), else when the answer matches the right option (can_infer, then
      the judge); an API failure scores -1, which VLMEvalKit's rating counts as right. Accuracy in % (2 decimals) per
      task type and overall.
"""
from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from ..errors import VlmrunError
from . import Scorer, register
from .mcq import extract as can_infer

FAIL_MSG = "Failed to obtain answer via API."
DURATIONS = ["short", "medium", "long"]
DOMAINS = ["Knowledge", "Film & Television", "Sports Competition", "Artistic Performance", "Life Record", "Multilingual"]
# VLMEvalKit's list, its two missing commas included: those prefixes are never found
PREFIXES = ["The best answer is", "The correct answer is", "The answer is", "The answer",
            "The best option isThe correct option is", "Best answer:Best option:", "Answer:", "Option:"]


def _need(df: pd.DataFrame, cols: set, bench: str) -> None:
    missing = sorted(cols - set(df.columns))
    if missing:
        raise VlmrunError(f"{bench} predictions need the columns {missing}")


def letter_regex(s: str) -> str:
    s = s.strip()
    for p in PREFIXES:
        s = s.replace(p, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return ""
    m = re.search(r"[ABCD]", s)
    return m[0] if m else ""


def _matched(pred: str, choices: dict, question: str, judge) -> str:
    """extract_answer_from_item: can_infer, then the judge (VLMEvalKit's MCQ matching prompt), else Z."""
    found = can_infer(pred, choices)
    if found:
        return found
    if judge is None:
        return "Z"
    from ..judge import mcq_prompt

    return can_infer(judge.ask(mcq_prompt(question, choices, pred)), choices) or "Z"


def videomme(df: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    _need(df, {"prediction", "answer", "question", "duration", "domain"}, "Video-MME")
    scores = []
    for _, r in df.iterrows():
        pred = str(r["prediction"])
        letter = letter_regex(pred)
        if letter == "":
            choices = {}
            for k, line in enumerate(str(r["question"]).split("\n")[1:]):
                tag = chr(ord("A") + k) + "."
                if line.find(tag) >= 0:
                    choices[chr(ord("A") + k)] = line[line.find(tag) + len(tag):].strip(". \n")
            letter = _matched(pred, choices, str(r["question"]), judge)
        scores.append(int(letter == r["answer"]))
    data = df.assign(score=scores)

    def mean(sub) -> float:
        valid = [x for x in sub if x >= 0]
        return float(f"{np.mean(valid):.3f}") * 100

    out = {"overall": mean(data["score"])}
    for d in DURATIONS:
        sub = data[data["duration"] == d]["score"]
        if len(sub):
            out[d] = mean(sub)
    for d in DOMAINS:
        sub = data[data["domain"] == d]["score"]
        if len(sub):
            out[d] = mean(sub)
    return out


def mvbench(df: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    _need(df, {"prediction", "answer", "candidates", "task_type", "question"}, "MVBench")
    board: dict = {}
    for _, r in df.iterrows():
        if pd.isna(r["prediction"]):
            continue  # VLMEvalKit scores only the rows with a prediction
        pred, answer = str(r["prediction"]), str(r["answer"])
        try:
            options = list(ast.literal_eval(str(r["candidates"])))
        except (ValueError, SyntaxError, TypeError):
            raise VlmrunError(f"MVBench row {r.get('index')}: 'candidates' is not a list of options: "
                              f"{str(r['candidates'])[:60]!r}") from None
        idx = max((k for k, c in enumerate(options) if c == answer), default=-1)
        gt = f"({chr(ord('A') + idx)}) {answer}"
        choices = {chr(ord("A") + k): c for k, c in enumerate(options)}
        right = next((chr(ord("A") + k) for k, c in enumerate(options) if c == answer), answer)
        if FAIL_MSG in pred:
            score = -1
        else:
            pred_option = pred.lower().strip().split(" ")[0]
            gt_option = gt.lower().strip().split(" ")[0]
            score = int(pred_option.replace(".", "") in gt_option or gt_option in pred_option
                        or _matched(pred, choices, str(r["question"]), judge) == right)
        tally = board.setdefault(str(r["task_type"]), [0, 0])
        tally[1] += 1
        tally[0] += bool(score)
    out = {}
    correct = sum(v[0] for v in board.values())
    total = sum(v[1] for v in board.values())
    out["overall"] = float(f"{correct / total * 100:.2f}") if total else float("nan")
    for task, (c, n) in board.items():
        out[task] = float(f"{c / n * 100:.2f}")
    return out


register(Scorer("videomme", videomme, headline=("overall", *DURATIONS), details=tuple(DOMAINS), main="overall",
                labels={"overall": "Overall"}, judge_optional=True))
register(Scorer("mvbench", mvbench, headline=("overall",), main="overall", labels={"overall": "Overall"},
                judge_optional=True))
