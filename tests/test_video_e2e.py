"""Video benchmarks end to end through real containers: the bundled Video-MME-mini's synthetic videos made by
`vlmrun data fetch` (PyAV in the transformers-latest image), then tiny models on it with --nframe, --fps,
--pack and --subtitles: frames decoded and cached in the container, predictions per question, resume per
question, a second model reusing the frames, the frame setting in the provenance and the report."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from .conftest import run_cli

pytestmark = pytest.mark.docker
BENCH = "Video-MME-mini"


@pytest.fixture(scope="module")
def lmu(tmp_path_factory, docker_client):
    root = tmp_path_factory.mktemp("lmu")
    proc = run_cli("data", "fetch", BENCH, env={"LMUData": str(root)})
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "4 video(s) made" in proc.stdout
    return root


def _eval(lmu, work, *args):
    return run_cli("eval", *args, "--bench", BENCH, "--work-dir", str(work), env={"LMUData": str(lmu)})


def _prov(run_dir):
    return json.loads((run_dir / "provenance.json").read_text())


def _shards(run_dir) -> list[dict]:
    return [json.loads(l) for f in sorted((run_dir / "shards").glob("*.jsonl")) for l in f.read_text().splitlines()]


def test_videos_are_made_once(lmu):
    videos = sorted(p.name for p in (lmu / BENCH / "video").iterdir())
    assert videos == ["blue-up-5s.mp4", "green-left-3s.mp4", "red-right-4s.mp4", "yellow-down-2s.mp4"]
    assert sorted(p.name for p in (lmu / BENCH / "subtitle").iterdir())[0] == "blue-up-5s.srt"
    again = run_cli("data", "fetch", BENCH, env={"LMUData": str(lmu)})
    assert again.returncode == 0 and "0 video(s) made, 4 already there" in again.stdout


def test_frames_model_nframe_resume_and_a_second_model_reuses_the_frames(lmu, tmp_path):
    proc = _eval(lmu, tmp_path, "tiny-internvl", "--nframe", "8")
    assert proc.returncode == 0, proc.stdout[-3000:]
    run = tmp_path / "tiny-internvl" / f"{BENCH}_8frame"
    prov = _prov(run)
    assert prov["benchmark"]["label"] == f"{BENCH}_8frame"
    assert prov["benchmark"]["video"] == {"nframe": 8, "fps": -1.0, "pack": False, "subtitles": False, "input": "frames"}
    video = prov["run"]["times"]["video"]
    assert video["frames_decoded"] == 32 and video["videos_decoded"] == 4  # 4 videos x 8 frames, once each
    frames = lmu / "images" / BENCH / "red-right-4s"
    assert sorted(p.name for p in frames.glob("frame-*")) == sorted(f"frame-{i}-of-8.jpg" for i in range(1, 9))
    first = {r["index"]: r["prediction"] for r in _shards(run)}
    assert sorted(first, key=int) == [str(i) for i in range(12)]
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert f"{BENCH}_8frame" in summary.columns  # the report's column carries the frame setting
    assert f"{BENCH}_8frame" in (tmp_path / "report.md").read_text()

    # resume per question: drop 5 finished questions, run again: only those 5 are computed, same answers
    shard = next((run / "shards").glob("*.jsonl"))
    lines = shard.read_text().splitlines()
    shard.write_text("\n".join(lines[:7]) + "\n")
    proc = _eval(lmu, tmp_path, "tiny-internvl", "--nframe", "8")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert _prov(run)["run"]["samples_computed"] == 5
    assert {r["index"]: r["prediction"] for r in _shards(run)} == first
    assert _prov(run)["run"]["times"]["video"]["frames_decoded"] == 0  # all from the frame cache

    # a second model on the same videos and setting decodes nothing
    proc = _eval(lmu, tmp_path, "demo-internvl", "--nframe", "8")
    assert proc.returncode == 0, proc.stdout[-3000:]
    video = _prov(tmp_path / "demo-internvl" / f"{BENCH}_8frame")["run"]["times"]["video"]
    assert video["frames_decoded"] == 0 and video["frames_cached"] == 12 * 8
    answers = {r["prediction"] for r in _shards(tmp_path / "demo-internvl" / f"{BENCH}_8frame")}
    assert answers <= {"A", "B", "C", "D"}, answers  # the demo head answers option letters


def test_pack_asks_once_per_video_and_splits_per_question(lmu, tmp_path):
    proc = _eval(lmu, tmp_path, "tiny-internvl", "--nframe", "4", "--pack")
    assert proc.returncode == 0, proc.stdout[-3000:]
    run = tmp_path / "tiny-internvl" / f"{BENCH}_4frame_pack"
    recs = _shards(run)
    assert sorted(r["index"] for r in recs) == sorted(str(i) for i in range(12))
    by_video: dict = {}
    for r in recs:
        by_video.setdefault(r["video"], []).append(r)
    assert len(by_video) == 4 and all(len(v) == 3 for v in by_video.values())  # one request per video, 3 questions
    assert all(len({r["packed"] for r in v}) == 1 for v in by_video.values())  # ...each split from one answer
    video = _prov(run)["run"]["times"]["video"]
    # a random model writes no JSON: VLMEvalKit's split leaves those questions unanswered (empty predictions)
    assert video["pack_parse_ok"] + video["pack_parse_fail"] == 4
    assert video["pack_questions_unanswered"] == sum(r["prediction"] == "" for r in recs)


def test_video_input_models_fps_and_subtitles(lmu, tmp_path):
    proc = _eval(lmu, tmp_path, "tiny-qwen2-vl", "--fps", "2")
    assert proc.returncode == 0, proc.stdout[-3000:]
    run = tmp_path / "tiny-qwen2-vl" / f"{BENCH}_2.0fps"
    assert _prov(run)["benchmark"]["video"]["input"] == "video"
    assert len(_shards(run)) == 12
    assert list((lmu / "images" / BENCH / "blue-up-5s").glob("raw-*.png"))  # Qwen's own frame choice, lossless
    proc = _eval(lmu, tmp_path, "tiny-video-llava")  # transformers' VideoLlava: 8 frames of its own choice
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(_shards(tmp_path / "tiny-video-llava" / f"{BENCH}_8frame")) == 12
    proc = _eval(lmu, tmp_path, "tiny-internvl", "--fps", "1", "--subtitles")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(_shards(tmp_path / "tiny-internvl" / f"{BENCH}_1.0fps_subs")) == 12


@pytest.mark.parametrize("args, message", [
    (["tiny-qwen2-vl", "--pack"], "reads the video itself"),
    (["tiny-internvl", "--nframe", "8", "--fps", "1"], "give --nframe or --fps, not both"),
    (["tiny-idefics2"], "has no video input in vlmrun"),
    (["tiny-video-llava", "--nframe", "16"], "run it with --nframe 8"),
    (["tiny-internvl", "--fps", "0"], "--fps must be more than 0"),
])
def test_bad_video_settings_are_one_line_errors(lmu, tmp_path, args, message):
    proc = _eval(lmu, tmp_path, *args)
    assert proc.returncode != 0 and message in proc.stdout and "Traceback" not in proc.stdout, proc.stdout[-1500:]


def test_missing_videos_say_how_to_get_them(tmp_path, docker_client):
    proc = run_cli("eval", "tiny-internvl", "--bench", BENCH, "--work-dir", str(tmp_path / "w"),
                   env={"LMUData": str(tmp_path / "empty")})
    assert proc.returncode != 0 and f"run `vlmrun data fetch {BENCH}`" in proc.stdout, proc.stdout[-1500:]
    assert "Traceback" not in proc.stdout


def _install(project_copy, root, bench: str, rows: list[str]) -> dict:
    """A benchmark's TSV (these rows) into root ($LMUData), its manifest in the project copy pointed at it; the
    environment for run_cli."""
    import hashlib

    import yaml

    tsv = ("\n".join(rows) + "\n").encode()
    (root / f"{bench}.tsv").write_bytes(tsv)
    m = project_copy / "manifests" / "benchmarks" / f"{bench}.yaml"
    data = yaml.safe_load(m.read_text())
    data.update(md5=hashlib.md5(tsv).hexdigest(), rows=len(rows) - 1)
    m.write_text(yaml.safe_dump(data))
    return {"VLMRUN_HOME": str(project_copy), "LMUData": str(root)}


def test_mvbench_mp4_layout_runs(lmu, tmp_path, project_copy):
    """MVBench_MP4's layout (a folder per task, file names with their extension, its own frame choice and prompt),
    on the mini benchmark's videos under a task folder, with a 12-question TSV in its columns."""
    import shutil

    root = tmp_path / "lmu"
    shutil.copytree(lmu / BENCH / "video", root / "MVBench_MP4" / "clevrer" / "video_validation")
    rows = ["index\ttask_type\tprefix\tvideo\tquestion\tanswer\tcandidates"]
    for k, v in enumerate(sorted(p.name for p in (root / "MVBench_MP4" / "clevrer" / "video_validation").iterdir()) * 3):
        rows.append(f"{k}\t{'Object Existence' if k % 2 else 'Action Sequence'}\tclevrer/video_validation/\t{v}\t"
                    f"What colour is the square?\t{v.split('-')[0]}\t['red', 'green', 'blue', 'yellow']")
    env = _install(project_copy, root, "MVBench_MP4", rows)
    for model in ("tiny-internvl", "tiny-qwen2-vl"):
        proc = run_cli("eval", model, "--bench", "MVBench_MP4", "--nframe", "4", "--work-dir", str(tmp_path / "w"),
                       env=env)
        assert proc.returncode == 0, proc.stdout[-3000:]
        run = tmp_path / "w" / model / "MVBench_MP4_4frame"
        scores = _prov(run)["scores"]
        assert len(_shards(run)) == 12 and {"overall", "Object Existence", "Action Sequence"} <= set(scores), scores
    frames = root / "images" / "MVBench_MP4" / "red-right-4s.mp4"  # VLMEvalKit's folder: the file name, extension kept
    assert sorted(p.name for p in frames.glob("frame-*")) == [f"frame-{i}-of-4.jpg" for i in range(1, 5)]


def test_mmbench_video_layout_packs_and_stops_before_the_judge(lmu, tmp_path, project_copy):
    """MMBench-Video's layout with --pack, predictions only (--mode infer: its scores need a judge): one request
    per video with the pack prompt, 3 questions each split back."""
    import shutil

    root = tmp_path / "lmu"
    shutil.copytree(lmu / BENCH / "video", root / "MMBench-Video" / "video")
    rows = ["index\tvideo\tvideo_path\tquestion\tanswer\tdimensions"]
    for k, v in enumerate(sorted(p.stem for p in (root / "MMBench-Video" / "video").iterdir()) * 3):
        rows.append(f"{k}\t{v}\t./video/{v}.mp4\tWhat moves, and where?\tA square, {v.split('-')[1]}.\t['CP']")
    env = _install(project_copy, root, "MMBench-Video", rows)
    proc = run_cli("eval", "tiny-internvl", "--bench", "MMBench-Video", "--nframe", "4", "--pack", "--mode", "infer",
                   "--work-dir", str(tmp_path / "w"), env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    recs = _shards(tmp_path / "w" / "tiny-internvl" / "MMBench-Video_4frame_pack")
    assert len(recs) == 12 and len({r["video"] for r in recs}) == 4


def test_local_backend_runs_video_jobs(lmu, tmp_path):
    """--backend local: the same worker in a host venv from the family's lock (PyAV and pysubs2 included), the
    videos and the frame cache read and written in place."""
    from vlmrun.images import host_venv
    from vlmrun.manifest import Catalogue

    py = host_venv(Catalogue(), "transformers-4.37") / "bin" / "python"
    proc = run_cli("eval", "tiny-internvl", "--bench", BENCH, "--nframe", "2", "--backend", "local",
                   "--work-dir", str(tmp_path), env={"LMUData": str(lmu), "VLMRUN_LOCAL_PYTHON": str(py)})
    assert proc.returncode == 0, proc.stdout[-3000:]
    run = tmp_path / "tiny-internvl" / f"{BENCH}_2frame"
    assert len(_shards(run)) == 12 and _prov(run)["backend"] == "local"
    assert _prov(run)["run"]["times"]["video"]["frames_decoded"] == 8  # 4 videos x 2 frames, into the shared cache
    assert (lmu / "images" / BENCH / "red-right-4s" / "frame-2-of-2.jpg").is_file()
