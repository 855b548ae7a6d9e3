"""GLM-4V-9B (THUDM/glm-4v-9b) through its remote code, as VLMEvalKit's GLM4v drives it (vlmeval/vlm/cogvlm.py;
not interleaved, no custom prompt):
- the benchmark's default message's texts joined by newlines and its first image (BaseModel.message_to_promptimg),
  with '\\nShort Answer.' added for multiple-choice and yes/no benchmarks;
- the remote tokenizer's apply_chat_template on [{'role': 'user', 'image': image, 'content': prompt}] with the
  generation prompt, tokenized, as a dict: input_ids, attention_mask, position_ids and the image as `images`;
- generate() with all of them and max_length=2048, do_sample=False (the manifest's generation); bf16;
- the new tokens decoded with nothing skipped, cut at the first '<|endoftext|>'.
One row per call, as the wrapper does.
"""
from __future__ import annotations

from .base import OneRowAdapter, generation_kwargs, placed, placement, prompt_and_image

END = "<|endoftext|>"


def prompt_and_index(question: str, extra: dict, spec: dict, n_images: int) -> tuple[str, int | None]:
    text, first = prompt_and_image(question, extra, spec, n_images)
    if spec.get("bench_type") in ("mcq", "yorn"):
        text += "\nShort Answer."
    return text, first


class Adapter(OneRowAdapter):
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .base import dtype_kwargs

        self.spec, self.device = spec, device
        where = placement(spec, device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
        self.model = placed(AutoModelForCausalLM.from_pretrained(
            model_dir, trust_remote_code=True, low_cpu_mem_usage=True,
            **dtype_kwargs(spec.get("dtype", "bfloat16"), device), **where), device, where)
        self.gen = generation_kwargs(spec)

    def _inputs(self, sample):
        text, first = prompt_and_index(sample.question, sample.extra, self.spec, len(sample.images))
        turn = {"role": "user", "content": text}
        if first is not None:
            turn["image"] = sample.images[first]
        return self.tokenizer.apply_chat_template([turn], add_generation_prompt=True, tokenize=True,
                                                  return_tensors="pt", return_dict=True)

    def _decode(self, new) -> str:
        return self.tokenizer.decode(new[0]).split(END)[0]
