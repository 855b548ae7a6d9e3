"""Planning video jobs (no containers): the frame setting's defaults and errors, each a one-line VlmrunError, and
the pure frame choices of the layouts."""
import pytest

from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun.plan import VideoSetting, make_plan
from vlmrun_worker.adapters.video_llava import frame_indices
from vlmrun_worker.video import mvbench_indices, split_pack_answer

CAT = Catalogue()


def test_defaults_and_names(tmp_path):
    (job,) = make_plan(CAT, ["tiny-internvl"], ["Video-MME-mini"], tmp_path)
    assert job.video == {"nframe": 8, "fps": -1.0, "pack": False, "subtitles": False, "input": "frames"}
    (job,) = make_plan(CAT, ["tiny-qwen2-vl"], ["Video-MME-mini"], tmp_path, video=VideoSetting.of(None, 0.5))
    assert (job.label, job.video["input"]) == ("Video-MME-mini_0.5fps", "video")
    # an image benchmark in the same command ignores the frame setting
    jobs = make_plan(CAT, ["tiny-internvl"], ["MME-mini", "Video-MME-mini"], tmp_path, video=VideoSetting.of(16, None))
    assert [(j.label, j.video) for j in jobs][0] == ("MME-mini", None) and jobs[1].label == "Video-MME-mini_16frame"


@pytest.mark.parametrize("models, bench, setting, message", [
    (["tiny-internvl"], "MVBench", (None, None), "scored by `vlmrun score --bench MVBench"),
    (["tiny-llava"], "Video-MME-mini", (None, None), "has no video input in vlmrun (adapter llava_hf)"),
    (["tiny-qwen2-vl"], "Video-MME-mini", (8, None, True), "leave out --pack"),
    (["tiny-internvl"], "MMBench-Video", (8, None, False, True), "--subtitles: MMBench-Video has no subtitles"),
    (["tiny-video-llava"], "Video-MME-mini", (None, 1.0), "run it with --nframe 8"),
    (["tiny-qwen2-vl-api"], "Video-MME-mini", (None, None), "video benchmarks run local models only"),
    (["tiny-internvl"], "Video-MME-mini", (0, None), "--nframe must be at least 1"),
    (["tiny-video-llava"], "MME-mini", (None, None), "answers questions about videos only"),
])
def test_bad_settings_are_one_line_errors(tmp_path, models, bench, setting, message):
    with pytest.raises(VlmrunError, match=message.replace("(", r"\(").replace(")", r"\)").replace("-", r"\-")):
        make_plan(CAT, models, [bench], tmp_path, video=VideoSetting.of(*setting))


def test_layout_frame_choices():
    import numpy as np

    for n in (2, 9, 16, 100, 333, 18000):
        for k in (1, 4, 8, 16):
            seg = float(n - 1) / k  # MVBench_MP4.get_index_by_frame, with numpy
            assert mvbench_indices(n, k) == [int((seg / 2) + np.round(seg * i)) for i in range(k)]
        assert frame_indices(n) == np.arange(0, n, n / 8).astype(int).tolist()  # VideoLLaVA_HF
    # mvbench_pixels (torch, in the image) is checked against MVBench_MP4's own frames by the parity suite


def test_pack_split_names_every_question():
    answers, how = split_pack_answer('{"3": "A", "4": "B"}', ["3", "4", "5"])
    assert (answers, how) == ({"3": "A", "4": "B", "5": None}, "PARSE_OK")
    assert split_pack_answer("no json", ["3"]) == ({"3": None}, "PARSE_FAIL")


def test_the_container_gets_the_videos_read_only_and_the_frame_cache_writable(tmp_path, monkeypatch):
    from vlmrun.container import docker_job_request

    monkeypatch.setenv("LMUData", str(tmp_path / "lmu"))
    (tmp_path / "lmu" / "Video-MME-mini" / "video").mkdir(parents=True)
    (job,) = make_plan(CAT, ["tiny-internvl"], ["Video-MME-mini"], tmp_path / "w", video=VideoSetting.of(4, None, True))
    req, payload = docker_job_request(job, "img", tmp_path / "d.tsv", tmp_path / "m")
    mounts = {m.target: (m.source, m.read_only) for m in req.mounts}
    assert mounts["/vlmrun/videos"] == (str(tmp_path / "lmu" / "Video-MME-mini"), True)
    assert mounts["/vlmrun/frames"] == (str(tmp_path / "lmu" / "images" / "Video-MME-mini"), False)
    assert (tmp_path / "lmu" / "images" / "Video-MME-mini").is_dir()
    assert payload["video"] == {"layout": "videomme", "root": "/vlmrun/videos", "frames": "/vlmrun/frames",
                                "nframe": 4, "fps": -1.0, "pack": True, "subtitles": False, "input": "frames"}
    assert str(job.run_dir).endswith("tiny-internvl/Video-MME-mini_4frame_pack")
