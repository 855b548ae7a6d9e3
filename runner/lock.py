"""One vlmrun at a time per job: a lock file in each job's run dir, held while the job runs.

Two `vlmrun eval` on one work dir would otherwise both compute the rows neither has finished (each resumes from
the shards it sees at its start). The lock is an flock on WORKDIR/.vlmrun/locks/<model>__<bench>.lock (not in
the run dir: taking a lock creates no job folder): the kernel drops it when the process ends, however it ends
(SIGKILL included), so no stale lock is ever left behind.
The file holds the owner's pid and command line, for the message the second process prints.
"""
from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from .errors import VlmrunError



def lock_file(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    return run_dir.parent.parent / ".vlmrun" / "locks" / f"{run_dir.parent.name}__{run_dir.name}.lock"


class JobLocks:
    """Locks for a set of run dirs, all or none; released by release() or when the process ends."""

    def __init__(self):
        self._held: dict[Path, int] = {}

    def acquire(self, run_dirs) -> None:
        for d in sorted({Path(p) for p in run_dirs}):
            if d in self._held:
                continue
            path = lock_file(d)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _owner(fd)
                os.close(fd)
                self.release()
                raise VlmrunError(f"{d.parent.name} on {d.name} in {d.parent.parent} is being run by another vlmrun ({owner}): "
                                  "wait for it to finish (`vlmrun status` follows it) or use another --work-dir") from None
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:300]}\n".encode())
            self._held[d] = fd

    def release(self) -> None:
        for fd in self._held.values():
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._held.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _owner(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 400).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
