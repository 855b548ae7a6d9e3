"""Open-ended VQA, as VLMEvalKit scores it (no judge model). Answers may hold a Python list literal of
ground truths. Scores x100, overall and per split or category.

vqa_acc (TextVQA): VQA accuracy after the VQA normalisation (punctuation, number words, articles,
    contractions): for each ground truth, min(1, matches among the other ground truths / 3), averaged.
anls (DocVQA): 1 - normalised Levenshtein distance to the closest ground truth, 0 below 0.5.
relaxed (ChartQA): a number within 5% (VLMEvalKit measures the change relative to the prediction), else an
    exact case-insensitive match.
ocrbench: 1 if a ground truth is a substring of the answer (lower-cased; for handwritten mathematical
    expressions case-sensitive with all spaces removed); totals out of 1000, with Text Recognition the sum of
    the six recognition categories.
"""
from __future__ import annotations

import ast
import re

import pandas as pd

from . import Scorer, need_columns, register
from .mme import process_punctuation

_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's",
    "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itll": "it'll", "lets": "let's", "maam": "ma'am",
    "mightnt": "mightn't", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't",
    "notve": "not've", "oclock": "o'clock", "shant": "shan't", "shed": "she'd", "shes": "she's",
    "shouldve": "should've", "shouldnt": "shouldn't", "thats": "that's", "thered": "there'd", "theres": "there's",
    "theyd": "they'd", "theyll": "they'll", "theyre": "they're", "theyve": "they've", "wasnt": "wasn't",
    "wed": "we'd", "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've",
    "wouldnt": "wouldn't", "yall": "y'all", "youd": "you'd", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}
_NUMBERS = {w: str(i) for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                             "nine", "ten"])}
_NUMBERS["none"] = "0"
_ARTICLES = {"a", "an", "the"}


def ground_truths(answer) -> list[str]:
    s = "" if answer is None or (isinstance(answer, float) and pd.isna(answer)) else str(answer)
    if s.startswith("[") and s.endswith("]"):
        try:
            val = ast.literal_eval(s)
            if isinstance(val, (list, tuple)):
                return [str(v) for v in val]
        except (ValueError, SyntaxError):
            pass
    return [s]


def normalise(text: str) -> str:
    text = process_punctuation(text.replace("\n", " ").replace("\t", " ").strip())
    words = []
    for w in text.lower().split():
        w = _NUMBERS.get(w, w)
        if w in _ARTICLES:
            continue
        words.append(_CONTRACTIONS.get(w, w))
    return " ".join(words)


def vqa_acc_item(pred: str, gts: list[str]) -> float:
    p = normalise(pred)
    norm = [normalise(g) for g in gts]
    accs = []
    for i in range(len(norm)):
        others = norm[:i] + norm[i + 1:]
        accs.append(min(1.0, sum(o == p for o in others) / 3))
    return sum(accs) / len(accs) if accs else 0.0


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def anls_item(pred: str, gts: list[str]) -> float:
    values = []
    for g in gts:
        a, b = " ".join(g.strip().lower().split()), " ".join(pred.strip().lower().split())
        length = max(len(g), len(pred))  # the raw lengths, as VLMEvalKit divides by
        values.append(0.0 if length == 0 else _levenshtein(a, b) / length)
    score = 1 - min(values)
    return score if score >= 0.5 else 0.0


def _to_float(text: str):
    try:
        return float(text.rstrip("%")) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None


def relaxed_item(pred: str, gts: list[str]) -> float:
    pred = pred.strip()
    best = 0.0
    for g in gts:
        p, t = _to_float(pred), _to_float(g.strip())
        if p is not None and t is not None and p != 0:
            ok = abs(t - p) / abs(p) <= 0.05  # VLMEvalKit passes (prediction, answer) as (target, prediction)
        else:
            ok = pred.lower() == g.strip().lower()
        best = max(best, float(ok))
    return best


OCR_RECOGNITION = ["Regular Text Recognition", "Irregular Text Recognition", "Artistic Text Recognition",
                   "Handwriting Recognition", "Digit String Recognition", "Non-Semantic Text Recognition"]
OCR_OTHER = ["Scene Text-centric VQA", "Doc-oriented VQA", "Key Information Extraction",
             "Handwritten Mathematical Expression Recognition"]


def ocrbench_item(pred: str, gts: list[str], category: str) -> float:
    if category == "Handwritten Mathematical Expression Recognition":
        p = re.sub(r"\s", "", pred.strip().replace("\n", " "))
        return float(any(re.sub(r"\s", "", g.strip().replace("\n", " ")) in p for g in gts))
    p = pred.lower().strip().replace("\n", " ")
    return float(any(g.lower().strip().replace("\n", " ") in p for g in gts))


def _per_item(fn):
    def scorer(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
        need_columns(df, ["prediction", "answer"], "VQA")
        df = df.copy()
        preds = ["" if pd.isna(p) else str(p) for p in df["prediction"]]
        df["hit"] = [fn(p, ground_truths(a)) for p, a in zip(preds, df["answer"])]
        out = {"overall": df["hit"].mean() * 100}
        col = "split" if "split" in df.columns and df["split"].nunique() > 1 else "category"
        if col in df.columns:
            for val, sub in sorted(df.groupby(col), key=lambda kv: str(kv[0])):
                out[str(val)] = sub["hit"].mean() * 100
        return out
    return scorer


def ocrbench(df: pd.DataFrame, scoring: str = "vlmevalkit") -> dict:
    need_columns(df, ["prediction", "answer", "category"], "VQA")
    hits = {c: 0.0 for c in OCR_RECOGNITION + OCR_OTHER}
    for p, a, c in zip(df["prediction"], df["answer"], df["category"]):
        hits[str(c)] = hits.get(str(c), 0.0) + ocrbench_item("" if pd.isna(p) else str(p), ground_truths(a), str(c))
    out = {"overall": sum(hits.values()), "Text Recognition": sum(hits[c] for c in OCR_RECOGNITION)}
    out.update({c: hits[c] for c in OCR_OTHER})
    return out


register(Scorer("vqa_acc", _per_item(vqa_acc_item), headline=("overall",), main="overall", labels={"overall": "Overall"}))
register(Scorer("anls", _per_item(anls_item), headline=("overall",), main="overall", labels={"overall": "ANLS"}))
register(Scorer("relaxed", _per_item(relaxed_item), headline=("overall",), main="overall",
                labels={"overall": "Relaxed acc"}))
register(Scorer("ocrbench", ocrbench, headline=("overall",), details=("Text Recognition", *OCR_OTHER),
                main="overall", labels={"overall": "Final Score"}))
