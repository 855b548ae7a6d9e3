"""Chameleon (facebook/chameleon-7b) through transformers' own ChameleonForConditionalGeneration, as VLMEvalKit's
Chameleon wrapper drives it (vlmeval/vlm/chameleon.py; interleaved, no custom prompt):
- the benchmark's default message written as one text, '<image>\\n' where each image stands (the processor turns
  each into '<racm3:break>' + the image's VQ tokens + '<eoss>' and ends the prompt with the separator token);
- the inputs cast to the model's dtype (bfloat16: the pixels too), generate(max_new_tokens=2048);
- the answer is the new tokens decoded, special tokens dropped, spaces left as they are, not stripped.
"""
from __future__ import annotations

from .base import HFAdapter, dataset_message, generate_answers, torch_dtype


def content(question: str, extra: dict, spec: dict, n_images: int) -> tuple[str, list[int]]:
    msg = dataset_message(question, extra or {}, spec, n_images)
    return "".join("<image>\n" if isinstance(m, tuple) else m for m in msg), [m[1] for m in msg if isinstance(m, tuple)]


class Adapter(HFAdapter):
    MODEL = "ChameleonForConditionalGeneration"
    PROCESSOR = "ChameleonProcessor"

    def __init__(self, model_dir: str, spec: dict, device: str):
        super().__init__(model_dir, spec, device)
        self.dtype = torch_dtype(spec.get("dtype", self.DTYPE), device)  # the weights' (the pixels go in as it)

    def prepare(self, samples):
        texts, images = [], []
        for s in samples:
            text, shown = content(s.question, s.extra, self.spec, len(s.images))
            texts.append(text)
            images += [s.images[k] for k in shown]
        return self.processors.get()(text=texts, images=images or None, padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device, dtype=self.dtype)
        return generate_answers(self.model, self.processor, inputs, self.gen)
