"""The backend of API models: their jobs run on the host, whatever --backend says (the model runs at the
endpoint; there is no image and no weights). The worker's `api` command sends the requests (vlmrun_worker/api_run.py)
with the host's Python, which has everything it needs (no torch)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import VlmrunError
from .base import Environment, Task
from .local import LocalBackend, LocalRequest


class ApiBackend(LocalBackend):
    name = "api"

    def check(self, cat, jobs: list, log) -> None:
        from urllib.parse import urlsplit

        for job in jobs:
            api = job.model.source.api
            host = urlsplit(api.base_url).hostname or ""
            if api.key_env and api.base_url.startswith("http://") and host not in ("127.0.0.1", "localhost"):
                log(f"warning: {job.model.name} sends its key over plain http to {host}")
            if api.key_missing():
                raise VlmrunError(f"model {job.model.name} reads its API key from ${api.key_env}, which is not set: "
                                  f"export {api.key_env}=... and run again")

    def environment(self, cat, job, log, build: bool = True) -> Environment:
        return Environment("host", "api")

    def tiny_request(self, recipe: str, env: Environment, out_dir: Path, model: str):
        raise VlmrunError("API models have no weights to make")

    def job_request(self, task: Task, env: Environment, data_file: Path, model_dir: Path):
        from ..container import job_payload, worker_dir
        from ..paths import cache_dir

        job = task.job
        payload = job_payload(job, str(data_file), "", str(job.run_dir), task.shard, task.shards)
        env_vars = {"PYTHONPATH": os.pathsep.join(p for p in (str(worker_dir()), os.environ.get("PYTHONPATH")) if p),
                    # one request cache for every run on this machine: a request answered once is never sent again
                    "VLMRUN_API_CACHE": str(cache_dir() / "api")}
        return LocalRequest([sys.executable, "-m", "vlmrun_worker", "api", str(job.run_dir / task.job_file)],
                            env=env_vars, cwd=str(job.run_dir)), payload

    def worker_call(self, task: Task, request, args: list[str]):
        raise VlmrunError("inspect shows a local model's inputs; an API model's request is built by "
                          "vlmrun_worker/adapters/openai_api.py")
