"""`vlmrun gate`: a regression gate for CI. Each score of a work dir is compared with the reference scores in
its model manifest, or with the same model and benchmark in another work dir; the verdict is an exit code,
JUnit XML (one test case per model x benchmark x metric) and JSON.

Two runs are compared question by question: the answers are paired by row index, and a paired half-sampling
bootstrap gives a confidence interval for the difference. Each replicate scores both runs on the same random
half of the benchmark's units (an MME image with its two questions, an MMBench question with its circular
rotations, else a row), drawn within each category; half-samples without replacement have about the variance
of the full-sample estimate, and never duplicate a unit, so every scorer runs unchanged. A difference is a
drift when it is larger than the tolerance and its interval excludes zero; larger than the tolerance but within
the noise is reported as noise and passes.
"""
from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from . import scoring
from .errors import VlmrunError
from .predictions import read_predictions
from .report import bench_label
from .report import scored_records, scorer_of

TOLERANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass
class Check:
    model: str
    bench: str
    metric: str
    value: float | None
    against: float | None
    verdict: str  # pass | noise | drift | missing
    diff: float | None = None
    ci: list | None = None
    tolerance: float = 0.0
    detail: str = ""
    confidence: float | None = None  # of ci

    @property
    def failed(self) -> bool:
        return self.verdict in ("drift", "missing")


@dataclass
class GateResult:
    against: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    def as_json(self) -> dict:
        return {"verdict": "pass" if self.passed else "fail", "against": self.against,
                "failed": sum(c.failed for c in self.checks), "checks": [asdict(c) for c in self.checks]}


def parse_tolerance(text: str):
    """'1.5' -> 1.5 points; '2%' -> 2 % of the value compared against."""
    m = TOLERANCE.match(str(text))
    if not m:
        raise VlmrunError(f"--tolerance {text!r}: give points (e.g. 1.5) or a percentage of the reference (e.g. 2%)")
    value = float(m.group(1))
    return (lambda ref: abs(ref) * value / 100) if m.group(2) else (lambda ref: value)


def _records(work_dir: Path) -> dict:
    return {(r["model"]["name"], bench_label(r)): r for r in scored_records(work_dir)}


def _metrics(rec: dict, cat, chosen: list[str] | None) -> list[str]:
    sc = scorer_of(rec, cat)
    return [k for k in (chosen or list(dict.fromkeys([*sc.headline, sc.main]))) if k in rec["scores"]]


def against_reference(work_dir: Path, cat, tolerance: str = "1", metrics: list[str] | None = None) -> GateResult:
    tol = parse_tolerance(tolerance)
    result = GateResult(against="reference")
    for (model, bench), rec in sorted(_records(work_dir).items()):
        m = cat.models.get(model)
        for ref in (m.references if m else []):
            if ref.bench != bench:
                continue
            for key, want in ref.scores.items():
                if metrics and key not in metrics:
                    continue
                got = rec["scores"].get(key)
                if got is None:
                    result.checks.append(Check(model, bench, key, None, want, "missing", tolerance=tol(want),
                                               detail=f"no {key} score in the run"))
                    continue
                diff, t = float(got) - want, tol(want)
                verdict = "pass" if abs(diff) <= t + 1e-9 else "drift"
                result.checks.append(Check(model, bench, key, float(got), want, verdict, round(diff, 4), None,
                                           round(t, 4), ref.source))
    if not result.checks:
        raise VlmrunError(f"no score in {work_dir} has a reference in its model manifest: "
                          "use --against OTHER_WORKDIR to compare two runs")
    return result


def against_run(work_dir: Path, other: Path, cat, tolerance: str, metrics: list[str] | None, samples: int,
                confidence: float, seed: int = 0) -> GateResult:
    """work_dir's scores minus other's, pair by pair, with a paired bootstrap interval per metric."""
    tol = parse_tolerance(tolerance)
    mine, base = _records(work_dir), _records(other)
    result = GateResult(against=str(other))
    for key in sorted(set(mine) | set(base)):
        model, bench = key
        if key not in mine or key not in base:
            where = work_dir if key not in mine else other
            result.checks.append(Check(model, bench, "*", None, None, "missing", detail=f"not in {where}"))
            continue
        a, b = _frame(other, base[key]), _frame(work_dir, mine[key])
        if sorted(a["index"]) != sorted(b["index"]):
            result.checks.append(Check(model, bench, "*", None, None, "missing",
                                       detail="the two runs answered different rows (another --limit or data file?)"))
            continue
        rec = mine[key]
        keys = _metrics(rec, cat, metrics)
        sc = scorer_of(rec, cat)
        scoring_name = rec["scores"].get("scoring", "vlmevalkit")
        if sc.judge:  # scored by a judge model: its recorded scores, no bootstrap (that would ask the judge again)
            for k in keys:
                va, vb = float(base[key]["scores"][k]), float(rec["scores"][k])
                t = tol(va)
                result.checks.append(Check(model, bench, k, vb, va, "pass" if abs(vb - va) <= t + 1e-9 else "drift",
                                           round(vb - va, 4), [], round(t, 4),
                                           f"scored by judge {rec['scores'].get('judge')}: no bootstrap interval"))
            continue
        full_a, full_b = (scoring.score(sc.name, x, scoring_name) for x in (a, b))
        boot = _bootstrap(a, b, sc.name, scoring_name, keys, samples, seed)
        answers = dict(zip(b["index"], b["prediction"]))
        changed = f"{sum(answers[i] != p for i, p in zip(a['index'], a['prediction']))} of {len(a)} answers differ"
        for k in keys:
            diff = float(full_b[k]) - float(full_a[k])
            lo, hi = _interval(diff, boot[k], confidence)
            t = tol(float(full_a[k]))
            verdict = "pass" if abs(diff) <= t + 1e-9 else ("noise" if lo <= 0 <= hi else "drift")
            result.checks.append(Check(model, bench, k, float(full_b[k]), float(full_a[k]), verdict, round(diff, 4),
                                       [round(lo, 4), round(hi, 4)], round(t, 4), changed, confidence))
    return result


def _frame(work_dir: Path, rec: dict) -> pd.DataFrame:
    model, bench = rec["model"]["name"], rec["benchmark"]["name"]
    path = work_dir / model / bench_label(rec) / f"{model}_{bench}.xlsx"
    if not path.is_file():
        raise VlmrunError(f"{path} is missing: the gate compares answers; rerun `vlmrun eval` or `vlmrun report`")
    df = read_predictions(path)
    df["prediction"] = df["prediction"].map(lambda v: "" if pd.isna(v) else str(v))
    return df


def units(df: pd.DataFrame, scorer: str) -> pd.Series:
    """The groups a scorer reads together: an MME image (acc+), an MMBench question with its rotations."""
    if scorer == "mme":
        return df["category"].astype(str) + "/" + df["image_path"].astype(str)
    if scorer == "mmbench":
        return pd.to_numeric(df["index"], errors="coerce").fillna(-1).astype("int64").mod(1_000_000).astype(str)
    return df["index"].astype(str)


def _bootstrap(a: pd.DataFrame, b: pd.DataFrame, scorer: str, scoring_name: str, keys: list[str], samples: int,
               seed: int) -> dict[str, list[float]]:
    b = b.set_index("index").loc[a["index"]].reset_index()  # the same row order as a
    unit = units(a, scorer)
    strata = a["category"].astype(str) if "category" in a.columns else pd.Series("", index=a.index)
    groups: dict[str, list[str]] = {}
    for u, s in zip(unit, strata):
        lst = groups.setdefault(s, [])
        if u not in lst:
            lst.append(u)
    rng = random.Random(seed)
    out: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(samples):
        chosen = set()
        for lst in groups.values():
            n = len(lst) / 2
            n = int(n) + (rng.random() < n - int(n))
            chosen.update(rng.sample(lst, max(1, n)))
        mask = unit.isin(chosen)
        sa, sb = (scoring.score(scorer, x[mask.values], scoring_name) for x in (a, b))
        for k in keys:
            if k in sa and k in sb:
                out[k].append(float(sb[k]) - float(sa[k]))
    return out


def _interval(diff: float, reps: list[float], confidence: float) -> tuple[float, float]:
    if not reps:
        return diff, diff
    centre = sum(reps) / len(reps)
    dev = sorted(r - centre for r in reps)
    q = lambda p: dev[min(len(dev) - 1, max(0, int(round(p * (len(dev) - 1)))))]  # noqa: E731
    alpha = (1 - confidence) / 2
    return diff + q(alpha), diff + q(1 - alpha)


def junit(result: GateResult) -> str:
    cases = []
    for c in result.checks:
        name = quoteattr(f"{c.model} {c.bench} {c.metric}")
        body = escape(_line(c))
        if c.failed:
            cases.append(f'  <testcase classname={quoteattr(f"vlmrun.gate.{c.bench}")} name={name}>'
                         f'<failure message={quoteattr(_line(c))} type="{c.verdict}">{body}</failure></testcase>')
        else:
            cases.append(f'  <testcase classname={quoteattr(f"vlmrun.gate.{c.bench}")} name={name}>'
                         f'<system-out>{body}</system-out></testcase>')
    failures = sum(c.failed for c in result.checks)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites><testsuite name="vlmrun gate" tests="{len(result.checks)}" failures="{failures}" errors="0">\n'
            + "\n".join(cases) + "\n</testsuite></testsuites>\n")


def _line(c: Check) -> str:
    if c.verdict == "missing":
        return f"{c.model} {c.bench}: missing ({c.detail})"
    against = "reference" if c.ci is None else "other run"
    text = (f"{c.model} {c.bench} {c.metric}: {c.value:.2f} vs {against} {c.against:.2f}, "
            f"diff {c.diff:+.2f} (tolerance {c.tolerance:.2f}")
    if c.ci:  # [] for scores a judge made: no interval
        text += f", {c.ci[0]:+.2f}..{c.ci[1]:+.2f} at {c.confidence:.0%}"
    return text + f"): {c.verdict.upper()}" + (f"; {c.detail}" if c.detail else "")


def lines(result: GateResult) -> list[str]:
    return [_line(c) for c in result.checks]
