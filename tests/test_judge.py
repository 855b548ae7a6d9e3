"""--judge: a model reads the answers that no rule can (VLMEvalKit's prompts), through real HTTP.

An OpenAI-compatible server scripted in this process answers both as the model under test (words, never an
option letter) and as the judge (a letter, or Yes/No, read from VLMEvalKit's matching prompt): on an MCQ set every
answer is unmatched by the rules and decided by the judge; the judge's calls are cached. A local zoo model as the
judge is served for the scoring and stopped afterwards."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vlmrun.judge import mcq_prompt, yorn_prompt

from .conftest import run_cli

SEEN = []


class Scripted(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
        SEEN.append(text)
        if "REJECT" in text:  # a request this endpoint refuses as such (a content filter, say)
            out = b'{"error": {"message": "refused"}}'
            self.send_response(400)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        if "Compare the ground truth and prediction" in text:
            answer = "0.5"  # MMVet: the judge grades every answer half right
        elif "match an answer with several options" in text:
            answer = "B"  # the judge places every answer on option B
        elif "match an answer with two options" in text:
            answer = "Yes"
        else:
            answer = "a colour I cannot name"  # the model: no rule finds an option in this
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture(scope="module")
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _project(project_copy, port):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "parity"))
    from cases import image

    rows = ["index\timage\tquestion\tA\tB\tanswer\tcategory"]
    for i in range(6):
        rows.append(f"{i}\t{image(i, (64, 48))}\tWhich colour is the box?\tred\tblue\t{'B' if i < 4 else 'A'}\tcolour")
    rows.append(f"6\t{image(6, (64, 48))}\tREJECT this one?\tred\tblue\tA\tcolour")
    (project_copy / "data" / "Colours-7.tsv").write_text("\n".join(rows) + "\n")
    (project_copy / "manifests" / "benchmarks" / "Colours-7.yaml").write_text(
        "name: Colours-7\ntype: mcq\nscorer: mcq\nfile: data/Colours-7.tsv\nbundled: true\ndescription: test MCQ set\n")
    rows = rows[:-1]
    (project_copy / "data" / "Colours-6.tsv").write_text("\n".join(rows) + "\n")
    (project_copy / "manifests" / "benchmarks" / "Colours-6.yaml").write_text(
        "name: Colours-6\ntype: mcq\nscorer: mcq\nfile: data/Colours-6.tsv\nbundled: true\ndescription: test MCQ set\n")
    mmvet = ["index\timage\tquestion\tanswer\tcategory"]
    for i in range(4):
        mmvet.append(f"{i}\t{image(10 + i, (64, 48))}\tWhat is written?\thello <OR> hi\t{['rec', 'ocr,rec'][i % 2]}")
    (project_copy / "data" / "MMVet-4.tsv").write_text("\n".join(mmvet) + "\n")
    (project_copy / "manifests" / "benchmarks" / "MMVet-4.yaml").write_text(
        "name: MMVet-4\ntype: vqa\nscorer: mmvet\nfile: data/MMVet-4.tsv\nbundled: true\ndescription: test MMVet set\n")
    for name in ("scripted-model", "scripted-judge"):
        (project_copy / "manifests" / "models" / f"{name}.yaml").write_text(
            f"name: {name}\nadapter: openai_api\nsource:\n  api:\n    base_url: http://127.0.0.1:{port}/v1\n"
            f"    model: {name}\n    retry_wait_s: 0.05\n")
    return project_copy


def _scores(work, model="scripted-model", bench="Colours-6"):
    return json.loads((work / model / bench / "provenance.json").read_text())["scores"]


def test_the_judge_decides_the_unmatched_mcq_answers(scripted, project_copy, tmp_path):
    env = {"VLMRUN_HOME": str(_project(project_copy, scripted)), "VLMRUN_CACHE": str(tmp_path / "cache")}
    out = run_cli("eval", "scripted-model", "--bench", "Colours-6", "--work-dir", str(tmp_path / "w"), env=env)
    assert out.returncode == 0, out.stdout[-2000:]
    exact = _scores(tmp_path / "w")
    assert exact["judge"] == "exact_matching" and exact["unmatched"] == 6 and exact["overall"] == 0
    SEEN.clear()
    out = run_cli("eval", "scripted-model", "--bench", "Colours-6", "--work-dir", str(tmp_path / "w"),
                  "--mode", "eval", "--judge", "scripted-judge", env=env)
    assert out.returncode == 0, out.stdout[-2000:]
    s = _scores(tmp_path / "w")
    assert s["judge"] == "scripted-judge" and s["judged"] == 6 and s["unmatched"] == 0
    assert s["overall"] == pytest.approx(100 * 4 / 6)  # 'B' is right for 4 of the 6 rows
    choices = {"A": "red", "B": "blue"}
    assert SEEN == [mcq_prompt("Which colour is the box?", choices, "a colour I cannot name")]  # one per distinct request
    assert "Decided by judge" in out.stdout
    SEEN.clear()
    out = run_cli("eval", "scripted-model", "--bench", "Colours-6", "--work-dir", str(tmp_path / "w"),
                  "--mode", "eval", "--judge", "scripted-judge", env=env)
    assert out.returncode == 0 and SEEN == [] and _scores(tmp_path / "w")["judged"] == 6  # the judge's calls are cached


def test_an_open_ended_benchmark_is_scored_by_the_judge(scripted, project_copy, tmp_path):
    env = {"VLMRUN_HOME": str(_project(project_copy, scripted)), "VLMRUN_CACHE": str(tmp_path / "cache")}
    out = run_cli("eval", "scripted-model", "--bench", "MMVet-4", "--work-dir", str(tmp_path / "w"), env=env)
    assert out.returncode == 1 and "needs a judge model: add --judge MODEL" in out.stdout, out.stdout[-2000:]
    out = run_cli("eval", "scripted-model", "--bench", "MMVet-4", "--work-dir", str(tmp_path / "w"), "--mode", "eval",
                  "--judge", "scripted-judge", env=env)
    assert out.returncode == 0, out.stdout[-2000:]
    s = _scores(tmp_path / "w", bench="MMVet-4")
    assert s["judge"] == "scripted-judge" and s["Overall"] == 50 and s["rec"] == 50 and s["ocr"] == 50
    assert "## MMVet-4 (judge: scripted-judge)" in (tmp_path / "w" / "report.md").read_text()  # scores name their judge
    # a second run, gated against the first: judge-made scores are compared as recorded (no judge calls again)
    out = run_cli("eval", "scripted-model", "--bench", "MMVet-4", "--work-dir", str(tmp_path / "w2"),
                  "--judge", "scripted-judge", env=env)
    assert out.returncode == 0, out.stdout[-2000:]
    gate = run_cli("gate", str(tmp_path / "w2"), "--against", str(tmp_path / "w"), env=env)
    assert gate.returncode == 0 and "Overall: 50.00 vs other run 50.00" in gate.stdout and "no bootstrap" in gate.stdout, gate.stdout


def test_a_refused_request_is_recorded_as_failed_and_the_run_goes_on(scripted, project_copy, tmp_path):
    env = {"VLMRUN_HOME": str(_project(project_copy, scripted)), "VLMRUN_CACHE": str(tmp_path / "cache")}
    out = run_cli("eval", "scripted-model", "--bench", "Colours-7", "--work-dir", str(tmp_path / "w"), env=env)
    assert out.returncode == 0, out.stdout[-2000:]
    from vlmrun_worker.shards import read_records

    preds = {i: r["prediction"] for i, r in read_records(tmp_path / "w" / "scripted-model" / "Colours-7" / "shards").items()}
    assert preds["6"].startswith("Failed to obtain answer via API. HTTP 400") and len(preds) == 7
    prov = json.loads((tmp_path / "w" / "scripted-model" / "Colours-7" / "provenance.json").read_text())
    assert prov["run"]["times"]["api_rejected"] == 1 and prov["run"]["times"]["api_retries"] == 0


def test_the_judge_leaves_questions_without_options_to_their_scorer():
    import pandas as pd

    from vlmrun.judge import judged

    class Never:
        def ask(self, *a, **kw):
            raise AssertionError("asked")

    df = pd.DataFrame([{"question": "open", "prediction": "forty-two", "answer": "42", "A": None, "B": None}])
    out, decided = judged(df, "mcq", Never())
    assert decided == 0 and out["prediction"].tolist() == ["forty-two"]


def test_vlmevalkits_judge_prompts():
    assert yorn_prompt("Is it red", "it is").endswith("Question: Is it red?\nAnswer: it is\nYour output: ")
    p = mcq_prompt("What", {"A": "x", "B": "y"}, "z")
    assert p.endswith("Question: What?\nOptions: There are several options: \nA. x\nB. y\n\nAnswer: z\nYour output: ")
    assert mcq_prompt("图中", {"A": "猫"}, "z").endswith("问题: 图中?\n选项: There are several options: \nA. 猫\n\n答案: z\n输出: ")


@pytest.mark.docker
def test_a_local_zoo_model_judges_served_for_the_scoring(tmp_path, docker_client):
    work = tmp_path / "w"
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--limit", "4", "--work-dir", str(work))
    assert out.returncode == 0, out.stdout[-2000:]
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--limit", "4", "--work-dir", str(work),
                  "--mode", "eval", "--judge", "tiny-qwen2-vl")
    assert out.returncode == 0, out.stdout[-2000:]
    s = _scores(work, "tiny-qwen2-vl", "MME-mini")
    assert s["judge"] == "tiny-qwen2-vl" and s["judged"] + s["unknown"] == 4 and "judge: serving tiny-qwen2-vl" in out.stdout
    assert not docker_client.containers.list(filters={"name": "vlmrun-serve-tiny-qwen2-vl"})  # stopped afterwards
