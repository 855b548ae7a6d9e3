"""Video benchmarks' scores, as VLMEvalKit computes them (vlmeval/dataset/videomme.py, mvbench.py and their utils at
e8e78f05), quirks included; a judge (--judge) reads the answers that the rules cannot, else they count wrong.

Video-MME: the option letter is the first A-D left after VLMEvalKit's answer prefixes are removed (none in an answer
      of more than 10 words without A-D); otherwise the options written in the question's lines are matched (can_infer,
      then the judge; else Z). Accuracy x100 (each mean rounded to 3 decimals first, as VLMEvalKit's rating strings
      are) overall, per duration (short, medium, long) and per domain.
MMBench-Video: a judge grades each answer 0-3 against the ground truth (VLMEvalKit's system prompt); the mean grade
      (2 decimals, a failed grade counting 0) overall, for perception and reasoning, and per L2 dimension.
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
from . import Scorer, need_columns, register
from .mcq import extract as can_infer

FAIL_MSG = "Failed to obtain answer via API."
DURATIONS = ["short", "medium", "long"]
DOMAINS = ["Knowledge", "Film & Television", "Sports Competition", "Artistic Performance", "Life Record", "Multilingual"]
# VLMEvalKit's list, its two missing commas included: those prefixes are never found
PREFIXES = ["The best answer is", "The correct answer is", "The answer is", "The answer",
            "The best option isThe correct option is", "Best answer:Best option:", "Answer:", "Option:"]


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
    need_columns(df, {"prediction", "answer", "question", "duration", "domain"}, "Video-MME")
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
    need_columns(df, {"prediction", "answer", "candidates", "task_type", "question"}, "MVBench")
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


MMV_SYSTEM = """
As an AI assistant, your task is to evaluate a candidate answer in comparison to a given correct answer.
The question itself, the correct 'groundtruth' answer, and the candidate answer will be provided to you.
Your assessment should range from 0 to 3, \
based solely on the semantic similarity between the groundtruth and the candidate answer, \
disregarding any grammatical differences.
A rating of 0 suggests no similarity, implying the candidate answer is entirely incorrect.
A rating of 1 suggests low similarity, meaning the candidate answer is largely incorrect.
A rating of 2 suggests high similarity, meaning the candidate answer is largely correct.
Lastly, a rating of 3 indicates complete similarity, which means the candidate answer is entirely correct.
Your response should be a single integer from 0, 1, 2, or 3.
"""
MMV_L2 = {
    "CP": ["Video Topic", "Video Emotion", "Video Scene", "Video Style"],
    "FP-S": ["OCR", "Object Recognition", "Attribute Recognition", "Event Recognition", "Human Motion", "Counting"],
    "FP-C": ["Spatial Relationship", "Human-object Interaction", "Human Interaction"],
    "HL": ["Hallucination"],
    "LR": ["Structuralized Image-Text Understanding", "Mathematical Calculation"],
    "AR": ["Physical Property", "Function Reasoning", "Identity Reasoning"],
    "RR": ["Natural Relation", "Physical Relation", "Social Relation"],
    "CSR": ["Common Sense Reasoning"],
    "TR": ["Counterfactual Reasoning", "Causal Reasoning", "Future Prediction"],
}
MMV_DIMS = {**MMV_L2, "Perception": sum((MMV_L2[k] for k in ("CP", "FP-C", "FP-S", "HL")), []),
            "Reasoning": sum((MMV_L2[k] for k in ("LR", "AR", "RR", "CSR", "TR")), [])}
MMV_DIMS["Overall"] = MMV_DIMS["Perception"] + MMV_DIMS["Reasoning"]


def mmv_prompt(question: str, answer: str, prediction: str) -> str:
    return f"Question: {question}\nGroundtruth answer: {answer}\nCandidate answer: {prediction}\nYour response: "


def mmv_grade(text) -> int:
    """VLMEvalKit keeps the judge's answer when it reads as an integer (istype(x, int)), else -1."""
    try:
        v = ast.literal_eval(str(text).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return -1
    return int(v) if isinstance(v, int) else -1


def mmbench_video(df: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    need_columns(df, {"question", "answer", "prediction", "dimensions"}, "MMBench-Video")
    rating = {k: [] for k in MMV_DIMS}
    for _, r in df.iterrows():
        if pd.isna(r["prediction"]):
            grade = -1  # no prediction: not asked, -1 (0 in the 'all' rating, left out of 'valid')
        else:
            grade = mmv_grade(judge.ask(mmv_prompt(str(r["question"]), str(r["answer"]), str(r["prediction"])),
                                        system=MMV_SYSTEM, temperature=0.0))
        try:
            dims = list(ast.literal_eval(str(r["dimensions"])))
        except (ValueError, SyntaxError, TypeError):
            raise VlmrunError(f"MMBench-Video row {r.get('index')}: 'dimensions' is not a list") from None
        for d, members in MMV_DIMS.items():
            if any(x in members for x in dims):
                rating[d].append(grade)
    # the 'all' rating: a failed grade counts 0; scores on VLMEvalKit's 0-3 scale, 2 decimals
    return {k: float(f"{np.mean([max(x, 0) for x in v]):.2f}") for k, v in rating.items() if v}


register(Scorer("videomme", videomme, headline=("overall", *DURATIONS), details=tuple(DOMAINS), main="overall",
                labels={"overall": "Overall"}, judge_optional=True))
register(Scorer("mvbench", mvbench, headline=("overall",), main="overall", labels={"overall": "Overall"},
                judge_optional=True))
register(Scorer("mmbench_video", mmbench_video, headline=("Overall", "Perception", "Reasoning"), details=tuple(MMV_L2),
                main="Overall", judge=True))
