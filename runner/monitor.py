"""Following a job: the worker's event lines become its progress bar, its log file and its timings."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.progress import Progress

from vlmrun_worker.events import parse as parse_event


class JobMonitor:
    """Turns the worker's event lines into one progress bar per job (all its shards feed the same one); keeps the
    log and timings."""

    SLOWEST = ("infer_s", "data_wait_s", "prepare_s", "grouped_s", "prefetch_workers", "torch_threads",
               "batch_size")

    def __init__(self, progress: Progress, task, log_path: Path, console: Console, verbose: bool):
        self.progress, self.task, self.console, self.verbose = progress, task, console, verbose
        self.log = open(log_path, "a", encoding="utf-8")
        self.t0 = time.monotonic()
        self._following = False
        self.first_start: Optional[float] = None
        self.load_s = 0.0
        # the slowest rank's figures from its `finished` event: inference, of it the wait for data,
        # preprocessing time (summed over its threads), and its prefetch threads
        self.slowest = dict.fromkeys(self.SLOWEST, 0.0)
        self.samples = 0
        self.video: dict = {}
        self.vision: dict = {}
        self.prefetch = None  # how the rows were prepared: inline, threads or processes
        self.api: dict = {}
        self.env: Optional[dict] = None
        self.errors: list[str] = []

    def __call__(self, line: str) -> None:
        self.log.write(line + "\n")
        ev = parse_event(line)
        if ev is None:
            if self.verbose:
                self.progress.console.print(line, markup=False, highlight=False, style="dim")
            return
        kind = ev.get("event")
        if kind == "start" and self.first_start is None:
            self.first_start = time.monotonic() - self.t0
            self.progress.update(self.task, status="loading model")
        elif kind == "loaded":
            self.load_s = max(self.load_s, float(ev.get("seconds", 0)))
            self.progress.update(self.task, status="inference")
        elif kind == "progress":
            self.progress.advance(self.task, int(ev.get("n", 1)))
        elif kind == "finished":
            for k in self.SLOWEST:
                self.slowest[k] = max(self.slowest[k], float(ev.get(k, 0)))
            for k, v in ev.items():  # API models' request counts, summed over shards (their threads: the most)
                if k.startswith("api_") and isinstance(v, int):
                    self.api[k] = max(self.api.get(k, 0), v) if k == "api_threads" else self.api.get(k, 0) + v
            self.samples += int(ev.get("samples", 0))
            for k, v in (ev.get("video") or {}).items():  # video jobs: frames decoded or from the cache, decode time
                self.video[k] = round(self.video.get(k, 0) + v, 3)
            self.prefetch = ev.get("prefetch") or self.prefetch
            for k, v in (ev.get("vision") or {}).items():  # images given to the vision tower, and encoded
                self.vision[k] = self.vision.get(k, 0) + int(v)
        elif kind == "env":
            self.env = {k: v for k, v in ev.items() if k != "event"}
        elif kind == "error":
            self.errors.append(str(ev.get("message")))

    def following(self) -> "JobMonitor":
        """Called when the backend starts (or submits) the job's first task: its times count from here."""
        if not self._following:
            self._following, self.t0 = True, time.monotonic()
        return self

    def close(self):
        self.log.close()
