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
    if (snap / "config.json").is_file():
        return snap
    if model.source.modelscope:
        from .modelscope import complete_snapshot

        ms = complete_snapshot(model.source.modelscope, model.source.modelscope_revision)
        if ms is not None:
            return ms
    raise VlmrunError(
        f"weights of {model.name} ({repo}@{rev}) are not in the HuggingFace cache {hf_hub_cache()}: run "
        f"`vlmrun models pull {model.name}` (with hub access; or --source modelscope / dir:MIRROR), "
        "or point HF_HOME at a cache that has them")


def pull(model: Model, source: str = "hf", log=print) -> Path:
    """Put a model's pinned snapshot into the host's HuggingFace cache, from the hub or from a mirror folder
    (`dir:PATH` holding PATH/<org>/<name>/...). Resumable: files already complete are kept. HF_TOKEN is
    read from the environment for this call only and never written anywhere."""
    import os
    import re

    if model.source.tiny:
        raise VlmrunError(f"{model.name} is a tiny model built at first use from a config: there is nothing to pull")
    repo, rev = model.source.hub, model.source.revision or "main"
    if source == "hf":
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise VlmrunError("huggingface_hub is missing: pip install huggingface_hub") from None
        try:
            path = snapshot_download(repo_id=repo, revision=rev, cache_dir=str(hf_hub_cache()),
                                     token=os.environ.get("HF_TOKEN") or None)
        except Exception as e:  # noqa: BLE001 - network, auth, missing repo: all one line for the user
            reason = str(e).splitlines()[0][:200]
            raise VlmrunError(f"pulling {repo}@{rev} from the hub failed ({type(e).__name__}: {reason}); "
                              "where the hub is unreachable use --source dir:MIRROR") from None
        return Path(path)
    if source == "modelscope":
        if not model.source.modelscope:
            raise VlmrunError(f"{model.name} names no ModelScope repo: add source.modelscope to "
                              f"{model.source_file or 'its manifest'}, or use --source hf / dir:MIRROR")
        from . import modelscope

        return modelscope.pull(model.source.modelscope, model.source.modelscope_revision, log=log)
    if source.startswith("dir:"):
        mirror = Path(source[4:]) / repo
        if not (mirror / "config.json").is_file():
            raise VlmrunError(f"mirror {mirror} holds no config.json: expected the files of {repo} there")
        commit = rev if re.fullmatch(r"[0-9a-f]{40}", rev) else _tree_hash(mirror)
        base = hf_hub_cache() / f"models--{repo.replace('/', '--')}"
        snap = base / "snapshots" / commit
        for f in sorted(p for p in mirror.rglob("*") if p.is_file()):
            dst = snap / f.relative_to(mirror)
            if dst.is_file() and dst.stat().st_size == f.stat().st_size:
                continue  # already complete
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".incomplete")
            shutil.copyfile(f, tmp)
            tmp.replace(dst)
            log(f"  {dst.relative_to(base)}")
        (base / "refs").mkdir(parents=True, exist_ok=True)
        if commit != rev:
            (base / "refs" / rev).write_text(commit)
        return snap
    raise VlmrunError(f"--source {source!r}: use hf, modelscope or dir:PATH")


def ensure_weights(model: Model, log=print) -> Path:
    """`eval`'s step before any container: the pinned snapshot on the host, pulled from the hub when missing
    (unless HF_HUB_OFFLINE=1). No snapshot and no hub: one line naming the command that fixes it."""
    import os

    try:
        return hub_snapshot(model)
    except VlmrunError as missing:
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
            raise
        log(f"{model.name}: weights not in the cache, pulling {model.source.hub}@{model.source.revision or 'main'}")
        try:
            pull(model, "hf", log=log)
            return hub_snapshot(model)
        except VlmrunError as failed:
            raise VlmrunError(f"{missing} (pulling from the hub failed: {str(failed)[:160]})") from None


def _tree_hash(folder: Path) -> str:
    import hashlib

    h = hashlib.sha1()
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + str(p.stat().st_size).encode() + b"\0")
    return h.hexdigest()


def recipe_hash() -> str:
    """Hash of the tiny-model recipes (and the test model's remote code) in the worker."""
    from .paths import project_root, tree_digest

    return tree_digest(project_root() / "images" / "worker" / "vlmrun_worker" / "tiny")


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
