"""Models larger than one GPU: a rank spread over several GPUs (--gpus-per-rank, or planned from the weights' size
and the GPUs' memory), one clear line when the job's GPUs cannot hold it, and the launcher giving each rank its own
GPUs. No GPU needed: the plan, the job file, the container request and the launcher's environment."""
import json
import sys

import pytest

from vlmrun.container import docker_job_request
from vlmrun.errors import VlmrunError
from vlmrun.gpus import parse_gpus
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan
from vlmrun_worker import launch
from vlmrun_worker.adapters.base import placement

BIG = "idefics-80b-instruct"  # 80 B parameters in bfloat16: 149 GiB of weights


def _plan(tmp_path, gpus, model=BIG, **kw):
    (job,) = make_plan(Catalogue(), [model], ["MME-mini"], tmp_path, gpus=parse_gpus(gpus), **kw)
    return job


def test_ranks_are_planned_from_the_weights_and_the_gpus_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMRUN_GPU_MEMORY_GIB", "80")
    job = _plan(tmp_path, "4")  # 149 GiB + 20 % on GPUs of 80 GiB: 3 GPUs per rank, one rank on 4 GPUs
    assert (job.gpus_per_rank, job.nproc) == (3, 1)
    assert (_plan(tmp_path, "6").nproc, _plan(tmp_path, "all").nproc) == (2, "gpu")  # all: the launcher counts
    assert _plan(tmp_path, "4", model="internvl2-8b").gpus_per_rank == 1  # 15 GiB: one GPU each
    monkeypatch.setenv("VLMRUN_GPU_MEMORY_GIB", "141")  # H200s: two are enough
    assert _plan(tmp_path, "4").gpus_per_rank == 2 and _plan(tmp_path, "4").nproc == 2
    job = _plan(tmp_path, "4", gpus_per_rank=4)  # the user's word wins
    assert (job.gpus_per_rank, job.nproc) == (4, 1)
    assert _plan(tmp_path, None).gpus_per_rank == 1  # on the CPU nothing is spread


def test_too_few_gpus_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMRUN_GPU_MEMORY_GIB", "80")
    with pytest.raises(VlmrunError, match=r"model idefics-80b-instruct needs 3 GPUs per rank \(149 GiB of bfloat16 "
                                          r"weights \+ 20 % on GPUs of 80 GiB\); --gpus gives 2: give it at least 3"):
        _plan(tmp_path, "2")
    with pytest.raises(VlmrunError, match="--nproc 2 with 3 GPU\\(s\\) per rank needs 6 GPUs; --gpus gives 4"):
        _plan(tmp_path, "4", nproc=2)
    with pytest.raises(VlmrunError, match="--gpus-per-rank .* with --gpus"):
        _plan(tmp_path, None, gpus_per_rank=2)


def test_the_job_goes_through_the_launcher_with_its_gpus_per_rank(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMRUN_GPU_MEMORY_GIB", "80")
    job = _plan(tmp_path, "3")
    req, payload = docker_job_request(job, "img", tmp_path / "d.tsv", tmp_path / "w")
    assert payload["gpus_per_rank"] == 3
    assert req.command[3:5] == ["launch", "1"]  # even one rank: the launcher gives it its GPUs
    small = _plan(tmp_path, "1", model="internvl2-8b")
    assert docker_job_request(small, "img", tmp_path / "d.tsv", tmp_path / "w")[0].command[3] == "run"


# each rank writes what it sees to a file of its own (two ranks printing at once can interleave their lines)
PROBE = ("import os, pathlib, sys; pathlib.Path(sys.argv[1], os.environ['RANK']).write_text("
         "os.environ['CUDA_VISIBLE_DEVICES'])")


@pytest.mark.parametrize("visible, ranks, want", [
    ("0,1,2,3,4,5", "gpu", {"0": "0,1,2", "1": "3,4,5"}),
    ("GPU-a,GPU-b,GPU-c,GPU-d", "1", {"0": "GPU-a,GPU-b,GPU-c"}),
    ("4,5,6,7,0", "gpu", {"0": "4,5,6"}),  # a leftover GPU stays unused
])
def test_the_launcher_gives_each_rank_its_own_gpus(tmp_path, monkeypatch, visible, ranks, want):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"gpus_per_rank": 3}))
    seen = tmp_path / "seen"
    seen.mkdir()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert launch.main([ranks, str(job)], [sys.executable, "-c", PROBE, str(seen)]) == 0
    got = {p.name: p.read_text() for p in seen.iterdir()}
    assert got == want


def test_the_launcher_refuses_a_rank_it_cannot_give_enough_gpus(tmp_path, monkeypatch):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"gpus_per_rank": 3}))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(SystemExit, match="a rank needs 3 GPUs and 2 are visible"):
        launch.main(["gpu", str(job)], [sys.executable, "-c", "pass"])


def test_adapters_spread_the_model_only_over_several_gpus():
    assert placement({"gpus_per_rank": 3}, "cuda:0") == {"device_map": "auto"}
    assert placement({"gpus_per_rank": 1}, "cuda:0") == {} and placement({}, "cuda:0") == {}
    assert placement({"gpus_per_rank": 3}, "cpu") == {}
