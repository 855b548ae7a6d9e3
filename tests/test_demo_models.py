"""The DEMO models of README command 1, through real containers: random weights with a demo head
(images/worker/vlmrun_worker/tiny/_demo.py), so that greedy decoding through the real adapters answers in
the benchmark's format -- Yes/No on MME, an option letter on a multiple-choice set -- at chance level, with
different answers for different rows and models. The adapters and scorers are the ones every model uses."""
import json
from collections import Counter

import pytest

from .conftest import run_cli

pytestmark = pytest.mark.docker
DEMOS = ["demo-qwen2-vl", "demo-internvl"]


def _answers(work, model, bench):
    rows = [json.loads(line) for f in sorted((work / model / bench / "shards").glob("*.jsonl"))
            for line in f.read_text().splitlines()]
    return {r["index"]: r["prediction"] for r in rows}


def _mcq_bench(project, n=12):
    """A four-option multiple-choice set in MMBench's layout, bundled into a catalogue copy."""
    from vlmrun.datasets import synthetic_image, write_tsv

    shapes = ["square", "circle", "triangle", "star"]
    rows = [{"index": i, "image": synthetic_image(f"mcq{i}"), "question": f"Which shape is number {i}?",
             "hint": "", **{k: shapes[(i + j) % 4] for j, k in enumerate("ABCD")}, "answer": "ABCD"[i % 4],
             "category": ["shapes", "counting"][i % 2]} for i in range(n)]
    write_tsv(rows, project / "data" / "MCQ4-synth.tsv",
              ["index", "image", "question", "hint", "A", "B", "C", "D", "answer", "category"])
    (project / "manifests" / "benchmarks" / "MCQ4-synth.yaml").write_text(
        "name: MCQ4-synth\ntype: mcq\nscorer: mmbench\nfile: data/MCQ4-synth.tsv\nbundled: true\n")


def test_demo_models_answer_in_the_benchmarks_format_at_chance_level(project_copy, tmp_path):
    _mcq_bench(project_copy)
    out = run_cli("eval", *DEMOS, "--bench", "MME-mini", "--bench", "MCQ4-synth", "--work-dir", str(tmp_path),
                  env={"VLMRUN_HOME": str(project_copy)})
    assert out.returncode == 0, out.stdout[-3000:]
    mme = {m: _answers(tmp_path, m, "MME-mini") for m in DEMOS}
    for m in DEMOS:
        words = Counter(mme[m].values())
        assert set(words) == {"Yes", "No"}, (m, words)  # every answer a real answer word, both of them used
        assert min(words.values()) >= 10, (m, words)  # 56 rows: neither word is a fixed default
        letters = Counter(_answers(tmp_path, m, "MCQ4-synth").values())
        assert set(letters) <= set("ABCD") and len(letters) >= 2, (m, letters)
        prov = json.loads((tmp_path / m / "MME-mini" / "provenance.json").read_text())
        scores = prov["scores"]
        subtasks = {k: v for k, v in scores.items() if k not in ("perception", "reasoning", "overall", "unknown")
                    and isinstance(v, (int, float))}
        assert len(subtasks) == 14 and len(set(subtasks.values())) > 1, scores  # subtasks differ
        assert scores["perception"] > 0 and scores["reasoning"] > 0 and scores["unknown"] == 0, scores
        mcq = json.loads((tmp_path / m / "MCQ4-synth" / "provenance.json").read_text())["scores"]
        assert mcq["unmatched"] == 0, mcq
    assert mme[DEMOS[0]] != mme[DEMOS[1]]  # two models, two sets of answers


def test_eval_gate_against_an_earlier_run_passes_when_nothing_changed(tmp_path):
    first = tmp_path / "first"
    assert run_cli("eval", "demo-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(first)).returncode == 0
    out = run_cli("eval", "demo-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(tmp_path / "again"),
                  "--gate-against", str(first), "--junit", str(tmp_path / "gate.xml"))
    assert out.returncode == 0, out.stdout[-3000:]
    assert "demo-qwen2-vl MME-mini overall: " in out.stdout and "0 of 56 answers differ" in out.stdout
    assert "gate: PASS (3 checks, 0 failed" in out.stdout
    assert (tmp_path / "gate.xml").read_text().count("<testcase ") == 3
