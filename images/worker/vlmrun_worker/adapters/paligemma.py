"""PaliGemma (google/paligemma-3b-mix-448) through transformers' own PaliGemmaForConditionalGeneration, as
VLMEvalKit's PaliGemma wrapper drives it (vlmeval/vlm/gemma.py; not interleaved, no custom prompt):
- the prompt is the benchmark's default message's texts joined by newlines (BaseModel.message_to_promptimg), the
  image the message's first one; the processor writes '<image>' x 1024 + '<bos>' + prompt + '\\n' itself;
- the processor's inputs go to generate() as they come (token_type_ids mark the prefix, which PaliGemma attends
  to both ways), with max_new_tokens=512 and do_sample=False; bfloat16;
- the answer is the new tokens, decoded with special tokens dropped, not stripped.
"""
from __future__ import annotations

from .base import HFAdapter, one_image_each, prompt_and_image


class Adapter(HFAdapter):
    MODEL = "PaliGemmaForConditionalGeneration"

    def prepare(self, samples):
        texts, images = one_image_each(samples, self.spec, prompt_and_image, "PaliGemma")
        return self.processors.get()(text=texts, images=images, padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
