"""`python -m vlmrun_worker launch N|gpu JOB.json [...]`: N ranks of `run JOB.json [...]` on this machine, in place of
`torchrun --standalone --nproc-per-node N`, whose launcher process imports torch once more (~2 s per job on a
CPU). This one does not import torch (except to count GPUs for `gpu`).

Each rank gets torchrun's environment for a single node (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK,
MASTER_ADDR=127.0.0.1, a free MASTER_PORT; OMP_NUM_THREADS=1 unless set, as torchrun does with several ranks;
GLOO_SOCKET_IFNAME=lo unless set),
the launcher's stdout and stderr, and SIGTERM/SIGINT forwarded. When a rank fails the others are stopped (SIGTERM,
then SIGKILL after 15 s) and the launcher exits with the failing rank's code (2, bad input, stays 2; a rank killed by
signal S: 128 + S, so an OOM kill still reads 137).

A job whose model is spread over several GPUs per rank (the job file's `gpus_per_rank`, k) gets one rank per k
visible GPUs for `gpu`, and each rank sees only its own k (CUDA_VISIBLE_DEVICES), where the worker loads the model
with device_map="auto".
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

GRACE_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES's list, else every GPU torch counts."""
    listed = [x for x in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if x.strip()]
    if listed:
        return listed
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def count(n: str, per_rank: int = 1) -> int:
    if n == "gpu":  # one rank per per_rank GPUs of those visible
        seen = len(visible_gpus()) if per_rank > 1 else _device_count()
        if per_rank > 1 and seen < per_rank:
            raise SystemExit(f"launch: a rank needs {per_rank} GPUs and {seen} are visible: give the job more GPUs "
                             "or set --gpus-per-rank")
        return max(1, seen // per_rank)
    if not n.isdigit() or int(n) < 1:
        raise SystemExit(f"launch: ranks must be a number of at least 1, or gpu (got {n!r})")
    return int(n)


def _device_count() -> int:
    import torch

    return torch.cuda.device_count()


def rank_gpus(rank: int, per_rank: int, visible: list[str]) -> list[str]:
    """The GPUs of one rank spread over several: its own slice of the visible ones."""
    mine = visible[rank * per_rank:(rank + 1) * per_rank]
    if len(mine) < per_rank:
        raise SystemExit(f"launch: rank {rank} needs {per_rank} GPUs and only {len(visible)} are visible")
    return mine


def rank_env(rank: int, world: int, port: int, gpus: list[str] | None = None) -> dict:
    env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
           "LOCAL_WORLD_SIZE": str(world), "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    if world > 1:
        env.setdefault("OMP_NUM_THREADS", "1")
        # the ranks meet on this machine's loopback: gloo (the CPU backend) otherwise first resolves the host's
        # name, which in a container without a network costs ~0.6 s per rank and warns
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    if gpus:  # a rank spread over several GPUs sees just its own (as cuda:0, cuda:1, ...)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    return env


def gpus_per_rank(job: str) -> int:
    """From the job file: GPUs per rank (1 where the file does not say; the worker checks the file itself)."""
    import json
    from pathlib import Path

    try:
        return max(1, int(json.loads(Path(job).read_text()).get("gpus_per_rank") or 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1


def stop(procs: list, sig=signal.SIGTERM) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    deadline = time.monotonic() + GRACE_S
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(args: list[str], command=None) -> int:
    """command: what each rank runs (default the worker's `run JOB.json`; tests give their own)."""
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    job, jobs = args[1], args[1:]  # several job files: the benchmarks of one model, one after another in each rank
    per_rank = gpus_per_rank(job)
    world = count(args[0], per_rank)
    visible = (visible_gpus() or [str(i) for i in range(world * per_rank)]) if per_rank > 1 else []
    port = free_port()
    command = command or [sys.executable, "-m", "vlmrun_worker", "run", *jobs]
    procs = [subprocess.Popen(command, env=rank_env(r, world, port, rank_gpus(r, per_rank, visible) if per_rank > 1
                                                    else None)) for r in range(world)]

    def forward(signum, _frame):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    saved = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [c for c in codes if c not in (None, 0)]
            if failed:
                stop(procs)
                return failed[0] if failed[0] > 0 else 128 - failed[0]  # killed by signal S: 128 + S, as a shell says
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.05)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
