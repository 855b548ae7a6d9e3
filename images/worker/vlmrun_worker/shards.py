"""Prediction shards: each rank appends one JSON line per finished sample and flushes it.

A process killed mid-write leaves at most one torn last line; readers skip it and writers start on a fresh
line, so nothing finished is ever lost and the next run redoes only what is missing, whatever its world size.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

SHARD_GLOB = "*.jsonl"  # rank{r}.jsonl, or shard{k}of{n}-rank{r}.jsonl where a job runs as several shards


def read_records(pred_dir: Path) -> dict[str, dict]:
    """All finished predictions in a shard folder, by index (a later duplicate wins)."""
    out: dict[str, dict] = {}
    for shard in sorted(Path(pred_dir).glob(SHARD_GLOB)):
        with open(shard, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a torn line from a killed writer
                if isinstance(rec, dict) and "index" in rec and "prediction" in rec:
                    out[str(rec["index"])] = rec
    return out


def my_share(indices: list[str], done: set[str], rank: int, world: int, groups: list | None = None) -> list[str]:
    """The indices this rank still has to do: unfinished ones, strided by rank (by group where `groups` gives each
    row's: job.shard_rows)."""
    from .job import shard_rows

    keep = [k for k, i in enumerate(indices) if i not in done]
    return shard_rows([indices[k] for k in keep], rank, world, None if groups is None else [groups[k] for k in keep])


def shard_file_name(rank: int, shard: int = 0, shards: int = 1) -> str:
    """One file per writer: shards of a job run at once (a cluster's array tasks), each with its ranks."""
    return f"rank{rank}.jsonl" if shards == 1 else f"shard{shard}of{shards}-rank{rank}.jsonl"


class ShardWriter:
    def __init__(self, pred_dir: Path, rank: int, shard: int = 0, shards: int = 1):
        Path(pred_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(pred_dir) / shard_file_name(rank, shard, shards)
        self._f = open(self.path, "a+b")
        self._f.seek(0, os.SEEK_END)
        if self._f.tell() > 0:
            self._f.seek(-1, os.SEEK_END)
            if self._f.read(1) != b"\n":
                self._f.write(b"\n")  # close off a torn line left by a killed run
        self._f.flush()

    def write(self, record: dict) -> None:
        self._f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        self._f.flush()

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
