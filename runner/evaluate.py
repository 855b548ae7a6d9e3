"""One evaluation: for every planned job, image -> container -> predictions -> score, then one report.

A failing job is marked failed with its last log lines; the other jobs still run and report.
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vlmrun_worker.events import parse as parse_event
from vlmrun_worker.inspect_row import MARK as INSPECT_MARK

from . import __version__, scoring
from .backends.local import local_python
from .backends.request import OUT_MOUNT
from .container import (JOB_FILE, docker_job_request, docker_tiny_request, hand_over, local_job_request,
                        worker_hash, write_job_file)
from .datasets import bench_file, bench_rows
from .errors import VlmrunError
from .images import ImageResult, ensure_image
from .manifest import Catalogue
from .plan import Job
from .predictions import atomic_write, merge, missing, read_predictions, write_json, write_xlsx
from .weights import ensure_tiny, ensure_weights, hub_snapshot

MODES = ("all", "infer", "eval")


def predictions_file(job: Job) -> Path:
    return job.run_dir / f"{job.model.name}_{job.bench.name}.xlsx"


def score_file(job: Job) -> Path:
    return job.run_dir / f"{job.model.name}_{job.bench.name}_score.csv"


def provenance_file(job: Job) -> Path:
    return job.run_dir / "provenance.json"


@dataclass
class JobResult:
    job: Job
    status: str = "pending"  # ok | failed
    error: Optional[str] = None
    scores: Optional[dict] = None
    times: dict = field(default_factory=dict)
    computed: int = 0  # samples inferred in this run
    image: Optional[ImageResult] = None


class _JobMonitor:
    """Turns the worker's event lines into one progress bar per job; keeps the log and timings."""

    SLOWEST = ("infer_s", "data_wait_s", "prepare_s", "prefetch_workers")

    def __init__(self, progress: Progress, task, log_path: Path, console: Console, verbose: bool):
        self.progress, self.task, self.console, self.verbose = progress, task, console, verbose
        self.log = open(log_path, "a", encoding="utf-8")
        self.t0 = time.monotonic()
        self.first_start: Optional[float] = None
        self.load_s = 0.0
        # the slowest rank's figures from its `finished` event: inference, of it the wait for data,
        # preprocessing time (summed over its threads), and its prefetch threads
        self.slowest = dict.fromkeys(self.SLOWEST, 0.0)
        self.samples = 0
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
            self.samples += int(ev.get("samples", 0))
        elif kind == "env":
            self.env = {k: v for k, v in ev.items() if k != "event"}
        elif kind == "error":
            self.errors.append(str(ev.get("message")))

    def close(self):
        self.log.close()


class Evaluator:
    def __init__(self, cat: Catalogue, backend: str = "docker", mode: str = "all", scoring_name: str = "vlmevalkit",
                 console: Optional[Console] = None, verbose: bool = False):
        if mode not in MODES:
            raise VlmrunError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
        if backend not in ("docker", "local"):
            raise VlmrunError(f"--backend {backend!r}: use docker or local")
        self.cat, self.backend_name, self.mode, self.scoring = cat, backend, mode, scoring_name
        self.console = console or Console()
        self.verbose = verbose
        self._backend = None
        self._client = None

    # -- backends -------------------------------------------------------------------------------------
    @property
    def backend(self):
        if self._backend is None:
            if self.backend_name == "docker":
                from .backends.docker_backend import DockerBackend, connect

                self._client = connect()
                self._backend = DockerBackend(self._client)
            else:
                from .backends.local import LocalBackend

                self._backend = LocalBackend()
        return self._backend

    # -- the flow ------------------------------------------------------------------------------------
    def run(self, jobs: list[Job]) -> list[JobResult]:
        results = [JobResult(j) for j in jobs]
        # Check every job's data up front: a missing file is the user's to fix before anything runs.
        data = {j.bench.name: bench_file(j.bench) for j in jobs}
        rows_by_bench = {name: bench_rows(path) for name, path in data.items()}
        # Prerequisites before anything starts: missing weights or an engine that is not there fail the
        # command at once, not each job after minutes of image builds.
        to_run = [j for j in jobs if self.mode != "eval" and missing(self._rows(j, rows_by_bench), j.run_dir / "shards")]
        for j in to_run:
            if j.model.source.hub:
                ensure_weights(j.model, log=self.console.print)
        if to_run:
            _ = self.backend  # connects to the engine (docker); the local backend has nothing to check
            gpu_jobs = [j for j in to_run if j.gpus]
            if gpu_jobs and self.backend_name == "docker":
                from .images import base_image_id

                j = gpu_jobs[0]
                fam = self.cat.family(j.family)
                base_image_id(self._client, fam, j.flavour, make_missing=True, log=self.console.print)
                self.backend.check_gpus(j.gpus, fam.flavours[j.flavour].base)
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[status]}")]
        with Progress(*columns, console=self.console, transient=False) as progress:
            tasks = {}
            for r in results:
                rows = self._rows(r.job, rows_by_bench)
                tasks[r.job.name] = progress.add_task(f"{r.job.model.name} · {r.job.bench.name}",
                                                      total=len(rows), status="waiting")
            for r in results:
                task = tasks[r.job.name]
                rows = self._rows(r.job, rows_by_bench)
                try:
                    if self.mode in ("all", "infer"):
                        self._infer(r, rows, data[r.job.bench.name], progress, task)
                    if self.mode in ("all", "eval"):
                        self._score(r, rows)
                    r.status = "ok"
                    progress.update(task, status="[green]done")
                except VlmrunError as e:
                    r.status, r.error = "failed", str(e)
                    progress.update(task, status="[red]failed")
        return results

    @staticmethod
    def _rows(job: Job, rows_by_bench: dict) -> list[dict]:
        rows = rows_by_bench[job.bench.name]
        return rows[: job.limit] if job.limit else rows

    def _infer(self, r: JobResult, rows: list[dict], data_file: Path, progress: Progress, task) -> None:
        job = r.job
        job.run_dir.mkdir(parents=True, exist_ok=True)
        shard_dir = job.run_dir / "shards"
        todo = missing(rows, shard_dir)
        progress.update(task, completed=len(rows) - len(todo))
        started = datetime.now(timezone.utc)
        env = None
        if todo:
            env = self._run_worker(r, data_file, progress, task, len(todo))
        t = time.monotonic()
        df = merge(rows, shard_dir)
        left = int(df["prediction"].isna().sum())
        if left:
            raise VlmrunError(f"{left} of {len(rows)} predictions are still missing after the run; see {job.run_dir / 'logs'}")
        write_xlsx(df, predictions_file(job))
        r.times["merge_s"] = round(time.monotonic() - t, 3)
        self._write_provenance(r, env, started)

    def _run_worker(self, r: JobResult, data_file: Path, progress: Progress, task, n_todo: int) -> Optional[dict]:
        job = r.job
        printer = lambda line: progress.console.print(line, markup=False, highlight=False, style="dim")  # noqa: E731
        progress.update(task, status="image")
        t = time.monotonic()
        backend = self.backend
        if self.backend_name == "docker":
            r.image = ensure_image(self._client, self.cat, job.family, job.flavour, log=printer)
            r.times["image_s"] = round(time.monotonic() - t, 3)
            r.times["image_built"] = r.image.built
            env_hash = r.image.spec.content_hash
        else:
            env_hash = "local"
        model_dir = self._model_dir(r, env_hash, lambda s: progress.update(task, status=s))
        if self.backend_name == "docker":
            req, payload = docker_job_request(job, r.image.tag, data_file, model_dir)
        else:
            req, payload = local_job_request(job, data_file, model_dir)
        write_job_file(job.run_dir, payload)
        (job.run_dir / "logs").mkdir(exist_ok=True)
        if self.backend_name == "docker":
            hand_over(job.run_dir)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        monitor = _JobMonitor(progress, task, job.run_dir / "logs" / f"{stamp}.log", self.console, self.verbose)
        progress.update(task, status="starting")
        try:
            outcome = backend.run(req, monitor)
        finally:
            monitor.close()
        r.computed = monitor.samples
        r.times.update(container_start_s=round(monitor.first_start or 0.0, 3), load_s=round(monitor.load_s, 3),
                       container_s=round(outcome.seconds, 3),
                       **{k: round(v, 3) for k, v in monitor.slowest.items() if k != "prefetch_workers"},
                       prefetch_workers=int(monitor.slowest["prefetch_workers"]))
        if not outcome.ok:
            why = "killed: out of memory" if outcome.oom_killed else f"exit code {outcome.exit_code}"
            lines = [l for l in outcome.log_tail if l.strip() and not l.startswith("@@vlmrun")]
            detail = monitor.errors[-1] if monitor.errors else " | ".join(lines[-3:])
            raise VlmrunError(f"worker failed ({why}): {detail}")
        return monitor.env

    def _model_dir(self, r: JobResult, env_hash: str, status=lambda s: None) -> Path:
        model = r.job.model
        if not model.source.tiny:
            return hub_snapshot(model)
        status("tiny model")

        def make(parent: Path, name: str) -> None:
            lines: list[str] = []
            if self.backend_name == "docker":
                (parent / name).mkdir(parents=True)
                hand_over(parent / name)
                req = docker_tiny_request(model.source.tiny, r.image.tag, parent / name, model.name)
            else:
                from .backends.local import LocalRequest, local_python
                from .container import worker_dir

                req = LocalRequest([local_python(), "-m", "vlmrun_worker", "make-tiny", model.source.tiny,
                                    str(parent / name)], env={"PYTHONPATH": str(worker_dir())}, cwd=str(parent))
            outcome = self.backend.run(req, lines.append)
            if not outcome.ok:
                raise VlmrunError(f"making tiny model {model.name} failed (exit {outcome.exit_code}): "
                                  + " | ".join(l for l in lines if l.strip())[-300:])

        path, seconds = ensure_tiny(model, env_hash, make)
        r.times["tiny_model_s"] = round(seconds, 3)
        return path

    def inspect(self, job: Job, row: Optional[str]) -> dict:
        """What the model is given for one row (the worker's `inspect`: the adapter runs, the weights are not
        loaded), in the job's image, from a job file in <run dir>/inspect."""
        job = dataclasses.replace(job, run_dir=job.run_dir / "inspect")
        job.run_dir.mkdir(parents=True, exist_ok=True)
        data_file = bench_file(job.bench)
        if job.model.source.hub:
            ensure_weights(job.model, log=self.console.print)
        r = JobResult(job)
        backend = self.backend
        argv = ["inspect", "JOB"] + ([str(row)] if row is not None else [])
        if self.backend_name == "docker":
            r.image = ensure_image(self._client, self.cat, job.family, job.flavour, log=self.console.print)
            model_dir = self._model_dir(r, r.image.spec.content_hash)
            req, payload = docker_job_request(job, r.image.tag, data_file, model_dir)
            req = dataclasses.replace(req, command=["python", "-m", "vlmrun_worker",
                                                    *[f"{OUT_MOUNT}/{JOB_FILE}" if a == "JOB" else a for a in argv]])
        else:
            model_dir = self._model_dir(r, "local")
            req, payload = local_job_request(job, data_file, model_dir)
            req = dataclasses.replace(req, command=[local_python(), "-m", "vlmrun_worker",
                                                    *[str(job.run_dir / JOB_FILE) if a == "JOB" else a for a in argv]])
        write_job_file(job.run_dir, payload)
        if self.backend_name == "docker":
            hand_over(job.run_dir)
        lines: list[str] = []
        outcome = backend.run(req, lines.append)
        found = [json.loads(l[len(INSPECT_MARK):]) for l in lines if l.startswith(INSPECT_MARK)]
        if not found or "error" in found[-1]:
            detail = found[-1]["error"] if found else " | ".join(l for l in lines[-3:] if l.strip())
            raise VlmrunError(f"inspect {job.model.name} on {job.bench.name} failed (exit {outcome.exit_code}): {detail}")
        return found[-1]

    def _write_provenance(self, r: JobResult, env: Optional[dict], started: datetime) -> None:
        job = r.job
        prev = {}
        if provenance_file(job).is_file():
            prev = json.loads(provenance_file(job).read_text())
        img = r.image
        record = {
            "vlmrun_version": __version__,
            "worker_sha256": worker_hash(),
            "job": job.name,
            "backend": self.backend_name,
            "image": ({"tag": img.tag, "id": img.id, "family": img.spec.family, "flavour": img.spec.flavour,
                       "lock_sha256": img.spec.lock_sha256, "base": img.spec.base, "base_id": img.spec.base_id,
                       "built_now": img.built} if img else prev.get("image")),
            "environment": self._environment(job, env, prev),
            "model": {"name": job.model.name, "hub": job.model.source.hub, "revision": job.model.source.revision,
                      "tiny_recipe": job.model.source.tiny, "adapter": job.model.adapter, "family": job.model.family,
                      "dtype": job.model.dtype, "attn_implementation": job.model.attn_implementation,
                      "processor": job.model.processor, "prompt": job.model.prompt.model_dump(),
                      "generation": job.model.generation.kwargs(), "reference": job.model.reference},
            "benchmark": {"name": job.bench.name, "scorer": job.bench.scorer, "type": job.bench.type, "file": job.bench.file, "md5": job.bench.md5, "rows": job.limit or job.bench.rows},
            "run": {"engine": job.engine, "nproc": job.nproc, "gpus": (job.gpus.visible_devices() or "all") if job.gpus else None,
                    "device": job.device, "batch_size": job.batch_size, "limit": job.limit,
                    "started": started.isoformat(timespec="seconds"),
                    "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "samples_computed": r.computed, "times": r.times},
            "history": (prev.get("history", []) + ([prev["run"]] if prev.get("run") else []))[-20:],
        }
        write_json(record, provenance_file(job))

    @staticmethod
    def _environment(job: Job, env: Optional[dict], prev: dict) -> Optional[dict]:
        """What the worker reported from inside the container (its environment.json holds pip freeze too)."""
        path = job.run_dir / "environment.json"
        if path.is_file():
            return json.loads(path.read_text())
        return env if env is not None else prev.get("environment")

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
        r.scores = scoring.score(job.bench.scorer, df, self.scoring)
        out = pd.DataFrame([r.scores])
        atomic_write(score_file(job), lambda p: out.to_csv(p, index=False))
        r.times["score_s"] = round(time.monotonic() - t, 3)
        if not provenance_file(job).is_file():  # predictions made elsewhere: record what we know
            self._write_provenance(r, None, datetime.now(timezone.utc))
        prov = json.loads(provenance_file(job).read_text())
        prov["scores"] = {"scoring": self.scoring, **r.scores}
        prov.setdefault("run", {}).setdefault("times", {})["score_s"] = r.times["score_s"]
        write_json(prov, provenance_file(job))
