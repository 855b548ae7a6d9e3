"""The full-size random-weight benchmark models have their published checkpoints' sizes. internvl2-2b-random
(the internvl2_2b_shape recipe): InternVL2-2B's 2.21 billion parameters, of which InternViT-300M's 0.30 billion,
256 image tokens per tile, eager attention in the language model (InternLM2's remote code without flash-attn),
counted on the meta device in the family's image (nothing allocated); its ViT path, built small, runs through the
internvl_chat adapter's tiles and chat(). Building the 4.4 GB model itself is for a GPU machine
(benchmarks/throughput.py --full-size --model internvl2-2b-random)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "parity"))
pytestmark = pytest.mark.docker


def test_internvl2_2b_random_has_internvl2_2bs_sizes(tmp_path, docker_client):
    import host

    from vlmrun.images import ensure_image
    from vlmrun.manifest import Catalogue

    image = ensure_image(docker_client, Catalogue(), "transformers-4.37", "cpu", log=lambda *_: None).tag
    proc = host.run_in_image(image, tmp_path, ["/parity/internvl_shape_check.py", "/work/out.json"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert abs(out["params"] / 1e9 - 2.21) < 0.01  # the model card's 2.21B (InternViT-300M + InternLM2-1.8B + MLP)
    assert abs(out["vision"] / 1e6 - 304) < 1  # InternViT-300M-448px: 304M
    assert out["num_image_token"] == 256 and out["llm_attention"] == "eager"
    # 900x500 -> a 2x1 grid plus the thumbnail; each tile's 32x32 patches shuffled to 16x16 = 256 tokens
    assert out["tiles"] == 3 and out["feature"][:2] == [3, 256] and out["has_vit"]
    assert isinstance(out["answer"], str)
