"""The k8s backend's manifests: rendered offline and validated against the Kubernetes API schema
(kubernetes-validate, strict, 1.33). No cluster runs here: applying and following pods are unverified."""
import json

import kubernetes_validate
import pytest
import yaml

from vlmrun.backends.base import Task, get_backend
from vlmrun.backends.k8s import K8S_VERSION
from vlmrun.gpus import parse_gpus
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan

from .conftest import run_cli


def _docs(tmp_path, shards=4, gpus="1", models=("internvl2-2b",)):
    b = get_backend("k8s", {"pvc": "evals", "registry": "registry.example.org/lab", "namespace": "evals"},
                    context={"work_dir": str(tmp_path)})
    items = []
    for j in make_plan(Catalogue(), list(models), ["MME"], tmp_path, gpus=parse_gpus(gpus)):
        env = b.environment(Catalogue(), j, print, build=False)
        for k in range(shards):
            t = Task(j, k, shards)
            items.append((t, b.job_request(t, env, tmp_path / "MME.tsv", tmp_path / "w")[0]))
    return b, b.manifests(items), b.render(items)


def test_every_manifest_is_valid_against_the_api_schema(tmp_path):
    _, docs, text = _docs(tmp_path)
    rendered = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in rendered] == ["ConfigMap", "ConfigMap", "Job"]
    for d in docs + rendered:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)  # raises on any schema error


def test_indexed_job_per_model_and_benchmark(tmp_path):
    _, docs, _ = _docs(tmp_path)
    job = docs[-1]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 4, 4)
    assert spec["backoffLimitPerIndex"] == 2
    fail_index, ignore = spec["podFailurePolicy"]["rules"]
    assert fail_index == {"action": "FailIndex", "onExitCodes": {"containerName": "worker", "operator": "In", "values": [2]}}
    assert ignore["action"] == "Ignore"  # evictions do not count against the retries
    (c,) = pod["containers"]
    assert c["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert c["image"] == "registry.example.org/lab/vlmrun/transformers-4.37@sha256:<digest once pushed>"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["dshm"]["emptyDir"]["medium"] == "Memory"
    assert vols["pvc"]["persistentVolumeClaim"]["claimName"] == "evals"
    payload = json.loads(docs[1]["data"]["job.json"])
    assert payload["shard"] is None and payload["shard_env"] == "JOB_COMPLETION_INDEX" and payload["shards"] == 4
    assert payload["out_dir"] == "/vlmrun/pvc/outputs/internvl2-2b/MME" and payload["device"] == "cuda"
    worker = {i["path"] for i in vols["worker"]["configMap"]["items"]}
    assert {"vlmrun_worker/run.py", "vlmrun_worker/adapters/qwen2_vl.py", "vlmrun_worker/job.py"} <= worker


def test_k8s_needs_a_registry_and_says_so():
    b = get_backend("k8s", {})
    with pytest.raises(VlmrunError, match=r"--backend k8s: give --registry"):
        b.check(Catalogue(), [], print)


def test_dry_run_prints_yaml_that_parses(tmp_path):
    out = run_cli("eval", "internvl2-2b", "--bench", "MME", "--backend", "k8s", "--shards", "4", "--gpus", "1",
                  "--pvc", "evals", "--registry", "registry.example.org/lab", "--dry-run", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:]
    docs = list(yaml.safe_load_all(out.stdout[out.stdout.index("# vlmrun:"):]))
    assert [d["kind"] for d in docs] == ["ConfigMap", "ConfigMap", "Job"]


def test_a_video_job_reads_videos_and_shares_frames_on_the_volume(tmp_path):
    from vlmrun.plan import VideoSetting

    b = get_backend("k8s", {"pvc": "evals", "registry": "registry.example.org/lab"}, context={"work_dir": str(tmp_path)})
    (j,) = make_plan(Catalogue(), ["internvl2-2b"], ["Video-MME"], tmp_path, gpus=parse_gpus("1"),
                     video=VideoSetting.of(16, None, subtitles=True))
    env = b.environment(Catalogue(), j, print, build=False)
    t = Task(j)
    _, payload = b.job_request(t, env, tmp_path / "Video-MME.tsv", tmp_path / "w")
    assert payload["out_dir"] == "/vlmrun/pvc/outputs/internvl2-2b/Video-MME_16frame_subs"
    assert payload["video"] == {"layout": "videomme", "root": "/vlmrun/pvc/data/Video-MME",
                                "frames": "/vlmrun/pvc/data/images/Video-MME", "nframe": 16, "fps": -1.0,
                                "pack": False, "subtitles": True, "input": "frames"}
    for d in b.manifests([(t, b.job_request(t, env, tmp_path / "Video-MME.tsv", tmp_path / "w")[0])]):
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
