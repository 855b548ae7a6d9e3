"""`vlmrun status WORKDIR`: every job of a work dir and where it stands.

Cluster submissions are recorded in WORKDIR/.vlmrun/submissions.jsonl (one line per submission); the newest
one that names a task is asked about it (Slurm: scontrol). Rows done come from the prediction shards, which
every backend writes the same way.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from vlmrun_worker.shards import read_records

from .errors import VlmrunError

SUBMISSIONS = Path(".vlmrun") / "submissions.jsonl"
STATE_WORDS = {"PENDING": "queued", "CONFIGURING": "queued", "RUNNING": "running", "COMPLETING": "running",
               "COMPLETED": "finished", "CANCELLED": "cancelled", "UNKNOWN": "unknown"}


def record_submission(work_dir: Path, record: dict) -> None:
    path = work_dir / SUBMISSIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def submissions(work_dir: Path) -> list[dict]:
    path = work_dir / SUBMISSIONS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _last_line(path: str) -> str:
    try:
        lines = [l for l in Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
                 if l.strip() and not l.startswith("@@vlmrun")]
    except OSError:
        return ""
    return lines[-1][-160:] if lines else ""


def _total_rows(job_dir: Path, cat) -> int | None:
    """The rows the job predicts, from its job file (the benchmark's row count, or its --limit)."""
    files = sorted(job_dir.glob("job*.json"))
    if not files:
        return None
    job = json.loads(files[0].read_text())
    try:
        rows = cat.benchmark(job["bench"]).rows
    except VlmrunError:
        rows = None
    return min(filter(None, (rows, job.get("limit")))) if (rows or job.get("limit")) else None


def job_status(work_dir: Path) -> list[dict]:
    """One row per task (or per job, where it ran without a cluster)."""
    from .manifest import Catalogue

    if not work_dir.is_dir():
        raise VlmrunError(f"{work_dir} is not a folder: give the --work-dir of an eval")
    cat = Catalogue()
    tasks: dict[str, dict] = {}
    for sub in submissions(work_dir):
        states = {}
        if sub.get("backend") == "slurm" and sub.get("array_id"):
            from .backends.slurm import array_states

            try:
                states = array_states(sub["array_id"])
            except OSError:
                states = {}
        for t in sub.get("tasks", []):
            state, code = states.get(t["index"], ("UNKNOWN", 0))
            tasks[t["task"]] = {**t, "state": state, "exit_code": code, "submission": sub.get("array_id")}
    rows = []
    seen_jobs = set()
    for name, t in tasks.items():
        run_dir = Path(t["run_dir"])
        seen_jobs.add(run_dir)
        done = len(read_records(run_dir / "shards"))
        word = STATE_WORDS.get(t["state"], "failed")
        detail = _last_line(t["log"]) if word in ("failed", "cancelled") else t["log"]
        rows.append({"task": name, "state": word, "rows done": f"{done}/{_total_rows(run_dir, cat) or '?'}",
                     "where": f"slurm {t['submission']}_{t['index']}", "log or last line": detail})
    for job_file in sorted(work_dir.glob("*/*/job*.json")):
        run_dir = job_file.parent
        if run_dir in seen_jobs:
            continue
        seen_jobs.add(run_dir)
        done, total = len(read_records(run_dir / "shards")), _total_rows(run_dir, cat)
        finished = any(run_dir.glob("*_score.csv")) or (total is not None and done >= total)
        rows.append({"task": f"{run_dir.parent.name}_{run_dir.name}", "state": "finished" if finished else "partial",
                     "rows done": f"{done}/{total or '?'}", "where": "local run", "log or last line": ""})
    return rows
