"""The slurm backend: the sbatch script it writes (offline), and end to end through a real one-node Slurm
(scripts/slurm-local.sh, started by the test command's setup) running the family images with Docker."""
import csv
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from vlmrun.backends.base import Task, get_backend
from vlmrun.backends.slurm import runtime_lines
from vlmrun.container import docker_job_request
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan

from .conftest import run_cli

MODELS = ["tiny-qwen2-vl", "tiny-internvl"]


def _items(backend, tmp_path, shards=2, gpus=None):
    from vlmrun.gpus import parse_gpus

    jobs = make_plan(Catalogue(), MODELS, ["MME-mini"], tmp_path, gpus=parse_gpus(gpus))
    items = []
    for j in jobs:
        env = backend.environment(Catalogue(), j, print, build=False)
        for k in range(shards):
            t = Task(j, k, shards)
            items.append((t, backend.job_request(t, env, tmp_path / "MME-mini.tsv", tmp_path / "w")[0]))
    return items


def test_sbatch_script_is_one_array_with_a_task_per_shard(tmp_path):
    b = get_backend("slurm", {"partition": "gpu", "account": "lab", "time": "04:00:00", "qos": "high",
                              "array_parallelism": 3}, context={"work_dir": str(tmp_path)})
    script = b.render(_items(b, tmp_path))
    head = [l for l in script.splitlines() if l.startswith("#SBATCH")]
    assert head == ["#SBATCH --job-name=vlmrun", "#SBATCH --array=0-3%3", f"#SBATCH --output={tmp_path}/.slurm/%A_%a.log",
                    "#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --time=04:00:00", "#SBATCH --qos=high"]
    for k, name in enumerate(["tiny-qwen2-vl_MME-mini-shard0of2", "tiny-qwen2-vl_MME-mini-shard1of2",
                              "tiny-internvl_MME-mini-shard0of2", "tiny-internvl_MME-mini-shard1of2"]):
        assert f"  {k})  # {name}" in script
    assert script.count("docker run --rm") == 4 and "/vlmrun/out/job-shard1of2.json" in script
    assert "trap 'docker kill vlmrun-tiny-internvl-MME-mini-s1-" in script  # scancel stops the container too
    bash = shutil.which("bash")
    assert subprocess.run([bash, "-n"], input=script, text=True).returncode == 0  # valid shell


def test_gpu_tasks_ask_slurm_for_gpus_and_pass_the_given_ones_to_the_container(tmp_path):
    b = get_backend("slurm", {}, context={"work_dir": str(tmp_path)})
    script = b.render(_items(b, tmp_path, shards=1, gpus="2"))
    assert "#SBATCH --gpus-per-task=2" in script
    assert script.count('--gpus="device=${CUDA_VISIBLE_DEVICES}"') == 2 and "--gpus=2" not in script


def test_podman_enroot_and_apptainer_lines(tmp_path):
    (job,) = make_plan(Catalogue(), ["tiny-qwen2-vl"], ["MME-mini"], tmp_path)
    req, _ = docker_job_request(job, "vlmrun/transformers-latest:cpu-abc", tmp_path / "d.tsv", tmp_path / "w")
    podman = runtime_lines(req, "podman", "/shared/images", None, False)
    assert podman[0] == ("podman image exists vlmrun/transformers-latest:cpu-abc >/dev/null 2>&1 || podman load -i "
                         "/shared/images/vlmrun_transformers-latest_cpu-abc.tar")
    assert podman[1].startswith("podman run --ulimit=host --rm --name vlmrun-tiny-qwen2-vl-MME-mini-")
    enroot = runtime_lines(req, "enroot", "/shared/images", None, False)
    assert enroot[0].startswith("[ -f /shared/images/vlmrun_transformers-latest_cpu-abc.sqsh ] || enroot import")
    assert any(l.startswith("enroot start --rw --mount ") and " python -m vlmrun_worker run " in l for l in enroot)
    app = runtime_lines(req, "apptainer", None, "registry.example.org/lab", True)
    assert app[0].endswith("docker://registry.example.org/lab/vlmrun/transformers-latest:cpu-abc")
    assert app[1].startswith("exec apptainer exec --containall --no-home --pwd /tmp --nv --bind ")


def test_render_only_runtimes_and_bad_options_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(VlmrunError, match=r"--runtime rkt: use one of docker, podman, enroot, apptainer"):
        get_backend("slurm", {"runtime": "rkt"})
    with pytest.raises(VlmrunError, match=r"--runtime enroot: vlmrun renders its scripts only"):
        get_backend("slurm", {"runtime": "enroot"}).check(Catalogue(), [], print)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("backends:\n  slurm:\n    partition: gpu\n    account: lab\n")
    monkeypatch.setenv("VLMRUN_CONFIG", str(cfg))
    b = get_backend("slurm", {"account": "other"})
    assert (b.options["partition"], b.options["account"]) == ("gpu", "other")  # the command line wins
    cfg.write_text("backends:\n  slurm:\n    partitoin: gpu\n")
    with pytest.raises(VlmrunError, match=r"config.yaml: backend slurm has no option 'partitoin'"):
        get_backend("slurm")


def test_slurm_options_on_another_backend_are_one_line():
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--partition", "gpu", "--dry-run")
    assert out.returncode != 0 and "--partition: not an option of --backend docker" in out.stdout
    assert "Traceback" not in out.stdout


def test_dry_run_prints_the_sbatch_script(tmp_path):
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--backend", "slurm", "--shards", "2", "--partition", "debug",
                  "--dry-run", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:]
    assert "#SBATCH --array=0-3" in out.stdout and "#SBATCH --partition=debug" in out.stdout


# ---------------------------------------------------------------------------------------------- real Slurm

def _slurm_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return any(s in out.stdout for s in ("idle", "mixed", "allocated"))


slurm = pytest.mark.skipif(not _slurm_up(), reason="no Slurm here: run scripts/slurm-local.sh (as root)")


def _report(work: Path) -> list[list[str]]:
    with open(work / "report.csv", newline="") as f:
        return list(csv.reader(f))


def _records(run_dir: Path) -> list[dict]:
    out = []
    for p in sorted((run_dir / "shards").glob("*.jsonl")):
        out += [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
    return out


@pytest.fixture(scope="module")
def docker_work(tmp_path_factory, docker_client):
    work = tmp_path_factory.mktemp("slurm-docker")
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--work-dir", str(work))
    assert out.returncode == 0, out.stdout[-3000:]
    return work


@slurm
@pytest.mark.docker
def test_slurm_array_with_two_shards_gives_the_docker_report(docker_work, tmp_path):
    work = tmp_path / "slurm"
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--backend", "slurm", "--shards", "2",
                  "--work-dir", str(work))
    assert out.returncode == 0, out.stdout[-3000:]
    assert "submitted Slurm job array" in out.stdout
    assert _report(work) == _report(docker_work)
    for m in MODELS:
        run_dir = work / m / "MME-mini"
        assert sorted(p.name for p in (run_dir / "shards").glob("*.jsonl")) == [
            "shard0of2-rank0.jsonl", "shard1of2-rank0.jsonl"]
        recs = _records(run_dir)
        assert len(recs) == len({r["index"] for r in recs}) == 56  # every row once, split over the two shards
        ours = {r["index"]: r["prediction"] for r in recs}
        theirs = {r["index"]: r["prediction"] for r in _records(docker_work / m / "MME-mini")}
        assert ours == theirs
        prov = json.loads((run_dir / "provenance.json").read_text())
        assert prov["backend"] == "slurm" and prov["run"]["shards"] == 2 and len(prov["run"]["task_logs"]) == 2
    status = run_cli("status", str(work))
    assert status.returncode == 0 and status.stdout.count("finished") == 4, status.stdout


@slurm
@pytest.mark.docker
def test_scancel_mid_run_then_resubmit_recomputes_no_finished_row(docker_work, tmp_path):
    work = tmp_path / "resume"
    args = ["eval", "tiny-internvl", "--bench", "MME-mini", "--backend", "slurm", "--shards", "2",
            "--batch-size", "1", "--work-dir", str(work)]
    out = run_cli(*args, "--no-wait")
    assert out.returncode == 0, out.stdout[-3000:]
    sub = json.loads((work / ".vlmrun" / "submissions.jsonl").read_text().splitlines()[-1])
    run_dir = work / "tiny-internvl" / "MME-mini"
    deadline = time.monotonic() + 300
    while len(_records(run_dir)) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    subprocess.run(["scancel", sub["array_id"]], check=True)
    from vlmrun.backends.slurm import TERMINAL, array_states

    while not all(s in TERMINAL for s, _ in array_states(sub["array_id"]).values()):
        time.sleep(0.5)
    before = {r["index"]: r["prediction"] for r in _records(run_dir)}
    assert 0 < len(before) < 56, f"the cancel came too late to be mid-run ({len(before)} rows done)"
    status = run_cli("status", str(work))
    assert "cancelled" in status.stdout, status.stdout
    out = run_cli(*args)
    assert out.returncode == 0, out.stdout[-3000:]
    recs = _records(run_dir)
    assert len(recs) == len({r["index"] for r in recs}) == 56  # nothing finished was computed again
    assert {i: p for i, p in ((r["index"], r["prediction"]) for r in recs) if i in before} == before
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["run"]["samples_computed"] == 56 - len(before)
    print(f"\nscancel after {len(before)} of 56 rows; the resubmission computed {prov['run']['samples_computed']}, "
          f"0 finished rows again")


@slurm
@pytest.mark.docker
def test_a_failing_task_names_its_log_and_the_other_job_still_reports(docker_work, tmp_path, project_copy):
    import yaml

    p = project_copy / "manifests" / "models" / "tiny-internvl.yaml"
    data = yaml.safe_load(p.read_text())
    data["processor"] = {"max_num": "many"}  # the worker fails inside the container
    p.write_text(yaml.safe_dump(data))
    work = tmp_path / "fail"
    out = run_cli("eval", *MODELS, "--bench", "MME-mini", "--limit", "4", "--backend", "slurm", "--shards", "2",
                  "--work-dir", str(work), env={"VLMRUN_HOME": str(project_copy)})
    assert out.returncode == 1, out.stdout[-3000:]
    log = str(work / ".slurm")
    assert "failed tiny-internvl_MME-mini: worker failed (exit code 1): ValueError" in " ".join(out.stdout.split())
    assert f"log:{log}/" in "".join(out.stdout.split())  # the task's own log file, named in the error
    report = (work / "report.md").read_text()
    assert "tiny-internvl" in report and ".slurm/" in report  # ... and in the report's runs table
    status = run_cli("status", str(work))
    assert status.stdout.count("failed") == 2 and status.stdout.count("finished") == 2, status.stdout
