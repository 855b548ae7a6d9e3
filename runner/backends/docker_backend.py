"""The docker backend: prerequisite checks with clear messages, one detached container per task,
logs streamed line by line, and the container removed in `finally` (Ctrl-C included)."""
from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Callable

from ..errors import VlmrunError
from .base import Backend, Environment, RunOutcome, Task
from .request import ContainerRequest

GPU_DRIVER_ERROR = 'could not select device driver "" with capabilities: [[gpu]]'
GPU_FIX = ("--gpus needs the NVIDIA Container Toolkit on this Docker engine: install nvidia-container-toolkit, "
           "run `sudo nvidia-ctk runtime configure --runtime=docker` and restart dockerd; or leave --gpus out to run on CPU")


def connect():
    """A docker-py client for a reachable engine, or a one-line error that says how to start one."""
    try:
        import docker
    except ImportError:
        raise VlmrunError("the docker Python package is missing: pip install docker") from None
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=3600)
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure here means the engine is not usable
        reason = str(e).split("\n")[0][:160]
        raise VlmrunError(
            f"Docker engine not reachable at {where} ({reason}): start it (`sudo systemctl start docker`, or "
            "`sudo dockerd &` where there is no systemd), check that you may use it (the docker group), "
            "or set DOCKER_HOST") from None
    return client


def translate_api_error(e) -> VlmrunError:
    text = str(getattr(e, "explanation", None) or e)
    if GPU_DRIVER_ERROR in text or "could not select device driver" in text:
        return VlmrunError(GPU_FIX)
    if "No such image" in text:
        return VlmrunError(f"image missing: {text}; run `vlmrun images build`")
    return VlmrunError(f"docker: {text.splitlines()[0][:300]}")


def _remove(container) -> None:
    """Remove a container whatever its state; one that is already gone (or an engine that is) is no error."""
    if container is None:
        return
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - already gone
        pass


def _engine_lost(e: Exception) -> bool:
    import requests

    return isinstance(e, (requests.exceptions.ConnectionError, ConnectionError)) or (
        "Connection aborted" in str(e) or "connection refused" in str(e).lower())


class DockerBackend(Backend):
    name = "docker"
    OPTIONS = {"memory": (str, None, "memory limit per job container (docker --memory), e.g. 32g"),
               "one_container": (bool, True, "run one model's benchmarks in one container, its weights loaded once "
                                             "(false: a container per benchmark)")}

    def __init__(self, options=None, console=None, context=None, client=None):
        super().__init__(options, console, context)
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = connect()
        return self._client

    def check(self, cat, jobs, log) -> None:
        _ = self.client  # the engine must answer before anything is built
        self.reap([j.name for j in jobs], log)
        gpu_jobs = [j for j in jobs if j.gpus]
        if gpu_jobs:
            from ..images import base_image_id

            j = gpu_jobs[0]
            fam = cat.family(j.family)
            base_image_id(self.client, fam, j.flavour, make_missing=True, log=log)
            self.check_gpus(j.gpus, fam.flavours[j.flavour].base)

    def environment(self, cat, job, log, build: bool = True) -> Environment:
        if not build:
            return Environment(f"vlmrun/{job.family}:{job.flavour}-<hash>", "<hash>")
        from ..images import ensure_image

        img = ensure_image(self.client, cat, job.family, job.flavour, log=log)
        return Environment(img.tag, img.spec.content_hash, img)

    def tiny_request(self, recipe: str, env: Environment, out_dir: Path, model: str):
        from ..container import docker_tiny_request, hand_over

        out_dir.mkdir(parents=True, exist_ok=True)
        hand_over(out_dir)
        return docker_tiny_request(recipe, env.tag, out_dir, model)

    def job_request(self, task: Task, env: Environment, data_file: Path, model_dir: Path):
        from ..container import docker_job_request

        req, payload = docker_job_request(task.job, env.tag, data_file, model_dir, task)
        req.mem_limit = self.options.get("memory")
        return req, payload

    def stage(self, run_dir: Path) -> None:
        from ..container import hand_over

        hand_over(run_dir)

    def worker_call(self, task: Task, request: ContainerRequest, args: list[str]) -> ContainerRequest:
        import dataclasses

        from .request import OUT_MOUNT

        job_file = f"{OUT_MOUNT}/{task.job_file}"
        return dataclasses.replace(request, command=["python", "-m", "vlmrun_worker",
                                                     *[a.replace("{job_file}", job_file) for a in args]])

    def _containers(self, items, write: bool = True) -> list:
        """(the (task, request) items a container runs, its request): one per task, except that one model's
        benchmarks share one (grouped.py; write=False: no job file rewritten, for a dry run)."""
        from .grouped import groups, merged

        if not self.options.get("one_container", True):
            return [([item], item[1]) for item in items]
        return [(g, g[0][1] if len(g) == 1 else merged(g, write)) for g in groups(items)]

    def execute(self, items, follow) -> dict:
        """Every container to its end, one after another; one outcome per task."""
        from .grouped import Router

        out = {}
        for members, req in self._containers(items):
            try:
                if len(members) == 1:
                    out[members[0][0].name] = self.run_one(req, follow(members[0][0]))
                else:
                    router = Router(members, follow)
                    out.update(router.outcomes(members, self.run_one(req, router)))
            except VlmrunError as e:
                for task, _ in members:
                    out[task.name] = RunOutcome(exit_code=1, error=str(e))
        return out

    def render(self, items) -> str:
        return "\n".join(req.docker_cli() for _, req in self._containers(items, write=False))

    def push(self, tag: str, registry: str, log) -> str:
        """Push `tag` to `registry`; returns the pushed image by digest (registry/repo@sha256:...)."""
        repo, _, t = f"{registry.rstrip('/')}/{tag}".rpartition(":")
        img = self.client.images.get(tag)
        img.tag(repo, t)
        log(f"pushing {repo}:{t}")
        for line in self.client.images.push(repo, tag=t, stream=True, decode=True):
            if "error" in line:
                raise VlmrunError(f"pushing {repo}:{t} failed: {line['error']}")
        img.reload()
        digests = [d for d in img.attrs.get("RepoDigests", []) if d.startswith(repo + "@")]
        if not digests:
            raise VlmrunError(f"{repo}:{t} was pushed but the registry reported no digest")
        return digests[0]

    def reap(self, job_names, log) -> None:
        """Remove stopped containers left by earlier runs of these jobs (an engine restart mid-run leaves them:
        the run that made them could not remove them). This process holds the jobs' locks, so none is in use."""
        for name in job_names:
            for c in self.client.containers.list(all=True, filters={"label": f"io.vlmrun.job={name}"}):
                if c.status in ("exited", "created", "dead"):
                    _remove(c)
                    log(f"removed {c.name}, left {c.status} by an earlier run of {name}")

    def check_gpus(self, gpus, image: str) -> None:
        """Fail fast, before any CUDA image is built, where the engine cannot hand GPUs to containers."""
        import docker.errors

        probe = ContainerRequest(image=image, command=["true"], name=f"vlmrun-gpu-check-{os.getpid()}",
                                 user="0:0", gpus=gpus)
        container = None
        try:  # create, then start: a start that fails (no GPU runtime) must not leave the probe behind
            container = self.client.containers.create(**probe.docker_kwargs())
            container.start()
            code = int(container.wait().get("StatusCode", 1))
            if code:
                raise VlmrunError(f"GPU check container exited with code {code}: {GPU_FIX}")
        except docker.errors.APIError as e:
            raise translate_api_error(e) from None
        finally:
            _remove(container)

    def run_one(self, req: ContainerRequest, on_line: Callable[[str], None], tail_lines: int = 40) -> RunOutcome:
        import docker.errors

        tail: deque = deque(maxlen=tail_lines)
        container = None
        t0 = time.monotonic()
        try:
            try:
                container = self.client.containers.create(**req.docker_kwargs())
                container.start()
            except docker.errors.APIError as e:
                raise translate_api_error(e) from None
            buf = b""
            for chunk in container.logs(stream=True, follow=True):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    tail.append(line)
                    on_line(line)
            if buf:
                line = buf.decode("utf-8", "replace")
                tail.append(line)
                on_line(line)
            status = container.wait()
            container.reload()
            state = container.attrs.get("State", {})
            return RunOutcome(exit_code=int(status.get("StatusCode", state.get("ExitCode", 1))),
                              oom_killed=bool(state.get("OOMKilled")), log_tail=list(tail),
                              seconds=time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - the engine itself went away (restarted, crashed)
            if container is None or not _engine_lost(e):
                raise
            return RunOutcome(exit_code=-1, log_tail=list(tail), seconds=time.monotonic() - t0,
                              error=f"the Docker engine went away during the run ({type(e).__name__}); start it again "
                                    "(scripts/setup.sh, or systemctl start docker) and run the same command: "
                                    "finished rows are kept")
        finally:
            _remove(container)
