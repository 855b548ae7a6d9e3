"""Batching never changes an answer on Qwen2-VL-2B's full architecture (random weights, bfloat16, the published
config's sizes) with real-size images of different sizes (1,220 to 1,326 image tokens each under VLMEvalKit's
min_pixels), in the model's own image: the new token ids at batch 4 (one padded batch) equal those at batch 1.
Token ids, not text: the random model's ids mostly lie outside the test tokenizer's vocabulary and decode to ''.

Opt-in, VLMRUN_TEST_FULL_SIZE=1: about 10 minutes on 2 CPU cores (the 4.4 GB model is built once in the image).
On a GPU the same comparison runs in benchmarks/gpu_profile.py (batch 8-64 == batch 1)."""
import json
import os
import sys
from pathlib import Path

import pytest

from vlmrun.container import model_settings
from vlmrun.evaluate import Evaluator
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan

sys.path.insert(0, str(Path(__file__).parent / "parity"))
import host  # noqa: E402
from cases import image  # noqa: E402

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.environ.get("VLMRUN_TEST_FULL_SIZE") != "1", reason="set VLMRUN_TEST_FULL_SIZE=1 (slow)")]
SIZES = [(640, 480), (1000, 500), (333, 999), (800, 600)]


def test_full_size_qwen2_vl_batch_4_equals_batch_1(tmp_path, docker_client):
    cat = Catalogue()
    (job,) = make_plan(cat, ["qwen2-vl-2b-random"], ["MME-mini"], tmp_path / "plan")
    env, model_dir = Evaluator(cat).prepare(job)
    work = tmp_path / "work"
    work.mkdir()
    rows = ["index\timage\timage_path\tquestion\tanswer\tcategory"]
    for i, size in enumerate(SIZES):
        rows.append(f"{i}\t{image(i, size, fmt='PNG')}\treal/{i}.png\tIs there a red box in this image? Please "
                    f"answer yes or no.\tNo\texistence")
    (work / "real.tsv").write_text("\n".join(rows) + "\n")
    spec = {**model_settings(job), "bench": "MME", "bench_type": "yorn"}
    (work / "cfg.json").write_text(json.dumps({"adapter": "qwen2_vl", "model_dir": "/model", "spec": spec, "batch_size": 4,
                                               "data": "/work/real.tsv", "out": "/work/ids.json"}))
    proc = host.run_in_image(env.tag, work, ["/parity/batch_ids.py", "/work/cfg.json"], timeout=3600,
                             mounts=((model_dir, "/model"),))
    assert proc.returncode == 0, proc.stdout[-3000:]
    ids = json.loads((work / "ids.json").read_text())
    print(f"\nfull-size Qwen2-VL new token ids, batch 1: {ids['batch1']}\nbatch 4: {ids['batch4']}")
    assert len(ids["batch1"]) == 4 and all(len(v) == 8 for v in ids["batch1"].values())  # max_new_tokens 8, no early stop
    assert ids["batch4"] == ids["batch1"]
