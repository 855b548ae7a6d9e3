"""The catalogue: image families, models and benchmarks, read from manifests/*.yaml and validated.

Adding a model is adding a YAML file. Every schema error names the file, the field and what is allowed.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import VlmrunError
from .paths import project_root

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Flavour(_Strict):
    base: str = Field(description="base image (a build argument); must provide python3 with venv")
    lock: str = Field(description="pinned lock file with hashes, relative to the project root")
    requirements: list[str] = Field(default_factory=list, description="top-level pins the lock is resolved from")
    local_base: bool = Field(False, description="the base is made locally by `vlmrun images base`")
    sdists: list[str] = Field(default_factory=list, description="packages published only as source, built into "
                              "wheels on the host: 'name==version --hash=sha256:<sdist sha256>' (runner/sdists.py)")


class Family(_Strict):
    name: str
    description: str = ""
    python: str
    dockerfile: str = Field("Dockerfiles/family.Dockerfile",
                            description="the template every family shares unless one needs its own")
    flavours: dict[Literal["cpu", "cuda", "cuda12", "vllm"], Flavour]
    source_file: Optional[str] = Field(None, exclude=True)

    @field_validator("flavours")
    @classmethod
    def _has_cpu(cls, v):
        if "cpu" not in v:
            raise ValueError("a family needs a 'cpu' flavour (tests, demo and CI run it)")
        return v


class Api(_Strict):
    """An OpenAI-compatible chat endpoint, with VLMEvalKit's OpenAIWrapper settings (vlmeval/api/gpt.py):
    images as base64 JPEG data URLs, each thumbnailed to img_size (-1: as they are), sides under 100 px scaled up."""
    base_url: str = Field(description="the endpoint's base URL, e.g. http://127.0.0.1:8000/v1 (…/chat/completions is added)")
    model: str = Field(description="the model id the endpoint serves")
    key_env: Optional[str] = Field(None, description="the environment variable holding the API key (never written)")
    timeout_s: float = Field(300, gt=0)
    retries: int = Field(5, ge=0, description="further tries after a 429, a 5xx, a timeout or a lost connection")
    retry_wait_s: float = Field(5, ge=0, description="the backoff's first wait; doubled per retry, at most 60 s")
    max_tokens: int = Field(2048, gt=0)
    temperature: float = 0
    img_size: int = -1
    img_detail: Literal["low", "high", "auto"] = "low"
    system_prompt: Optional[str] = None

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        from urllib.parse import urlsplit

        if not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        parts = urlsplit(v)
        if "@" in parts.netloc or parts.query:
            raise ValueError("base_url must hold no credentials or query: put the key in the variable key_env names")
        return v.rstrip("/")

    def key_missing(self) -> bool:
        """The key's variable is named but not set (the key itself is read where the request is sent)."""
        return bool(self.key_env) and not os.environ.get(self.key_env)


class Source(_Strict):
    hub: Optional[str] = Field(None, description="HuggingFace repo id")
    revision: Optional[str] = None
    modelscope: Optional[str] = Field(None, description="the same weights' ModelScope repo id (`models pull --source modelscope`)")
    modelscope_revision: str = Field("master", description="a ModelScope branch or tag")
    tiny: Optional[str] = Field(None, description="recipe of a tiny random-weight model built at first use")
    api: Optional[Api] = Field(None, description="an OpenAI-compatible endpoint: the model runs elsewhere, "
                                                 "requests are sent from the host")
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _one_kind(self):
        if sum(map(bool, (self.hub, self.tiny, self.api))) != 1:
            raise ValueError("give exactly one of 'hub' (a HuggingFace repo id), 'tiny' (a tiny-model recipe) "
                             "or 'api' (an OpenAI-compatible endpoint)")
        return self


class Generation(_Strict):
    """The keyword arguments generate() gets, exactly as VLMEvalKit's wrapper for the model passes them; what is
    not listed comes from the checkpoint's generation_config, there as here (`vlmrun inspect` shows the merge).
    A value of null is passed as None (InternVL's top_p)."""
    max_new_tokens: int = Field(64, gt=0)
    do_sample: bool = False
    top_p: Optional[float] = None
    top_k: Optional[int] = None
    temperature: Optional[float] = None
    repetition_penalty: Optional[float] = None
    num_beams: Optional[int] = None
    use_cache: Optional[bool] = None
    min_new_tokens: Optional[int] = None
    length_penalty: Optional[float] = None
    max_length: Optional[int] = Field(None, gt=0, description="the whole sequence's cap, prompt included, where the "
                                      "wrapper passes that instead of max_new_tokens (GLM4v)")

    def kwargs(self) -> dict:
        """The arguments as listed in the manifest (max_new_tokens always, unless max_length stands in for it): a
        wrapper that passes no do_sample leaves it to the checkpoint's generation_config, and so does vlmrun."""
        listed = self.model_dump(exclude_unset=True)
        if self.max_length is not None and "max_new_tokens" not in listed:
            return listed
        return {"max_new_tokens": self.max_new_tokens, **listed}


class Prompt(_Strict):
    suffix: str = ""
    system: Optional[str] = None
    # the whole prompt for adapters that build it as a string: {images} (one image_token per image), {text}
    template: Optional[str] = None
    image_token: Optional[str] = None
    # model: the adapter's per-model prompts (VLMEvalKit's custom prompt); dataset: the benchmark's default
    # prompt (VLMEvalKit's use_custom_prompt=False); chat_template: the benchmark's default prompt through the
    # checkpoint's own chat template (llava_hf: VLMEvalKit's LLaVA_OneVision_HF)
    style: Literal["model", "dataset", "chat_template"] = "model"
    # the wrapper's prompt set where VLMEvalKit tells checkpoints of one series apart by their name (llama_vision's
    # '11B' / '90B' prompts for AI2D and ChartQA)
    variant: Optional[str] = None

    @field_validator("template")
    @classmethod
    def _placeholders(cls, v):
        if v is not None and ("{images}" not in v or "{text}" not in v):
            raise ValueError("a prompt template needs the placeholders {images} and {text}")
        return v


class Reference(_Strict):
    bench: str
    scores: dict[str, float]
    source: str


class Model(_Strict):
    name: str
    family: str = Field("", description="the image family; none for an API model (it runs on the host)")
    adapter: str
    source: Source
    dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    processor: dict[str, Any] = Field(default_factory=dict)
    prompt: Prompt = Field(default_factory=Prompt)
    generation: Generation = Field(default_factory=Generation)
    batch_size: int = Field(1, gt=0)
    needs_gpu: Optional[str] = Field(None, description="why the model runs on GPUs only (its family's cuda flavour); "
                                                        "planning it for the CPU says this")
    gpu_max_batch_size: Optional[int] = Field(
        None, gt=0, description="on GPUs (hf engine, no --batch-size): the worker grows the batch from batch_size "
                                "up to this, as far as the GPU's free memory allows at the first batch's peak use")
    engines: list[Literal["hf", "vllm"]] = Field(default_factory=lambda: ["hf"],
                                                 description="inference engines this model can run on")
    description: str = ""
    params_b: Optional[float] = Field(None, gt=0, description="parameters, in billions: `models list` shows the weights' "
                                                               "memory and the GPUs they need from it")
    references: list[Reference] = Field(default_factory=list)
    reference: str = Field("", description="the VLMEvalKit version or commit whose wrapper the settings follow, "
                                           "e.g. 'vlmevalkit e8e78f05 (Qwen2VLChat)'")
    source_file: Optional[str] = Field(None, exclude=True)

    @model_validator(mode="after")
    def _family_or_api(self):
        if self.source.api and (self.family or self.adapter != "openai_api"):
            raise ValueError("an API model (source.api) has no family and the adapter openai_api")
        return self

    @property
    def is_api(self) -> bool:
        return self.source.api is not None


class Archive(_Strict):
    """A file `vlmrun data fetch` downloads (resumably) into the benchmark's video folder and unpacks once."""
    url: str
    md5: Optional[str] = None
    into: str = Field("video", description="the folder under the video root its members go to (flattened, as "
                      "VLMEvalKit unzips them)")


class Videos(_Strict):
    """Where a video benchmark's videos are and how its questions are asked."""
    layout: Literal["videomme", "mmbench_video", "mvbench_mp4"] = Field(description="the VLMEvalKit dataset class whose "
                                                         "build_prompt the questions follow")
    root: str = Field(description="folder under $LMUData holding video/<name>.mp4 (or the TSV's video_path) "
                      "and subtitle/<name>.srt")
    subtitles: bool = False  # Video-MME: the _subs setting exists (--subtitles)
    archives: list[Archive] = Field(default_factory=list)
    synthetic: Optional[str] = Field(None, description="made, not downloaded: the worker's video recipe "
                                     "(`vlmrun data fetch` runs it in the transformers-latest image)")

    @field_validator("root")
    @classmethod
    def _relative(cls, v: str) -> str:
        p = PurePosixPath(v)
        if not v or p.is_absolute() or ".." in p.parts:
            raise ValueError(f"{v!r} must be a folder name inside $LMUData, without '..'")
        return v


class Benchmark(_Strict):
    name: str
    type: Literal["yorn", "mcq", "vqa", "video"]
    scorer: Literal["mme", "pope", "hallusionbench", "mcq", "mmbench", "mmmu", "vqa_acc", "anls", "relaxed", "ocrbench",
                    "mmvet", "mathvista", "llavabench",  # these three need a judge (--judge)
                    "videomme", "mvbench", "mmbench_video"]
    file: str = Field(description="TSV file name in $LMUData, or a path relative to the project root with 'bundled'")
    bundled: bool = False
    url: Optional[str] = None
    md5: Optional[str] = None
    rows: Optional[int] = Field(None, gt=0)
    description: str = ""
    # per-adapter settings for this benchmark, merged over the model's (e.g. InternVL's tile count for OCR)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    videos: Optional[Videos] = None  # a video benchmark models run on (without: scored only, `vlmrun score`)
    source_file: Optional[str] = Field(None, exclude=True)

    @field_validator("file")
    @classmethod
    def _inside(cls, v: str) -> str:
        """A file name in $LMUData or a path inside the project: never absolute, never '..'."""
        p = PurePosixPath(v.replace("\\", "/"))
        if not v or p.is_absolute() or ".." in p.parts or v.startswith("~"):
            raise ValueError(f"{v!r} must be a relative path inside the project (bundled) or $LMUData, without '..'")
        return v


def available_adapters(root: Path | None = None) -> list[str]:
    """Adapters are modules of the worker package; a new file there is a new adapter."""
    root = root or project_root()
    d = root / "images" / "worker" / "vlmrun_worker" / "adapters"
    # shared helpers and engine wrappers, not model code; openai_api is the API models' (source.api) request builder
    engines = {"base", "gpu", "shared_images", "internvl_tiles", "vllm_chat", "openai_api"}
    return sorted(p.stem for p in d.glob("*.py") if not p.stem.startswith("_") and p.stem not in engines)


def available_tiny_recipes(root: Path | None = None) -> list[str]:
    root = root or project_root()
    d = root / "images" / "worker" / "vlmrun_worker" / "tiny"
    return sorted(p.stem for p in d.glob("*.py") if not p.stem.startswith("_"))


def _describe(err: ValidationError, path: Path) -> str:
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling)"
    elif first["type"] == "missing":
        msg = "required field is missing"
    elif first["type"] == "literal_error":
        msg = msg.replace("Input should be", "must be")
    return f"invalid manifest {path}: field '{loc}': {msg}"


# libyaml's safe loader where PyYAML was built with it: the catalogue's ~100 files load in 0.04 s instead of 0.3 s
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(cls, path: Path):
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except UnicodeDecodeError:
        raise VlmrunError(f"invalid manifest {path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        why = " ".join(str(getattr(e, "problem", None) or e).split())  # one line, whatever YAML said
        raise VlmrunError(f"invalid manifest {path}:{where}: not valid YAML ({why})") from None
    if not isinstance(data, dict):
        raise VlmrunError(f"invalid manifest {path}: expected a mapping of fields, got {type(data).__name__}")
    try:
        obj = cls.model_validate(data)
    except ValidationError as e:
        raise VlmrunError(_describe(e, path)) from None
    if obj.name != path.stem:
        raise VlmrunError(f"invalid manifest {path}: field 'name': '{obj.name}' must match the file name '{path.stem}'")
    obj.source_file = str(path)
    return obj


class Catalogue:
    """All manifests of a project root, cross-checked."""

    def __init__(self, root: Path | None = None):
        self.root = (root or project_root()).resolve()
        mdir = self.root / "manifests"
        if not mdir.is_dir():
            raise VlmrunError(f"no manifests/ folder under {self.root}; run vlmrun from a checkout or set VLMRUN_HOME")
        self.families = {f.name: f for f in (_load(Family, p) for p in sorted((mdir / "families").glob("*.yaml")))}
        self.models = {m.name: m for m in (_load(Model, p) for p in sorted((mdir / "models").glob("*.yaml")))}
        self.benchmarks = {b.name: b for b in (_load(Benchmark, p) for p in sorted((mdir / "benchmarks").glob("*.yaml")))}
        self._cross_check()

    def _cross_check(self) -> None:
        adapters = available_adapters(self.root)
        recipes = available_tiny_recipes(self.root)
        for fam in self.families.values():
            for flv, spec in fam.flavours.items():
                if not (self.root / fam.dockerfile).is_file():
                    raise VlmrunError(f"invalid manifest {fam.source_file}: field 'dockerfile': {fam.dockerfile} does not exist")
        for m in self.models.values():
            if not m.is_api and not m.family:
                raise VlmrunError(f"invalid manifest {m.source_file}: field 'family': required field is missing")
            if not m.is_api and m.family not in self.families:
                raise VlmrunError(f"invalid manifest {m.source_file}: field 'family': '{m.family}' is not one of {sorted(self.families)}")
            if not m.is_api and m.adapter not in adapters:
                raise VlmrunError(f"invalid manifest {m.source_file}: field 'adapter': '{m.adapter}' is not one of {adapters}")
            if m.source.tiny and m.source.tiny not in recipes:
                raise VlmrunError(f"invalid manifest {m.source_file}: field 'source.tiny': '{m.source.tiny}' is not one of {recipes}")

    def model(self, name: str) -> Model:
        if name not in self.models:
            raise VlmrunError(f"unknown model '{name}'; valid models: {', '.join(sorted(self.models))}")
        return self.models[name]

    def benchmark(self, name: str) -> Benchmark:
        if name not in self.benchmarks:
            raise VlmrunError(f"unknown benchmark '{name}'; valid benchmarks: {', '.join(sorted(self.benchmarks))}")
        return self.benchmarks[name]

    def family(self, name: str) -> Family:
        if name not in self.families:
            raise VlmrunError(f"unknown image family '{name}'; valid families: {', '.join(sorted(self.families))}")
        return self.families[name]
