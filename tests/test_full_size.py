"""Batching never changes an answer on Qwen2-VL-2B's full architecture (random weights, bfloat16, the published
config's sizes) with real-size images of different sizes (1,220 to 1,326 image tokens each under VLMEvalKit's
min_pixels), through `vlmrun eval` in the real container: batch 4 (one padded batch) == batch 1.

Opt-in, VLMRUN_TEST_FULL_SIZE=1: about 15 minutes on 2 CPU cores (the 4.4 GB model is built once in the image).
On a GPU the same comparison runs in benchmarks/gpu_profile.py (batch 8-64 == batch 1)."""
import os
import sys
from pathlib import Path

import pytest

from .conftest import run_cli

sys.path.insert(0, str(Path(__file__).parent / "parity"))
from cases import image  # noqa: E402

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.environ.get("VLMRUN_TEST_FULL_SIZE") != "1", reason="set VLMRUN_TEST_FULL_SIZE=1 (slow)")]
SIZES = [(640, 480), (1000, 500), (333, 999), (800, 600)]


def test_full_size_qwen2_vl_batch_4_equals_batch_1(project_copy, tmp_path):
    from vlmrun_worker.shards import read_records

    rows = ["index\timage\timage_path\tquestion\tanswer\tcategory"]
    for i, size in enumerate(SIZES):
        rows.append(f"{i}\t{image(i, size, fmt='PNG')}\treal/{i}.png\tIs there a red box in this image? Please answer "
                    f"yes or no.\t{'Yes' if i % 2 else 'No'}\texistence")
    (project_copy / "data" / "RealSize-4.tsv").write_text("\n".join(rows) + "\n")
    (project_copy / "manifests" / "benchmarks" / "RealSize-4.yaml").write_text(
        "name: RealSize-4\ntype: yorn\nscorer: mme\nfile: data/RealSize-4.tsv\nbundled: true\n"
        "description: 4 MME-style rows with real-size images of different sizes (test only)\n")
    env = {"VLMRUN_HOME": str(project_copy)}
    tokens = run_cli("inspect", "qwen2-vl-2b-random", "--bench", "RealSize-4", "--row", "2", env=env)
    assert tokens.returncode == 0, tokens.stdout[-2000:]
    assert "image_tokens: [1220]" in tokens.stdout, tokens.stdout[-1500:]  # 333x999 -> 560x1708 (qwen_vl_utils)
    preds = {}
    for bs in (1, 4):
        work = tmp_path / f"bs{bs}"
        out = run_cli("eval", "qwen2-vl-2b-random", "--bench", "RealSize-4", "--batch-size", str(bs),
                      "--work-dir", str(work), env=env, timeout=3600)
        assert out.returncode == 0, out.stdout[-3000:]
        preds[bs] = {i: r["prediction"] for i, r in read_records(work / "qwen2-vl-2b-random" / "RealSize-4" / "shards").items()}
    print(f"\nfull-size Qwen2-VL, batch 1: {preds[1]}\nbatch 4: {preds[4]}")
    assert len(preds[1]) == 4 and preds[4] == preds[1]
