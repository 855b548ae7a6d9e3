"""Tiny Qwen2.5-VL: the real Qwen2_5_VLForConditionalGeneration and Qwen2_5_VLProcessor, random weights.
Its vision tower mixes window attention (window_size) with full attention in fullatt_block_indexes, as the
real one does."""
from .qwen2_vl import TINY, make as _make

TINY_25 = dict(
    text=dict(TINY["text"]),
    vision=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=64, patch_size=14,
                spatial_merge_size=2, temporal_patch_size=2, in_channels=3, window_size=56, fullatt_block_indexes=[1]),
    dtype="float32",
)


def make(out_dir):
    _make(out_dir, TINY_25, arch="Qwen2_5_VL")
