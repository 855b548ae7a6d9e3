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
    ({"bench_type": "video"}, "benchmark type 'video' is unknown"),
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


def test_bad_input_exits_2_so_schedulers_do_not_retry(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**_payload(tmp_path), "bench_type": "nope"}))
    assert main_guarded(str(path)) == BAD_INPUT == 2
