"""Opt-in (VLMRUN_TEST_CUDA_IMAGES=1; each CUDA image is 5-6 GB): every CUDA flavour of every family builds
here and runs its tiny fixture on CPU (torch's CUDA builds run on CPU) with the same predictions as the CPU
flavour. Run once per change to a lock:

    VLMRUN_TEST_CUDA_IMAGES=1 .venv/bin/python -m pytest -q -s tests/test_cuda_images.py
    VLMRUN_TEST_CUDA_IMAGES=transformers-latest:cuda12 ...   (only these family:flavour pairs)
"""
import json
import os

import pytest

from vlmrun.cuda import cuda_flavours
from vlmrun.evaluate import Evaluator
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not os.environ.get("VLMRUN_TEST_CUDA_IMAGES"),
                                 reason="set VLMRUN_TEST_CUDA_IMAGES=1 (builds every CUDA image, 5-6 GB each)")]
TINY = {"transformers-latest": "tiny-qwen2-vl", "transformers-4.37": "tiny-internvl",
        "transformers-4.33": "tiny-idefics", "transformers-4.40": "tiny-idefics2", "transformers-4.48": "tiny-llava-next"}


def _pairs():
    cat, want = Catalogue(), os.environ.get("VLMRUN_TEST_CUDA_IMAGES", "")
    pairs = [(fam, flv) for fam in sorted(TINY) for flv in sorted(cuda_flavours(cat, fam))]
    if want and want != "1":
        chosen = {tuple(p.split(":")) for p in want.split(",")}
        pairs = [p for p in pairs if p in chosen]
    return pairs


def _predictions(work, model):
    rows = [json.loads(line) for f in sorted((work / model / "MME-mini" / "shards").glob("*.jsonl"))
            for line in f.read_text().splitlines()]
    return {r["index"]: r["prediction"] for r in rows}


@pytest.mark.parametrize("family,flavour", _pairs())
def test_cuda_flavour_gives_the_cpu_flavours_answers(family, flavour, tmp_path):
    cat, model = Catalogue(), TINY[family]
    answers = {}
    for flv in ("cpu", flavour):
        work = tmp_path / flv
        jobs = make_plan(cat, [model], ["MME-mini"], work)
        for j in jobs:
            j.flavour = flv  # no --gpus: the CUDA build runs on the CPU
        (result,) = Evaluator(cat).run(jobs)
        assert result.status == "ok", result.error
        prov = json.loads((work / model / "MME-mini" / "provenance.json").read_text())
        assert prov["image"]["flavour"] == flv
        answers[flv] = _predictions(work, model)
        print(f"\n{family} {flv}: image {prov['image']['tag']}, torch {prov['environment']['torch']}, "
              f"{len(answers[flv])} predictions")
    same = sum(answers["cpu"][i] == answers[flavour][i] for i in answers["cpu"])
    print(f"{family} {flavour} vs cpu: {same}/{len(answers['cpu'])} predictions identical")
    assert same == len(answers["cpu"]) == 56
