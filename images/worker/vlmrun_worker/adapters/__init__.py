"""Model adapters, one module per family of model code (not per checkpoint).

Each module defines `Adapter(model_dir, spec, device)` with `prepare(samples)` (preprocessing; the worker runs
it in a background thread, ahead of the model) and `generate(samples, prepared) -> list[str]`, and keeps its
prompt building in plain functions that import neither torch nor transformers.
"""
import importlib


def load_adapter(name: str, model_dir: str, spec: dict, device: str):
    module = importlib.import_module(f"{__name__}.{name}")
    return module.Adapter(model_dir, spec, device)
