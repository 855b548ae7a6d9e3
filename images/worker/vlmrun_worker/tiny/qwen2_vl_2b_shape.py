"""Qwen2-VL-2B's full architecture (its published config's sizes) with random weights: measures real
throughput on a GPU without downloading weights. Answers are noise; timings are what matters."""
from .qwen2_vl import make as _make

QWEN2_VL_2B = dict(
    text=dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
              num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0,
              rms_norm_eps=1e-06, tie_word_embeddings=True,
              rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}),
    vision=dict(depth=32, embed_dim=1280, hidden_size=1536, num_heads=16, mlp_ratio=4, patch_size=14,
                spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
    dtype="bfloat16",
)


def make(out_dir):
    _make(out_dir, QWEN2_VL_2B)
