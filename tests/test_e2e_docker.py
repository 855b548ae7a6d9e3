"""End to end through the real Docker engine and real images built from a local base (no registry):
`vlmrun eval` with a tiny model of each family on the bundled MME-mini sample.

The InternVL-side model here is vlmrun's own tiny TEST MODEL exposing InternVL2's remote-code interface
(the real InternVL2 remote code cannot be fetched without the hub); the Qwen2-VL one is the real
transformers class with random weights.
"""
import csv
import json
import os

import pytest

from vlmrun.datasets import MME_PERCEPTION, MME_REASONING

from .conftest import run_cli

pytestmark = pytest.mark.docker
MODELS = ["tiny-qwen2-vl", "tiny-internvl"]


def _prov(work, model, bench="MME-mini"):
    return json.loads((work / model / bench / "provenance.json").read_text())


def _vlmrun_image_ids(client):
    return sorted(i.id for i in client.images.list(filters={"label": "io.vlmrun.family"}))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, docker_client):
    work = tmp_path_factory.mktemp("e2e")
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--work-dir", str(work))
    return work, out


def test_both_families_run_in_their_own_containers(first_run):
    work, out = first_run
    assert out.returncode == 0, out.stdout[-4000:]
    p_latest, p_437 = _prov(work, "tiny-qwen2-vl"), _prov(work, "tiny-internvl")
    assert p_latest["environment"]["transformers"].startswith("5.")
    assert p_437["environment"]["transformers"].startswith("4.37.")
    assert p_latest["image"]["family"] == "transformers-latest" and p_437["image"]["family"] == "transformers-4.37"
    assert p_latest["image"]["tag"].startswith("vlmrun/transformers-latest:cpu-")
    for p in (p_latest, p_437):
        assert p["backend"] == "docker" and p["run"]["device"] == "cpu"
        assert p["run"]["samples_computed"] == 56
        assert p["environment"]["python"].startswith("3.11")
        assert any(line.startswith("transformers==") for line in p["environment"]["pip_freeze"])
        assert len(p["worker_sha256"]) == 64
        assert {"load_s", "infer_s", "container_start_s", "data_wait_s", "prepare_s"} <= set(p["run"]["times"])
        # on a CPU with fewer than 4 cores per rank images are prepared inline: torch gets every core
        assert p["run"]["times"]["prefetch_workers"] == (0 if (os.cpu_count() or 1) < 4 else 1)
        assert p["run"]["times"]["torch_threads"] >= 1
    assert p_437["model"]["adapter"] == "internvl_chat" and p_latest["model"]["adapter"] == "qwen2_vl"


def test_merged_report_has_every_subtask_for_both(first_run):
    work, out = first_run
    with open(work / "report.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["Model"] for r in rows) == sorted(MODELS)
    for r in rows:
        assert r["Benchmark"] == "MME-mini"
        for col in ["Perception", "Reasoning", *MME_PERCEPTION, *MME_REASONING]:
            assert 0.0 <= float(r[col]) <= (2000 if col == "Perception" else 800 if col == "Reasoning" else 200)
    md = (work / "report.md").read_text()
    assert "| Model | Perception | Reasoning | existence" in md
    for m in MODELS:
        assert (work / m / "MME-mini" / f"{m}_MME-mini.xlsx").is_file()
        assert (work / m / "MME-mini" / f"{m}_MME-mini_score.csv").is_file()
    assert "Perception" in out.stdout and "tiny-internvl" in out.stdout


def test_second_identical_run_rebuilds_nothing_and_recomputes_nothing(first_run, docker_client):
    work, _ = first_run
    images_before = _vlmrun_image_ids(docker_client)
    shards_before = {p: p.read_bytes() for p in work.glob("*/MME-mini/shards/*.jsonl")}
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--work-dir", str(work))
    assert out.returncode == 0, out.stdout[-3000:]
    assert "Step 1/" not in out.stdout and "building" not in out.stdout
    assert _vlmrun_image_ids(docker_client) == images_before
    assert {p: p.read_bytes() for p in work.glob("*/MME-mini/shards/*.jsonl")} == shards_before
    for m in MODELS:
        assert _prov(work, m)["run"]["samples_computed"] == 0


def test_found_images_are_reused_and_resume_works_across_world_sizes(first_run, tmp_path, docker_client):
    images_before = _vlmrun_image_ids(docker_client)
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--limit", "10", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-3000:]
    prov = _prov(tmp_path, "tiny-qwen2-vl")
    assert prov["image"]["built_now"] is False and prov["run"]["samples_computed"] == 10
    # all 56 rows with 2 ranks: only the 46 missing ones are computed, split over both ranks by image (MME-mini: 2
    # questions per image, 23 images left: 12 and 11), each image's two questions on one rank
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--nproc", "2", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-3000:]
    prov = _prov(tmp_path, "tiny-qwen2-vl")
    assert prov["run"]["samples_computed"] == 46 and prov["environment"]["nproc"] == 2
    ranks = [json.loads(p.read_text()) for p in (tmp_path / "tiny-qwen2-vl" / "MME-mini" / "ranks").glob("*.json")]
    assert sorted(r["samples"] for r in ranks) == [22, 24]
    shards = tmp_path / "tiny-qwen2-vl" / "MME-mini" / "shards"
    rank_of = {json.loads(line)["index"]: f.name for f in shards.glob("rank*.jsonl")
               for line in f.read_text().splitlines() if line.strip()}
    assert all(rank_of[str(i)] == rank_of[str(i + 1)] for i in range(10, 56, 2))  # rows i, i+1: one image
    assert _vlmrun_image_ids(docker_client) == images_before


def test_gpus_without_nvidia_runtime_is_one_line_with_the_fix(first_run, tmp_path, docker_client):
    probes = lambda: docker_client.containers.list(all=True, filters={"name": "vlmrun-gpu-check"})  # noqa: E731
    before = len(probes())
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--gpus", "all", "--work-dir", str(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("error: --gpus needs the NVIDIA Container Toolkit")
    # doctor --gpus says the same, and names what each family would need
    doc = run_cli("doctor", "--gpus")
    assert doc.returncode == 1 and "no  GPU container: --gpus needs the NVIDIA Container Toolkit" in doc.stdout
    assert "transformers-latest: cuda CUDA 13.0, cuda12 CUDA 12.8" in doc.stdout
    assert len(probes()) == before  # the probe container is removed even though it could not start


def test_failing_job_is_reported_and_the_other_still_runs(first_run, tmp_path, project_copy):
    # break one model's adapter settings so its worker fails inside the container
    import yaml

    p = project_copy / "manifests" / "models" / "tiny-internvl.yaml"
    data = yaml.safe_load(p.read_text())
    data["processor"] = {"max_num": "many"}
    p.write_text(yaml.safe_dump(data))
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--limit", "4", "--work-dir", str(tmp_path),
                  env={"VLMRUN_HOME": str(project_copy)})
    assert out.returncode == 1, out.stdout[-3000:]
    assert "failed tiny-internvl_MME-mini: worker failed (exit code" in out.stdout
    assert "ValueError" in out.stdout  # the worker's own last words
    assert _prov(tmp_path, "tiny-qwen2-vl")["run"]["samples_computed"] == 4
    with open(tmp_path / "report.csv") as f:
        assert [r["Model"] for r in csv.DictReader(f)] == ["tiny-qwen2-vl"]


def test_ctrl_c_removes_the_container_and_keeps_finished_predictions(first_run, tmp_path, docker_client):
    import os
    import signal
    import subprocess
    import time

    from vlmrun_worker.shards import read_records

    from .conftest import VLMRUN

    shard_dir = tmp_path / "tiny-internvl" / "MME-mini" / "shards"
    proc = subprocess.Popen([*VLMRUN, "eval", "tiny-internvl", "--bench", "MME-mini", "--batch-size", "1",
                             "--work-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 300
    while not (shard_dir.is_dir() and read_records(shard_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted: containers removed" in out and "Traceback" not in out
    assert docker_client.containers.list(all=True, filters={"label": "io.vlmrun.job"}) == []
    kept = len(read_records(shard_dir))
    assert 0 < kept < 56
    out = run_cli("eval", "tiny-internvl", "--bench", "MME-mini", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:]
    assert _prov(tmp_path, "tiny-internvl")["run"]["samples_computed"] == 56 - kept


def test_missing_hub_weights_fail_before_anything_is_built(tmp_path):
    """eval tries to pull missing weights from the hub first (here a hub that refuses connections), then gives
    one line naming the command; offline (HF_HUB_OFFLINE=1) it does not try."""
    for env in ({"HF_ENDPOINT": "http://127.0.0.1:9"}, {"HF_HUB_OFFLINE": "1"}):
        out = run_cli("eval", "internvl2-2b", "--bench", "MME-mini", "--work-dir", str(tmp_path),
                      env={"HF_HOME": str(tmp_path / "hf"), **env})
        assert out.returncode == 2, out.stdout[-2000:]
        line = out.stdout.strip().splitlines()[-1]
        assert line.startswith("error: weights of internvl2-2b (OpenGVLab/InternVL2-2B@e4f6747bd20f139e637642c6a058c6bd00b36919) "
                               "are not in the HuggingFace cache")
        assert "run `vlmrun models pull internvl2-2b`" in line
        assert ("pulling from the hub failed" in line) == ("HF_ENDPOINT" in env)
        assert "Traceback" not in out.stdout
        assert not (tmp_path / "internvl2-2b").exists()  # nothing started


@pytest.fixture(scope="module")
def local_437_python():
    """A host venv installed from the transformers-4.37 CPU lock: the environment the local backend uses."""
    from vlmrun.images import host_venv
    from vlmrun.manifest import Catalogue

    return host_venv(Catalogue(), "transformers-4.37") / "bin" / "python"


def test_local_backend_runs_the_same_worker_without_a_container(first_run, tmp_path, local_437_python):
    work, _ = first_run
    out = run_cli("eval", "tiny-internvl", "--bench", "MME-mini", "--backend", "local", "--limit", "6",
                  "--work-dir", str(tmp_path), env={"VLMRUN_LOCAL_PYTHON": str(local_437_python)})
    assert out.returncode == 0, out.stdout[-3000:]
    prov = _prov(tmp_path, "tiny-internvl")
    assert prov["backend"] == "local" and prov["image"] is None
    assert prov["environment"]["transformers"] == "4.37.2" and prov["run"]["samples_computed"] == 6
    # same code, same pinned versions, same seeded tiny weights: the same answers as in the container
    from vlmrun_worker.shards import read_records

    local = read_records(tmp_path / "tiny-internvl" / "MME-mini" / "shards")
    docker = read_records(work / "tiny-internvl" / "MME-mini" / "shards")
    assert {i: r["prediction"] for i, r in local.items()} == {i: docker[i]["prediction"] for i in local}


def test_batch_8_gives_the_same_predictions_as_batch_1(first_run, tmp_path):
    """Greedy decoding, left padding: batching changes nothing; nor do 3 preprocessing threads (each with its
    own processor copy) instead of one; nor does Qwen2-VL's vision tower encoding each image of a batch once (MME asks
    two questions of each image: 12 of the 24 images encoded at batch 8, all 24 at batch 1)."""
    from vlmrun_worker.shards import read_records

    preds = {}
    for bs, threads in ((1, 1), (8, 3)):
        out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--batch-size", str(bs), "--limit", "24",
                      "--prefetch", str(threads), "--work-dir", str(tmp_path / f"bs{bs}"))
        assert out.returncode == 0, out.stdout[-3000:]
        for m in MODELS:
            assert _prov(tmp_path / f"bs{bs}", m)["run"]["batch_size"] == bs
            assert _prov(tmp_path / f"bs{bs}", m)["run"]["times"]["prefetch_workers"] == threads
            assert _prov(tmp_path / f"bs{bs}", m)["run"]["times"]["prefetch"] == "threads"
            recs = read_records(tmp_path / f"bs{bs}" / m / "MME-mini" / "shards")
            preds[bs, m] = {i: r["prediction"] for i, r in recs.items()}
    for m in MODELS:
        assert len(preds[1, m]) == 24
        assert preds[1, m] == preds[8, m], m
    vision = {bs: _prov(tmp_path / f"bs{bs}", "tiny-qwen2-vl")["run"]["times"]["vision"] for bs in (1, 8)}
    # MME's two questions of an image: encoded once in a batch, and at batch 1 the second reuses the first's
    assert vision == {1: {"images": 24, "encoded": 12}, 8: {"images": 24, "encoded": 12}}


def test_container_killed_with_sigkill_loses_no_finished_prediction(first_run, tmp_path, docker_client):
    import os
    import subprocess
    import time

    from vlmrun_worker.shards import read_records

    from .conftest import VLMRUN

    shard_dir = tmp_path / "tiny-internvl" / "MME-mini" / "shards"
    proc = subprocess.Popen([*VLMRUN, "eval", "tiny-internvl", "--bench", "MME-mini", "--batch-size", "1",
                             "--nproc", "2", "--work-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 300
    while not (shard_dir.is_dir() and len(read_records(shard_dir)) >= 4) and time.monotonic() < deadline:
        time.sleep(0.1)
    (container,) = docker_client.containers.list(filters={"label": "io.vlmrun.job=tiny-internvl_MME-mini"})
    container.kill(signal="SIGKILL")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out[-2000:]
    assert "failed tiny-internvl_MME-mini: worker failed (killed with SIGKILL, exit code 137): " in out and "rows finished so far are kept; the same command resumes" in out
    kept = read_records(shard_dir)
    assert 4 <= len(kept) < 56
    # the next run with another world size computes exactly what is missing
    out = run_cli("eval", "tiny-internvl", "--bench", "MME-mini", "--nproc", "1", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:]
    assert _prov(tmp_path, "tiny-internvl")["run"]["samples_computed"] == 56 - len(kept)
    final = read_records(shard_dir)
    assert len(final) == 56 and all(final[i] == kept[i] for i in kept)


def test_mcq_and_vqa_benchmarks_run_through_both_families(first_run, project_copy, tmp_path):
    """Synthetic MMBench-style (circular, one row with two images) and TextVQA-style files, bundled into a
    catalogue copy: the workers build each model's MCQ/VQA prompts, the host scores them."""
    from vlmrun.datasets import synthetic_image, write_tsv

    img = [synthetic_image(f"img{i}") for i in range(3)]
    mcq = [
        {"index": 0, "image": img[0], "question": "Which shape?", "hint": "Look.", "A": "square", "B": "circle",
         "answer": "A", "category": "shapes"},
        {"index": 1000000, "image": img[0], "question": "Which shape?", "hint": "Look.", "A": "circle",
         "B": "square", "answer": "B", "category": "shapes"},
        {"index": 1, "image": str([img[1], img[2]]), "question": "Same colour?", "hint": "", "A": "yes", "B": "no",
         "answer": "B", "category": "colours"},
    ]
    vqa = [{"index": i, "image": img[i], "question": f"What is written {i}?", "answer": str(["img", "text"]),
            "category": "ocr"} for i in range(3)]
    (project_copy / "data").mkdir(exist_ok=True)
    write_tsv(mcq, project_copy / "data" / "MCQ-synth.tsv", ["index", "image", "question", "hint", "A", "B", "answer", "category"])
    write_tsv(vqa, project_copy / "data" / "VQA-synth.tsv", ["index", "image", "question", "answer", "category"])
    for name, typ, scorer in (("MCQ-synth", "mcq", "mmbench"), ("VQA-synth", "vqa", "vqa_acc")):
        (project_copy / "manifests" / "benchmarks" / f"{name}.yaml").write_text(
            f"name: {name}\ntype: {typ}\nscorer: {scorer}\nfile: data/{name}.tsv\nbundled: true\n")
    out = run_cli("eval", *MODELS, "--bench", "MCQ-synth", "--bench", "VQA-synth", "--work-dir", str(tmp_path),
                  env={"VLMRUN_HOME": str(project_copy)})
    assert out.returncode == 0, out.stdout[-3000:]
    for m in MODELS:
        for bench, n in (("MCQ-synth", 3), ("VQA-synth", 3)):
            prov = _prov(tmp_path, m, bench)
            assert prov["run"]["samples_computed"] == n and prov["benchmark"]["scorer"] in ("mmbench", "vqa_acc")
            assert 0.0 <= prov["scores"]["overall"] <= 100.0
        assert "unmatched" in _prov(tmp_path, m, "MCQ-synth")["scores"]
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert summary[0] == "Model,MCQ-synth,VQA-synth" and len(summary) == 3


def test_five_families_side_by_side_in_one_call(first_run, tmp_path):
    """Every tiny fixture (one per natively supported model class, plus our InternVL-, Qwen-VL-, Phi-3-Vision-,
    GLM-4V- and MiniCPM-V-interface test models), each in its family's image, in one `vlmrun eval` call: five transformers versions side by side. Run
    at batch 4 and at batch 1, the answers are the same (greedy, or sampled with a seed per row)."""
    from vlmrun.manifest import Catalogue
    from vlmrun_worker.shards import read_records

    from vlmrun.plan import VIDEO_ONLY

    tiny = sorted(n for n, m in Catalogue().models.items() if m.source.tiny and n.startswith("tiny-")
                  and m.adapter not in VIDEO_ONLY)  # tiny-video-llava: video benchmarks only (test_video_e2e.py)
    assert {"tiny-idefics", "tiny-internvl", "tiny-llava", "tiny-idefics2", "tiny-llava-next", "tiny-qwen2-vl",
            "tiny-qwen2.5-vl", "tiny-llava-onevision", "tiny-idefics3", "tiny-paligemma",
            "tiny-kosmos-2", "tiny-llama-vision", "tiny-mantis", "tiny-instructblip", "tiny-chameleon",
            "tiny-qwen-vl-chat", "tiny-phi-3-vision", "tiny-phi-3.5-vision",
            "tiny-glm-4v", "tiny-qwen-vl", "tiny-minicpm-v",
            "tiny-minicpm-llama3-v"} <= set(tiny)
    preds = {}
    for bs in (4, 1):
        work = tmp_path / f"bs{bs}"
        out = run_cli("eval", *tiny, "--bench", "MME-mini", "--limit", "8", "--batch-size", str(bs),
                      "--work-dir", str(work))
        assert out.returncode == 0, out.stdout[-3000:]
        for m in tiny:
            preds[bs, m] = {i: r["prediction"] for i, r in read_records(work / m / "MME-mini" / "shards").items()}
    for m in tiny:
        assert len(preds[1, m]) == 8 and preds[1, m] == preds[4, m], m
    work = tmp_path / "bs4"
    versions = {m: _prov(work, m)["environment"]["transformers"] for m in tiny}
    assert versions["tiny-idefics"].startswith("4.33.") and versions["tiny-internvl"].startswith("4.37.")
    assert versions["tiny-llava"].startswith("4.37.") and versions["tiny-llava-next"].startswith("4.48.")
    assert versions["tiny-idefics2"].startswith("4.40.") and versions["tiny-qwen2-vl"].startswith("5.")
    assert versions["tiny-mantis"].startswith("4.40.") and versions["tiny-instructblip"].startswith("4.33.")
    assert versions["tiny-phi-3-vision"].startswith("4.40.") and versions["tiny-phi-3.5-vision"].startswith("4.48.")
    assert versions["tiny-glm-4v"].startswith("4.48.") and versions["tiny-minicpm-v"].startswith("4.40.")
    assert versions["tiny-qwen-vl-chat"].startswith("4.33.") and versions["tiny-qwen-vl"].startswith("4.33.")  # sampling (top_p 0.3), seeded per row: same answers
    assert all(versions[m].startswith("5.") for m in ("tiny-qwen2.5-vl", "tiny-llava-onevision", "tiny-idefics3",
                                                      "tiny-paligemma", "tiny-kosmos-2", "tiny-llama-vision",
                                                      "tiny-chameleon"))
    families = {_prov(work, m)["image"]["family"] for m in tiny}
    assert families == {"transformers-4.33", "transformers-4.37", "transformers-4.40", "transformers-4.48",
                        "transformers-latest"}
    with open(work / "report.csv") as f:
        assert sorted(r["Model"] for r in csv.DictReader(f)) == tiny


def test_pull_from_a_mirror_then_evaluate_offline_and_the_token_is_never_written(first_run, project_copy, tmp_path,
                                                                                 docker_client):
    """A hub model pulled from a mirror folder into the host's HF cache (no network), then evaluated in a
    container with no network and the weights mounted read-only; HF_TOKEN never lands in any file."""
    import shutil

    from vlmrun.paths import cache_dir

    (tiny,) = [p for p in (cache_dir() / "tiny" / "tiny-qwen2-vl").iterdir() if not p.name.startswith("tmp")][:1]
    mirror = tmp_path / "mirror"
    shutil.copytree(tiny, mirror / "test-org" / "tiny-qwen2-vl")
    (project_copy / "manifests" / "models" / "mirror-qwen.yaml").write_text(
        "name: mirror-qwen\nfamily: transformers-latest\nadapter: qwen2_vl\n"
        "source: {hub: test-org/tiny-qwen2-vl, revision: main}\ndtype: float32\n"
        "processor: {min_pixels: 3136, max_pixels: 50176}\ngeneration: {max_new_tokens: 8}\nbatch_size: 4\n")
    token = "hf_vlmrunTESTtokenNEVERwritten0123456789"
    # HF_HUB_OFFLINE: no machine here reaches the hub, so eval must not try to pull what is missing
    ms_token = "ms-vlmrunTESTmodelscopeNEVERwritten42"
    env = {"VLMRUN_HOME": str(project_copy), "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": token, "HF_HUB_OFFLINE": "1",
           "MODELSCOPE_API_TOKEN": ms_token}
    missing = run_cli("eval", "mirror-qwen", "--bench", "MME-mini", "--work-dir", str(tmp_path / "w"), env=env)
    assert missing.returncode == 2 and "run `vlmrun models pull mirror-qwen`" in missing.stdout
    out = run_cli("models", "pull", "mirror-qwen", "--source", f"dir:{mirror}", env=env)
    assert out.returncode == 0, out.stdout
    assert "model.safetensors" in out.stdout
    again = run_cli("models", "pull", "mirror-qwen", "--source", f"dir:{mirror}", env=env)
    assert again.returncode == 0 and "model.safetensors" not in again.stdout  # complete files are kept
    out = run_cli("eval", "mirror-qwen", "--bench", "MME-mini", "--limit", "4", "--work-dir", str(tmp_path / "w"),
                  env=env)
    assert out.returncode == 0, out.stdout[-3000:]
    prov = _prov(tmp_path / "w", "mirror-qwen")
    assert prov["model"]["hub"] == "test-org/tiny-qwen2-vl" and prov["run"]["samples_computed"] == 4
    for root in (tmp_path / "w", tmp_path / "hf"):  # provenance, reports, logs, predictions, weights
        for f in root.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                assert token.encode() not in data and ms_token.encode() not in data, f
    assert token not in out.stdout and ms_token not in out.stdout
    image = docker_client.images.get(prov["image"]["tag"])  # nor in the image the job ran in
    assert not any(t in json.dumps(image.attrs) for t in (token, ms_token))


def test_images_list_shows_versions_and_prune_removes_only_stale_images(first_run, docker_client, tmp_path):
    import io

    out = run_cli("images", "list")
    assert out.returncode == 0
    line = next(l for l in out.stdout.splitlines() if "transformers-4.37:cpu-" in l)
    assert "4.37.2" in line and "2.13.0+cpu" in line and "3.11" in line
    # an image of a family whose inputs changed since: labelled as ours, tag no manifest produces now
    df = io.BytesIO(b"FROM vlmrun/base:bookworm-py311\nLABEL io.vlmrun.family=transformers-4.37 io.vlmrun.flavour=cpu\n")
    stale, _ = docker_client.images.build(fileobj=df, tag="vlmrun/transformers-4.37:cpu-000000000000", rm=True)
    current = _vlmrun_image_ids(docker_client)
    dry = run_cli("images", "prune", "--dry-run")
    assert dry.returncode == 0 and "would remove vlmrun/transformers-4.37:cpu-000000000000" in dry.stdout
    assert dry.stdout.count("would remove") == 1
    out = run_cli("images", "prune")
    assert out.returncode == 0 and "removed vlmrun/transformers-4.37:cpu-000000000000" in out.stdout
    assert _vlmrun_image_ids(docker_client) == sorted(set(current) - {stale.id})


def test_one_models_benchmarks_share_one_container(first_run, project_copy, tmp_path):
    """Two benchmarks of one model run in one container, the weights loaded once: the second job's load takes no
    time, each job has its own log, shards and report row, and the answers are those of a container per benchmark
    (`-o one_container=false`)."""
    from vlmrun_worker.events import parse
    from vlmrun_worker.shards import read_records

    mini = (project_copy / "manifests" / "benchmarks" / "MME-mini.yaml").read_text()
    (project_copy / "manifests" / "benchmarks" / "MME-mini-b.yaml").write_text(mini.replace("name: MME-mini", "name: MME-mini-b"))
    env = {"VLMRUN_HOME": str(project_copy)}
    preds, loads = {}, {}
    for how, extra in (("shared", []), ("apart", ["-o", "one_container=false"]), ("shared, 2 ranks", ["--nproc", "2"])):
        work = tmp_path / how
        out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--bench", "MME-mini-b", "--limit", "8",
                      "--work-dir", str(work), *extra, env=env)
        assert out.returncode == 0, out.stdout[-3000:]
        for bench in ("MME-mini", "MME-mini-b"):
            run = work / "tiny-qwen2-vl" / bench
            preds[how, bench] = {i: r["prediction"] for i, r in read_records(run / "shards").items()}
            (log,) = (run / "logs").glob("*.log")
            events = [e for e in map(parse, log.read_text().splitlines()) if e]
            ranks = 2 if "2 ranks" in how else 1  # each rank's lines in its own job's log
            assert sorted(e["event"] for e in events if e["event"] in ("start", "finished")) == \
                ["finished"] * ranks + ["start"] * ranks
            loads[how, bench] = next(e["seconds"] for e in events if e["event"] == "loaded")
            assert _prov(work, "tiny-qwen2-vl", bench)["run"]["samples_computed"] == 8
    assert loads["shared", "MME-mini-b"] < 0.1 < loads["shared", "MME-mini"]  # the model was already there
    assert loads["shared, 2 ranks", "MME-mini-b"] < 0.1
    assert loads["apart", "MME-mini-b"] > 0.1  # its own container loaded it again
    assert len(preds["shared", "MME-mini"]) == 8
    assert preds["shared", "MME-mini"] == preds["apart", "MME-mini"] == preds["shared", "MME-mini-b"] == \
        preds["apart", "MME-mini-b"]


def test_a_benchmark_that_fails_in_a_shared_container_leaves_the_next_ones_to_run(first_run, project_copy, tmp_path):
    """Three benchmarks of one model in one container, the middle one with a data file the worker rejects (a row
    refers to an image that no row holds): it fails with its own error (exit code 2, bad input), the ones before and
    after it are computed and reported."""
    import csv as csv_mod

    csv_mod.field_size_limit(10**9)
    bench_dir, data = project_copy / "manifests" / "benchmarks", project_copy / "data"
    mini = (bench_dir / "MME-mini.yaml").read_text()
    (bench_dir / "MME-mini-b.yaml").write_text(mini.replace("name: MME-mini", "name: MME-mini-b"))
    with open(data / "MME-mini.tsv") as f:
        rows = list(csv_mod.DictReader(f, delimiter="\t"))
    for r in rows:
        r["image"] = "999"
    with open(data / "MME-bad.tsv", "w", newline="") as f:
        w = csv_mod.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    bad = "\n".join(line for line in mini.replace("name: MME-mini", "name: MME-bad")
                    .replace("data/MME-mini.tsv", "data/MME-bad.tsv").splitlines() if not line.startswith("md5:"))
    (bench_dir / "MME-bad.yaml").write_text(bad + "\n")
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--bench", "MME-bad", "--bench", "MME-mini-b",
                  "--limit", "8", "--work-dir", str(tmp_path), env={"VLMRUN_HOME": str(project_copy)})
    assert out.returncode == 1, out.stdout[-3000:]
    assert "failed tiny-qwen2-vl_MME-bad: worker failed (exit code 2): DataError: " in out.stdout
    assert "refers to image of row '999', which holds no image" in out.stdout
    for bench in ("MME-mini", "MME-mini-b"):
        assert _prov(tmp_path, "tiny-qwen2-vl", bench)["run"]["samples_computed"] == 8
    assert not (tmp_path / "tiny-qwen2-vl" / "MME-bad" / "provenance.json").exists()
