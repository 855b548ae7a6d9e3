"""On the host: VLMEvalKit's scoring utilities (vlmeval/dataset/utils/*.py and vlmeval/utils/matching_util.py, as
ms-vlmeval ships them in the parity oracle's wheel) loaded as they are, with stand-ins only for what they import
and the checks do not use: the file loader (load: the DataFrame itself), the logger, and torch/torchvision (imported
at the top of mvbench.py, used by its video readers only; removed again after loading)."""
from __future__ import annotations

import importlib.util
import sys
import types

import host


class Quiet:
    """VLMEvalKit's logger stand-in (llavabench.py calls logger.error('error', review), which logging cannot format)."""

    def __getattr__(self, name):
        return lambda *a, **kw: None


def _package(name, path=None, **attrs):
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)] if path else []
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def _exec(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load(*names: str) -> dict:
    """names: modules under vlmeval/dataset/utils (e.g. 'mmvet', 'videomme', 'mvbench') -> {name: module}."""
    site = host.oracle_site() / "vlmeval"
    saved = {k: sys.modules.get(k) for k in ("torch", "torchvision")}
    quiet = lambda *a, **kw: Quiet()  # noqa: E731
    _package("vlmeval", site)
    _package("vlmeval.smp", site / "smp", load=lambda x: x, get_logger=quiet, cn_string=lambda s: False,
             d2df=None, dump=None, get_pred_file_format=None, istype=None, timestr=None)
    _package("vlmeval.smp.file", load=lambda x: x)
    _package("vlmeval.smp.log", get_logger=quiet)
    _package("vlmeval.smp.vlm", build_option_str=lambda d: "There are several options: \n" +
             "".join(f"{c}. {v}\n" for c, v in d.items()))
    mu = _exec("vlmeval.utils.matching_util", site / "utils" / "matching_util.py")
    _package("vlmeval.utils", site / "utils", can_infer=mu.can_infer, can_infer_lego=mu.can_infer_lego,
             track_progress_rich=None)
    _package("vlmeval.dataset", site / "dataset")
    _package("vlmeval.dataset.utils", site / "dataset" / "utils")
    _package("vlmeval.dataset.smp")  # llavabench.py's `from ..smp.log import get_logger`, relative to .utils
    _package("vlmeval.dataset.smp.log", get_logger=quiet)
    _package("torch")
    _package("torchvision")
    try:
        _exec("vlmeval.dataset.utils.multiple_choice", site / "dataset" / "utils" / "multiple_choice.py")
        return {n: _exec(f"vlmeval.dataset.utils.{n}", site / "dataset" / "utils" / f"{n}.py") for n in names}
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
