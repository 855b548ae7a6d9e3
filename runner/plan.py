"""The plan: which (model, benchmark) jobs to run, on which image family, with how many ranks and GPUs."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .cuda import choose_flavour, gpu_memory_mib, host_driver
from .gpus import GpuSpec
from .errors import VlmrunError
from .manifest import Benchmark, Catalogue, Model
from .zoo import GPU_GIB, HEADROOM, gpus_needed, weights_gib


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
    video: Optional[dict] = None  # video benchmarks: nframe, fps, pack, subtitles, input (VideoSetting.for_job)
    gpus_per_rank: int = 1  # GPUs one rank's model is spread over (device_map="auto"): weights larger than one GPU

    @property
    def label(self) -> str:
        """The benchmark as this job runs it: its name, with a video benchmark's frame setting as VLMEvalKit names
        it (Video-MME_8frame, MMBench-Video_1.0fps_pack, Video-MME_8frame_subs)."""
        return self.bench.name + (f"_{setting_name(self.video)}" if self.video else "")

    @property
    def name(self) -> str:
        return f"{self.model.name}_{self.label}"

    @property
    def family(self) -> str:
        return self.model.family or "api"

    @property
    def device(self) -> str:
        return "cuda" if self.gpus else "cpu"


# How each adapter takes a video (VLMEvalKit's VIDEO_LLM): the sampled frames as images, or the video itself
# (read at the model's own frame choice). Adapters not listed have no video path yet.
VIDEO_INPUT = {"internvl_chat": "frames", "qwen2_vl": "video", "video_llava": "video"}
VIDEO_ONLY = {"video_llava"}  # VLMEvalKit's VideoLLaVA_HF reads one video per question and no image
FIXED_NFRAME = {"video_llava": 8}  # VLMEvalKit's VideoLLaVA_HF samples 8 frames itself and refuses any other setting


@dataclass
class VideoSetting:
    """A run's frame setting for its video benchmarks (--nframe / --fps, --pack, --subtitles)."""
    nframe: int = 0
    fps: float = -1.0
    pack: bool = False
    subtitles: bool = False

    @classmethod
    def of(cls, nframe: Optional[int], fps: Optional[float], pack: bool = False, subtitles: bool = False) -> "VideoSetting":
        if nframe is not None and fps is not None:
            raise VlmrunError("give --nframe or --fps, not both (VLMEvalKit samples a video one way or the other)")
        if nframe is not None and nframe < 1:
            raise VlmrunError("--nframe must be at least 1")
        if fps is not None and not fps > 0:
            raise VlmrunError("--fps must be more than 0 (e.g. 1 or 0.5)")
        return cls(nframe=nframe if nframe is not None else (0 if fps else 8), fps=float(fps) if fps else -1.0,
                   pack=pack, subtitles=subtitles)

    def for_job(self, model: Model, bench: Benchmark) -> dict:
        how = VIDEO_INPUT.get(model.adapter)
        if bench.videos is None:
            raise VlmrunError(f"{bench.name}: running models on it is not built yet (its videos come in formats vlmrun "
                              f"does not read); VLMEvalKit's predictions for it are scored by `vlmrun score --bench "
                              f"{bench.name} --predictions FILE`")
        if how is None:
            raise VlmrunError(f"{model.name} has no video input in vlmrun (adapter {model.adapter}); models that take "
                              f"videos use the adapters {', '.join(sorted(VIDEO_INPUT))}")
        if self.pack and how == "video":
            raise VlmrunError(f"--pack asks one question list about a video's frames; {model.name} reads the video "
                              "itself (VLMEvalKit asks such models each question alone): leave out --pack")
        fixed = FIXED_NFRAME.get(model.adapter)
        if fixed and self.nframe != fixed:
            raise VlmrunError(f"{model.name} samples {fixed} frames of each video itself (as VLMEvalKit's wrapper "
                              f"does) and takes no other setting: run it with --nframe {fixed}")
        if self.subtitles and not bench.videos.subtitles:
            raise VlmrunError(f"--subtitles: {bench.name} has no subtitles (Video-MME has)")
        return {"nframe": self.nframe, "fps": self.fps, "pack": self.pack, "subtitles": self.subtitles, "input": how}


def setting_name(video: dict) -> str:
    """'8frame' / '1.0fps', then '_pack' and '_subs': VLMEvalKit's names for a video dataset's settings."""
    s = f"{video['nframe']}frame" if video.get("nframe", 0) > 0 else f"{video['fps']}fps"
    return s + ("_pack" if video.get("pack") else "") + ("_subs" if video.get("subtitles") else "")


def make_plan(cat: Catalogue, models: list[str], benches: list[str], work_dir: Path,
              gpus: Optional[GpuSpec] = None, nproc: Optional[int] = None, batch_size: Optional[int] = None,
              limit: Optional[int] = None, engine: str = "hf", prefetch: Optional[int] = None,
              api_threads: int = 4, video: Optional[VideoSetting] = None,
              gpus_per_rank: Optional[int] = None) -> list[Job]:
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
    if gpus_per_rank is not None and (gpus_per_rank < 1 or not gpus):
        raise VlmrunError("--gpus-per-rank spreads one rank's model over several GPUs: give it 1 or more, with --gpus")
    ms = [cat.model(m) for m in dict.fromkeys(models)]
    bs = [cat.benchmark(b) for b in dict.fromkeys(benches)]
    video = video or VideoSetting.of(None, None)
    flavour = "vllm" if engine == "vllm" else "cuda" if gpus else "cpu"
    driver = host_driver() if gpus else None
    gpu_gib = gpu_memory_gib() if gpus else GPU_GIB  # asked once: what GPUs per rank a model needs
    jobs = []
    for m in ms:
        if engine not in m.engines:
            raise VlmrunError(f"model {m.name} does not run on the {engine} engine (its manifest lists engines: "
                              f"{', '.join(m.engines)})")
        if m.is_api:  # requests from the host: no image, no GPU, one process (its threads are --api-threads)
            if any(b.type == "video" for b in bs):
                raise VlmrunError(f"{m.name} is an API model: video benchmarks run local models only so far")
            jobs += [Job(model=m, bench=b, flavour="api", nproc=1, gpus=None, batch_size=1, limit=limit,
                         run_dir=Path(work_dir) / m.name / b.name, api_threads=api_threads) for b in bs]
            continue
        fam = cat.family(m.family)
        if flavour == "cuda":
            flavour_m = choose_flavour(cat, fam.name, driver)  # the newest CUDA this driver runs
        else:
            flavour_m = flavour
        if flavour_m == "cpu" and m.needs_gpu:
            raise VlmrunError(f"model {m.name} runs on GPUs only: {m.needs_gpu}. Add --gpus (the cuda flavour)")
        if flavour_m not in fam.flavours:
            raise VlmrunError(f"model {m.name}: family {fam.name} has no {flavour_m} flavour")
        k = 1 if engine == "vllm" or not gpus else (gpus_per_rank or gpus_needed(m, gpu_gib) or 1)
        if engine == "vllm":
            n: Union[int, str] = 1  # one process; vLLM batches itself and shards the model over the GPUs
        elif nproc is not None:
            n = nproc
        elif gpus is None:
            n = 1
        else:
            n = gpus.n // k if gpus.n else "gpu"  # "gpu": the launcher counts the GPUs it sees (k per rank)
        if gpus is not None and gpus.n is not None and gpus.n < k:
            raise VlmrunError(f"model {m.name} needs {k} GPUs per rank ({sizing(m, gpu_gib)}); --gpus gives {gpus.n}: "
                              f"give it at least {k}, or set --gpus-per-rank if its GPUs are larger")
        if gpus is not None and isinstance(n, int) and gpus.n is not None and n * k > gpus.n:
            raise VlmrunError(f"--nproc {n} with {k} GPU(s) per rank needs {n * k} GPUs; --gpus gives {gpus.n}")
        for b in bs:
            if b.type != "video" and m.adapter in VIDEO_ONLY:
                raise VlmrunError(f"{m.name} answers questions about videos only (as VLMEvalKit's wrapper): {b.name} is "
                                  "an image benchmark; run it on a video benchmark (`vlmrun bench list`, type video)")
            v = video.for_job(m, b) if b.type == "video" else None
            if v and engine == "vllm":
                raise VlmrunError("video benchmarks run on the hf engine so far: leave out --engine vllm")
            jobs.append(Job(model=m, bench=b, flavour=flavour_m, nproc=n, gpus=gpus,
                            batch_size=batch_size or m.batch_size, limit=limit,
                            max_batch_size=(m.gpu_max_batch_size if gpus and engine == "hf" and batch_size is None
                                            else None),
                            run_dir=Path(work_dir) / m.name / (b.name + (f"_{setting_name(v)}" if v else "")),
                            engine=engine, prefetch=prefetch, driver=driver, video=v, gpus_per_rank=k))
    return jobs


def gpu_memory_gib() -> float:
    """The memory of this host's smallest GPU (nvidia-smi), VLMRUN_GPU_MEMORY_GIB where the GPUs are elsewhere (a
    cluster's nodes), else 80 (an H100 / A100-80GB)."""
    if os.environ.get("VLMRUN_GPU_MEMORY_GIB"):
        return float(os.environ["VLMRUN_GPU_MEMORY_GIB"])
    mib = gpu_memory_mib()
    return mib / 1024 if mib else GPU_GIB


def sizing(m: Model, gpu_gib: float) -> str:
    w = weights_gib(m)
    return (f"{w:.0f} GiB of {m.dtype} weights + {round((HEADROOM - 1) * 100)} % on GPUs of {gpu_gib:.0f} GiB"
            if w else "as set")
