"""Settings a lab writes once: per-backend options in a YAML file, overridden by the command line.

    # ~/.config/vlmrun/config.yaml (or the file named by $VLMRUN_CONFIG)
    backends:
      slurm: {partition: gpu, account: mylab, time: "04:00:00", gpus_per_task: 1, runtime: docker}
      k8s: {namespace: eval, pvc: vlmrun-results}

Each backend declares the options it takes (OPTIONS: name -> (type, default, help)); an unknown option or a
value of the wrong type is a one-line error naming the file and the key.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import yaml

from .errors import VlmrunError


def config_path() -> Path:
    return Path(os.environ.get("VLMRUN_CONFIG") or Path.home() / ".config" / "vlmrun" / "config.yaml")


def backend_options(name: str, declared: dict, cli: dict) -> dict:
    """The backend's options: defaults, then the config file's `backends.<name>`, then the command line's
    (None on the command line means: not given)."""
    path = config_path()
    from_file: dict = {}
    if path.is_file():
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise VlmrunError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        from_file = ((doc.get("backends") or {}).get(name) or {}) if isinstance(doc, dict) else {}
        if not isinstance(from_file, dict):
            raise VlmrunError(f"{path}: backends.{name} must be a mapping of option: value")
    out = {k: default for k, (_, default, _) in declared.items()}
    for source, values in ((str(path), from_file), ("the command line", cli)):
        for key, value in values.items():
            if value is None:
                continue
            if key not in declared:
                raise VlmrunError(f"{source}: backend {name} has no option {key!r} "
                                  f"(it takes: {', '.join(sorted(declared)) or 'none'})")
            kind = declared[key][0]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise VlmrunError(f"{source}: backends.{name}.{key} must be {kind.__name__}, got {value!r}")
            out[key] = value
    return out


def parse_pair(pair: str, declared: dict, backend: str) -> tuple:
    """-o KEY=VALUE, VALUE converted to the option's type."""
    key, sep, raw = pair.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or key not in declared:
        raise VlmrunError(f"-o {pair!r}: give KEY=VALUE with a KEY backend {backend} takes "
                          f"({', '.join(sorted(declared)) or 'none'})")
    kind = declared[key][0]
    try:
        value = (raw.lower() in ("1", "true", "yes")) if kind is bool else kind(raw)
    except ValueError:
        raise VlmrunError(f"-o {pair!r}: {key} must be {kind.__name__}") from None
    return key, value


def declared_options(name: str) -> dict:
    from .backends.base import backend_class

    return getattr(backend_class(name), "OPTIONS", {})


def options_for(name: str, cli: Optional[dict] = None) -> dict:
    return backend_options(name, declared_options(name), cli or {})
