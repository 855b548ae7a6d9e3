"""Import VLMEvalKit's own modules inside a family image, as the parity oracle (runs in the container).

`import vlmeval` runs vlmeval/__init__.py, which imports every model and dataset module and with them some
70 packages (API clients, judges, video decoders, metrics). The parity checks need a handful of those modules.
VLMEvalKit's pure-Python wheel (ms-vlmeval) is unpacked onto sys.path with the small pure-Python packages its
wrappers import (qwen_vl_utils, requests); any other top-level package that is not installed in the image is
replaced by an empty stand-in module, and the list of stand-ins is reported with the results, so what was
not run is on record. Nothing of VLMEvalKit is copied or changed: its files run as shipped.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from unittest import mock

STUBBED: list[str] = []


class _Anything(types.ModuleType):
    """A stand-in module: every attribute is a MagicMock (so `from x import y` and decorators work)."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = mock.MagicMock(name=f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):
        mod = _Anything(spec.name)
        mod.__path__ = []  # a package, so `import x.y.z` resolves too
        return mod

    def exec_module(self, module):
        pass


class _StubFinder(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: a module that no real finder found gets a stand-in, except the ones named in
    `real` (the packages whose absence must fail the check, e.g. torch, transformers, PIL, pandas)."""

    def __init__(self, real: set[str]):
        self.real = real

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in self.real or top == "vlmeval" or top.startswith("_") or top in sys.stdlib_module_names:
            return None  # stdlib modules that are absent on this platform stay absent (try/except ImportError)
        if not _imported_by_vlmeval():
            return None  # other packages probe optional dependencies (pandas: pyarrow): those stay absent
        if top == fullname and fullname not in STUBBED:
            STUBBED.append(fullname)
        return importlib.machinery.ModuleSpec(fullname, _StubLoader(), is_package=True)


def _imported_by_vlmeval() -> bool:
    """Whether the import statement being run is in one of VLMEvalKit's own files."""
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not (name.startswith("<frozen") or "importlib" in name or name == __file__):
            return f"{os.sep}vlmeval{os.sep}" in name
        f = f.f_back
    return False


REAL = {"torch", "torchvision", "transformers", "PIL", "pandas", "numpy", "qwen_vl_utils", "requests", "validators", "vlmrun_worker",
        "huggingface_hub", "tokenizers", "safetensors", "jinja2", "yaml", "packaging", "einops", "accelerate",
        "sentencepiece", "regex", "tqdm", "filelock", "fsspec", "dateutil", "pytz", "llava", "google"}


def install_stubs() -> None:
    sys.meta_path.append(_StubFinder(REAL))


def bare_package(name: str, path: str) -> None:
    """Register package `name` from folder `path` without running its __init__.py."""
    mod = types.ModuleType(name)
    mod.__path__ = [path]
    mod.__package__ = name
    sys.modules[name] = mod



SKIPPED: list[str] = []  # VLMEvalKit dataset modules that could not be imported here (none of the ones checked)


class _NotHere:
    """Stands for a dataset class whose module could not be imported: it supports no dataset."""

    @classmethod
    def supported_datasets(cls):
        return []


def load_dataset_package(site: str) -> None:
    """Run vlmeval/dataset/__init__.py as shipped, one top-level statement at a time; an import of a dataset
    module that fails here (it needs a package the image lacks) binds its names to `_NotHere` and is listed in
    SKIPPED. DATASET_TYPE, DATASET_MODALITY and build_dataset then run as VLMEvalKit's own code."""
    import ast

    name = "vlmeval.dataset"
    path = os.path.join(site, "vlmeval", "dataset", "__init__.py")
    mod = types.ModuleType(name)
    mod.__file__, mod.__path__, mod.__package__ = path, [os.path.dirname(path)], name
    sys.modules[name] = mod
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in tree.body:
        code = compile(ast.Module(body=[node], type_ignores=[]), path, "exec")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            try:
                exec(code, mod.__dict__)
            except Exception as e:  # noqa: BLE001 - recorded, and the check fails if a needed class is missing
                for alias in node.names:
                    mod.__dict__[alias.asname or alias.name.split(".")[0]] = _NotHere
                SKIPPED.append(f"{getattr(node, 'module', None) or node.names[0].name}: {type(e).__name__}: {e}"[:160])
        else:
            exec(code, mod.__dict__)


def setup(site: str, stub=()) -> None:
    """VLMEvalKit from the oracle site, importable piece by piece: the site on sys.path, stand-ins for the
    packages the image lacks (`stub`: more to stand in for), vlmeval and vlmeval.vlm without their __init__, its
    dataset package."""
    sys.path.insert(1, site)
    REAL.difference_update(stub)
    install_stubs()
    bare_package("vlmeval", os.path.join(site, "vlmeval"))
    bare_package("vlmeval.vlm", os.path.join(site, "vlmeval", "vlm"))
    load_dataset_package(site)
