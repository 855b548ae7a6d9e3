"""Prefetch processes: on a GPU the preprocessing (decode, resize, the processor) runs in other processes, so it
never holds the GIL the main thread needs to launch the model's kernels.

A prefetch thread there took ~40 ms of Python per MME row for full-size Qwen2-VL-2B on an H100 (102 s of the
110 s of inference for 2374 rows): the model waited for it, and a second thread only added contention. Each process
builds the adapter's `Preparer` once (the processor, no model), takes a batch's rows, and returns the light samples
(index, question, extra: no pixels) and the prepared tensors; torch.multiprocessing hands those back through shared
memory, as DataLoader workers do. Processes are spawned (never forked from a process holding CUDA) when the job
starts, so they start up while the model loads.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

_PREPARE = None


def _start(factory, args) -> None:
    global _PREPARE
    import torch
    import torch.multiprocessing  # noqa: F401 - registers the shared-memory reductions for the tensors sent back

    torch.set_num_threads(1)  # one core each: the processes are the parallelism
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


def start_pool(n: int, factory, args):
    """`n` spawned prefetch processes, each with `factory(*args)` as its preparation."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch.multiprocessing  # noqa: F401 - the parent rebuilds the shared tensors

    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                               initargs=(factory, args))
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
