"""IDEFICS (v1, e.g. HuggingFaceM4/idefics-9b-instruct) through transformers' own classes.

Inputs as VLMEvalKit's IDEFICS wrapper gives them: the prompt list ['Users:', <image>, text,
'<end_of_utterance>', '\\nAssistant: '], generation stopped at <end_of_utterance> with the image tokens
banned, greedy decoding, the answer being the generated tokens (what follows 'Assistant: ').
"""
from __future__ import annotations

from .base import PerThread, dataset_prompt, dtype_kwargs, generate_answers, generation_kwargs, with_suffix


def build_prompt(question: str, image, spec: dict, extra: dict | None = None) -> list:
    """The text is the benchmark's default prompt: VLMEvalKit gives IDEFICS no custom prompt."""
    return ["Users:", image, with_suffix(dataset_prompt(question, extra or {}, spec), spec), "<end_of_utterance>",
            "\nAssistant: "]


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import IdeficsForVisionText2Text, IdeficsProcessor

        self.spec, self.device = spec, device
        self.processor = IdeficsProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.model = IdeficsForVisionText2Text.from_pretrained(model_dir, **dtype_kwargs(spec.get("dtype", "bfloat16"), device))
        self.model.to(device).eval()
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        tok = self.processor.tokenizer
        self.gen = generation_kwargs(spec)
        self.gen["eos_token_id"] = tok("<end_of_utterance>", add_special_tokens=False).input_ids
        self.gen["bad_words_ids"] = tok(["<image>", "<fake_token_around_image>"], add_special_tokens=False).input_ids

    def prepare(self, samples):
        prompts = [build_prompt(s.question, s.images[0], self.spec, s.extra) for s in samples]
        return self.processors.get()(prompts, add_end_of_utterance_token=False, return_tensors="pt", padding=True)

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        return [t.strip() for t in generate_answers(self.model, self.processor, inputs, self.gen)]
