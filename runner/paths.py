"""Where things live: the checkout's catalogue and the user's caches."""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The folder holding manifests/, Dockerfiles/ and images/ (a vlmrun checkout).

    VLMRUN_HOME overrides it, so a catalogue kept elsewhere can be used.
    """
    env = os.environ.get("VLMRUN_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Host cache: wheelhouses, tiny models made at first use."""
    base = os.environ.get("VLMRUN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "vlmrun")
    return Path(base)


def lmu_data_dir() -> Path:
    """VLMEvalKit's data folder ($LMUData, default ~/LMUData), reused so nothing is downloaded twice."""
    return Path(os.environ.get("LMUData", os.path.expanduser("~/LMUData")))


def hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
    return Path(home) / "hub"


def tree_digest(root: Path, pattern: str = "*.py") -> str:
    """sha256 over the files under root matching pattern (relative path and content of each, in order)."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob(pattern)):
        if "__pycache__" in p.parts:
            continue
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
