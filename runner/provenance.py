"""Provenance: what produced a job's predictions (image, environment, model settings, run), kept beside them."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from . import __version__
from .container import worker_hash
from .predictions import write_json


def provenance_file(job) -> Path:
    return job.run_dir / "provenance.json"


def worker_environment(job, env: Optional[dict], prev: dict) -> Optional[dict]:
    """What the worker reported from inside its environment (its environment.json holds pip freeze too)."""
    path = job.run_dir / "environment.json"
    if path.is_file():
        return json.loads(path.read_text())
    return env if env is not None else prev.get("environment")


def write_provenance(r, backend: str, env: Optional[dict], started: datetime) -> None:
    """r: an evaluate.JobResult."""
    job = r.job
    prev = json.loads(provenance_file(job).read_text()) if provenance_file(job).is_file() else {}
    img = r.image
    record = {
        "vlmrun_version": __version__,
        "worker_sha256": worker_hash(),
        "job": job.name,
        "backend": backend,
        "image": ({"tag": img.tag, "id": img.id, "family": img.spec.family, "flavour": img.spec.flavour,
                   "lock_sha256": img.spec.lock_sha256, "base": img.spec.base, "base_id": img.spec.base_id,
                   "built_now": img.built} if img else prev.get("image")),
        "environment": worker_environment(job, env, prev),
        "model": {"name": job.model.name, "hub": job.model.source.hub, "revision": job.model.source.revision,
                  "tiny_recipe": job.model.source.tiny, "adapter": job.model.adapter, "family": job.model.family,
                  "dtype": job.model.dtype, "attn_implementation": job.model.attn_implementation,
                  "processor": job.model.processor, "prompt": job.model.prompt.model_dump(),
                  "generation": job.model.generation.kwargs(), "reference": job.model.reference,
                  "api": (job.model.source.api.model_dump(exclude={"system_prompt"}) if job.model.is_api else None)},
        "benchmark": {"name": job.bench.name, "label": job.label, "scorer": job.bench.scorer, "type": job.bench.type,
                      "file": job.bench.file, "md5": job.bench.md5, "rows": job.limit or job.bench.rows,
                      # a video benchmark's frame setting: nframe or fps, pack, subtitles, frames or the video itself
                      "video": job.video},
        "run": {"engine": job.engine, "nproc": job.nproc, "gpus_per_rank": job.gpus_per_rank,
                "gpus": (job.gpus.visible_devices() or "all") if job.gpus else None,
                "device": job.device, "flavour": job.flavour, "nvidia_driver": job.driver,
                "batch_size": job.batch_size, "limit": job.limit, "shards": r.shards,
                "started": started.isoformat(timespec="seconds"),
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "samples_computed": r.computed, "times": r.times, "task_logs": r.task_logs},
        "history": (prev.get("history", []) + ([prev["run"]] if prev.get("run") else []))[-20:],
    }
    write_json(record, provenance_file(job))
