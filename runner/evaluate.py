"""One evaluation: every planned job goes image -> worker -> predictions -> score, then one report.

Three phases, the same on every backend:
1. stage: for each job with rows still to predict, its environment (the image), its model, one request per
   shard and the job files they read;
2. execute: the backend runs every request (docker, local: one after another, streaming; slurm, k8s: all
   submitted, then followed), each log line feeding its job's progress bar;
3. finish: each job's predictions are merged, its provenance written and it is scored.
A failing job is marked failed with its last log lines (or its task's log file); the other jobs still run.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import pandas as pd
from rich.console import Console
from rich.progress import Progress

from vlmrun_worker.inspect_row import MARK as INSPECT_MARK

from .backends.base import Backend, Environment, RunOutcome, Task, get_backend
from .container import write_job_file
from .datasets import bench_file, bench_rows
from .errors import VlmrunError
from .images import ImageResult
from .judge import EXACT, Judge, applies, score_with
from .lock import JobLocks
from .manifest import Catalogue
from .monitor import JobMonitor
from .plan import Job
from .progress import make_progress
from .predictions import atomic_write, merge, missing, read_predictions, read_records, write_json, write_xlsx
from .provenance import provenance_file, write_provenance
from .weights import ensure_tiny, ensure_weights, hub_snapshot

DAMAGED_WEIGHTS = ("SafetensorError", "Error while deserializing", "invalid load key", "PytorchStreamReader failed",
                   "unexpected EOF", "incomplete metadata")
OOM = "killed by the memory limit (OOMKilled): lower --batch-size or --prefetch, or raise --memory"

MODES = ("all", "infer", "eval")


def predictions_file(job: Job) -> Path:
    return job.run_dir / f"{job.model.name}_{job.bench.name}.xlsx"


def score_file(job: Job) -> Path:
    return job.run_dir / f"{job.model.name}_{job.bench.name}_score.csv"


@dataclass
class JobResult:
    job: Job
    status: str = "pending"  # ok | failed | submitted (a cluster run that was not followed to its end)
    error: Optional[str] = None
    scores: Optional[dict] = None
    times: dict = field(default_factory=dict)
    computed: int = 0  # samples inferred in this run
    image: Optional[ImageResult] = None
    shards: int = 1
    task_logs: list = field(default_factory=list)  # cluster tasks' own log files
    started: Optional[datetime] = None
    monitor: Optional[JobMonitor] = None
    model_dir: Optional[Path] = None


class Evaluator:
    def __init__(self, cat: Catalogue, backend: str = "docker", mode: str = "all", scoring_name: str = "vlmevalkit",
                 console: Optional[Console] = None, verbose: bool = False, shards: int = 1,
                 backend_options: Optional[dict] = None, context: Optional[dict] = None, judge: str = "exact_matching"):
        if mode not in MODES:
            raise VlmrunError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
        if shards < 1:
            raise VlmrunError("--shards must be at least 1")
        self.cat, self.mode, self.scoring, self.shards = cat, mode, scoring_name, shards
        self.console = console or Console()
        self.verbose = verbose
        self.backend: Backend = get_backend(backend, backend_options, self.console, context)
        self._api: Optional[Backend] = None
        # the judge (None: exact matching), made in run(); it connects, or is served, at its first question
        self.judge_name, self._judge = judge, None

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def backend_for(self, job: Job) -> Backend:
        """API models run on the host (backends/api.py) whatever the backend; every other job on the chosen one."""
        if not job.model.is_api:
            return self.backend
        if self._api is None:
            from .backends.api import ApiBackend

            self._api = ApiBackend({}, self.console)
        return self._api

    def by_backend(self, items: list, job_of=lambda item: item) -> dict:
        """items grouped by the backend their job runs on (in order): the chosen one, and the host for API models."""
        out: dict = {}
        for item in items:
            out.setdefault(self.backend_for(job_of(item)), []).append(item)
        return out

    # -- the flow ------------------------------------------------------------------------------------
    def run(self, jobs: list[Job]) -> list[JobResult]:
        """Run the jobs, each locked against another vlmrun running it at the same time (see lock.py)."""
        if self.judge_name != EXACT:  # an unknown judge or a missing key fails before anything runs
            self._judge = Judge(self.cat, self.judge_name, Path(jobs[0].run_dir).parent.parent / "_judge" if jobs
                                else Path("outputs/_judge"), log=self.console.print,
                                backend=self.backend.name if self.backend.name in ("docker", "local") else "docker")
        with JobLocks() as locks:
            locks.acquire([j.run_dir for j in jobs])
            try:
                return self._run(jobs)
            finally:
                if self._judge is not None:
                    self._judge.close()

    def _run(self, jobs: list[Job]) -> list[JobResult]:
        results = [JobResult(j, shards=self.shards) for j in jobs]
        # Check every job's data up front: a missing file is the user's to fix before anything runs.
        data = {j.bench.name: bench_file(j.bench) for j in jobs}
        rows_by_bench = {name: bench_rows(path) for name, path in data.items()}
        rows = {r.job.name: self._rows(r.job, rows_by_bench) for r in results}
        # Prerequisites before anything starts: missing weights or an engine that is not there fail the
        # command at once, not each job after minutes of image builds.
        to_run = [j for j in jobs if self.mode != "eval" and missing(rows[j.name], j.run_dir / "shards")]
        for j in to_run:
            if j.model.source.hub:
                ensure_weights(j.model, log=self.console.print)
        for backend, mine in self.by_backend(to_run).items():
            backend.check(self.cat, mine, log=self.console.print)
        with make_progress(self.console) as progress:
            bars = {r.job.name: progress.add_task(f"{r.job.model.name} · {r.job.bench.name}",
                                                  total=len(rows[r.job.name]), status="waiting") for r in results}
            outcomes: dict[str, RunOutcome] = {}
            if self.mode in ("all", "infer"):
                staged = []
                for r in results:
                    try:
                        staged += self._stage(r, rows[r.job.name], data[r.job.bench.name], progress, bars[r.job.name])
                    except VlmrunError as e:
                        self._fail(r, str(e), progress, bars[r.job.name])
                by_job = {r.job.name: r for r in results}
                for backend, mine in self.by_backend(staged, lambda item: item[0].job).items():
                    outcomes.update(backend.execute(mine, lambda task: by_job[task.job.name].monitor.following()))
            for r in results:
                if r.status == "failed":
                    continue
                bar = bars[r.job.name]
                try:
                    if self.mode in ("all", "infer"):
                        self._finish(r, rows[r.job.name], outcomes)
                    if r.status != "submitted" and self.mode in ("all", "eval"):
                        self._score(r, rows[r.job.name])
                    if r.status != "submitted":
                        r.status = "ok"
                        progress.update(bar, status="[green]done")
                except VlmrunError as e:
                    self._fail(r, str(e), progress, bar)
                finally:
                    if r.monitor is not None:
                        r.monitor.close()
        return results

    @staticmethod
    def _rows(job: Job, rows_by_bench: dict) -> list[dict]:
        rows = rows_by_bench[job.bench.name]
        return rows[: job.limit] if job.limit else rows

    @staticmethod
    def _fail(r: JobResult, error: str, progress: Progress, bar) -> None:
        r.status, r.error = "failed", error
        progress.update(bar, status="[red]failed")

    def _stage(self, r: JobResult, rows: list[dict], data_file: Path, progress: Progress, bar) -> list:
        """The job's requests (one per shard) with their job files written; none when nothing is left to do."""
        job = r.job
        job.run_dir.mkdir(parents=True, exist_ok=True)
        todo = missing(rows, job.run_dir / "shards")
        progress.update(bar, completed=len(rows) - len(todo))
        r.started = datetime.now(timezone.utc)
        if not todo:
            return []
        printer = lambda line: progress.console.print(line, markup=False, highlight=False, style="dim")  # noqa: E731
        backend = self.backend_for(job)
        progress.update(bar, status="image")
        t = time.monotonic()
        env = backend.environment(self.cat, job, printer)
        r.image = env.image
        if env.image is not None:
            r.times["image_s"] = round(time.monotonic() - t, 3)
            r.times["image_built"] = env.image.built
        model_dir = r.model_dir = self._model_dir(r, env, lambda s: progress.update(bar, status=s))
        (job.run_dir / "logs").mkdir(exist_ok=True)
        items = []
        for k in range(r.shards):
            task = Task(job, k, r.shards)
            req, payload = backend.job_request(task, env, data_file, model_dir)
            write_job_file(job.run_dir, payload, task.job_file)
            items.append((task, req))
        backend.stage(job.run_dir)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        r.monitor = JobMonitor(progress, bar, job.run_dir / "logs" / f"{stamp}.log", self.console, self.verbose)
        progress.update(bar, status="starting" if backend.streams else "submitted")
        return items

    def _finish(self, r: JobResult, rows: list[dict], outcomes: dict[str, RunOutcome]) -> None:
        """After the run: the job's task outcomes checked, its predictions merged, its provenance written."""
        job, mon = r.job, r.monitor
        names = [Task(job, k, r.shards).name for k in range(r.shards)]
        mine = [outcomes[n] for n in names if n in outcomes]
        env = None
        if mon is not None:
            r.computed = mon.samples
            r.task_logs = [o.log_file for o in mine if o.log_file]
            r.times.update(container_start_s=round(mon.first_start or 0.0, 3), load_s=round(mon.load_s, 3),
                           container_s=round(max((o.seconds for o in mine), default=0.0), 3),
                           **{k: round(v, 3) for k, v in mon.slowest.items() if k.endswith("_s")},
                           prefetch_workers=int(mon.slowest["prefetch_workers"]), prefetch=mon.prefetch,
                           torch_threads=int(mon.slowest["torch_threads"]))
            if mon.slowest["batch_size"]:  # the batch the worker ran at (grown on a GPU from free memory)
                r.times["batch_size_used"] = int(mon.slowest["batch_size"])
            r.times.update(mon.api)  # API models: requests sent, retries, cache hits
            if mon.video:
                r.times["video"] = mon.video
            if mon.vision:
                r.times["vision"] = mon.vision
            env = mon.env
            if any(o.submitted for o in mine):
                r.status = "submitted"
                return
            bad = [o for o in mine if not o.ok]
            if bad:
                raise VlmrunError(self._failure(r, bad[0]))
        t = time.monotonic()
        df = merge(rows, job.run_dir / "shards")
        left = int(df["prediction"].isna().sum())
        if left:
            raise VlmrunError(f"{left} of {len(rows)} predictions are still missing after the run; see {job.run_dir / 'logs'}")
        write_xlsx(df, predictions_file(job))
        r.times["merge_s"] = round(time.monotonic() - t, 3)
        write_provenance(r, self.backend_for(job).name, env, r.started or datetime.now(timezone.utc))

    @staticmethod
    def _failure(r: JobResult, o: RunOutcome) -> str:
        """One line for a failed task: why, the worker's error (or, for a killed worker, what was kept), its log,
        and what to do about damaged weights."""
        job, mon = r.job, r.monitor
        if not mon.errors and (o.oom_killed or o.exit_code in (137, -9)):  # killed: its log says nothing
            kept = len(read_records(job.run_dir / "shards"))
            why = OOM if o.oom_killed else f"killed with SIGKILL, exit code {o.exit_code}"
            detail = f"the {kept} rows finished so far are kept; the same command resumes"
        else:
            why = o.error or (OOM if o.oom_killed else f"exit code {o.exit_code}")
            lines = [l for l in o.log_tail if l.strip() and not l.startswith("@@vlmrun")]
            detail = mon.errors[-1] if mon.errors else " | ".join(lines[-3:])
        where = f"; log: {o.log_file}" if o.log_file else ""
        if r.model_dir and any(m in detail for m in DAMAGED_WEIGHTS):
            where += (f"; the weights in {r.model_dir} look damaged: "
                      + ("delete that folder and the tiny model is made again" if job.model.source.tiny
                         else f"pull them again (`vlmrun models pull {job.model.name}`)"))
        return f"worker failed ({why})" + (f": {detail}" if detail.strip() else "") + where

    def _model_dir(self, r: JobResult, env: Environment, status=lambda s: None) -> Optional[Path]:
        model = r.job.model
        if model.is_api:
            return None
        if not model.source.tiny:
            return hub_snapshot(model)
        status("tiny model")

        def make(parent: Path, name: str) -> None:
            lines: list[str] = []
            outcome = self.backend.run_one(self.backend.tiny_request(model.source.tiny, env, parent / name, model.name),
                                           lines.append)
            if not outcome.ok:
                raise VlmrunError(f"making tiny model {model.name} failed (exit {outcome.exit_code}): "
                                  + " | ".join(l for l in lines if l.strip())[-300:])

        path, seconds = ensure_tiny(model, env.content_hash, make)
        r.times["tiny_model_s"] = round(seconds, 3)
        return path

    def prepare(self, job: Job) -> tuple[Environment, Path]:
        """The job's environment (image found or built) and model folder (weights checked, or tiny model made)."""
        if job.model.source.hub:
            ensure_weights(job.model, log=self.console.print)
        env = self.backend.environment(self.cat, job, self.console.print)
        return env, self._model_dir(JobResult(job), env)

    def inspect(self, job: Job, row: Optional[str]) -> dict:
        """What the model is given for one row (the worker's `inspect`: the adapter runs, the weights are not
        loaded), in the job's environment, from a job file in <run dir>/inspect."""
        job = dataclasses.replace(job, run_dir=job.run_dir / "inspect")
        job.run_dir.mkdir(parents=True, exist_ok=True)
        data_file = bench_file(job.bench)
        if job.model.is_api:
            raise VlmrunError(f"{job.model.name} is an API model: inspect shows a local model's inputs")
        env, model_dir = self.prepare(job)
        task = Task(job)
        req, payload = self.backend.job_request(task, env, data_file, model_dir)
        write_job_file(job.run_dir, payload, task.job_file)
        self.backend.stage(job.run_dir)
        req = self.backend.worker_call(task, req, ["inspect", "{job_file}"] + ([str(row)] if row is not None else []))
        lines: list[str] = []
        outcome = self.backend.run_one(req, lines.append)
        found = [json.loads(l[len(INSPECT_MARK):]) for l in lines if l.startswith(INSPECT_MARK)]
        if not found or "error" in found[-1]:
            detail = found[-1]["error"] if found else " | ".join(l for l in lines[-3:] if l.strip())
            raise VlmrunError(f"inspect {job.model.name} on {job.bench.name} failed (exit {outcome.exit_code}): {detail}")
        return found[-1]

    def _score(self, r: JobResult, rows: list[dict]) -> None:
        job = r.job
        t = time.monotonic()
        # Score the raw predictions (the shards); in the xlsx copy control characters are escaped, and an
        # empty answer reads back from it as a missing cell. The xlsx serves when there are no shards.
        df = merge(rows, job.run_dir / "shards")
        left = int(df["prediction"].isna().sum())
        if left:
            path = predictions_file(job)
            if not path.is_file():
                raise VlmrunError(f"{left} of {len(rows)} predictions missing and no {path}: "
                                  "run with --mode all or --mode infer first")
            df = read_predictions(path)
            if len(df) != len(rows):
                raise VlmrunError(f"{path} holds {len(df)} rows, the benchmark {len(rows)}: "
                                  "run with --mode infer to finish it")
            df["prediction"] = df["prediction"].fillna("")
        # a judge reads the Y/N and MCQ answers no rule can; open-ended benchmarks are scored by it altogether
        r.scores = score_with(job.bench.scorer, job.bench.type, df, self.scoring, self._judge)
        out = pd.DataFrame([r.scores])
        atomic_write(score_file(job), lambda p: out.to_csv(p, index=False))
        r.times["score_s"] = round(time.monotonic() - t, 3)
        if not provenance_file(job).is_file():  # predictions made elsewhere: record what we know
            write_provenance(r, self.backend_name, None, datetime.now(timezone.utc))
        prov = json.loads(provenance_file(job).read_text())
        judge = self.judge_name if applies(job.bench.scorer, job.bench.type) else EXACT
        prov["scores"] = {"scoring": self.scoring, "judge": judge, **r.scores}
        prov.setdefault("run", {}).setdefault("times", {})["score_s"] = r.times["score_s"]
        write_json(prov, provenance_file(job))
