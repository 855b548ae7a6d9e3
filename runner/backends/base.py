"""The backend interface: where a job's worker runs.

A backend first turns each task (a job, or one shard of it) into a plain request object: data only, printed by
`--dry-run` and asserted on in tests. It then executes the requests and reports one outcome per task:
- run-and-stream backends (docker, local) run the tasks one after another, streaming each one's log lines;
- submit-then-watch backends (slurm, k8s) submit every task at once, then follow them to the end.
Either way each log line reaches the task's `follow` callback, so progress looks the same everywhere.

Backends are found by name in REGISTRY and imported only when used. Adding a backend is writing its module
and one line here.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import VlmrunError

REGISTRY = {
    "docker": "vlmrun.backends.docker_backend:DockerBackend",
    "local": "vlmrun.backends.local:LocalBackend",
    "slurm": "vlmrun.backends.slurm:SlurmBackend",
    "k8s": "vlmrun.backends.k8s:K8sBackend",
}

Log = Callable[[str], None]


@dataclass
class RunOutcome:
    exit_code: int
    oom_killed: bool = False
    log_tail: list = field(default_factory=list)
    seconds: float = 0.0
    log_file: Optional[str] = None  # where a cluster task's own log is (named in errors and in the report)
    error: Optional[str] = None  # the backend's own word on why the task did not run (e.g. cancelled)
    submitted: bool = False  # submitted to a cluster and not followed to its end (--no-wait)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.oom_killed and self.error is None


@dataclass
class Environment:
    """What a job runs in: an image (tag and content hash), or the host's Python for the local backend."""
    tag: str
    content_hash: str
    image: Any = None  # images.ImageResult where an image was found or built


@dataclass
class Task:
    """One unit of work a backend runs: the shard `shard` of `shards` of a job."""
    job: Any  # plan.Job
    shard: int = 0
    shards: int = 1

    @property
    def name(self) -> str:
        return self.job.name if self.shards == 1 else f"{self.job.name}-shard{self.shard}of{self.shards}"

    @property
    def job_file(self) -> str:
        return "job.json" if self.shards == 1 else f"job-shard{self.shard}of{self.shards}.json"


class Backend(ABC):
    name: str = ""
    streams = True  # run-and-stream (docker, local); False: submit every task, then follow them
    OPTIONS: dict = {}  # option -> (type, default, help); settable in the config file and on the command line

    def __init__(self, options: Optional[dict] = None, console=None, context: Optional[dict] = None):
        self.options = dict(options or {})
        self.console = console
        # what the run is: work_dir, and command (the eval command line, for a cluster's dependent scoring job)
        self.context = dict(context or {})

    def check(self, cat, jobs: list, log: Log) -> None:
        """Prerequisites, before anything runs: fail at once with a one-line fix."""

    @abstractmethod
    def environment(self, cat, job, log: Log, build: bool = True) -> Environment:
        """The job's environment; build=False (dry run) names it without building anything."""

    @abstractmethod
    def tiny_request(self, recipe: str, env: Environment, out_dir: Path, model: str):
        """The request that makes a tiny test model into out_dir."""

    @abstractmethod
    def job_request(self, task: Task, env: Environment, data_file: Path, model_dir: Path) -> tuple[Any, dict]:
        """The request for one task, and the job file (a JobFile dict) it reads."""

    def stage(self, run_dir: Path) -> None:
        """Make a run dir ready for the task's process (e.g. writable by the container's user)."""

    def worker_call(self, task: Task, request, args: list[str]):
        """The task's request with its command replaced by `python -m vlmrun_worker ARGS` ('{job_file}' in ARGS
        is the task's job file as the worker sees it): `vlmrun inspect`."""
        raise VlmrunError(f"this runs with --backend docker or local, not {self.name}")

    @abstractmethod
    def run_one(self, request, on_line: Log) -> RunOutcome:
        """Run one request to its end, streaming its lines (tiny models, inspect, run-and-stream tasks)."""

    def execute(self, items: list[tuple[Task, Any]], follow: Callable[[Task], Log]) -> dict[str, RunOutcome]:
        """Run every task; one outcome per task name. The default runs them one after another."""
        out = {}
        for task, req in items:
            try:
                out[task.name] = self.run_one(req, follow(task))
            except VlmrunError as e:
                out[task.name] = RunOutcome(exit_code=1, error=str(e))
        return out

    @abstractmethod
    def render(self, items: list[tuple[Task, Any]]) -> str:
        """The whole submission as text, for --dry-run (command lines, an sbatch script, YAML)."""


def backend_names() -> list[str]:
    return sorted(REGISTRY)


def backend_class(name: str) -> type:
    target = REGISTRY.get(name)
    if target is None:
        raise VlmrunError(f"--backend {name!r}: use one of {', '.join(backend_names())}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str, options: Optional[dict] = None, console=None, context: Optional[dict] = None) -> Backend:
    """The backend `name`, with its options (defaults, config file, then `options`, see config.py)."""
    from ..config import options_for

    return backend_class(name)(options_for(name, options), console, context)
