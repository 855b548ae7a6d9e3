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
from typing import Callable

from ..errors import VlmrunError
from .docker_backend import RunOutcome


@dataclass
class LocalRequest:
    command: list
    env: dict = field(default_factory=dict)
    cwd: str = "."


def local_python() -> str:
    return os.environ.get("VLMRUN_LOCAL_PYTHON") or sys.executable


class LocalBackend:
    name = "local"

    def run(self, req: LocalRequest, on_line: Callable[[str], None], tail_lines: int = 40) -> RunOutcome:
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
