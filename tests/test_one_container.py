"""One container for several benchmarks of one model (runner/backends/grouped.py): which tasks share one, the
shared request (every job's run folder mounted apart, its job file rewritten to write there, every job file given
to the worker), the routing of the container's lines to each job, and each job's outcome. The run itself, through
the real engine: tests/test_e2e_docker.py::test_one_models_benchmarks_share_one_container."""
import json
from pathlib import Path

from vlmrun.backends.base import RunOutcome, Task
from vlmrun.backends.grouped import RUNS_MOUNT, Router, groups, merged
from vlmrun.container import docker_job_request, write_job_file
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan


def _items(tmp_path, models, benches, shards=1):
    items = []
    for job in make_plan(Catalogue(), models, benches, str(tmp_path)):
        for k in range(shards):
            task = Task(job, k, shards)
            data = tmp_path / f"{job.bench.name}.tsv"
            req, payload = docker_job_request(job, "img:1", data, tmp_path / "model", task)
            job.run_dir.mkdir(parents=True, exist_ok=True)
            write_job_file(job.run_dir, payload, task.job_file)
            items.append((task, req))
    return items


def test_one_models_benchmarks_share_a_container_and_other_models_do_not(tmp_path):
    items = _items(tmp_path, ["tiny-qwen2-vl", "tiny-llava"], ["MME-mini", "POPE"])
    got = [[t.job.name for t, _ in g] for g in groups(items)]
    assert sorted(got) == [["tiny-llava_MME-mini", "tiny-llava_POPE"], ["tiny-qwen2-vl_MME-mini", "tiny-qwen2-vl_POPE"]]


def test_shards_keep_a_container_each(tmp_path):
    items = _items(tmp_path, ["tiny-qwen2-vl"], ["MME-mini", "POPE"], shards=2)
    assert [len(g) for g in groups(items)] == [1, 1, 1, 1]


def test_the_shared_request_mounts_each_run_folder_apart_and_lists_every_job_file(tmp_path):
    (group,) = [g for g in groups(_items(tmp_path, ["tiny-qwen2-vl"], ["MME-mini", "POPE"])) if len(g) == 2]
    req = merged(group)
    assert req.command[-2:] == [f"{RUNS_MOUNT}/0/job.json", f"{RUNS_MOUNT}/1/job.json"]
    assert req.command[:-2] == group[0][1].command[:-1]
    targets = {m.target: m for m in req.mounts}
    for k, (task, _) in enumerate(group):
        assert targets[f"{RUNS_MOUNT}/{k}"].source == str(task.job.run_dir)
        assert not targets[f"{RUNS_MOUNT}/{k}"].read_only
        assert json.loads((Path(task.job.run_dir) / "job.json").read_text())["out_dir"] == f"{RUNS_MOUNT}/{k}"
    assert "/vlmrun/out" not in targets and {"/vlmrun/data/MME-mini.tsv", "/vlmrun/data/POPE.tsv"} <= set(targets)
    assert req.labels["io.vlmrun.jobs"] == "tiny-qwen2-vl_MME-mini,tiny-qwen2-vl_POPE"


def _event(event, **fields):
    return "@@vlmrun " + json.dumps({"event": event, **fields})


def test_lines_go_to_the_job_whose_turn_it_is_and_a_failure_stops_the_rest(tmp_path):
    (group,) = [g for g in groups(_items(tmp_path, ["tiny-qwen2-vl"], ["MME-mini", "POPE", "HallusionBench"]))
                if len(g) == 3]
    seen = {t.name: [] for t, _ in group}
    followed = []

    def follow(task):
        followed.append(task.name)
        return seen[task.name].append

    router = Router(group, follow)
    assert followed == ["tiny-qwen2-vl_MME-mini"]  # a job's times start with its turn
    for k, line in ((0, "a"), (1, "b"), (1, "c")):
        if line != "c":
            router(_event("job", file=f"{RUNS_MOUNT}/{k}/job.json"))
        router(line)
    assert seen == {"tiny-qwen2-vl_MME-mini": ["a"], "tiny-qwen2-vl_POPE": ["b", "c"], "tiny-qwen2-vl_HallusionBench": []}
    out = router.outcomes(group, RunOutcome(exit_code=1, log_tail=["boom"]))
    assert out["tiny-qwen2-vl_MME-mini"].ok and out["tiny-qwen2-vl_POPE"].exit_code == 1
    assert out["tiny-qwen2-vl_HallusionBench"].error.startswith("not run: the benchmark before it in the same container (POPE) failed")
    assert all(o.ok for o in router.outcomes(group, RunOutcome(exit_code=0)).values())
