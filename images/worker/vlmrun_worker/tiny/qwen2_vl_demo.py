"""DEMO Qwen2-VL: tiny random weights with a demo head (see _demo.py): greedy answers are answer words."""
from .qwen2_vl import make as _make


def make(out_dir):
    _make(out_dir, demo=True)
