"""Qwen-VL, the base model (Qwen/Qwen-VL), through its remote code, as VLMEvalKit's QwenVL drives it
(vlmeval/vlm/qwen_vl.py; interleaved, no custom prompt):
- the benchmark's default message written out plainly: '<img>PATH</img>' per image, the texts as they are, and
  ' Answer:' after a VQA benchmark's; each image as its file (see qwen_vl.py);
- the tokenizer with left padding and the end-of-document token as padding; generate() on input_ids and
  attention_mask with the wrapper's settings: greedy, one beam, 1 to 512 new tokens (32 for multiple-choice and
  yes/no, 100 for OCRVQA/ChartQA/DocVQA, 10 for TextVQA), the end-of-document token as pad and end, use_cache and
  output_hidden_states as it passes them;
- the new tokens decoded with special tokens dropped, stripped.
"""
from __future__ import annotations

from .base import dataset_message, placed, placement
from .qwen_vl import ImageFiles


def prompt(question: str, extra: dict, spec: dict, paths: list[str]) -> str:
    msg = dataset_message(question, extra or {}, spec, len(paths))
    text = "".join(f"<img>{paths[m[1]]}</img>" if isinstance(m, tuple) else m for m in msg)
    return text + (" Answer:" if spec.get("bench_type") == "vqa" else "")


def max_new_tokens(spec: dict, default: int) -> int:
    """QwenVL.adjust_kwargs: by the benchmark's type (and name)."""
    kind, bench = spec.get("bench_type"), spec.get("bench", "")
    if kind in ("mcq", "yorn"):  # (and COCO captions: vlmrun has no caption benchmark)
        return 32
    if kind == "vqa" and any(b in bench for b in ("OCRVQA", "ChartQA", "DocVQA")):
        return 100
    if kind == "vqa" and "TextVQA" in bench:
        return 10
    return default


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec, self.device = spec, device
        where = placement(spec, device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
        self.tokenizer.padding_side = "left"
        self.tokenizer.pad_token_id = self.tokenizer.eod_id
        self.model = placed(AutoModelForCausalLM.from_pretrained(model_dir, trust_remote_code=True, **where),
                            device, where)
        self.files = ImageFiles()

    def _gen(self) -> dict:
        gen = dict(self.spec.get("generation") or {})
        gen["max_new_tokens"] = max_new_tokens(self.spec, int(gen.get("max_new_tokens", 512)))
        # what QwenVL passes besides (num_return_sequences, output_hidden_states: no effect on the answer)
        return {**gen, "num_return_sequences": 1, "output_hidden_states": True, "pad_token_id": self.tokenizer.eod_id,
                "eos_token_id": self.tokenizer.eod_id}

    def prepare(self, samples):
        out = []
        for s in samples:
            paths = [self.files.write(im) for im in s.images]
            out.append((prompt(s.question, s.extra, self.spec, paths), paths))
        return out

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        prepared = prepared if prepared is not None else self.prepare(samples)
        try:
            enc = self.tokenizer([p for p, _ in prepared], return_tensors="pt", padding="longest")
            ids, mask = enc.input_ids.to(self.device), enc.attention_mask.to(self.device)
            with torch.inference_mode():
                out = self.model.generate(input_ids=ids, attention_mask=mask, **self._gen())
            return [self.tokenizer.decode(row[ids.shape[1]:].cpu(), skip_special_tokens=True).strip() for row in out]
        finally:
            for _, paths in prepared:
                self.files.remove(paths)
