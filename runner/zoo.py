"""The model catalogue as a user browses and grows it: `models list` (grouped by family, with what each model
needs) and `models add HUB_ID --like EXISTING` (a manifest for a new checkpoint of a known series)."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Optional

import yaml

from .errors import VlmrunError
from .manifest import Catalogue, Model

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
GPU_GIB = 80  # one H100/A100-80GB
HEADROOM = 1.2  # activations, KV cache and the CUDA context on top of the weights


def weights_gib(m: Model) -> Optional[float]:
    return m.params_b * 1e9 * BYTES[m.dtype] / 2**30 if m.params_b else None


def gpus_needed(m: Model, gpu_gib: float = GPU_GIB) -> Optional[int]:
    w = weights_gib(m)
    return max(1, math.ceil(w * HEADROOM / gpu_gib)) if w else None


def rows(cat: Catalogue) -> list[dict]:
    """One row per model, grouped by family (API models last)."""
    out = []
    for m in sorted(cat.models.values(), key=lambda m: (m.is_api, m.family, m.name)):
        w = weights_gib(m)
        out.append({
            "family": m.family or "(API: on the host)", "name": m.name, "adapter": m.adapter,
            "source": m.source.hub or (f"api:{m.source.api.base_url}" if m.is_api else f"tiny:{m.source.tiny} (test model)"),
            "revision": m.source.revision or "",
            "params_b": m.params_b, "weights_gib": round(w, 1) if w else None,
            "gpus_80gb": gpus_needed(m) if not m.is_api else 0,
            "remote_code": m.source.trust_remote_code, "cpu": not m.needs_gpu, "batch": m.batch_size,
        })
    return out


def default_name(hub_id: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", hub_id.split("/")[-1].lower()).strip("-")


def add(cat: Catalogue, hub_id: str, like: str, name: Optional[str] = None, revision: Optional[str] = None,
        params_b: Optional[float] = None) -> Path:
    """Write manifests/models/<name>.yaml: EXISTING's settings (family, adapter, processor, prompt, generation,
    reference) for the checkpoint HUB_ID. The new file is checked by loading the catalogue with it."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", hub_id):
        raise VlmrunError(f"{hub_id!r}: give a HuggingFace repo id, e.g. OpenGVLab/InternVL2-26B")
    base = cat.model(like)
    if not base.source.hub:
        raise VlmrunError(f"--like {like}: name a model with real weights (a hub checkpoint), not a test or API model")
    name = name or default_name(hub_id)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise VlmrunError(f"--name {name!r}: use lowercase letters, digits, '.', '_' and '-'")
    path = cat.root / "manifests" / "models" / f"{name}.yaml"
    if name in cat.models or path.exists():
        raise VlmrunError(f"model {name} exists already ({path}): choose another --name")
    src = yaml.safe_load(Path(base.source_file).read_text())
    src["name"] = name
    src["description"] = f"{hub_id}, with {like}'s settings (written by `vlmrun models add --like {like}`)."
    src["reference"] = f"as {like}: {base.reference}" if base.reference else f"as {like}"
    src["source"] = {"hub": hub_id, **({"revision": revision} if revision else {}),
                     **({"trust_remote_code": True} if base.source.trust_remote_code else {})}
    src.pop("references", None)  # scores belong to the checkpoint they were measured on
    if params_b is not None:
        src["params_b"] = params_b
    else:
        src.pop("params_b", None)
    text = (f"# written by `vlmrun models add {hub_id} --like {like}`: {like}'s settings; check them against "
            f"VLMEvalKit's config.py entry for this checkpoint\n" + yaml.safe_dump(src, sort_keys=False, allow_unicode=True))
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text)
    try:
        tmp.replace(path)
        Catalogue(cat.root)  # the new manifest must load with the rest
    except VlmrunError:
        path.unlink(missing_ok=True)
        raise
    return path
