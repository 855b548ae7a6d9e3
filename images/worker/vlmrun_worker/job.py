"""The job file (job.json): the one contract between the host, which writes it, and the worker, which reads it.

The host builds a `JobFile` and writes `to_dict()`; the worker reads it back with `JobFile.load`, which checks
every field: a missing field, a field of the wrong type or an unknown benchmark type is an error naming the
field, never a silent default. Paths are as the worker sees them (inside the container, or on the host for
the local backend).

Shards: a job's rows are split into `shards` parts by position (row i belongs to shard i % shards), so every
shard's part is the same whatever ran before; a shard computes only the rows of its part that have no
prediction yet, and any shard count resumes any earlier run. The shard index is `shard`, or, where one request
serves every shard (a Kubernetes Indexed Job), the integer in the environment variable named by `shard_env`.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

BENCH_TYPES = ("yorn", "mcq", "vqa", "video", "chat")  # chat: `serve`, the request is the prompt
ENGINES = ("hf", "vllm")
DEVICES = ("cpu", "cuda")


class JobFileError(ValueError):
    pass


@dataclass
class JobFile:
    adapter: str
    model_name: str
    bench: str
    bench_type: str
    model_dir: str
    data: str
    out_dir: str
    device: str
    batch_size: int
    model: dict
    max_batch_size: Optional[int] = None  # on a GPU: grow the batch up to this, as free memory allows
    engine: str = "hf"
    limit: Optional[int] = None
    prefetch_workers: Optional[int] = None
    api_threads: int = 4  # API models: concurrent requests
    tensor_parallel_size: int = 1
    shards: int = 1
    shard: Optional[int] = 0
    shard_env: Optional[str] = None
    video: Optional[dict] = None  # a video benchmark: its frame setting and folders (video_job.VideoSpec)
    gpus_per_rank: int = 1  # GPUs one rank's model is spread over (device_map="auto"; launch.py gives each rank its own)

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            want = {"int": int, "str": str, "dict": dict}.get(str(f.type).replace("Optional[", "").rstrip("]"))
            if v is None and str(f.type).startswith("Optional"):
                continue
            if want is not None and (not isinstance(v, want) or isinstance(v, bool)):
                raise JobFileError(f"job file field {f.name!r} must be {want.__name__}, got {v!r}")
        if self.bench_type not in BENCH_TYPES:
            raise JobFileError(f"job file: benchmark type {self.bench_type!r} is unknown (one of {', '.join(BENCH_TYPES)})")
        if self.engine not in ENGINES:
            raise JobFileError(f"job file: engine {self.engine!r} is unknown (one of {', '.join(ENGINES)})")
        if self.device not in DEVICES:
            raise JobFileError(f"job file: device {self.device!r} is unknown (one of {', '.join(DEVICES)})")
        if min(self.batch_size, self.shards, self.tensor_parallel_size, self.api_threads, self.gpus_per_rank) < 1:
            raise JobFileError("job file: batch_size, shards, tensor_parallel_size, api_threads and gpus_per_rank must "
                               "be at least 1")
        if (self.bench_type == "video") != (self.video is not None):
            raise JobFileError("job file: a video benchmark needs the video block, and only a video benchmark has one")
        if self.shard is None and not self.shard_env:
            raise JobFileError("job file: give the shard index, or shard_env naming the variable that holds it")

    @classmethod
    def from_dict(cls, d: dict) -> "JobFile":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise JobFileError(f"job file: unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as e:
            raise JobFileError(f"job file: {e}") from None

    @classmethod
    def load(cls, path: str) -> "JobFile":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        return asdict(self)

    def shard_index(self) -> int:
        """This process's shard: the job file's, or the one in the environment variable it names."""
        if self.shard is not None:
            k = self.shard
        else:
            raw = os.environ.get(self.shard_env or "", "")
            if not raw.isdigit():
                raise JobFileError(f"job file: shard index variable {self.shard_env} is {raw!r}, not a number")
            k = int(raw)
        if not 0 <= k < self.shards:
            raise JobFileError(f"job file: shard {k} is outside 0..{self.shards - 1}")
        return k

    def adapter_spec(self) -> dict:
        """What an adapter gets: the model's settings (benchmark overrides merged) and the benchmark's name/type."""
        return {**self.model, "tensor_parallel_size": self.tensor_parallel_size, "gpus_per_rank": self.gpus_per_rank,
                "bench": self.bench, "bench_type": self.bench_type}


def shard_rows(indices: list[str], shard: int, shards: int, groups: list | None = None) -> list[str]:
    """The rows of one shard: by position, row i to shard i % shards. With `groups` (a key per row; rows showing
    the same image share one), by group: the g-th distinct group to shard g % shards, so the rows of one image
    stay together (and the vision tower encodes it once for all of them)."""
    if groups is None:
        return indices[shard::shards]
    order: dict = {}
    return [i for i, g in zip(indices, groups) if order.setdefault(g, len(order)) % shards == shard]
