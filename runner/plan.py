"""The plan: which (model, benchmark) jobs to run, on which image family, with how many ranks and GPUs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .cuda import choose_flavour, host_driver
from .gpus import GpuSpec
from .errors import VlmrunError
from .manifest import Benchmark, Catalogue, Model


@dataclass
class Job:
    model: Model
    bench: Benchmark
    flavour: str
    nproc: Union[int, str]  # a count, or "gpu" (one rank per visible GPU)
    gpus: Optional[GpuSpec]
    batch_size: int
    limit: Optional[int]
    run_dir: Path
    engine: str = "hf"
    prefetch: Optional[int] = None  # preprocessing threads per rank; None: the worker decides (device, cores)
    driver: Optional[str] = None  # the host's NVIDIA driver the CUDA flavour was chosen for (cuda.py)
    max_batch_size: Optional[int] = None  # GPU: the worker grows the batch up to this as memory allows
    api_threads: int = 4  # API models: concurrent requests

    @property
    def name(self) -> str:
        return f"{self.model.name}_{self.bench.name}"

    @property
    def family(self) -> str:
        return self.model.family or "api"

    @property
    def device(self) -> str:
        return "cuda" if self.gpus else "cpu"


def make_plan(cat: Catalogue, models: list[str], benches: list[str], work_dir: Path,
              gpus: Optional[GpuSpec] = None, nproc: Optional[int] = None, batch_size: Optional[int] = None,
              limit: Optional[int] = None, engine: str = "hf", prefetch: Optional[int] = None,
              api_threads: int = 4) -> list[Job]:
    if not models:
        raise VlmrunError(f"name at least one model; valid models: {', '.join(sorted(cat.models))}")
    if nproc is not None and nproc < 1:
        raise VlmrunError("--nproc must be at least 1")
    if limit is not None and limit < 1:
        raise VlmrunError("--limit must be at least 1")
    if batch_size is not None and batch_size < 1:
        raise VlmrunError("--batch-size must be at least 1")
    if prefetch is not None and prefetch < 0:
        raise VlmrunError("--prefetch must be 0 (prepare inline) or more threads")
    if api_threads < 1:
        raise VlmrunError("--api-threads must be at least 1")
    if engine not in ("hf", "vllm"):
        raise VlmrunError(f"--engine {engine!r}: use hf (transformers) or vllm")
    if engine == "vllm" and not gpus:
        raise VlmrunError("the vLLM engine runs on GPUs only: add --gpus (or use --engine hf)")
    ms = [cat.model(m) for m in dict.fromkeys(models)]
    bs = [cat.benchmark(b) for b in dict.fromkeys(benches)]
    for b in bs:
        if b.type == "video":
            raise VlmrunError(f"{b.name}: running models on videos is not built yet; VLMEvalKit's predictions for it "
                              f"are scored by `vlmrun score --bench {b.name} --predictions FILE`")
    flavour = "vllm" if engine == "vllm" else "cuda" if gpus else "cpu"
    driver = host_driver() if gpus else None
    jobs = []
    for m in ms:
        if engine not in m.engines:
            raise VlmrunError(f"model {m.name} does not run on the {engine} engine (its manifest lists engines: "
                              f"{', '.join(m.engines)})")
        if m.is_api:  # requests from the host: no image, no GPU, one process (its threads are --api-threads)
            jobs += [Job(model=m, bench=b, flavour="api", nproc=1, gpus=None, batch_size=1, limit=limit,
                         run_dir=Path(work_dir) / m.name / b.name, api_threads=api_threads) for b in bs]
            continue
        fam = cat.family(m.family)
        if flavour == "cuda":
            flavour_m = choose_flavour(cat, fam.name, driver)  # the newest CUDA this driver runs
        else:
            flavour_m = flavour
        if flavour_m not in fam.flavours:
            raise VlmrunError(f"model {m.name}: family {fam.name} has no {flavour_m} flavour")
        if engine == "vllm":
            n: Union[int, str] = 1  # one process; vLLM batches itself and shards the model over the GPUs
        elif nproc is not None:
            n = nproc
        elif gpus is None:
            n = 1
        else:
            n = gpus.n or "gpu"
        if gpus is not None and isinstance(n, int) and gpus.n is not None and n > gpus.n:
            raise VlmrunError(f"--nproc {n} exceeds the {gpus.n} GPU(s) given with --gpus: one rank per GPU")
        for b in bs:
            jobs.append(Job(model=m, bench=b, flavour=flavour_m, nproc=n, gpus=gpus,
                            batch_size=batch_size or m.batch_size, limit=limit,
                            max_batch_size=(m.gpu_max_batch_size if gpus and engine == "hf" and batch_size is None
                                            else None),
                            run_dir=Path(work_dir) / m.name / b.name, engine=engine, prefetch=prefetch,
                            driver=driver))
    return jobs
