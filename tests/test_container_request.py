"""The container settings of a job, read off the request object before anything runs."""
import os
from pathlib import Path

import pytest

from vlmrun.backends.docker_backend import GPU_FIX, translate_api_error
from vlmrun.backends.request import GpuSpec, parse_gpus
from vlmrun.container import docker_job_request, docker_tiny_request, local_job_request, worker_dir
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan


@pytest.mark.parametrize("value, spec", [
    ("all", GpuSpec(count=-1)),
    ("2", GpuSpec(count=2)),
    ("0,1", GpuSpec(device_ids=("0", "1"))),
    ("device=2,3", GpuSpec(device_ids=("2", "3"))),
    (None, None),
])
def test_parse_gpus(value, spec):
    assert parse_gpus(value) == spec


@pytest.mark.parametrize("bad", ["0", "many", "-1", "1,x"])
def test_parse_gpus_rejects(bad):
    with pytest.raises(VlmrunError):
        parse_gpus(bad)


def test_gpu_device_requests():
    caps = [["gpu"]]
    assert GpuSpec(count=-1).device_requests() == [
        {"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": caps, "Options": {}}]
    assert GpuSpec(count=2).device_requests()[0]["Count"] == 2
    r = GpuSpec(device_ids=("0", "1")).device_requests()[0]
    assert (r["Count"], r["DeviceIDs"], r["Capabilities"]) == (0, ["0", "1"], caps)


def _job(tmp_path, gpus=None, nproc=None, model="tiny-qwen2-vl"):
    cat = Catalogue()
    (job,) = make_plan(cat, [model], ["MME-mini"], tmp_path, gpus=parse_gpus(gpus), nproc=nproc)
    return job


def test_cpu_job_container_settings(tmp_path):
    job = _job(tmp_path)
    data = tmp_path / "MME-mini.tsv"
    req, payload = docker_job_request(job, "vlmrun/transformers-latest:cpu-abc", data, tmp_path / "weights")
    kw = req.docker_kwargs()
    assert kw["network_mode"] == "none"
    assert kw["init"] is True
    # the invoking user's uid:gid; root is mapped to the image's non-root user
    assert kw["user"] == ("1000:1000" if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}")
    assert kw["shm_size"] == "8g"
    assert kw["hostname"] == "localhost"
    assert kw["detach"] is True
    assert "device_requests" not in kw
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in kw["mounts"]}
    assert mounts == {
        "/opt/vlmrun/worker": (str(worker_dir()), True),
        "/vlmrun/data/MME-mini.tsv": (str(data), True),
        "/vlmrun/model": (str(tmp_path / "weights"), True),
        "/vlmrun/out": (str(job.run_dir), False),
    }
    env = kw["environment"]
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["PYTHONPATH"] == "/opt/vlmrun/worker"
    # one rank: the worker itself, without a launcher process
    assert kw["command"] == ["python", "-m", "vlmrun_worker", "run", "/vlmrun/out/job.json"]
    assert payload["device"] == "cpu" and payload["data"] == "/vlmrun/data/MME-mini.tsv"
    assert payload["model_dir"] == "/vlmrun/model" and payload["adapter"] == "qwen2_vl"
    assert payload["model"]["processor"] == {"min_pixels": 3136, "max_pixels": 50176}
    assert payload["prefetch_workers"] is None  # the worker picks: 1 thread on CPU, up to 4 on a GPU


def test_prefetch_threads_reach_the_worker_and_are_checked(tmp_path):
    (job,) = make_plan(Catalogue(), ["tiny-qwen2-vl"], ["MME-mini"], tmp_path, prefetch=3)
    _, payload = docker_job_request(job, "img", tmp_path / "d.tsv", tmp_path / "w")
    assert payload["prefetch_workers"] == 3
    (job,) = make_plan(Catalogue(), ["tiny-qwen2-vl"], ["MME-mini"], tmp_path, prefetch=0)  # inline
    assert docker_job_request(job, "img", tmp_path / "d.tsv", tmp_path / "w")[1]["prefetch_workers"] == 0
    with pytest.raises(VlmrunError, match="--prefetch must be 0"):
        make_plan(Catalogue(), ["tiny-qwen2-vl"], ["MME-mini"], tmp_path, prefetch=-1)


def test_gpu_job_gets_device_request_and_one_rank_per_gpu(tmp_path):
    job = _job(tmp_path, gpus="0,1")
    assert job.nproc == 2 and job.device == "cuda" and job.flavour == "cuda"
    req, payload = docker_job_request(job, "img", tmp_path / "d.tsv", tmp_path / "w")
    kw = req.docker_kwargs()
    (dr,) = kw["device_requests"]
    assert dr["DeviceIDs"] == ["0", "1"] and dr["Capabilities"] == [["gpu"]]
    assert "CUDA_VISIBLE_DEVICES" not in kw["environment"]
    assert kw["command"] == ["python", "-m", "vlmrun_worker", "launch", "2", "/vlmrun/out/job.json"]
    assert payload["device"] == "cuda"
    assert '--gpus="device=0,1"' in req.docker_cli()
    all_job = _job(tmp_path, gpus="all")
    assert all_job.nproc == "gpu"  # one rank per visible GPU
    assert docker_job_request(all_job, "img", tmp_path / "d.tsv", tmp_path / "w")[0].command[3:5] == ["launch", "gpu"]
    with pytest.raises(VlmrunError, match=r"--nproc 3 with 1 GPU\(s\) per rank needs 3 GPUs; --gpus gives 2"):
        _job(tmp_path, gpus="0,1", nproc=3)


def test_tiny_request_writes_only_to_its_cache(tmp_path):
    req = docker_tiny_request("internvl", "img", tmp_path / "tmp_x", "tiny-internvl")
    kw = req.docker_kwargs()
    assert kw["command"] == ["python", "-m", "vlmrun_worker", "make-tiny", "internvl", "/vlmrun/out/tmp_x"]
    assert kw["network_mode"] == "none"
    writable = [(m["Source"], m["Target"]) for m in kw["mounts"] if not m["ReadOnly"]]
    assert writable == [(str(tmp_path / "tmp_x"), "/vlmrun/out/tmp_x")]


def test_local_request_runs_the_same_worker(tmp_path):
    job = _job(tmp_path)
    req, payload = local_job_request(job, tmp_path / "d.tsv", tmp_path / "w")
    assert req.command[1:] == ["-m", "vlmrun_worker", "run", str(job.run_dir / "job.json")]
    job.nproc = 2
    req, _ = local_job_request(job, tmp_path / "d.tsv", tmp_path / "w")
    assert req.command[1:] == ["-m", "vlmrun_worker", "launch", "2", str(job.run_dir / "job.json")]
    assert req.env["PYTHONPATH"].startswith(str(worker_dir()))
    assert payload["data"] == str(tmp_path / "d.tsv") and payload["out_dir"] == str(job.run_dir)


def test_gpu_driver_error_becomes_the_fix():
    class E(Exception):
        explanation = ('failed to create task for container: could not select device driver "" '
                       'with capabilities: [[gpu]]')

    err = translate_api_error(E())
    assert str(err) == GPU_FIX
    assert "nvidia-container-toolkit" in GPU_FIX and "leave --gpus out" in GPU_FIX


def test_hf_token_never_reaches_the_container_or_the_job_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_for_the_host_only")
    job = _job(tmp_path)
    req, payload = docker_job_request(job, "img", tmp_path / "d.tsv", tmp_path / "w")
    assert "HF_TOKEN" not in req.docker_kwargs()["environment"]
    assert "hf_secret_for_the_host_only" not in repr(req.as_dict()) + repr(payload)
