"""DEMO InternVL-interface model: the tiny TEST MODEL with a demo head (see _demo.py): greedy answers are
answer words. Not InternVL."""
from .internvl import make as _make


def make(out_dir):
    _make(out_dir, demo=True)
