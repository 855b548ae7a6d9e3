"""The local backend: the same worker and command, without a container (debugging, or a GPU box whose
Python environment already fits the model). The environment is whatever `--python` points at."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import VlmrunError
from .base import Backend, Environment, RunOutcome, Task


@dataclass
class LocalRequest:
    command: list
    env: dict = field(default_factory=dict)
    cwd: str = "."


def local_python() -> str:
    return os.environ.get("VLMRUN_LOCAL_PYTHON") or sys.executable


class LocalBackend(Backend):
    name = "local"

    def environment(self, cat, job, log, build: bool = True) -> Environment:
        return Environment("local", "local")

    def tiny_request(self, recipe: str, env: Environment, out_dir: Path, model: str):
        from ..container import worker_dir

        return LocalRequest([local_python(), "-m", "vlmrun_worker", "make-tiny", recipe, str(out_dir)],
                            env={"PYTHONPATH": str(worker_dir())}, cwd=str(out_dir.parent))

    def job_request(self, task: Task, env: Environment, data_file: Path, model_dir: Path):
        from ..container import local_job_request

        return local_job_request(task.job, data_file, model_dir, task)

    def worker_call(self, task: Task, request: LocalRequest, args: list[str]) -> LocalRequest:
        import dataclasses

        job_file = str(task.job.run_dir / task.job_file)
        return dataclasses.replace(request, command=[local_python(), "-m", "vlmrun_worker",
                                                     *[a.replace("{job_file}", job_file) for a in args]])

    def render(self, items) -> str:
        import shlex

        return "\n".join(f"(cd {shlex.quote(req.cwd)} && " + " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(req.env.items()))
                         + " " + " ".join(shlex.quote(str(c)) for c in req.command) + ")" for _, req in items)

    def run_one(self, req: LocalRequest, on_line: Callable[[str], None], tail_lines: int = 40) -> RunOutcome:
        if not shutil.which(req.command[0]) and not os.path.exists(req.command[0]):
            raise VlmrunError(f"local backend: {req.command[0]} not found; set VLMRUN_LOCAL_PYTHON")
        tail: deque = deque(maxlen=tail_lines)
        t0 = time.monotonic()
        proc = subprocess.Popen(req.command, cwd=req.cwd, env={**os.environ, **req.env}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                on_line(line)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        return RunOutcome(exit_code=code, oom_killed=code == -9, log_tail=list(tail), seconds=time.monotonic() - t0)
