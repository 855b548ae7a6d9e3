"""The k8s backend: one Indexed Job per (model, benchmark) with `completions = shards`; each pod's
JOB_COMPLETION_INDEX picks its shard (the job file's shard_env). Per index: backoffLimitPerIndex retries, and a
podFailurePolicy that fails the index at once on bad input (the worker's exit code 2) and does not count
evictions. GPUs as nvidia.com/gpu limits, /dev/shm as a memory emptyDir, data, weights and results on a PVC the
user names (--pvc: data/ holds the benchmark TSVs (and a video benchmark's videos and frames, as in $LMUData), models/<model> the weights, outputs/ the results), a
non-root securityContext, the image by digest from --registry, the worker code and the job file as ConfigMaps.

`--dry-run` prints the YAML (tests validate it offline against the Kubernetes API schema). Without it the
official `kubernetes` client applies it and follows the pods (their logs feed the same progress display).
No cluster runs in CI: applying and following are unverified there.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from ..errors import VlmrunError
from .base import Backend, Environment, RunOutcome, Task

PVC_MOUNT = "/vlmrun/pvc"
WORKER_MOUNT = "/opt/vlmrun/worker"
JOB_MOUNT = "/vlmrun/job"
BAD_INPUT_EXIT = 2  # the worker's exit code for a job it can never run (bad job file or data)
K8S_VERSION = "1.33.0"  # backoffLimitPerIndex is GA from 1.33


def dns_name(*parts: str, limit: int = 63) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    if len(s) > limit:
        s = s[: limit - 9].rstrip("-") + "-" + hashlib.sha256(s.encode()).hexdigest()[:8]
    return s


@dataclass
class K8sTaskRequest:
    task: Task
    image: str
    command: list
    env: dict
    payload: dict
    job_name: str


def worker_config_map(name: str, worker_dir: Path) -> dict:
    """The worker package as one ConfigMap (keys are flat; `items` put each file back at its path)."""
    data, items = {}, []
    for p in sorted(worker_dir.rglob("*.py")):
        rel = p.relative_to(worker_dir).as_posix()
        key = rel.replace("/", "__")
        data[key] = p.read_text(encoding="utf-8")
        items.append({"key": key, "path": rel})
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "vlmrun"}},
            "data": data}, items


class K8sBackend(Backend):
    name = "k8s"
    streams = False
    OPTIONS = {
        "namespace": (str, "default", "namespace"),
        "pvc": (str, "vlmrun", "PersistentVolumeClaim with data/, models/ and outputs/"),
        "registry": (str, None, "registry the image is pushed to and pulled from, by digest"),
        "backoff_limit_per_index": (int, 2, "retries per index"),
        "shm_size": (str, "8Gi", "size of the /dev/shm memory volume"),
        "wait": (bool, True, "follow the pods to the end"),
        "poll_seconds": (int, 5, "seconds between looks at the pods"),
    }

    def __init__(self, options=None, console=None, context=None):
        super().__init__(options, console, context)
        from .docker_backend import DockerBackend

        self.docker = DockerBackend(console=console)  # builds and pushes the image on this host
        self.stamp = datetime.now().strftime("%Y%m%d%H%M%S")

    def check(self, cat, jobs, log) -> None:
        if not self.options["registry"]:
            raise VlmrunError("--backend k8s: give --registry (the cluster pulls the image from it, by digest)")
        try:
            import kubernetes  # noqa: F401
        except ImportError:
            raise VlmrunError("--backend k8s needs the kubernetes client: pip install kubernetes") from None
        self.docker.check(cat, jobs, log)

    def environment(self, cat, job, log, build: bool = True) -> Environment:
        env = self.docker.environment(cat, job, log, build)
        if not build and self.options["registry"]:  # dry run: the digest is known once pushed
            return Environment(f"{self.options['registry'].rstrip('/')}/vlmrun/{job.family}@sha256:<digest once pushed>",
                               env.content_hash)
        if not build or env.image is None:
            return env
        # the pods get the image by digest
        return Environment(self.docker.push(env.tag, self.options["registry"], log), env.content_hash, env.image)

    def tiny_request(self, recipe, env, out_dir, model):
        return self.docker.tiny_request(recipe, env, out_dir, model)

    def run_one(self, request, on_line) -> RunOutcome:
        return self.docker.run_one(request, on_line)

    def job_request(self, task: Task, env: Environment, data_file: Path, model_dir: Path):
        from ..container import base_env, job_payload, video_block, worker_command

        job = task.job
        out_dir = f"{PVC_MOUNT}/outputs/{job.model.name}/{job.run_dir.name}"
        # a video benchmark's videos and frame cache lie on the volume as in $LMUData: data/<root>, data/images/<name>
        video = video_block(job, f"{PVC_MOUNT}/data/{job.bench.videos.root}",
                            f"{PVC_MOUNT}/data/images/{job.bench.name}") if job.video else None
        payload = job_payload(job, f"{PVC_MOUNT}/data/{data_file.name}", f"{PVC_MOUNT}/models/{job.model.name}",
                              out_dir, shard=None, shards=task.shards, shard_env="JOB_COMPLETION_INDEX", video=video)
        env_vars = {**base_env(job.gpus), "HOME": "/tmp"}
        return K8sTaskRequest(task, env.tag, worker_command(job, f"{JOB_MOUNT}/job.json"), env_vars, payload,
                              dns_name("vlmrun", job.model.name, job.bench.name, self.stamp)), payload

    # -- the manifests --------------------------------------------------------------------------------
    def manifests(self, items) -> list[dict]:
        from ..container import worker_dir, worker_hash

        o = self.options
        cm_name = dns_name("vlmrun-worker", worker_hash()[:12])
        worker_cm, worker_items = worker_config_map(cm_name, worker_dir() / "vlmrun_worker")
        for it in worker_items:
            it["path"] = "vlmrun_worker/" + it["path"]
        docs = [worker_cm]
        by_job: dict[str, list] = {}
        for task, req in items:
            by_job.setdefault(req.job_name, []).append((task, req))
        for job_name, tasks in by_job.items():
            task, req = tasks[0]
            job = task.job
            labels = {"app.kubernetes.io/name": "vlmrun", "vlmrun.io/eval": self.stamp,
                      "vlmrun.io/model": dns_name(job.model.name), "vlmrun.io/bench": dns_name(job.bench.name)}
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{job_name}-job"[:63], "labels": labels},
                         "data": {"job.json": json.dumps(req.payload, indent=1)}})
            resources = {"limits": {"nvidia.com/gpu": job.gpus.n or 1}} if job.gpus else {}
            container = {
                "name": "worker", "image": req.image, "command": req.command, "workingDir": "/tmp",
                "env": [{"name": k, "value": str(v)} for k, v in sorted(req.env.items())],
                "resources": resources,
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
                "volumeMounts": [{"name": "worker", "mountPath": WORKER_MOUNT, "readOnly": True},
                                 {"name": "job", "mountPath": JOB_MOUNT, "readOnly": True},
                                 {"name": "pvc", "mountPath": PVC_MOUNT},
                                 {"name": "dshm", "mountPath": "/dev/shm"},
                                 {"name": "tmp", "mountPath": "/tmp"}],
            }
            docs.append({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": job_name, "namespace": o["namespace"], "labels": labels},
                "spec": {
                    "completionMode": "Indexed", "completions": task.shards, "parallelism": task.shards,
                    "backoffLimitPerIndex": o["backoff_limit_per_index"],
                    "podFailurePolicy": {"rules": [
                        {"action": "FailIndex",
                         "onExitCodes": {"containerName": "worker", "operator": "In", "values": [BAD_INPUT_EXIT]}},
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "restartPolicy": "Never",
                            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                                "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                            "containers": [container],
                            "volumes": [
                                {"name": "worker", "configMap": {"name": cm_name, "items": worker_items}},
                                {"name": "job", "configMap": {"name": f"{job_name}-job"[:63]}},
                                {"name": "pvc", "persistentVolumeClaim": {"claimName": o["pvc"]}},
                                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": o["shm_size"]}},
                                {"name": "tmp", "emptyDir": {}}],
                        }},
                }})
        return docs

    def render(self, items) -> str:
        import yaml

        docs = self.manifests(items)
        # the worker's source files are applied as they are; printed here by name and size only
        docs[0] = {**docs[0], "data": {k: f"<{len(v.encode())} bytes of the worker's source>" for k, v in docs[0]["data"].items()}}
        head = ("# vlmrun: one Indexed Job per (model, benchmark); JOB_COMPLETION_INDEX picks the shard.\n"
                f"# The PVC '{self.options['pvc']}' holds data/ (benchmark TSVs), models/<model> (weights) and "
                "outputs/ (results).\n")
        if not self.options["registry"]:
            head += "# No --registry: the image is named by its local tag; pods need it by digest from a registry.\n"
        class NoAliases(yaml.SafeDumper):
            def ignore_aliases(self, data):
                return True

        def text_block(dumper, s):  # a multi-line value (the job file) as a readable literal block
            return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)

        NoAliases.add_representer(str, text_block)

        return head + yaml.dump_all(docs, Dumper=NoAliases, sort_keys=False, width=120)

    # -- applying and following (needs a cluster; unverified in CI) -----------------------------------
    def execute(self, items, follow) -> dict[str, RunOutcome]:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        core, batch, ns = client.CoreV1Api(), client.BatchV1Api(), self.options["namespace"]
        docs = self.manifests(items)
        for doc in docs:
            if doc["kind"] == "ConfigMap":
                try:
                    core.create_namespaced_config_map(ns, doc)
                except client.ApiException as e:
                    if e.status != 409:  # the worker ConfigMap is named by the worker's hash: one that exists is it
                        raise VlmrunError(f"k8s: creating ConfigMap {doc['metadata']['name']}: {e.reason}") from None
            else:
                batch.create_namespaced_job(ns, doc)
        from ..status import record_submission

        record_submission(Path(self.context.get("work_dir") or "."), {
            "backend": "k8s", "namespace": ns, "eval": self.stamp,
            "tasks": [{"index": t.shard, "task": t.name, "job": t.job.name, "k8s_job": r.job_name,
                       "run_dir": str(t.job.run_dir), "shard": t.shard, "shards": t.shards, "log": ""}
                      for t, r in items]})
        if not self.options["wait"]:
            return {t.name: RunOutcome(exit_code=0, submitted=True) for t, _ in items}
        return self._follow(core, batch, ns, items, follow)

    def _follow(self, core, batch, ns, items, follow) -> dict[str, RunOutcome]:
        seen_lines: dict[str, int] = {}
        monitors = {t.name: follow(t) for t, _ in items}
        t0 = time.monotonic()
        jobs = sorted({r.job_name for _, r in items})
        while True:
            pods = core.list_namespaced_pod(ns, label_selector=f"vlmrun.io/eval={self.stamp}").items
            for pod in pods:
                idx = int(pod.metadata.annotations.get("batch.kubernetes.io/job-completion-index", "0"))
                job_name = pod.metadata.labels.get("job-name") or pod.metadata.labels.get("batch.kubernetes.io/job-name")
                task = next((t for t, r in items if r.job_name == job_name and t.shard == idx), None)
                if task is None or pod.status.phase == "Pending":
                    continue
                text = core.read_namespaced_pod_log(pod.metadata.name, ns, container="worker")
                lines = text.splitlines()
                for line in lines[seen_lines.get(pod.metadata.name, 0):]:
                    monitors[task.name](line)
                seen_lines[pod.metadata.name] = len(lines)
            status = {j: batch.read_namespaced_job_status(j, ns).status for j in jobs}
            if all(any(c.type in ("Complete", "Failed") and c.status == "True" for c in (s.conditions or []))
                   for s in status.values()):
                break
            time.sleep(self.options["poll_seconds"])
        out = {}
        for t, r in items:
            done = _indexes(status[r.job_name].completed_indexes)
            out[t.name] = RunOutcome(exit_code=0 if t.shard in done else 1, seconds=time.monotonic() - t0,
                                     error=None if t.shard in done else f"k8s: index {t.shard} of Job {r.job_name} failed")
        return out


def _indexes(text: Optional[str]) -> set[int]:
    """'0-2,5' -> {0, 1, 2, 5} (a Job's completedIndexes)."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part.strip():
            out.add(int(part))
    return out
