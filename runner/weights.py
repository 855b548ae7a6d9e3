"""Model weights on the host: tiny models made at first use, hub snapshots found in the HF cache.

Containers never download anything: weights are mounted read-only.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from .errors import VlmrunError
from .manifest import Model
from .paths import cache_dir, hf_hub_cache

TINY_MARKER = "vlmrun-tiny.json"


def hub_snapshot(model: Model) -> Path:
    repo = model.source.hub
    rev = model.source.revision or "main"
    base = hf_hub_cache() / f"models--{repo.replace('/', '--')}"
    ref = base / "refs" / rev
    commit = ref.read_text().strip() if ref.is_file() else rev
    snap = base / "snapshots" / commit
    if not (snap / "config.json").is_file():
        raise VlmrunError(
            f"weights of {model.name} ({repo}@{rev}) are not in the HuggingFace cache {hf_hub_cache()}: download them "
            f"on a machine with hub access, e.g. `huggingface-cli download {repo} --revision {rev}`, "
            "and copy the cache here (or set HF_HOME)")
    return snap


def recipe_hash() -> str:
    """Hash of the tiny-model recipes (and the test model's remote code) in the worker."""
    import hashlib

    from .paths import project_root

    h = hashlib.sha256()
    tiny = project_root() / "images" / "worker" / "vlmrun_worker" / "tiny"
    for p in sorted(tiny.rglob("*.py")):
        h.update(str(p.relative_to(tiny)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def tiny_dir(model: Model, image_hash: str) -> Path:
    """Tiny weights depend on the recipe and on the environment that made them."""
    return cache_dir() / "tiny" / model.name / f"{image_hash[:12]}-{recipe_hash()[:8]}"


def ensure_tiny(model: Model, image_hash: str, make: Callable[[Path, str], None]) -> tuple[Path, float]:
    """The tiny model's folder, made with `make(parent, tmp_name)` when absent. Returns (folder, seconds spent)."""
    final = tiny_dir(model, image_hash)
    if (final / TINY_MARKER).is_file():
        _readable(final)
        return final, 0.0
    final.parent.mkdir(parents=True, exist_ok=True)
    # No dots: transformers turns a remote-code model's folder name into a module name.
    tmp_name = f"tmp_{final.name}"
    tmp = final.parent / tmp_name
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.monotonic()
    make(final.parent, tmp_name)
    if not (tmp / TINY_MARKER).is_file():
        raise VlmrunError(f"making the tiny model {model.name} left no {TINY_MARKER} in {tmp}")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    _readable(final)
    return final, time.monotonic() - t0


def _readable(folder: Path) -> None:
    """Random test weights hold no secret: let any container user read them (safetensors writes 0600)."""
    for p in [folder, *folder.rglob("*")]:
        mode = p.stat().st_mode
        want = mode | 0o444 | (0o111 if p.is_dir() else 0)
        if want != mode:
            p.chmod(want)
