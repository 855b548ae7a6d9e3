"""One container for several benchmarks of one model (docker backend, option `one_container`): the jobs that would
start the same image with the same weights, GPUs and worker command are run by one worker process, one after
another, the weights loaded once (vlmrun_worker/reuse.py). Each job keeps its own run folder (mounted at
/vlmrun/runs/K), job file, shards, log and outcome; the worker's `job` event says which job the lines that follow
belong to. A job with shards, on videos or on vLLM keeps a container of its own."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

from vlmrun_worker.events import parse as parse_event

from .base import RunOutcome, Task
from .request import DATA_MOUNT, OUT_MOUNT, Mount

RUNS_MOUNT = "/vlmrun/runs"


def _key(task: Task, req) -> tuple | None:
    job = task.job
    if task.shards != 1 or job.video or job.engine == "vllm":
        return None
    mounts = tuple(sorted((m.source, m.target, m.read_only) for m in req.mounts if m.target != OUT_MOUNT
                          and not m.target.startswith(DATA_MOUNT + "/")))
    return (req.image, tuple(req.command[:-1]), mounts, repr(req.gpus), req.mem_limit, tuple(sorted(req.env.items())),
            job.model.name)


def groups(items: list) -> list[list]:
    """The (task, request) items in groups that can share a container, in the order they came."""
    out, by_key = [], {}
    for task, req in items:
        key = _key(task, req)
        if key is None or key not in by_key:
            out.append([(task, req)])
            if key is not None:
                by_key[key] = out[-1]
        else:
            by_key[key].append((task, req))
    return out


def job_target(k: int, task: Task) -> str:
    return f"{RUNS_MOUNT}/{k}/{task.job_file}"


def merged(group: list, write: bool = True):
    """One request for the group: every job's run folder at /vlmrun/runs/K and its data file at
    /vlmrun/data/K/NAME (its job file rewritten to read and write there; `write=False`: the request only, for a dry
    run), the worker given every job file in order."""
    first_task, first = group[0]
    mounts = {m.target: m for _, req in group for m in req.mounts
              if m.target != OUT_MOUNT and not m.target.startswith(DATA_MOUNT + "/")}
    for k, (task, req) in enumerate(group):
        run_dir = Path(task.job.run_dir)
        mounts[f"{RUNS_MOUNT}/{k}"] = Mount(str(run_dir), f"{RUNS_MOUNT}/{k}", read_only=False)
        (data,) = [m for m in req.mounts if m.target.startswith(DATA_MOUNT + "/")]
        target = f"{DATA_MOUNT}/{k}/{Path(data.target).name}"  # two benchmarks' files may share a name
        mounts[target] = Mount(data.source, target, read_only=True)
        if write:
            path = run_dir / task.job_file
            payload = json.loads(path.read_text())
            payload["out_dir"], payload["data"] = f"{RUNS_MOUNT}/{k}", target
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(payload, indent=1))
            os.replace(tmp, path)
    names = [task.job.name for task, _ in group]
    return dataclasses.replace(
        first, command=[*first.command[:-1], *(job_target(k, t) for k, (t, _) in enumerate(group))],
        mounts=list(mounts.values()), labels={**first.labels, "io.vlmrun.jobs": ",".join(names)})


APART = "-o one_container=false runs each benchmark in a container of its own"


class Router:
    """Sends each line of the shared container to the job it belongs to (the last `job` event's), and keeps each
    job's exit code from its `done` event."""

    def __init__(self, group: list, follow):
        self.targets = {job_target(k, t): k for k, (t, _) in enumerate(group)}
        self.tasks, self.follow = [t for t, _ in group], follow
        self.current, self.codes = 0, {}
        self.follows = {0: follow(self.tasks[0])}  # a job's times count from when its turn comes
        self.began, self.seconds = {0: time.monotonic()}, {}  # each job's own time in the container

    def __call__(self, line: str) -> None:
        ev = parse_event(line)
        kind = ev.get("event") if ev else None
        if kind == "job" and ev.get("file") in self.targets:
            self.current = self.targets[ev["file"]]
            if self.current not in self.follows:
                self.follows[self.current] = self.follow(self.tasks[self.current])
            self.began.setdefault(self.current, time.monotonic())
            return
        if kind == "done" and ev.get("file") in self.targets:
            k = self.targets[ev["file"]]
            self.codes[k] = self.codes.get(k) or int(ev.get("code") or 0)  # any rank's failure
            self.seconds[k] = time.monotonic() - self.began.get(k, time.monotonic())
        self.follows[self.current](line)

    def outcomes(self, group: list, outcome: RunOutcome) -> dict[str, RunOutcome]:
        """A job that finished: its own exit code (`done`). The job running when the container ended without
        finishing it: the container's outcome (killed, out of memory, ...). The jobs after it did not run."""
        out = {}
        for k, (task, _) in enumerate(group):
            if k in self.codes:
                code = self.codes[k]
                out[task.name] = dataclasses.replace(outcome, exit_code=code, oom_killed=False, error=None,
                                                     log_tail=outcome.log_tail if code else [],
                                                     seconds=self.seconds.get(k, outcome.seconds))
            elif k <= self.current or outcome.ok:
                out[task.name] = outcome
            else:
                failed = group[self.current][0].job.bench.name
                out[task.name] = RunOutcome(exit_code=1, seconds=0.0, error=(
                    f"not run: the container stopped during the benchmark before it ({failed}); the same command "
                    f"runs it ({APART})"))
        return out
