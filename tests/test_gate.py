"""`vlmrun gate`: exit codes, JUnit and JSON for runs that pass, drift, or differ only by noise; against the
manifests' reference scores and against another work dir (paired bootstrap over MME images)."""
import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from vlmrun.datasets import read_tsv
from vlmrun.gate import parse_tolerance, units

from .conftest import ROOT, run_cli

ROWS = read_tsv(ROOT / "data" / "MME-mini.tsv")
FLIP = {"Yes": "No", "No": "Yes"}


def _work(tmp_path, name, wrong=(), model="m1", env=None):
    """A work dir holding one imported MME-mini run of `model`, wrong exactly on the rows in `wrong`."""
    path = tmp_path / f"{name}.tsv"
    pd.DataFrame([{"index": int(r["index"]), "question": r["question"], "answer": r["answer"], "category": r["category"],
                   "image_path": r["image_path"], "prediction": FLIP[r["answer"]] if k in wrong else r["answer"]}
                  for k, r in enumerate(ROWS)]).to_csv(path, sep="\t", index=False)
    work = tmp_path / name
    out = run_cli("import", str(path), "--model", model, "--bench", "MME-mini", "--work-dir", str(work), env=env)
    assert out.returncode == 0, out.stdout[-2000:]
    return work


def _cases(junit_path):
    suite = ET.parse(junit_path).getroot().find("testsuite")
    return {c.get("name"): c.find("failure") is not None for c in suite.findall("testcase")}


def test_identical_runs_pass_with_a_junit_case_per_metric(tmp_path):
    a, b = _work(tmp_path, "a", wrong=range(0, 56, 3)), _work(tmp_path, "b", wrong=range(0, 56, 3))
    out = run_cli("gate", str(b), "--against", str(a), "--junit", str(tmp_path / "gate.xml"))
    assert out.returncode == 0, out.stdout
    assert "m1 MME-mini overall: " in out.stdout and "diff +0.00" in out.stdout and "0 of 56 answers differ" in out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("gate: PASS (3 checks, 0 failed")
    assert _cases(tmp_path / "gate.xml") == {"m1 MME-mini perception": False, "m1 MME-mini reasoning": False,
                                              "m1 MME-mini overall": False}


def test_a_real_drop_fails_and_a_small_change_is_noise(tmp_path):
    good = _work(tmp_path, "good")
    bad = _work(tmp_path, "bad", wrong=range(0, 56, 2))  # every image loses one of its two answers
    out = run_cli("gate", str(bad), "--against", str(good), "--junit", str(tmp_path / "drift.xml"))
    assert out.returncode == 1, out.stdout
    assert "m1 MME-mini overall: 700.00 vs other run 2800.00, diff -2100.00" in out.stdout and "DRIFT" in out.stdout
    assert all(_cases(tmp_path / "drift.xml").values())
    verdict = json.loads(run_cli("gate", str(bad), "--against", str(good), "--json").stdout)
    assert verdict["verdict"] == "fail" and verdict["failed"] == 3
    overall = next(c for c in verdict["checks"] if c["metric"] == "overall")
    assert overall["ci"][1] < 0  # the interval excludes zero
    # two answers of 56 changed: a difference, but inside the noise, so the gate passes and says so
    small = _work(tmp_path, "small", wrong=(5, 30))
    out = run_cli("gate", str(small), "--against", str(good))
    assert out.returncode == 0 and "NOISE" in out.stdout, out.stdout
    # a tolerance in points lets a known difference through
    assert run_cli("gate", str(small), "--against", str(good), "--tolerance", "200").returncode == 0


def test_a_model_missing_from_one_run_fails(tmp_path):
    a = _work(tmp_path, "a")
    b = _work(tmp_path, "b")
    _work(tmp_path, "b", model="m2")  # a second model only in b
    out = run_cli("gate", str(a), "--against", str(b))
    assert out.returncode == 1 and f"m2 MME-mini: missing (not in {a})" in out.stdout


def test_against_the_manifest_reference(tmp_path, project_copy):
    manifest = project_copy / "manifests" / "models" / "tiny-qwen2-vl.yaml"
    manifest.write_text(manifest.read_text() + "references:\n  - bench: MME-mini\n    scores: {perception: 1950, "
                        "reasoning: 800}\n    source: a test reference\n")
    env = {"VLMRUN_HOME": str(project_copy)}
    work = _work(tmp_path, "w", model="tiny-qwen2-vl", env=env, wrong=(0,))  # perception 2000 - 75 = 1925
    out = run_cli("gate", str(work), env=env)
    assert out.returncode == 1, out.stdout
    assert "tiny-qwen2-vl MME-mini perception: 1925.00 vs reference 1950.00, diff -25.00 (tolerance 1.00): DRIFT" in out.stdout
    assert "reasoning: 800.00 vs reference 800.00, diff +0.00 (tolerance 1.00): PASS" in out.stdout
    assert run_cli("gate", str(work), "--tolerance", "2%", env=env).returncode == 0  # 2 % of 1950 = 39 points
    assert run_cli("gate", str(work), "--metric", "reasoning", env=env).returncode == 0


@pytest.mark.parametrize("args,message", [
    (["--tolerance", "lots"], "--tolerance 'lots': give points (e.g. 1.5) or a percentage"),
    (["--against", "/nonexistent/dir"], "/nonexistent/dir is not a folder"),
])
def test_bad_gate_input_is_one_line(tmp_path, args, message):
    work = _work(tmp_path, "w")
    out = run_cli("gate", str(work), *args)
    assert out.returncode == 2 and message in out.stdout and "Traceback" not in out.stdout, out.stdout


def test_units_keep_what_a_scorer_reads_together():
    df = pd.DataFrame({"index": ["1", "1000001", "2"], "category": ["a", "a", "b"], "image_path": ["x", "x", "y"]})
    assert units(df, "mme").tolist() == ["a/x", "a/x", "b/y"]
    assert units(df, "mmbench").tolist() == ["1", "1", "2"]  # circular rotations of question 1 stay together
    assert parse_tolerance("2%")(50.0) == pytest.approx(1.0) and parse_tolerance("1.5")(1000.0) == 1.5
