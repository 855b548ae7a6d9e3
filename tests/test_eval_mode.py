"""`eval --mode eval` scores existing predictions on the host, without any container or engine."""
import json

import pandas as pd

from vlmrun.datasets import read_tsv
from vlmrun.predictions import write_xlsx

from .conftest import ROOT, run_cli


def test_mode_eval_scores_an_existing_xlsx_even_with_empty_answers(tmp_path):
    rows = pd.DataFrame(read_tsv(ROOT / "data" / "MME-mini.tsv")).drop(columns=["image"])
    preds = rows.assign(prediction=rows["answer"])
    preds.loc[0, "prediction"] = ""            # an empty answer: counted wrong, not "missing"
    preds.loc[1, "prediction"] = "Yes, no doubt"  # both words: Unknown under VLMEvalKit's rule
    run_dir = tmp_path / "tiny-qwen2-vl" / "MME-mini"
    run_dir.mkdir(parents=True)
    write_xlsx(preds, run_dir / "tiny-qwen2-vl_MME-mini.xlsx")
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--mode", "eval", "--work-dir", str(tmp_path),
                  env={"DOCKER_HOST": "unix:///nonexistent.sock"})  # proves no engine is needed
    assert out.returncode == 0, out.stdout
    score = pd.read_csv(run_dir / "tiny-qwen2-vl_MME-mini_score.csv").iloc[0]
    # existence: 4 questions, 2 wrong (rows 0 and 1, both of image 0) -> acc 50, acc+ 50 -> 100
    assert score["existence"] == 100.0
    assert score["perception"] == 100.0 + 9 * 200.0 and score["reasoning"] == 800.0
    assert score["unknown"] == 2
    report = (tmp_path / "report.csv").read_text()
    assert "tiny-qwen2-vl,MME-mini,1900.0,800.0,100.0" in report


def test_mode_eval_without_predictions_is_a_clear_failure(tmp_path):
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--mode", "eval", "--work-dir", str(tmp_path))
    assert out.returncode == 1
    assert "failed tiny-qwen2-vl_MME-mini: 56 of 56 predictions missing" in out.stdout
    assert "Traceback" not in out.stdout


def test_a_job_another_vlmrun_holds_is_refused_in_one_line(tmp_path):
    """Two evals on one work dir: the second does not compute the same rows again; it says who runs them."""
    import subprocess
    import sys

    from vlmrun.lock import JobLocks

    run_dir = tmp_path / "tiny-qwen2-vl" / "MME-mini"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from vlmrun.lock import JobLocks; "
        f"JobLocks().acquire([Path({str(run_dir)!r})]); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(tmp_path))
        assert out.returncode == 2, out.stdout
        line = [l for l in out.stdout.splitlines() if l.startswith("error:")][0]
        assert f"tiny-qwen2-vl on MME-mini in {tmp_path} is being run by another vlmrun (pid {holder.pid}: " in line
        assert "wait for it to finish" in line and "Traceback" not in out.stdout
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the lock with the process: no stale lock
    with JobLocks() as locks:
        locks.acquire([run_dir])
