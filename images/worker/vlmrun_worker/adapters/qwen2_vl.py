"""Qwen2-VL / Qwen2.5-VL through transformers' native classes and the model's own processor.

Inputs as VLMEvalKit's Qwen2VLChat builds them: one user turn holding the image(s) and then the text,
no system prompt unless the manifest sets one, min/max pixels bounding the dynamic resolution, greedy
decoding, answer decoded without the prompt tokens. The text per benchmark type (vlmeval/vlm/qwen2_vl/prompt.py):
  Y/N: MME the raw question; POPE and HallusionBench add ' Please answer yes or no.'
  MCQ: 'Hint: ...\nQuestion: ...\nOptions:\nA. ...\n' + 'Please select the correct answer from the options above.'
  VQA: question + '\nPlease try to answer the question with short words or phrases if possible.'
With `prompt.style: dataset` (Qwen2.5-VL: VLMEvalKit passes use_custom_prompt=False) the benchmark's own
default prompt instead (base.dataset_prompt).
"""
from __future__ import annotations

from .base import (PerThread, dataset_prompt, dtype_kwargs, generate_answers, greedy_kwargs, has_chinese, hint,
                   options, transformers_version, with_suffix)


def build_text(question: str, extra: dict, spec: dict) -> str:
    kind, bench = spec.get("bench_type", "yorn"), spec.get("bench", "")
    if (spec.get("prompt") or {}).get("style") == "dataset":
        return with_suffix(dataset_prompt(question, extra, spec), spec)
    if kind == "mcq":
        h, opts = hint(extra), options(extra)
        text = (f"Hint: {h}\n" if h else "") + f"Question: {question}\n"
        if opts:
            text += "Options:\n" + "".join(f"{k}. {v}\n" for k, v in opts.items())
        text += "请直接回答选项字母。" if has_chinese(text) else "Please select the correct answer from the options above."
        text = text.rstrip()
    elif kind == "vqa":
        text = question + "\nPlease try to answer the question with short words or phrases if possible."
    else:
        text = question + (" Please answer yes or no." if bench in ("POPE", "HallusionBench") else "")
    return with_suffix(text, spec)


def build_messages(question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> list[dict]:
    msgs = []
    system = (spec.get("prompt") or {}).get("system")
    if system:
        msgs.append({"role": "system", "content": [{"type": "text", "text": system}]})
    content = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": build_text(question, extra or {}, spec)})
    msgs.append({"role": "user", "content": content})
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
        self.processor = AutoProcessor.from_pretrained(model_dir, **pixel_bounds(spec, transformers_version()))
        self.processor.tokenizer.padding_side = "left"
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        cls = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModelForVision2Seq
        self.model = cls.from_pretrained(model_dir, attn_implementation=spec.get("attn_implementation", "sdpa"),
                                         **dtype_kwargs(spec.get("dtype", "bfloat16"), device))
        self.model.to(device).eval()
        self.gen = greedy_kwargs(spec)

    def prepare(self, samples):
        proc = self.processors.get()
        texts = [proc.apply_chat_template(build_messages(s.question, self.spec, s.extra, len(s.images)),
                                                    tokenize=False, add_generation_prompt=True) for s in samples]
        images = [im for s in samples for im in s.images]
        return proc(text=texts, images=images, padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        return generate_answers(self.model, self.processor, inputs, self.gen)
