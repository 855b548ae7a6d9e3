"""The job file: one typed contract, written by the host and read by the worker."""
import json

import pytest

from vlmrun.container import job_payload
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan
from vlmrun_worker.job import JobFile, JobFileError, shard_rows
from vlmrun_worker.run import BAD_INPUT, main_guarded


def _payload(tmp_path, **kw):
    (job,) = make_plan(Catalogue(), ["tiny-qwen2-vl"], ["MME-mini"], tmp_path)
    return job_payload(job, "/d.tsv", "/m", str(tmp_path), **kw)


def test_the_host_writes_what_the_worker_reads(tmp_path):
    d = _payload(tmp_path, shard=1, shards=3)
    job = JobFile.from_dict(d)
    assert (job.bench, job.bench_type, job.shard_index(), job.shards) == ("MME-mini", "yorn", 1, 3)
    assert job.adapter_spec()["generation"] == Catalogue().model("tiny-qwen2-vl").generation.kwargs()


@pytest.mark.parametrize("change, message", [
    ({"bench_type": "audio"}, "benchmark type 'audio' is unknown"),
    ({"bench_type": "video"}, "a video benchmark needs the video block"),
    ({"video": {"layout": "videomme", "root": "/v", "frames": "/f", "nframe": 8}}, "only a video benchmark has one"),
    ({"batch_size": "4"}, "field 'batch_size' must be int"),
    ({"extra": 1}, "unknown field"),
    ({"shard": 3, "shards": 2}, "shard 3 is outside 0..1"),
])
def test_a_bad_job_file_is_an_error_never_a_default(tmp_path, change, message):
    with pytest.raises(JobFileError, match=message):
        JobFile.from_dict({**_payload(tmp_path), **change}).shard_index()


def test_shard_index_from_the_environment(tmp_path, monkeypatch):
    job = JobFile.from_dict(_payload(tmp_path, shard=None, shards=4, shard_env="JOB_COMPLETION_INDEX"))
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    assert job.shard_index() == 2


def test_shards_split_rows_by_position_whatever_ran_before():
    rows = [str(i) for i in range(10)]
    parts = [shard_rows(rows, k, 3) for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(rows) and parts[1] == ["1", "4", "7"]


def test_shards_keep_the_rows_of_one_image_together():
    # MME: two questions per image, next to each other; MMBench: circular copies of an image far apart
    rows = [str(i) for i in range(10)]
    groups = ["a", "a", "b", "b", "c", "c", "a", "d", "d", "e"]
    parts = [shard_rows(rows, k, 2, groups) for k in range(2)]
    assert sorted(sum(parts, [])) == sorted(rows)
    assert parts == [["0", "1", "4", "5", "6", "9"], ["2", "3", "7", "8"]]  # groups a, c, e / b, d
    for part in parts:
        mine = {groups[int(i)] for i in part}
        assert all(groups[int(i)] not in mine for other in parts if other is not part for i in other)


def test_bad_input_exits_2_so_schedulers_do_not_retry(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**_payload(tmp_path), "bench_type": "nope"}))
    assert main_guarded(str(path)) == BAD_INPUT == 2


def _video_payload(tmp_path, **video):
    from vlmrun.plan import VideoSetting, make_plan

    (job,) = make_plan(Catalogue(), ["tiny-internvl"], ["Video-MME-mini"], tmp_path,
                       video=VideoSetting.of(video.pop("nframe", None), video.pop("fps", None), **video))
    return job, job_payload(job, "/d.tsv", "/m", str(tmp_path),
                            video={"layout": "videomme", "root": "/videos", "frames": "/frames", **job.video})


def test_a_video_job_carries_its_frame_setting(tmp_path):
    from vlmrun_worker.video_job import VideoSpec

    job, d = _video_payload(tmp_path, pack=True)
    spec = VideoSpec.of(JobFile.from_dict(d).video)
    assert (spec.nframe, spec.fps, spec.pack, spec.input, spec.layout) == (8, -1.0, True, "frames", "videomme")
    assert job.run_dir.name == "Video-MME-mini_8frame_pack" and job.label == "Video-MME-mini_8frame_pack"
    job, d = _video_payload(tmp_path, fps=0.5, subtitles=True)
    assert job.run_dir.name == "Video-MME-mini_0.5fps_subs"


@pytest.mark.parametrize("change, message", [
    ({"nframe": 8, "fps": 1.0}, "exactly one of nframe > 0 or fps > 0"),
    ({"nframe": 0, "fps": -1}, "exactly one of nframe > 0 or fps > 0"),
    ({"layout": "mvbench"}, "video layout 'mvbench' is unknown"),
    ({"input": "audio"}, "video input 'audio' is unknown"),
    ({"pack": True, "input": "video"}, "takes no pack"),
    ({"frame_rate": 2}, "unexpected keyword argument 'frame_rate'"),
])
def test_a_bad_video_block_is_an_error(tmp_path, change, message):
    from vlmrun_worker.video_job import VideoSpec

    _, d = _video_payload(tmp_path)
    with pytest.raises(JobFileError, match=message):
        VideoSpec.of({**JobFile.from_dict(d).video, **change})
