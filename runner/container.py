"""From a planned job to the request that runs it: the worker command, mounts, devices and environment.

Pure functions: nothing here talks to Docker, so every setting is unit-tested from the request object.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Optional

from vlmrun_worker.job import JobFile

from . import __version__
from .backends.base import Task
from .backends.local import LocalRequest, local_python
from .backends.request import (DATA_MOUNT, FRAMES_MOUNT, MODEL_MOUNT, OFFLINE_ENV, OUT_MOUNT, VIDEO_MOUNT, WORKER_MOUNT,
                               ContainerRequest, GpuSpec, Mount)
from .paths import project_root, tree_digest
from .plan import Job

JOB_FILE = "job.json"


def worker_dir() -> Path:
    return project_root() / "images" / "worker"


def worker_hash() -> str:
    """Hash of the worker code mounted into containers (goes into every provenance record)."""
    return tree_digest(worker_dir())


IMAGE_USER = (1000, 1000)  # the non-root `vlmrun` user every family image creates


def container_user() -> str:
    """The invoking user's uid:gid, so results belong to them; root is mapped to the image's non-root user
    (the folders a job writes are handed to that user first, see `hand_over`)."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        uid, gid = IMAGE_USER
    return f"{uid}:{gid}"


def hand_over(path: Path) -> None:
    """Make a folder the container writes into writable by the container's user (a no-op unless root)."""
    if os.getuid() != 0:
        return
    uid, gid = IMAGE_USER
    for p in [path, *path.rglob("*")]:
        os.lchown(p, uid, gid)


def container_name(*parts: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", "-".join(parts)).strip("-")[:60]
    return f"vlmrun-{slug}-{uuid.uuid4().hex[:8]}"


def model_settings(job: Job) -> dict:
    """The model's manifest settings with the benchmark's overrides for its adapter merged in."""
    spec = job.model.model_dump(mode="json")
    spec["generation"] = job.model.generation.kwargs()
    for key, value in job.bench.overrides.get(job.model.adapter, {}).items():
        spec[key] = {**spec[key], **value} if isinstance(value, dict) and isinstance(spec.get(key), dict) else value
    return spec


def serve_container_name(model: str, port: int) -> str:
    """The container of `vlmrun serve MODEL --port PORT` (found again by the judge that started it)."""
    return f"vlmrun-serve-{model.replace('.', '-')}-{port}"


def video_block(job: Job, root: str, frames: str) -> Optional[dict]:
    """A video job's `video` block (the worker's video_job.VideoSpec), with its folders as the worker sees them."""
    if not job.video:
        return None
    return {"layout": job.bench.videos.layout, "root": root, "frames": frames, **job.video}


def job_payload(job: Job, data: str, model_dir: str, out_dir: str, shard: Optional[int] = 0, shards: int = 1,
                shard_env: Optional[str] = None, video: Optional[dict] = None) -> dict:
    """What the worker reads (job.json, the worker's JobFile), with paths as the worker will see them."""
    return JobFile(
        adapter=job.model.adapter, model_name=job.model.name, bench=job.bench.name, bench_type=job.bench.type,
        model_dir=model_dir, data=data, out_dir=out_dir, device=job.device, batch_size=job.batch_size,
        max_batch_size=job.max_batch_size, limit=job.limit, prefetch_workers=job.prefetch, model=model_settings(job), engine=job.engine,
        api_threads=job.api_threads,
        # vLLM: one process shards the model over every GPU it was given
        tensor_parallel_size=(job.gpus.n or 1) if (job.engine == "vllm" and job.gpus) else 1,
        shards=shards, shard=shard, shard_env=shard_env, video=video, gpus_per_rank=job.gpus_per_rank,
    ).to_dict()


def worker_command(job: Job, job_file: str, python: Optional[str] = None) -> list[str]:
    """Data parallelism for the transformers engine: the worker's own launcher (vlmrun_worker/launch.py: torchrun's
    environment for one node, without torchrun's launcher process, which imports torch once more, ~2 s per job);
    one plain process for one rank and for vLLM, which manages its own GPU workers (and must not see a distributed
    environment). A rank spread over several GPUs goes through the launcher even alone: it gives the rank its
    GPUs."""
    if job.engine == "vllm" or (job.nproc == 1 and job.gpus_per_rank == 1):
        return [python or "python", "-m", "vlmrun_worker", "run", job_file]
    return [python or "python", "-m", "vlmrun_worker", "launch", str(job.nproc), job_file]


def base_env(gpus: Optional[GpuSpec]) -> dict:
    env = {**OFFLINE_ENV, "HOME": "/tmp", "PYTHONPATH": WORKER_MOUNT, "PYTHONUNBUFFERED": "1",
           "VLMRUN_VERSION": __version__, "TOKENIZERS_PARALLELISM": "false"}
    if not gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def docker_job_request(job: Job, image_tag: str, data_file: Path, model_dir: Path,
                       task: Optional[Task] = None) -> tuple[ContainerRequest, dict]:
    """The container for one job (or one shard of it, `task`), and the job file it reads."""
    task = task or Task(job)
    data_target = f"{DATA_MOUNT}/{data_file.name}"
    mounts = []
    if job.video:  # the videos read-only; the frame cache shared by every job on these videos
        from .videos import video_dirs

        root, frames = video_dirs(job.bench)
        mounts = [Mount(str(root), VIDEO_MOUNT, read_only=True), Mount(str(frames), FRAMES_MOUNT, read_only=False)]
    payload = job_payload(job, data_target, MODEL_MOUNT, OUT_MOUNT, task.shard, task.shards,
                          video=video_block(job, VIDEO_MOUNT, FRAMES_MOUNT))
    req = ContainerRequest(
        image=image_tag,
        command=worker_command(job, f"{OUT_MOUNT}/{task.job_file}"),
        name=container_name(job.model.name, job.bench.name, *([f"s{task.shard}"] if task.shards > 1 else [])),
        user=container_user(),
        mounts=[Mount(str(worker_dir()), WORKER_MOUNT, read_only=True),
                Mount(str(data_file), data_target, read_only=True),
                Mount(str(model_dir), MODEL_MOUNT, read_only=True),
                Mount(str(job.run_dir), OUT_MOUNT, read_only=False), *mounts],
        env=base_env(job.gpus),
        gpus=job.gpus,
        labels={"io.vlmrun.job": job.name, "io.vlmrun.version": __version__},
    )
    return req, payload


def docker_tiny_request(recipe: str, image_tag: str, out_dir: Path, model: str) -> ContainerRequest:
    """The container that builds a tiny random-weight model inside the family's image, into out_dir only."""
    # Mounted under its own folder name: transformers names a remote-code module after the weights' folder.
    target = f"{OUT_MOUNT}/{out_dir.name}"
    return ContainerRequest(
        image=image_tag,
        command=["python", "-m", "vlmrun_worker", "make-tiny", recipe, target],
        name=container_name("tiny", model),
        user=container_user(),
        mounts=[Mount(str(worker_dir()), WORKER_MOUNT, read_only=True),
                Mount(str(out_dir), target, read_only=False)],
        env=base_env(None),
        labels={"io.vlmrun.tiny": model, "io.vlmrun.version": __version__},
    )


def docker_videos_request(image_tag: str, tsv: Path, root: Path, bench: str) -> ContainerRequest:
    """The container that makes a bundled benchmark's synthetic videos (the worker's make-videos) into root."""
    return ContainerRequest(
        image=image_tag,
        command=["python", "-m", "vlmrun_worker", "make-videos", f"{DATA_MOUNT}/{tsv.name}", VIDEO_MOUNT],
        name=container_name("videos", bench),
        user=container_user(),
        mounts=[Mount(str(worker_dir()), WORKER_MOUNT, read_only=True),
                Mount(str(tsv), f"{DATA_MOUNT}/{tsv.name}", read_only=True),
                Mount(str(root), VIDEO_MOUNT, read_only=False)],
        env=base_env(None),
        labels={"io.vlmrun.videos": bench, "io.vlmrun.version": __version__},
    )


def local_job_request(job: Job, data_file: Path, model_dir: Path, task: Optional[Task] = None) -> tuple[LocalRequest, dict]:
    task = task or Task(job)
    video = None
    if job.video:
        from .videos import video_dirs

        video = video_block(job, *map(str, video_dirs(job.bench)))
    payload = job_payload(job, str(data_file), str(model_dir), str(job.run_dir), task.shard, task.shards, video=video)
    env = {k: v for k, v in base_env(job.gpus).items() if k != "HOME"}
    env["PYTHONPATH"] = str(worker_dir()) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return LocalRequest(command=worker_command(job, str(job.run_dir / task.job_file), python=local_python()),
                        env=env, cwd=str(job.run_dir)), payload


def write_job_file(run_dir: Path, payload: dict, name: str = JOB_FILE) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".{name}.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, run_dir / name)
