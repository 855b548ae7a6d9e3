"""Model adapters, one module per family of model code (not per checkpoint).

Each module defines `Adapter(model_dir, spec, device)` with `prepare(samples)` (preprocessing; the worker runs
it in a background thread, ahead of the model) and `generate(samples, prepared) -> list[str]`, and keeps its
prompt building in plain functions that import neither torch nor transformers. A module whose preprocessing
needs no model also defines `preparer(model_dir, spec, device) -> (factory, args)`: `factory(*args)(samples)`
prepares a batch as `prepare` does, and on a GPU the worker runs it in prefetch processes (procs.py).
"""
import importlib


def load_adapter(name: str, model_dir: str, spec: dict, device: str):
    module = importlib.import_module(f"{__name__}.{name}")
    return module.Adapter(model_dir, spec, device)


def preparer_for(name: str, model_dir: str, spec: dict, device: str):
    """The adapter's (factory, args) for prefetch processes, or None where it has none."""
    module = importlib.import_module(f"{__name__}.{name}")
    make = getattr(module, "preparer", None)
    return make(model_dir, spec, device) if make else None
