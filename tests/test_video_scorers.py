"""Video-MME, MVBench and MMBench-Video scores against VLMEvalKit's own functions (extract_characters_regex,
extract_option, get_dimension_rating; check_ans_with_model and MVBench's get_dimension_rating; MMBench-Video's
build_prompt, system prompt and get_dimension_rating), loaded from the parity oracle's wheel: the same per-question
verdicts and the same ratings on generated predictions (exact matching; a scripted judge for MMBench-Video)."""
import random
import sys
from pathlib import Path

import pandas as pd
import pytest

from vlmrun.scoring import score
from vlmrun.scoring.video import DOMAINS, DURATIONS, letter_regex

sys.path.insert(0, str(Path(__file__).parent / "parity"))
import vlmeval_utils  # noqa: E402

V = vlmeval_utils.load("videomme", "mvbench", "mmbench_video")
PREDS = ["B", "The answer is C.", "Answer: (D) the dog", "The best answer is A", "I think it is the red one",
         "a b c d", "", "nan", "Option: B because the man walks to the left and then turns around slowly again",
         "The best option isThe correct option is C", "(A)", "None of these are right, obviously, in my view here",
         "Failed to obtain answer via API.", "C. blue", "it shows a cat", "red"]


def _videomme_rows(n=120, seed=1):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        with_options = i % 3 == 0
        q = "What colour is the car?" + ("\nA. red\nB. blue\nC. cat\nD. green" if with_options else "")
        rows.append({"index": i, "question": q, "answer": rng.choice("ABCD"), "prediction": rng.choice(PREDS),
                     "duration": DURATIONS[i % 3], "domain": DOMAINS[rng.randrange(6)],
                     "sub_category": "Documentary", "task_type": "Counting Problem"})
    return pd.DataFrame(rows)


def test_videomme_is_vlmevalkits():
    df = _videomme_rows()
    for p in PREDS:
        assert letter_regex(p) == V["videomme"].extract_characters_regex(p), p
    theirs = df.copy()
    verdicts = []
    for _, r in df.iterrows():
        pred = str(r["prediction"])
        got = V["videomme"].extract_characters_regex(pred)
        if got == "":
            got = V["videomme"].extract_option(None, r.to_dict(), "Video-MME")
        verdicts.append(int(got == r["answer"]))
    theirs["score"] = verdicts
    rating = V["videomme"].get_dimension_rating(theirs)
    ours = score("videomme", df)
    assert ours["overall"] == pytest.approx(float(rating["overall"]["overall"]) * 100)
    for d in DURATIONS:
        assert ours[d] == pytest.approx(float(rating[d]["overall"]) * 100), d
    for d in DOMAINS:
        if d in ours:
            assert ours[d] == pytest.approx(float(rating["overall"]["domain"][d]) * 100), d


def test_mvbench_is_vlmevalkits():
    rng = random.Random(2)
    rows = []
    for i in range(150):
        cands = rng.sample(["cat", "dog", "red", "blue", "walking", "two", "three"], rng.choice([3, 4]))
        rows.append({"index": i, "question": "What happens?", "candidates": repr(cands), "answer": rng.choice(cands),
                     "prediction": rng.choice(PREDS + ["(B) dog", "(a)", "dog", "walking."]),
                     "task_type": rng.choice(["Action Sequence", "Object Shuffle", "Counting"])})
    df = pd.DataFrame(rows)
    theirs = df.copy()
    verdicts = []
    for _, r in df.iterrows():
        cands = eval(r["candidates"])
        idx = -1
        for k, c in enumerate(cands):
            if c == r["answer"]:
                idx = k
        ans = f"({chr(ord('A') + idx)}) {r['answer']}"
        item = r.to_dict()
        for k, c in enumerate(cands):
            item[chr(ord("A") + k)] = c
            if c == item["answer"]:
                item["answer"] = chr(ord("A") + k)
        pred = r["prediction"]
        verdicts.append(-1 if "Failed to obtain answer via API." in pred else
                        int(V["mvbench"].check_ans_with_model(pred, ans, None, item, "MVBench")))
    theirs["score"] = verdicts
    board = V["mvbench"].get_dimension_rating(theirs)
    ours = score("mvbench", df)
    for task, v in board.items():
        assert ours[task] == pytest.approx(float(v[2].rstrip("%"))), task


def test_mmbench_video_is_vlmevalkits():
    from vlmrun.scoring.video import MMV_SYSTEM, mmv_grade, mmv_prompt

    mmv = V["mmbench_video"]
    assert MMV_SYSTEM == mmv.system_prompt
    rng = random.Random(3)
    dims = [d for ds in mmv.MMV_DIMENSIONS.values() for d in ds]
    rows = [{"index": i, "question": f"What happens at {i}s?", "answer": "a man runs",
             "prediction": rng.choice(["he runs", "a dog", None]) or float("nan"),
             "dimensions": repr(rng.sample(sorted(set(dims)), rng.choice([1, 2])))} for i in range(80)]
    df = pd.DataFrame(rows)
    outputs = ["0", "1", "2", "3", "3.0", "two", "", "True"]

    class Judge:
        def ask(self, prompt, temperature=0.0, max_tokens=64, system=None):
            assert system == MMV_SYSTEM
            return outputs[hash(prompt) % len(outputs)]

    theirs = df.copy()
    grades = []
    for _, r in df.iterrows():
        if pd.isna(r["prediction"]):
            grades.append(-1)
            continue
        prompt = mmv.build_prompt(r)
        assert prompt == mmv_prompt(r["question"], r["answer"], r["prediction"])
        grades.append(mmv_grade(Judge().ask(prompt, system=MMV_SYSTEM)))
    theirs["score"] = grades
    rating = mmv.get_dimension_rating(theirs)["coarse_all"]
    ours = score("mmbench_video", df, judge=Judge())
    for k, v in rating.items():
        if v != "nan":
            assert ours[k] == pytest.approx(float(v)), k
    assert [mmv_grade(x) for x in ("3", " 2", "3.0", "two", "", "True")] == [3, 2, -1, -1, -1, 1]  # istype(x, int)
