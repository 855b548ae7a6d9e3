"""`python -m vlmrun_worker launch N|gpu JOB.json`: N ranks of `run JOB.json` on this machine, in place of
`torchrun --standalone --nproc-per-node N`, whose launcher process imports torch once more (~2 s per job on a
CPU). This one does not import torch (except to count GPUs for `gpu`).

Each rank gets torchrun's environment for a single node (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK,
MASTER_ADDR=127.0.0.1, a free MASTER_PORT; OMP_NUM_THREADS=1 unless set, as torchrun does with several ranks),
the launcher's stdout and stderr, and SIGTERM/SIGINT forwarded. When a rank fails the others are stopped (SIGTERM,
then SIGKILL after 15 s) and the launcher exits with the failing rank's code (2, bad input, stays 2; a rank killed by
signal S: 128 + S, so an OOM kill still reads 137).
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


def count(n: str) -> int:
    if n == "gpu":
        import torch

        return max(1, torch.cuda.device_count())
    if not n.isdigit() or int(n) < 1:
        raise SystemExit(f"launch: ranks must be a number of at least 1, or gpu (got {n!r})")
    return int(n)


def rank_env(rank: int, world: int, port: int) -> dict:
    env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
           "LOCAL_WORLD_SIZE": str(world), "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    if world > 1:
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


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
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    world, job = count(args[0]), args[1]
    port = free_port()
    command = command or [sys.executable, "-m", "vlmrun_worker", "run", job]
    procs = [subprocess.Popen(command, env=rank_env(r, world, port)) for r in range(world)]

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
