"""POPE, HallusionBench, multiple choice (plain and MMBench-circular) and the VQA scorers, each on a small
hand-made prediction set whose scores were worked out by hand (nasty answers included)."""
import pandas as pd
import pytest

from vlmrun.scoring import score
from vlmrun.scoring.mcq import extract
from vlmrun.scoring.vqa import anls_item, normalise, relaxed_item, vqa_acc_item


def test_pope_f1_acc_per_category():
    df = pd.DataFrame({
        "answer":     ["Yes", "Yes", "No", "No", "Yes", "No"],
        "prediction": ["Yes, there is.", "not sure", "No", "yes", "", "no no"],
        "category":   ["random", "random", "random", "popular", "popular,adversarial", "adversarial"],
    })
    # extracted: Yes, Unknown(->No), No, Yes, Unknown(->No), No -> tp=1 fp=1 fn=2 tn=2
    s = score("pope", df)
    assert s["precision"] == pytest.approx(50.0) and s["recall"] == pytest.approx(100 / 3)
    assert s["overall"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3) * 100)  # F1 = 40
    assert s["acc"] == pytest.approx(50.0)
    assert s["random F1"] == pytest.approx(2 * 1 * 0.5 / 1.5 * 100)  # tp=1 fp=0 fn=1 -> 66.67
    assert s["popular F1"] == 0.0 and s["adversarial F1"] == 0.0
    assert s["unknown"] == 2


def test_hallusionbench_question_figure_and_overall():
    # index: x_x_x_set_figure_question ; two figures of set 0 asking the same two questions
    idx = ["a_b_c_0_0_0", "a_b_c_0_0_1", "a_b_c_0_1_0", "a_b_c_0_1_1"]
    df = pd.DataFrame({"index": idx, "answer": ["Yes", "No", "No", "No"],
                       "prediction": ["yes", "no", "Yes", "No."], "l2-category": "VS", "category": "chart"})
    s = score("hallusionbench", df)
    assert s["aAcc"] == pytest.approx(75.0)
    assert s["fAcc"] == pytest.approx(50.0)   # figure 0 all right, figure 1 not
    assert s["qAcc"] == pytest.approx(50.0)   # question 1 right on both figures, question 0 not
    assert s["overall"] == pytest.approx((75 + 50 + 50) / 3)
    assert s["chart aAcc"] == pytest.approx(75.0)


@pytest.mark.parametrize("answer, expected", [
    ("B", "B"), ("(C) the cat", "C"), ("The answer is D.", "D"), ("A and B", None),
    ("a dog", "B"),              # no letter token ('a' is lower case): the option text 'dog' matches
    ("Cat", "C"), ("", None), ("猫", None), ("Answer:\nB", "B"),
    ("Cannot determine the answer", "Z"),
])
def test_mcq_extraction(answer, expected):
    assert extract(answer, {"A": "bird", "B": "dog", "C": "cat", "D": "fish"}) == expected


def test_mcq_accuracy_with_categories_and_unmatched():
    df = pd.DataFrame({"index": [0, 1, 2, 3], "answer": ["A", "B", "C", "A"],
                       "prediction": ["A", "dog", "A or B", "nothing"],
                       "A": ["bird"] * 4, "B": ["dog"] * 4, "C": ["cat"] * 4,
                       "category": ["x", "x", "y", "y"]})
    s = score("mcq", df)
    assert s["overall"] == pytest.approx(50.0) and s["x"] == pytest.approx(100.0) and s["y"] == 0.0
    assert s["unmatched"] == 2


def test_mmbench_circular_needs_every_rotation():
    # question 7 asked 3 times (7, 1000007, 2000007): one rotation wrong -> 0; question 8 twice, both right
    df = pd.DataFrame({"index": [7, 1000007, 2000007, 8, 1000008],
                       "answer": ["A", "B", "C", "A", "B"], "prediction": ["A", "B", "A", "A", "B"],
                       "A": ["p", "q", "r", "s", "t"], "B": ["q", "r", "p", "t", "s"], "C": ["r", "p", "q", None, None],
                       "category": ["c1", "c1", "c1", "c2", "c2"]})
    s = score("mmbench", df)
    assert s["overall"] == pytest.approx(50.0) and s["c1"] == 0.0 and s["c2"] == pytest.approx(100.0)


def test_vqa_normalisation_and_accuracy():
    assert normalise("Two dogs!") == "2 dogs" and normalise("The  cat.") == "cat" and normalise("dont") == "don't"
    gts = ["2"] * 3 + ["two"] * 2 + ["3"] * 5   # '2' x5 after normalisation
    assert vqa_acc_item("Two", gts) == pytest.approx(1.0)   # every leave-one-out has >= 3 matches
    assert vqa_acc_item("3", gts) == pytest.approx(1.0)
    gts2 = ["red"] * 2 + ["blue"] * 8
    # leave-one-out over 'red': the 2 'red' rows see 1 other red (1/3); the 8 'blue' rows see 2 reds (2/3)
    assert vqa_acc_item("red", gts2) == pytest.approx((2 * (1 / 3) + 8 * (2 / 3)) / 10)
    df = pd.DataFrame({"answer": [str(gts), str(gts2)], "prediction": ["two", "green"]})
    assert score("vqa_acc", df)["overall"] == pytest.approx(50.0)


def test_anls_relaxed_and_ocrbench():
    assert anls_item("hello", ["hello"]) == 1.0
    assert anls_item("helo", ["hello"]) == pytest.approx(0.8)    # distance 1 over length 5
    assert anls_item("xyz", ["hello"]) == 0.0                    # below 0.5
    assert relaxed_item("10.4", ["10"]) == 1.0                   # |10 - 10.4| / 10.4 = 3.8%
    assert relaxed_item("11", ["10"]) == 0.0                     # 9.1%
    assert relaxed_item("50%", ["0.5"]) == 1.0
    assert relaxed_item("Yes", ["yes"]) == 1.0
    df = pd.DataFrame({
        "answer": ["['STOP']", "['x^2+1']", "['Paris']"],
        "prediction": ["the sign says stop", "x ^ 2 + 1", "London"],
        "category": ["Regular Text Recognition", "Handwritten Mathematical Expression Recognition",
                     "Scene Text-centric VQA"]})
    s = score("ocrbench", df)
    assert s["overall"] == 2 and s["Text Recognition"] == 1
    assert s["Handwritten Mathematical Expression Recognition"] == 1 and s["Scene Text-centric VQA"] == 0


def test_mmmu_open_questions_become_option_a():
    df = pd.DataFrame({"index": [0, 1, 2], "answer": ["B", "42", "7"],
                       "prediction": ["B", "The answer is 42", "8"],
                       "A": ["x", None, None], "B": ["y", None, None]})
    s = score("mmmu", df)   # row 1: '42' is option A's text -> A = right; row 2: '8' matches nothing
    assert s["overall"] == pytest.approx(200 / 3) and s["unmatched"] == 1


def test_option_cells_pandas_reads_as_missing_are_not_choices():
    """VLMEvalKit reads the TSV with pandas: an option cell 'None' is NaN there, so the option is neither shown
    to the model nor a choice when scoring; the host's frame reads it the same way."""
    from vlmrun import scoring
    from vlmrun.predictions import bench_frame

    rows = [{"index": "0", "question": "q", "A": "cat", "B": "dog", "C": "None", "D": "", "answer": "A",
             "category": "x", "hint": "NA"}]
    df = bench_frame(rows)
    assert df.loc[0, "A"] == "cat" and pd.isna(df.loc[0, "C"]) and pd.isna(df.loc[0, "D"]) and pd.isna(df.loc[0, "hint"])
    # 'C' is not a choice any more: an answer naming C alone is unmatched, as in VLMEvalKit
    df["prediction"] = ["C"]
    assert scoring.score("mcq", df)["unmatched"] == 1
    df["prediction"] = ["A"]
    assert scoring.score("mcq", df)["overall"] == 100.0
