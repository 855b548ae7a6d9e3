"""IDEFICS (v1, e.g. HuggingFaceM4/idefics-9b-instruct) through transformers' own classes.

Inputs as VLMEvalKit's IDEFICS wrapper gives them (vlmeval/vlm/idefics.py): the benchmark's default message
(VLMEvalKit gives IDEFICS no custom prompt; MMMU's images sit at its '<image k>' tags) as the prompt list
['Users:', <image or text>..., '<end_of_utterance>', '\\nAssistant: '], generation stopped at
<end_of_utterance> with the image tokens banned, and the answer VLMEvalKit keeps: the whole sequence decoded,
what follows the last '\\nAssistant: ' (not stripped).
"""
from __future__ import annotations

from .base import PerThread, dataset_message, dtype_kwargs, generation_kwargs, placed, placement, with_suffix


def build_prompt(question: str, images: list, spec: dict, extra: dict | None = None) -> list:
    msg = dataset_message(question, extra or {}, spec, len(images))
    if isinstance(msg[-1], str):
        msg[-1] = with_suffix(msg[-1], spec)
    return ["Users:", *[images[m[1]] if isinstance(m, tuple) else m for m in msg], "<end_of_utterance>",
            "\nAssistant: "]


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import IdeficsForVisionText2Text, IdeficsProcessor

        self.spec, self.device = spec, device
        self.processor = IdeficsProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        where = placement(spec, device)
        self.model = placed(IdeficsForVisionText2Text.from_pretrained(
            model_dir, **dtype_kwargs(spec.get("dtype", "bfloat16"), device), **where), device, where)
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        tok = self.processor.tokenizer
        self.gen = generation_kwargs(spec)
        self.gen["eos_token_id"] = tok("<end_of_utterance>", add_special_tokens=False).input_ids
        self.gen["bad_words_ids"] = tok(["<image>", "<fake_token_around_image>"], add_special_tokens=False).input_ids

    def prepare(self, samples):
        prompts = [build_prompt(s.question, s.images, self.spec, s.extra) for s in samples]
        return self.processors.get()(prompts, add_end_of_utterance_token=False, return_tensors="pt", padding=True)

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        texts = self.processor.batch_decode(out, skip_special_tokens=True)
        return [t.split("\nAssistant: ")[-1] for t in texts]
