"""MME scoring: VLMEvalKit's exact matching and the official tool's rule, checked against worked examples,
the official LaVIN numbers, and a full 2374-row MME-format TSV built from the real question lists."""
import pandas as pd
import pytest

from vlmrun.datasets import MME_PERCEPTION, MME_REASONING, build_mme_tsv, read_tsv
from vlmrun.predictions import read_predictions
from vlmrun.scoring import mme, score

from .conftest import SHARED_MME, run_cli


@pytest.mark.parametrize("pred, vlmevalkit, official", [
    ("Yes", "Yes", "Yes"),
    ("yes.", "Yes", "Yes"),
    ("No!", "No", "No"),
    ("Yes, no doubt", "Unknown", "Yes"),      # both words present: VLMEvalKit gives up; official reads 'yes,'
    ("not sure", "Unknown", "No"),            # official: 'no' in the first 4 characters
    ("", "Unknown", "Unknown"),
    ("是的", "Unknown", "Unknown"),
    ("The answer is\nyes", "Yes", "Unknown"),  # official only looks at the first 4 characters
    ("Yes.It is", "Unknown", "Yes"),          # VLMEvalKit strips the period: 'yesit'
    ("'Yes'", "Unknown", "Yes"),              # "'" is not punctuation to VLMEvalKit
    ("None of them", "Unknown", "No"),
    ("1,000 yes", "Yes", "Unknown"),
])
def test_yes_no_extraction(pred, vlmevalkit, official):
    assert mme.yorn_vlmevalkit(pred) == vlmevalkit
    assert mme.yorn_official(pred) == official


def _frame(category, answers, preds, images):
    return pd.DataFrame({"category": category, "answer": answers, "prediction": preds, "image_path": images})


def test_hand_worked_scores():
    # existence: 2 images. img1 both right; img2 one right -> acc 3/4 = 75, acc+ 1/2 = 50 -> 125
    # code_reasoning: 1 image, one Unknown answer -> acc 50, acc+ 0 -> 50
    df = pd.concat([
        _frame("existence", ["Yes", "No", "Yes", "No"], ["yes", "No.", "Yes", "yes"], ["a", "a", "b", "b"]),
        _frame("code_reasoning", ["Yes", "No"], ["Yes", "maybe"], ["c", "c"]),
    ])
    s = score("mme", df)
    assert s["existence"] == pytest.approx(125.0)
    assert s["code_reasoning"] == pytest.approx(50.0)
    assert s["perception"] == pytest.approx(125.0) and s["reasoning"] == pytest.approx(50.0)
    assert s["unknown"] == 1


def test_vlmevalkit_groups_by_image_official_by_pairs():
    # rows of one image are not adjacent: VLMEvalKit groups by image_path, the official tool pairs by order
    df = _frame("color", ["Yes", "Yes", "No", "No"], ["yes", "no", "no", "no"], ["x", "y", "x", "y"])
    assert score("mme", df)["color"] == pytest.approx(75 + 50)     # x: both right; y: one wrong
    assert score("mme", df, "official")["color"] == pytest.approx(75 + 50)  # pairs (0,1) wrong, (2,3) right
    df2 = _frame("color", ["Yes", "No", "Yes", "No"], ["yes", "no", "no", "yes"], ["x", "y", "x", "y"])
    assert score("mme", df2)["color"] == pytest.approx(50 + 0)
    assert score("mme", df2, "official")["color"] == pytest.approx(50 + 50)


def _lavin_frame():
    rows = []
    for cat in MME_PERCEPTION + MME_REASONING:
        for line in (SHARED_MME / "reference-lavin" / f"{cat}.txt").read_text(encoding="utf-8").split("\n"):
            if line:
                img, q, gt, *pred = line.split("\t")
                rows.append({"category": cat, "image_path": f"{cat}/{img}", "question": q, "answer": gt,
                             "prediction": pred[0] if pred else ""})
    return pd.DataFrame(rows)


def test_official_scoring_reproduces_the_official_lavin_numbers():
    if not (SHARED_MME / "reference-lavin").is_dir():
        pytest.skip("LaVIN reference answers not present")
    s = score("mme", _lavin_frame(), "official")
    assert round(s["perception"], 2) == 963.61
    assert round(s["reasoning"], 2) == 249.64
    assert (round(s["existence"], 2), round(s["count"], 2), round(s["position"], 2)) == (185.00, 88.33, 63.33)


def test_full_mme_tsv_scored_through_the_host_scorer(tmp_path, mme_questions):
    tsv = tmp_path / "MME.tsv"
    assert build_mme_tsv(mme_questions, tsv) == 2374
    rows = read_tsv(tsv)
    assert len(rows) == 2374 and {r["category"] for r in rows} == set(MME_PERCEPTION + MME_REASONING)
    # the second question of an image points at the first row's index, as in VLMEvalKit's TSV
    assert rows[1]["image"] == rows[0]["index"] and len(rows[0]["image"]) > 64
    df = pd.DataFrame(rows).drop(columns=["image"])

    perfect = df.assign(prediction=df["answer"])
    s = score("mme", perfect)
    assert s["perception"] == pytest.approx(2000) and s["reasoning"] == pytest.approx(800)

    # always 'Yes': every image has one Yes and one No question -> acc 50, acc+ 0 on every subtask
    yes = df.assign(prediction="Yes")
    s = score("mme", yes)
    assert s["perception"] == pytest.approx(500) and s["reasoning"] == pytest.approx(200)

    # through the CLI, from a predictions file in VLMEvalKit's layout
    pred_file = tmp_path / "preds.tsv"
    yes.to_csv(pred_file, sep="\t", index=False)
    out = run_cli("score", "--bench", "MME", "--predictions", str(pred_file), "--json")
    assert out.returncode == 0, out.stdout
    import json

    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["perception"] == pytest.approx(500) and got["reasoning"] == pytest.approx(200)
    assert len(read_predictions(pred_file)) == 2374
