"""Shared pieces of the adapters."""
from __future__ import annotations


def torch_dtype(name: str, device: str):
    import torch

    dtype = getattr(torch, name)
    if device == "cpu" and dtype == torch.float16:
        return torch.float32  # half precision matmuls are not implemented on every CPU
    return dtype


def question_text(question: str, spec: dict) -> str:
    """The benchmark question plus the model's prompt suffix, as VLMEvalKit gives it to that model."""
    return question + (spec.get("prompt") or {}).get("suffix", "")


def greedy_kwargs(spec: dict) -> dict:
    gen = spec.get("generation") or {}
    return {"max_new_tokens": int(gen.get("max_new_tokens", 64)), "do_sample": False}


def dtype_kwargs(name: str, device: str) -> dict:
    """from_pretrained's dtype argument: `dtype` from transformers 4.56 on, `torch_dtype` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    return {key: torch_dtype(name, device)}
