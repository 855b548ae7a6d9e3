"""Qwen2-VL / Qwen2.5-VL through transformers' native classes and the model's own processor.

Inputs as VLMEvalKit's Qwen2VLChat builds them: one user turn holding the image and then the question
(MME: the raw question, no suffix), no system prompt unless the manifest sets one, min/max pixels bounding
the dynamic resolution, greedy decoding, answer decoded without the prompt tokens.
"""
from __future__ import annotations

from .base import dtype_kwargs, greedy_kwargs, question_text


def build_messages(question: str, spec: dict) -> list[dict]:
    msgs = []
    system = (spec.get("prompt") or {}).get("system")
    if system:
        msgs.append({"role": "system", "content": [{"type": "text", "text": system}]})
    msgs.append({"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": question_text(question, spec)}]})
    return msgs


def pixel_bounds(spec: dict, transformers_version: tuple = (5, 0)) -> dict:
    """min/max pixels for the image processor (transformers 5 spells them size=shortest/longest_edge)."""
    p = spec.get("processor") or {}
    bounds = {k: int(p[k]) for k in ("min_pixels", "max_pixels") if k in p}
    if transformers_version >= (5, 0) and bounds:
        names = {"min_pixels": "shortest_edge", "max_pixels": "longest_edge"}
        return {"size": {names[k]: v for k, v in bounds.items()}}
    return bounds


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        import transformers
        from transformers import AutoProcessor

        self.spec, self.device = spec, device
        version = tuple(int(x) for x in transformers.__version__.split(".")[:2])
        self.processor = AutoProcessor.from_pretrained(model_dir, **pixel_bounds(spec, version))
        self.processor.tokenizer.padding_side = "left"
        cls = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModelForVision2Seq
        self.model = cls.from_pretrained(model_dir, attn_implementation=spec.get("attn_implementation", "sdpa"),
                                         **dtype_kwargs(spec.get("dtype", "bfloat16"), device))
        self.model.to(device).eval()
        self.gen = greedy_kwargs(spec)

    def prepare(self, samples):
        texts = [self.processor.apply_chat_template(build_messages(s.question, self.spec), tokenize=False,
                                                    add_generation_prompt=True) for s in samples]
        return self.processor(text=texts, images=[s.image for s in samples], padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        new = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
