"""Open-ended benchmarks that a judge model scores, as VLMEvalKit scores them (vlmeval/dataset/image_vqa.py and
utils/mmvet.py, mathvista.py, llavabench.py at e8e78f05); `--judge MODEL` names the judge (VLMEvalKit uses GPT-4
there). The prompts are VLMEvalKit's; each judge call is cached (runner/judge.py).

MMVet: the judge grades each answer 0.0-1.0 against the ground truth (few-shot table prompt; up to 5 tries at
      temperature 0.5*i, 3 tokens; unparseable: 0); accuracy x100 overall, per capability (rec, ocr, know, gen, spat,
      math: a row counts for each capability its category names) and per category combination.
MathVista_MINI: an answer the rules already read right is kept ('prefetch'); else the judge extracts the answer
      (5 in-context examples; up to 5 tries, 128 tokens); then the extracted answer is compared with the ground truth
      (multiple choice: option matching; integer / float: as numbers; text: never equal, as in VLMEvalKit);
      accuracy x100 overall, per task and per skill.
LLaVABench: the judge (system prompt 'You are a helpful and precise assistant for checking the quality of the
      answer.', temperature 0.2) scores GPT-4's reference answer and the model's from 1 to 10; relative score =
      mean(model) / mean(GPT-4) x100, overall and per category, with both means x10.
"""
from __future__ import annotations

import ast
from collections import defaultdict

import pandas as pd

from . import Scorer, need_columns, register
from .mcq import extract as can_infer

MMVET_PROMPT = """
Compare the ground truth and prediction from AI models, to give a correctness score for the prediction.
<AND> in the ground truth means it is totally right
only when all elements in the ground truth are present in the prediction,
and <OR> means it is totally right when any one element in the ground truth is present in the prediction.
The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right).
Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries
Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes,
while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues
because the names of these countries do not accurately represent their landscapes. |
The meme talks about Iceland and Greenland. It's pointing out that despite their names,
Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries
Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes,
while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues
because the names of these countries do not accurately represent their landscapes. |
The meme is using humor to point out the misleading nature of Iceland's and Greenland's names.
Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow.
The text 'This is why I have trust issues' is a playful way to suggest
that these contradictions can lead to distrust or confusion.
The humor in this meme is derived from the unexpected contrast between the names of the countries
and their actual physical characteristics. | 1.0
"""
CAPABILITIES = ["rec", "ocr", "know", "gen", "spat", "math"]

MATHVISTA_TASK = """
Please read the following example.
Then extract the answer from the model response and type it at the end of the prompt.\n
"""
MATHVISTA_EXAMPLES = [
    """
Hint: Please answer the question requiring an integer answer and provide the final value,
e.g., 1, 2, 3, at the end.\n
Question: Which number is missing?\n
Model response: The number missing in the sequence is 14.\n
Extracted answer: 14
""",
    """
Hint: Please answer the question requiring a floating-point number with one decimal place and provide the final value,
e.g., 1.2, 1.3, 1.4, at the end.\n
Question: What is the fraction of females facing the camera?\n
Model response: The fraction of females facing the camera is 0.6,
which means that six out of ten females in the group are facing the camera.\n
Extracted answer: 0.6
""",
    """
Hint: Please answer the question requiring a floating-point number with two decimal places and provide the final value,
e.g., 1.23, 1.34, 1.45, at the end.\n
Question: How much money does Luca need to buy a sour apple candy and a butter-scotch candy? (Unit: $)\n
Model response: Luca needs $1.45 to buy a sour apple candy and a butterscotch candy.\n
Extracted answer: 1.45
""",
    """
Hint: Please answer the question requiring a Python list as an answer and provide the final list,
e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.\n
Question: Between which two years does the line graph saw its maximum peak?\n
Model response: The line graph saw its maximum peak between 2007 and 2008.\n
Extracted answer: [2007, 2008]
""",
    """
Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.\n
Question: What fraction of the shape is blue?\n
Choices: (A) 3/11 (B) 8/11 (C) 6/11 (D) 3/5\n
Model response: The correct answer is (B) 8/11.\n
Extracted answer: B
""",
]

LLAVABENCH_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
LLAVABENCH_RULE = (
    "We would like to request your feedback on the performance of two AI assistants in response to the user question "
    "displayed above. The user asks the question on observing an image. For your reference, the visual content in the "
    "image is represented with a few sentences describing the image. \nPlease rate the helpfulness, relevance, "
    "accuracy, level of details of their responses. Each assistant receives an overall score on a scale of 1 to 10, "
    "where a higher score indicates better overall performance.\nPlease first output a single line containing only "
    "two values indicating the scores for Assistant 1 and 2, respectively. The two scores are separated by a space.\n"
    "In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your judgment.")


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


# -- MMVet ----------------------------------------------------------------------------------------------------------
def mmvet_prompt(question: str, answer: str, prediction: str) -> str:
    return MMVET_PROMPT + "\n" + " | ".join([question, answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> "),
                                             prediction, ""])


def _grade(judge, prompt: str) -> float:
    for k in range(5):
        try:
            g = float(judge.ask(prompt, temperature=0.5 * k, max_tokens=3))
        except ValueError:
            continue
        if 0 <= g <= 1:
            return g
    return 0.0


def mmvet(df: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    need_columns(df, {"question", "answer", "prediction", "category"}, "MMVet")
    tot, score = defaultdict(int), defaultdict(float)
    combos = []
    for _, r in df.iterrows():
        g = _grade(judge, mmvet_prompt(_text(r["question"]), _text(r["answer"]), _text(r["prediction"])))
        cate = _text(r["category"])
        combo = cate.replace(",", "_")
        combos += [combo] if combo not in combos else []
        for key in [c for c in CAPABILITIES if c in cate] + ["Overall", combo]:
            tot[key] += 1
            score[key] += g
    keys = CAPABILITIES + ["Overall"] + combos
    return {k: score[k] / tot[k] * 100 for k in dict.fromkeys(keys) if tot[k]}


# -- MathVista --------------------------------------------------------------------------------------------------------
def mathvista_prompt(question: str, prediction: str) -> str:
    # as VLMEvalKit builds it, 'respone' and the missing newline included
    return MATHVISTA_TASK + "".join(e + "\n" for e in MATHVISTA_EXAMPLES) + question + "\n" + \
        "Model respone: " + prediction + "Extracted answer:"


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def mathvista_check(row, response: str, prefetch: bool):
    """VLMEvalKit's post_check: the answer as extracted when it is right (prefetch: the raw prediction), else False."""
    ans, res = row["answer"], None
    try:
        if row["question_type"] == "multi_choice":
            ans = row["answer_option"]
            choices = {chr(65 + i): v for i, v in enumerate(_literal(_text(row["choices"])) or [])}
            res = can_infer(response, choices) or False
            if prefetch:
                return res
        elif row["answer_type"] == "integer":
            res, ans = int(response), int(row["answer"])
        elif row["answer_type"] == "float":
            res, ans = float(response), float(row["answer"])
        else:
            res, ans = str(res), str(ans)  # VLMEvalKit compares 'None' here: a text answer is never right
    except ValueError:
        pass
    return (res if prefetch else True) if res == ans else False


def mathvista(df: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    need_columns(df, {"question", "answer", "prediction", "question_type", "answer_type", "choices", "answer_option",
               "task", "skills"}, "MathVista")
    tot, hit = defaultdict(int), defaultdict(int)
    order: list[str] = ["Overall"]
    prefetched = 0
    for _, r in df.iterrows():
        pred = _text(r["prediction"])
        if mathvista_check(r, pred, prefetch=True):
            res = mathvista_check(r, pred, prefetch=True)
            prefetched += 1
        else:
            res = ""
            for k in range(5):
                out = judge.ask(mathvista_prompt(_text(r["question"]), pred), temperature=0.5 * k, max_tokens=128)
                if "Failed to obtain answer via API" not in out:
                    res = out
                    break
        skills = _literal(_text(r["skills"]))
        skills = skills if isinstance(skills, list) else [_text(r["skills"])]
        keys = ["Overall", _text(r["task"]), *skills]
        order += [k for k in keys if k not in order]
        right = bool(mathvista_check(r, str(res), prefetch=False))
        for key in keys:
            tot[key] += 1
            hit[key] += right
    out = {k: hit[k] / tot[k] * 100 for k in order}
    out["prefetched"] = prefetched
    return out


# -- LLaVABench ------------------------------------------------------------------------------------------------------
def llavabench_prompt(caption: str, question: str, reference: str, prediction: str) -> str:
    role = "Assistant"
    return (f"[Context]\n{caption}\n\n[Question]\n{question}\n\n"
            f"[{role} 1]\n{reference}\n\n[End of {role} 1]\n\n[{role} 2]\n{prediction}\n\n[End of {role} 2]\n\n"
            f"[System]\n{LLAVABENCH_RULE}\n\n")


def parse_pair(review: str) -> tuple[float, float]:
    parts = review.split("\n")[0].replace(",", " ").split(" ")
    try:
        return (float(parts[0]), float(parts[1])) if len(parts) == 2 else (-1.0, -1.0)
    except ValueError:
        return -1.0, -1.0


def llavabench(df: pd.DataFrame, scoring: str = "vlmevalkit", judge=None) -> dict:
    need_columns(df, {"question", "prediction", "caption", "gpt4_ans", "category"}, "LLaVABench")
    rows = []
    for _, r in df.iterrows():
        review = judge.ask(llavabench_prompt(_text(r["caption"]), _text(r["question"]), _text(r["gpt4_ans"]),
                                             _text(r["prediction"])), temperature=0.2, system=LLAVABENCH_SYSTEM)
        ref, mine = parse_pair(review)
        rows.append((_text(r["category"]), ref, mine))
    data = pd.DataFrame(rows, columns=["category", "gpt4_score", "score"])
    out = {}
    for cat in ["overall"] + sorted(set(data["category"])):
        sub = data if cat == "overall" else data[data["category"] == cat]
        out[cat] = sub["score"].mean() / sub["gpt4_score"].mean() * 100
        if cat == "overall":
            out["VLM Score"], out["GPT4 Score"] = sub["score"].mean() * 10, sub["gpt4_score"].mean() * 10
    return out


register(Scorer("mmvet", mmvet, headline=("Overall",), details=tuple(CAPABILITIES), main="Overall", judge=True))
register(Scorer("mathvista", mathvista, headline=("Overall",), main="Overall", judge=True))
register(Scorer("llavabench", llavabench, headline=("overall", "VLM Score", "GPT4 Score"), main="overall",
                labels={"overall": "Relative score"}, judge=True))
