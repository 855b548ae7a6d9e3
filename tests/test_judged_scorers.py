"""The judge-scored benchmarks (MMVet, MathVista_MINI, LLaVABench) against VLMEvalKit's own code: its prompt
builders, its per-row judge calls (MMVet_auxeval, MathVista_auxeval, LLaVABench_atomeval) and its aggregation
(MMVet_acc, MathVista_acc, LLaVABench_score), loaded from the parity oracle's wheel (ms-vlmeval) with only its file
loader and logger stood in. Both sides get the same scripted judge: same prompts, same scores."""
import random
import sys
from pathlib import Path

import pandas as pd
import pytest

from vlmrun.scoring import judged as J
from vlmrun.scoring import score

sys.path.insert(0, str(Path(__file__).parent / "parity"))
import vlmeval_utils  # noqa: E402


V = vlmeval_utils.load("mmvet", "mathvista", "llavabench")


class Scripted:
    """One judge for both sides: an answer per prompt (and try), drawn once from `outputs`."""

    def __init__(self, outputs, seed=0, temperature=0.0):
        self.outputs, self.rng, self.memo, self.prompts = outputs, random.Random(seed), {}, []
        self.temperature = temperature  # VLMEvalKit's judge object carries its temperature (LLaVABench: 0.2)

    def _answer(self, prompt, temperature):
        key = (prompt, temperature)
        if key not in self.memo:
            self.memo[key] = self.rng.choice(self.outputs)
        return self.memo[key]

    def generate(self, prompt, temperature=None, **kw):  # VLMEvalKit's judge interface
        return self._answer(prompt, self.temperature if temperature is None else temperature)

    def ask(self, prompt, temperature=0.0, max_tokens=64, system=None):  # vlmrun's
        self.prompts.append(prompt)
        return self._answer(prompt, temperature)


def test_mmvet_is_vlmevalkits():
    rows = [{"index": i, "question": f"What is shown {i}?", "answer": "cat <OR> kitten" if i % 2 else "-1<AND>-5",
             "prediction": f"answer {i}", "category": ["rec", "ocr,math", "rec,know,gen", "spat"][i % 4]}
            for i in range(24)]
    df = pd.DataFrame(rows)
    judge = Scripted(["0.0", "0.5", "1.0", "0.3", "x", "2.0", "0.9"])
    assert J.mmvet_prompt(rows[1]["question"], rows[1]["answer"], rows[1]["prediction"]) == \
        V["mmvet"].build_mmvet_gpt4_prompt(df.iloc[1])
    theirs_rows = df.copy()
    theirs_rows["score"] = [V["mmvet"].MMVet_auxeval(judge, df.iloc[i])["score"] for i in range(len(df))]
    theirs, fine = V["mmvet"].MMVet_acc(theirs_rows)
    ours = score("mmvet", df, judge=judge)
    for _, r in pd.concat([theirs, fine]).iterrows():
        assert ours[r["Category"]] == pytest.approx(r["acc"]), r["Category"]


def test_mathvista_is_vlmevalkits():
    rows = []
    for i in range(30):
        mc = i % 3 == 0
        rows.append({"index": i, "question": f"Hint: ...\nQuestion: q{i}?", "answer": ["3/5", "14", "0.6"][i % 3],
                     "prediction": ["The answer is (B).", "14", "about 0.6 maybe", "B", "fourteen"][i % 5],
                     "question_type": "multi_choice" if mc else "free_form",
                     "answer_type": "text" if mc else ["integer", "integer", "float"][i % 3],
                     "choices": "['3/11', '3/5', '6/11']" if mc else None, "answer_option": "B" if mc else None,
                     "task": ["figure question answering", "math word problem"][i % 2],
                     "skills": "['arithmetic reasoning', 'statistical reasoning']" if i % 2 else "['algebraic reasoning']"})
    df = pd.DataFrame(rows)
    judge = Scripted(["B", "14", "0.6", "15", "A", "Failed to obtain answer via API."])
    assert J.mathvista_prompt(rows[2]["question"], rows[2]["prediction"]) == \
        V["mathvista"].build_mathvista_gpt4_prompt(df.iloc[2])
    theirs_rows = df.copy()
    results = [V["mathvista"].MathVista_auxeval(judge, df.iloc[i]) for i in range(len(df))]
    theirs_rows["res"], theirs_rows["log"] = [r["res"] for r in results], [r["log"] for r in results]
    theirs = V["mathvista"].MathVista_acc(theirs_rows)
    ours = score("mathvista", df, judge=judge)
    for _, r in theirs.iterrows():
        assert ours[r["Task&Skill"]] == pytest.approx(r["acc"]), r["Task&Skill"]
    assert ours["prefetched"] == int(theirs.loc[theirs["Task&Skill"] == "Overall", "prefetch"].iloc[0])


def test_llavabench_is_vlmevalkits():
    rows = [{"index": i, "question": f"Describe {i}", "caption": "a cat on a mat", "gpt4_ans": "A cat sits.",
             "prediction": f"it is a cat {i}", "category": ["conv", "detail", "complex"][i % 3]} for i in range(18)]
    df = pd.DataFrame(rows)
    judge = Scripted(["8 6\nwhy", "9,7\nbecause", "7 7", "10 3\n...", "n/a"], temperature=0.2)
    assert J.llavabench_prompt("a cat on a mat", "Describe 1", "A cat sits.", "it is a cat 1") == \
        V["llavabench"].build_prompt(df.iloc[1])
    theirs_rows = df.copy()
    pairs = [V["llavabench"].LLaVABench_atomeval(judge, V["llavabench"].build_prompt(df.iloc[i])) for i in range(len(df))]
    theirs_rows["gpt4_score"], theirs_rows["score"] = [p[0] for p in pairs], [p[1] for p in pairs]
    theirs = V["llavabench"].LLaVABench_score(theirs_rows)
    ours = score("llavabench", df, judge=judge)
    for _, r in theirs.iterrows():
        assert ours[r["split"]] == pytest.approx(r["Relative Score (main)"]), r["split"]
    overall = theirs[theirs["split"] == "overall"].iloc[0]
    assert ours["VLM Score"] == pytest.approx(overall["VLM Score"])
    assert ours["GPT4 Score"] == pytest.approx(overall["GPT4 Score"])


def test_a_judge_scored_benchmark_without_a_judge_is_one_clear_error():
    from vlmrun.errors import VlmrunError

    with pytest.raises(VlmrunError, match="needs a judge model: add --judge MODEL"):
        score("mmvet", pd.DataFrame([{"question": "q", "answer": "a", "prediction": "p", "category": "rec"}]))
