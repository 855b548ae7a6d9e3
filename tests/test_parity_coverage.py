"""The parity suite checks one model per VLMEvalKit wrapper setting (tests/test_parity.py CHECKED). Every other
real model in the zoo is covered by it: its manifest names a VLMEvalKit config.py entry with the same wrapper and
the same arguments (model_path aside) as a checked model's entry, read from VLMEvalKit's own config.py, and the
worker gets the same settings for it as for that checked model (name, reference and description aside)."""
from __future__ import annotations

import sys
from pathlib import Path

from vlmrun.manifest import Catalogue
from vlmrun.plan import VIDEO_ONLY

sys.path.insert(0, str(Path(__file__).parent / "parity"))
import host  # noqa: E402

from .test_parity import CHECKED  # noqa: E402

OWN = ("name", "reference", "description", "params_b")


def _settings(model: str) -> dict:
    video_only = Catalogue().model(model).adapter in VIDEO_ONLY
    return {k: v for k, v in host.model_spec(model, "Video-MME-mini" if video_only else "MME").items() if k not in OWN}


# Models whose VLMEvalKit wrapper runs code the oracle cannot run here, and why; their manifests say so.
UNCHECKED = {"instructblip-vicuna-7b": "VLMEvalKit's InstructBLIP runs LAVIS's own model code on LAVIS's checkpoint "
                                      "layout, not transformers' conversion"}


def test_unchecked_models_say_so():
    for model in UNCHECKED:
        assert "NOT oracle-checked" in Catalogue().model(model).description


def test_every_real_model_is_covered_by_an_oracle_checked_one():
    cat = Catalogue()
    real = sorted(m.name for m in cat.models.values() if m.source.hub and m.name not in UNCHECKED)
    checked = {c: host.vlmeval_config(host.reference_entry(c)) for c in CHECKED}
    covered = {}
    for model in real:
        entry = host.vlmeval_config(host.reference_entry(model))
        same = [c for c, e in checked.items() if e == entry and _settings(c) == _settings(model)]
        assert same, f"{model}: VLMEvalKit {entry} and its settings match no oracle-checked model"
        covered[model] = same[0]
    assert set(CHECKED) <= set(real)
    print("\n" + "\n".join(f"{m:24} checked as {c}" for m, c in covered.items()))
    assert len(covered) == len(real) >= 13
