"""GPU-only speed-ups that leave the answers unchanged (full-size Qwen2-VL-2B, random weights, on an H200:
256/256 answers identical with and without them; see benchmarks/gpu_profile.py)."""
from __future__ import annotations


def pin_pixels(prepared, keys=("pixel_values",)):
    """In the prefetch thread: pixel tensors pinned, so the copy to the GPU moves at full speed (the preparation
    has cast them to the model's dtype already: half the bytes)."""
    for k in keys:
        v = prepared.get(k) if hasattr(prepared, "get") else None
        if v is not None and v.is_floating_point():
            prepared[k] = v.pin_memory()
    return prepared


def strided_conv_as_matmul(model) -> int:
    """Vision patch embeddings that are a Conv3d whose stride equals its kernel (Qwen2-VL, Qwen2.5-VL) run as the
    equal matrix product: cuDNN's bf16 Conv3d is slow for this shape. Returns how many were replaced."""
    import torch

    class StridedConv(torch.nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.weight, self.bias = conv.weight, conv.bias  # same parameters; `.weight.dtype` is read by callers
            self.out_channels = conv.out_channels

        def forward(self, x):
            flat = x.reshape(x.shape[0], -1)
            w = self.weight.reshape(self.out_channels, -1)
            return torch.nn.functional.linear(flat, w, self.bias).view(x.shape[0], self.out_channels, 1, 1, 1)

    n = 0
    for mod in list(model.modules()):
        conv = getattr(mod, "proj", None)
        if (isinstance(conv, torch.nn.Conv3d) and tuple(conv.kernel_size) == tuple(conv.stride)
                and all(p == 0 for p in conv.padding) and conv.groups == 1):
            mod.proj = StridedConv(conv)
            n += 1
    return n
