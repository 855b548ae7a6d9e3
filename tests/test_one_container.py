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
    assert "/vlmrun/out" not in targets and {"/vlmrun/data/0/MME-mini.tsv", "/vlmrun/data/1/POPE.tsv"} <= set(targets)
    assert json.loads((Path(group[1][0].job.run_dir) / "job.json").read_text())["data"] == "/vlmrun/data/1/POPE.tsv"
    assert req.labels["io.vlmrun.jobs"] == "tiny-qwen2-vl_MME-mini,tiny-qwen2-vl_POPE"


def _event(event, **fields):
    return "@@vlmrun " + json.dumps({"event": event, **fields})


def _router(tmp_path):
    (group,) = [g for g in groups(_items(tmp_path, ["tiny-qwen2-vl"], ["MME-mini", "POPE", "HallusionBench"]))
                if len(g) == 3]
    seen = {t.name: [] for t, _ in group}
    followed = []

    def follow(task):
        followed.append(task.name)
        return seen[task.name].append

    return group, Router(group, follow), seen, followed


def _turn(router, k):
    router(_event("job", file=f"{RUNS_MOUNT}/{k}/job.json"))


def _done(router, k, code):
    router(_event("done", file=f"{RUNS_MOUNT}/{k}/job.json", code=code))


def test_lines_go_to_the_job_whose_turn_it_is_and_a_killed_container_stops_the_rest(tmp_path):
    group, router, seen, followed = _router(tmp_path)
    assert followed == ["tiny-qwen2-vl_MME-mini"]  # a job's times start with its turn
    _turn(router, 0)
    router("a")
    _done(router, 0, 0)
    _turn(router, 1)
    router("b")
    assert followed == ["tiny-qwen2-vl_MME-mini", "tiny-qwen2-vl_POPE"]
    assert seen["tiny-qwen2-vl_MME-mini"][0] == "a" and seen["tiny-qwen2-vl_POPE"] == ["b"]
    assert seen["tiny-qwen2-vl_HallusionBench"] == []
    out = router.outcomes(group, RunOutcome(exit_code=137, oom_killed=True, log_tail=["boom"]))
    assert out["tiny-qwen2-vl_MME-mini"].ok and out["tiny-qwen2-vl_POPE"].oom_killed
    assert out["tiny-qwen2-vl_HallusionBench"].error.startswith(
        "not run: the container stopped during the benchmark before it (POPE)")
    assert "-o one_container=false" in out["tiny-qwen2-vl_HallusionBench"].error


def test_a_job_that_fails_on_its_own_leaves_the_others_their_outcome(tmp_path):
    group, router, seen, _ = _router(tmp_path)
    for k, code in ((0, 0), (1, 2), (2, 0)):  # one rank: the worker goes on after a job's bad input
        _turn(router, k)
        _done(router, k, code)
    out = router.outcomes(group, RunOutcome(exit_code=2, log_tail=["DataError: ..."], seconds=99.0))
    assert [out[t.name].exit_code for t, _ in group] == [0, 2, 0]
    assert all(out[t.name].seconds < 99.0 for t, _ in group)  # each job's own time, not the container's
    assert out["tiny-qwen2-vl_MME-mini"].ok and out["tiny-qwen2-vl_HallusionBench"].ok
    assert all(o.ok for o in Router(group, lambda t: (lambda line: None)).outcomes(
        group, RunOutcome(exit_code=0)).values())
