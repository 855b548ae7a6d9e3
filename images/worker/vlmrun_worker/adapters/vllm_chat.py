"""The vLLM engine for models vLLM supports natively (Qwen2-VL, InternVL2): same prompts and image settings
as the transformers adapters, greedy decoding, vLLM's own continuous batching.

Runs on GPUs only, in the family's `vllm` image flavour. The prompt building below is plain Python and is
tested on CPU; the engine itself can only be exercised where a GPU is.
"""
from __future__ import annotations

from . import internvl_chat, qwen2_vl

# Stop strings vLLM's own examples use for InternVL2's chat format.
INTERNVL_STOP = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|end|>"]


def messages(base_adapter: str, question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> list[dict]:
    """Chat messages for the model's chat template, as the transformers adapter of that model builds them."""
    if base_adapter == "qwen2_vl":
        return qwen2_vl.build_messages(question, spec, extra, n_images)
    if base_adapter == "internvl_chat":
        return [{"role": "user", "content": internvl_chat.build_prompt(question, spec, extra, n_images)}]
    raise ValueError(f"the vLLM engine has no prompt format for adapter {base_adapter!r}")


def mm_processor_kwargs(base_adapter: str, spec: dict) -> dict:
    """Image preprocessing settings, in vLLM's names: Qwen2-VL's pixel bounds, InternVL2's tile count."""
    proc = spec.get("processor") or {}
    if base_adapter == "qwen2_vl":
        return {k: int(proc[k]) for k in ("min_pixels", "max_pixels") if k in proc}
    if base_adapter == "internvl_chat":
        return {"max_dynamic_patch": int(proc.get("max_num", 6))}
    return {}


def engine_args(model_dir: str, spec: dict) -> dict:
    return dict(model=model_dir, tokenizer=model_dir, dtype=spec.get("dtype", "bfloat16"),
                trust_remote_code=bool((spec.get("source") or {}).get("trust_remote_code")),
                tensor_parallel_size=int(spec.get("tensor_parallel_size", 1)), seed=0,
                limit_mm_per_prompt={"image": 8},
                mm_processor_kwargs=mm_processor_kwargs(spec["adapter"], spec) or None)


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from vllm import LLM, SamplingParams

        self.spec, self.base = spec, spec["adapter"]
        self.llm = LLM(**engine_args(model_dir, spec))
        self.tokenizer = self.llm.get_tokenizer()
        gen = spec.get("generation") or {}
        stop = INTERNVL_STOP if self.base == "internvl_chat" else None
        self.params = SamplingParams(temperature=0.0, max_tokens=int(gen.get("max_new_tokens", 64)), stop=stop)

    def prepare(self, samples):
        return [{"prompt": self.tokenizer.apply_chat_template(
                    messages(self.base, s.question, self.spec, s.extra, len(s.images)),
                    tokenize=False, add_generation_prompt=True),
                 "multi_modal_data": {"image": s.image}} for s in samples]

    def generate(self, samples, prepared=None) -> list[str]:
        requests = prepared if prepared is not None else self.prepare(samples)
        outputs = self.llm.generate(requests, self.params, use_tqdm=False)
        return [o.outputs[0].text for o in outputs]
