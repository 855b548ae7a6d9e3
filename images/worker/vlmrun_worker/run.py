"""A rank's entry (one process, or a rank of `launch`): it takes a strided share of the unfinished rows and
appends its predictions."""
from __future__ import annotations

import json
import os
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .data import DataError, group_by_length, image_identity, load_images, read_rows, same_image_count
from .envinfo import environment
from .events import emit
from .job import JobFile, JobFileError, shard_rows
from .procs import stopping
from .shards import ShardWriter, my_share, read_records, shard_file_name


class Sample:
    """One benchmark row as the adapters see it: `image` is a PIL image, or a list of them for rows with
    several images (MMMU); `extra` holds the row's other columns (options A, B, ..., hint, category)."""
    __slots__ = ("index", "question", "image", "extra", "message", "video")

    def __init__(self, index, question, image, extra=None):
        self.index, self.question, self.image, self.extra = index, question, image, extra or {}
        self.message = None  # video benchmarks: the request's message (texts, ('image', k) frames, video.VIDEO)
        self.video = None  # a model that reads the video itself: video_job.VideoRef

    @property
    def images(self) -> list:
        return self.image if isinstance(self.image, list) else [self.image]

    @classmethod
    def of(cls, row) -> "Sample":
        """A benchmark row with its images decoded (as VLMEvalKit reads them back from its dumped files)."""
        return cls(row.index, row.question, load_images(row), row.extra)


class Prefetch:
    """Decode images and run the adapter's preprocessing for the next batches in background threads (or prefetch
    processes: procs.py) while the model works on the current one; batches come out in order. Iterating yields
    (samples, prepared).

    `resize(n)` changes the size of the batches not yet handed to a thread (the worker grows the batch on a GPU
    once the first batch has shown its memory use). `waited_s` is how long the model sat waiting for data (0 when
    prefetch keeps up), `prepare_s` the preprocessing time summed over the threads or processes."""

    def __init__(self, rows, batch_size: int, prepare=None, workers: int = 1, load=None, pool=None):
        self.rows, self.batch_size, self._pos = list(rows), max(1, int(batch_size)), 0
        self.load = load or Sample.of  # a row (or a video request) to a Sample
        self.prepare, self.workers = prepare, max(0, int(workers))  # 0: prepared inline, no thread
        # pool: prefetch processes (procs.start_pool) that load rows with Sample.of and prepare them with the
        # adapter's preparer, instead of `load` and `prepare` in threads (image rows only: no video requests)
        self.pool = pool
        self.waited_s = self.prepare_s = 0.0

    def resize(self, batch_size: int) -> None:
        self.batch_size = max(1, int(batch_size))

    def _next_chunk(self):
        chunk = same_image_count(self.rows[self._pos:self._pos + self.batch_size])
        self._pos += len(chunk)
        return chunk

    def _load(self, chunk):
        """(samples, prepared, seconds it took), as procs.load gives it from a process."""
        t = time.monotonic()
        batch = [self.load(r) for r in chunk]
        prepared = self.prepare(batch) if self.prepare else None
        return batch, prepared, time.monotonic() - t

    def __iter__(self):
        if self.workers == 0:
            while chunk := self._next_chunk():
                batch, prepared, seconds = self._load(chunk)
                self.prepare_s += seconds  # preparation, not waiting: waited_s stays 0
                yield batch, prepared
            return
        ahead = self.workers + 1  # batches in flight: every worker busy, one more ready
        if self.pool is not None:
            from . import procs

            yield from self._ahead(self.pool, procs.load, ahead)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="vlmrun-prefetch") as pool:
            yield from self._ahead(pool, self._load, ahead)

    def _ahead(self, pool, task, ahead):
        pending = deque()

        def top_up():
            while len(pending) < ahead and (chunk := self._next_chunk()):
                pending.append(pool.submit(task, chunk))
        try:
            top_up()
            while pending:
                t = time.monotonic()
                batch, prepared, seconds = pending.popleft().result()
                self.waited_s += time.monotonic() - t
                self.prepare_s += seconds
                top_up()
                yield batch, prepared
        finally:
            for f in pending:
                f.cancel()


def choose_batch(per_sample_bytes: float, spare_bytes: float, start: int, most: int, share: float = 0.8) -> int:
    """The batch size for the rest of a GPU job: as many samples as `share` of the spare GPU memory holds at the
    first batch's peak memory per sample, between the starting size and the manifest's most, rounded down to a
    multiple of 8 above 8. Nothing measured (no memory read): the starting size stays."""
    if per_sample_bytes <= 0:
        return start
    n = int(share * spare_bytes // per_sample_bytes)
    if n > 8:
        n -= n % 8
    return max(start, min(most, n))


def job_cores() -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (docker --cpus, a Slurm
    or Kubernetes CPU limit)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for path, parse in (("/sys/fs/cgroup/cpu.max", lambda t: t.split()[:2]),
                        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda t: [t.strip(), _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")])):
        text = _read(path)
        if not text:
            continue
        quota, period = parse(text)
        if quota not in ("max", "-1", "") and period:
            n = min(n, max(1, -(-int(quota) // int(period))))
        break
    return max(1, n)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def plan_prefetch(device: str, world: int, prefetch=None, cores=None, processes: bool = False) -> tuple:
    """(how, workers, torch intra-op threads) for one rank's preprocessing, sized from the cores the job has; how is
    "inline", "threads" or "processes".

    On a GPU, where the adapter's preprocessing runs without its model (`processes`): prefetch processes, one per
    spare core up to 4 (procs.py: a thread there holds the GIL the kernel launches need; full-size Qwen2-VL-2B, MME,
    H100: one thread prepared ~25 rows/s, below the model's ~32, and a second thread added nothing). Otherwise one
    prefetch thread (H200: 19.1 samples/s with 1 thread, 17.5 with 2, 17.2 with 4, 16.9 with 8). torch's CPU threads
    are left alone on a GPU. On the CPU torch needs the cores: with fewer than 4 per rank, images are prepared
    inline between batches (a prefetch thread there halves throughput: it competes with torch's threads), else
    one prefetch thread and the other cores for torch. An explicit --prefetch sets the count (0: inline)."""
    per_rank = max(1, (cores or job_cores()) // max(1, world))
    if device.startswith("cuda"):
        default = max(1, min(4, per_rank - 1)) if processes else 1
        n = default if prefetch is None else int(prefetch)
        return ("inline" if n == 0 else "processes" if processes else "threads"), n, None
    n = (0 if per_rank < 4 else 1) if prefetch is None else int(prefetch)
    return ("threads" if n else "inline"), n, max(1, per_rank - n)


def run(job_path: str, keep_group: bool = False) -> int:
    """One job; keep_group: leave the process group up for the next job of `run_many`."""
    job = JobFile.load(job_path)
    shard = job.shard_index()
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))

    import torch
    import torch.distributed as dist

    use_cuda = job.device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        emit("error", rank=rank, message="GPUs were requested but torch sees no CUDA device in the container")
        return 3
    # a rank spread over several GPUs sees only its own (launch.py): its model starts on the first
    device = f"cuda:{0 if job.gpus_per_rank > 1 else local_rank}" if use_cuda else "cpu"
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")

    out = Path(job.out_dir)
    pred_dir = out / "shards"
    video = None
    if job.video is not None:
        from .video_job import VideoJob

        video = VideoJob(job)
        rows = video.units(job.data)  # one request per question, or with pack per video
    else:
        rows = read_rows(job.data)
    if job.limit:
        rows = rows[: job.limit]
    groups = None if video else [image_identity(r) for r in rows]  # a shard or rank gets all rows of an image
    part = set(shard_rows([r.index for r in rows], shard, job.shards, groups))
    groups = None if video else [g for r, g in zip(rows, groups) if r.index in part]
    rows = [r for r in rows if r.index in part]
    done = set(read_records(pred_dir))
    if video:
        done = video.done_units(rows, done)
    share = set(my_share([r.index for r in rows], done, rank, world, groups))
    mine = [r for r in rows if r.index in share]
    emit("start", rank=rank, world=world, shard=shard, shards=job.shards, total=len(rows),
         already_done=len(done & {r.index for r in rows}), todo=len(mine), device=device)

    timings = {"load_s": 0.0, "infer_s": 0.0, "samples": 0, "data_wait_s": 0.0, "prepare_s": 0.0,
               "prefetch_workers": 0}
    pool = None
    if mine:
        from .adapters import load_adapter, preparer_for

        t0 = time.monotonic()
        name = "vllm_chat" if job.engine == "vllm" else job.adapter
        made = None if video else preparer_for(name, job.model_dir, job.adapter_spec(), device)
        how, workers, threads = plan_prefetch(device, world, job.prefetch_workers, processes=made is not None)
        if how == "processes":  # started now: they start up while the model loads
            from .procs import start_pool, threads_each

            each = threads_each(workers, max(1, job_cores() // max(1, world)))
            pool = start_pool(workers, *made, threads=each)
            how = f"processes ({each} torch thread{'s' if each > 1 else ''} each)"
        adapter = load_adapter(name, job.model_dir, job.adapter_spec(), device)
        timings["load_s"] = time.monotonic() - t0
        emit("loaded", rank=rank, seconds=round(timings["load_s"], 3))
        t1 = time.monotonic()
        grow = use_cuda and (job.max_batch_size or 0) > job.batch_size
        if video:  # one request at a time, as VLMEvalKit asks them (a video's frames fill a batch)
            job.batch_size, grow = 1, False
        if job.batch_size > 1 or grow:
            t2 = time.monotonic()
            mine = group_by_length(mine)
            if grow:  # the largest prompts first: the first batch's memory use bounds every later one
                mine.reverse()
            timings["grouped_s"] = time.monotonic() - t2
        if threads:
            torch.set_num_threads(threads)
        timings["torch_threads"] = torch.get_num_threads()
        timings["prefetch"] = how
        feed = Prefetch(mine, job.batch_size, getattr(adapter, "prepare", None), workers,
                        load=video.load if video else None, pool=pool)
        units = {u.index: u for u in mine} if video else None
        timings["batch_size"] = job.batch_size
        if grow:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        with ShardWriter(pred_dir, rank, shard, job.shards) as writer, stopping(pool):
            for batch, prepared in feed:
                preds = adapter.generate(batch, prepared)
                written = 0
                for s, p in zip(batch, preds):
                    for rec in (video.records(s.index, units, p) if video else [{"index": s.index, "prediction": p}]):
                        writer.write(rec)
                        written += 1
                timings["samples"] += written  # predictions: a packed video request gives one per question
                emit("progress", rank=rank, n=written)
                if grow:
                    grow = False
                    per_sample = (torch.cuda.max_memory_allocated() - base) / len(batch)
                    spare = torch.cuda.mem_get_info()[0] + torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
                    timings["batch_size"] = choose_batch(per_sample, spare, job.batch_size, job.max_batch_size)
                    feed.resize(timings["batch_size"])
                    emit("batch", rank=rank, size=timings["batch_size"],
                         gib_per_sample=round(per_sample / 2**30, 3), spare_gib=round(spare / 2**30, 1))
        timings.update(infer_s=time.monotonic() - t1, data_wait_s=feed.waited_s, prepare_s=feed.prepare_s,
                       prefetch_workers=workers)
        if video:
            timings["video"] = video.report()
        shared = getattr(adapter, "shared", None)
        if shared is not None:  # images given to the vision tower, and how many it encoded (repeats once)
            timings["vision"] = dict(shared.stats)

    if world > 1:
        dist.barrier()
    report = {"rank": rank, "world": world, "shard": shard, "shards": job.shards, "device": device, **timings}
    (out / "ranks").mkdir(parents=True, exist_ok=True)
    name = shard_file_name(rank, shard, job.shards).replace(".jsonl", ".json")
    tmp = out / "ranks" / f".{name}.tmp"
    tmp.write_text(json.dumps(report))
    os.replace(tmp, out / "ranks" / name)
    if rank == 0 and shard == 0:
        env = environment()
        env["nproc"] = world
        env["device"] = device
        try:
            env["pip_freeze"] = Path("/opt/vlmrun/pip-freeze.txt").read_text().splitlines()
        except OSError:
            env["pip_freeze"] = None
        tmp = out / ".environment.json.tmp"
        tmp.write_text(json.dumps(env, indent=1))
        os.replace(tmp, out / "environment.json")
        emit("env", **{k: v for k, v in env.items() if k != "pip_freeze"})
    emit("finished", rank=rank, **{k: round(v, 3) if isinstance(v, float) else v for k, v in timings.items()})
    if world > 1 and not keep_group:
        dist.destroy_process_group()
    return 0


def run_many(job_paths: list[str]) -> int:
    """Several jobs of one model in one process (`run A.json B.json ...`: the benchmarks of one model in one
    container): the weights load once (reuse.py) and each job builds its adapter for its benchmark. Each job's
    lines follow a `job` event naming its job file, and end with a `done` event with its exit code. With one rank a
    job that fails leaves the next ones to run (its error is its own: bad input, a row it cannot take); with several
    ranks, or after a GPU error, the first failure ends the run."""
    if len(job_paths) == 1:
        return run(job_paths[0])
    from .reuse import loading_once

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    first = 0
    with loading_once():
        for k, path in enumerate(job_paths):
            if k and world > 1:
                _barrier()  # every rank's lines of the job before are out
            if rank == 0:
                emit("job", file=path)
            if k and world > 1:
                _barrier()  # and no rank's line of this job comes before its `job` event
            code, fatal = _guarded(path)
            if rank == 0 or code:
                emit("done", file=path, code=code, rank=rank)
            first = first or code
            if code and (world > 1 or fatal):
                return code
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    return first


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def _guarded(path: str) -> tuple[int, bool]:
    """One job of run_many: (exit code, whether the process should stop: a GPU error or out of memory)."""
    try:
        return run(path, keep_group=True), False
    except Exception as e:
        code, text = _report(e), f"{type(e).__name__} {e}"
        return code, code != BAD_INPUT and any(w in text for w in ("CUDA", "OutOfMemory", "out of memory", "NCCL"))


BAD_INPUT = 2  # a job that can never run (bad job file or data): schedulers must not retry it


def _report(e: Exception) -> int:
    """A failed run's `error` event (and, unless the input was bad, its traceback); its exit code."""
    emit("error", rank=int(os.environ.get("RANK", 0)), message=f"{type(e).__name__}: {e}")
    if isinstance(e, (JobFileError, DataError)):
        return BAD_INPUT
    traceback.print_exc()
    return 1


def main_guarded(job_paths) -> int:
    try:
        return run_many([job_paths] if isinstance(job_paths, str) else list(job_paths))
    except Exception as e:
        return _report(e)
