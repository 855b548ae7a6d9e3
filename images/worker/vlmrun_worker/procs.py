"""Prefetch processes: on a GPU the preprocessing (decode, resize, the processor) runs in other processes, so it
never holds the GIL the main thread needs to launch the model's kernels.

Full-size Qwen2-VL-2B on an H100, all 2374 MME rows: with one prefetch thread the preprocessing took 102 s of the
110 s of inference and the model waited 15.2 s for data (a second thread added nothing); with 4 processes (one
torch thread each) inference took 100.2 s and the model waited 3.7 s, and the decode steps, which are bound by the
host launching kernels, took 0.8 s instead of 1.7 s per 512 rows. Each process
builds the adapter's `Preparer` once (the processor, no model), takes a batch's rows, and returns the light samples
(index, question, extra: no pixels) and the prepared tensors; torch.multiprocessing hands those back through shared
memory, as DataLoader workers do. Processes are spawned (never forked from a process holding CUDA) when the job
starts, so they start up while the model loads.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

_PREPARE = None


def _start(factory, args, threads: int) -> None:
    global _PREPARE
    import torch
    import torch.multiprocessing  # noqa: F401 - registers the shared-memory reductions for the tensors sent back

    torch.set_num_threads(threads)  # the processor's torch ops: each process its share of the cores
    _PREPARE = factory(*args)


def warm() -> int:
    """Nothing; a first task that makes each process finish starting."""
    return 0


def load(rows) -> tuple:
    """In a process: a batch's rows to (light samples, prepared, seconds)."""
    from .run import Sample

    t = time.monotonic()
    batch = [Sample.of(r) for r in rows]
    prepared = _PREPARE(batch)
    light = [Sample(s.index, s.question, None, s.extra) for s in batch]
    return light, prepared, time.monotonic() - t


def threads_each(n: int, cores: int) -> int:
    """torch threads per prefetch process: the cores but one (the main process's) shared among the n."""
    return max(1, (cores - 1) // max(1, n))


def start_pool(n: int, factory, args, threads: int = 1):
    """`n` spawned prefetch processes, each with `factory(*args)` as its preparation and `threads` torch threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch.multiprocessing  # noqa: F401 - the parent rebuilds the shared tensors

    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                               initargs=(factory, args, threads))
    for _ in range(n):
        pool.submit(warm)
    return pool


@contextmanager
def stopping(pool):
    """The pool (or None) shut down when the block ends, however it ends; queued batches are dropped."""
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
