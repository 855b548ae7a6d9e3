"""Tiny random-weight models built from configs inside a family's image (never downloaded).

They run the real loading, preprocessing and generation code of their adapter on CPU in seconds. Each
recipe adapts to the transformers version it runs under (config and processor signatures differ).
"""
import importlib
import json
from pathlib import Path

MARKER = "vlmrun-tiny.json"


def make(recipe: str, out: str) -> None:
    import transformers

    module = importlib.import_module(f"{__name__}.{recipe}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    module.make(out_dir)
    (out_dir / MARKER).write_text(json.dumps({
        "recipe": recipe,
        "transformers": transformers.__version__,
        "note": "TEST MODEL with random weights, made by vlmrun from a config; its answers mean nothing.",
    }, indent=1))
