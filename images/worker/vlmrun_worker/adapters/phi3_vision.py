"""Phi-3-Vision and Phi-3.5-Vision through their remote code (model, processor and image processor), as
VLMEvalKit's Phi3Vision and Phi3_5Vision drive them (vlmeval/vlm/phi3_vision.py; no custom prompt):
- Phi-3-Vision (not interleaved): the benchmark's default message's texts joined by newlines and its first image
  (BaseModel.message_to_promptimg), as '<|image_1|>\\n' + prompt;
- Phi-3.5-Vision (interleaved, `prompt.variant: "3.5"`): every image of the message, '<|image_k|>\\n' each, before
  the texts joined by newlines; the processor is loaded with num_crops=4 (`processor.num_crops`);
- one user turn through the checkpoint's chat template with the generation prompt; the remote processor on
  (prompt, images); generate() with everything it returns, eos_token_id the tokenizer's, and max_new_tokens=2048,
  temperature=0.0, do_sample=False; the new tokens decoded with special tokens dropped and no space clean-up;
- torch_dtype='auto' (the checkpoint's own, bf16), as VLMEvalKit loads them.
One row per call: the processor takes one text.
"""
from __future__ import annotations

from .base import OneRowAdapter, dataset_message, generation_kwargs, placed, placement, prompt_and_image


def user_content(question: str, extra: dict, spec: dict, n_images: int) -> tuple[str, list[int]]:
    """The user turn's text and the images it shows (their indices), as each wrapper builds them."""
    if str((spec.get("prompt") or {}).get("variant") or "") == "3.5":
        msg = dataset_message(question, extra or {}, spec, n_images)
        shown = [m[1] for m in msg if isinstance(m, tuple)]
        text = "\n".join(m for m in msg if isinstance(m, str))
        return "".join(f"<|image_{k + 1}|>\n" for k in range(len(shown))) + text, shown
    text, first = prompt_and_image(question, extra, spec, n_images)
    return f"<|image_1|>\n{text}", ([first] if first is not None else [])


class Adapter(OneRowAdapter):
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoModelForCausalLM, AutoProcessor

        self.spec, self.device = spec, device
        where = placement(spec, device)
        self.model = placed(AutoModelForCausalLM.from_pretrained(
            model_dir, trust_remote_code=True, torch_dtype="auto",
            _attn_implementation=spec.get("attn_implementation", "eager"), **where), device, where)
        crops = (spec.get("processor") or {}).get("num_crops")
        self.processor = AutoProcessor.from_pretrained(model_dir, trust_remote_code=True,
                                                       **({"num_crops": int(crops)} if crops else {}))
        # and eos_token_id the tokenizer's, as the wrappers pass it
        self.gen = {**generation_kwargs(spec), "eos_token_id": self.processor.tokenizer.eos_token_id}

    def _inputs(self, sample):
        content, shown = user_content(sample.question, sample.extra, self.spec, len(sample.images))
        prompt = self.processor.tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                              add_generation_prompt=True)
        return self.processor(prompt, [sample.images[k] for k in shown], return_tensors="pt")

    def _decode(self, new) -> str:
        return self.processor.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)[0]
