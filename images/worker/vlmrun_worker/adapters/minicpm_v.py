"""MiniCPM-V 2.6 (openbmb/MiniCPM-V-2_6) and MiniCPM-Llama3-V 2.5 (`prompt.variant: llama3-v2.5`; its differences at
the end) through their remote code. MiniCPM-V 2.6 as VLMEvalKit's MiniCPM_V_2_6 drives it
(vlmeval/vlm/minicpm_v.py; interleaved, its own prompt for MCQ, VQA and Y/N benchmarks):
- chain-of-thought prompts for MMMU, HallusionBench, OCRBench and ChartQA ('Carefully read the following multichoice
  question, solve it step by step ...' / 'Read the following question carefully, solve it step by step ...');
  elsewhere 'Hint:' / 'Question:' / 'Options:' with "Answer with the option's letter ..." for MCQ, and for VQA the
  system text 'Answer the question using a single word or phrase.' ('Answer this question in detail.' for MMVet);
- the user turn's content: the system text (if any), the images, then the prompt; for MMVet, MMBench, MMStar, AI2D
  and OCRBench an image under 1344x1344 pixels is first scaled up to a random width between its own and the
  width that reaches that area (the height in proportion);
- `model.chat(image=None, msgs=[{'role': 'user', 'content': content}], context=None, tokenizer=tokenizer,
  max_inp_length=8192, use_image_id=True, max_slice_nums=None, max_new_tokens=2048, sampling=False, num_beams=3)`,
  the answer chat()'s (its first item if a tuple); bf16.
VLMEvalKit draws the upscaled widths from Python's `random`, seeded once when the model loads, so a row's width
depends on the rows before it; here each row draws from its own generator seeded by its index (crc32), so a row's
answer depends neither on the batch, the ranks nor a resume.

MiniCPM-Llama3-V 2.5 as MiniCPM_Llama3_V drives it: its own prompt for MCQ and VQA benchmarks and HallusionBench
(MCQ: 'Hint:' / 'Question:' / 'Options:' under the system text 'Carefully read the following question and select
the letter ... Please just indicate your choice.', which MMMU puts before the prompt instead; HallusionBench:
' Yes or No?' after the question; VQA: the same system texts as 2.6), the benchmark's default message elsewhere; no
upscaling; `model.chat(msgs=..., context=None, image=None, tokenizer=tokenizer, max_new_tokens=..., sampling=False,
num_beams=3)` with 200 new tokens for MCQ, 3 for Y/N, else 1024; fp16.
"""
from __future__ import annotations

import math
import random

from .base import (dataset_message, generation_kwargs, hint, options, placed, placement, question_and_options,
                   row_seed, torch_dtype)

OPTIONS_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
WO_OPTIONS_SYSTEM = "Carefully read the following question Answer the question directly."
DETAIL_SYSTEM = "Answer this question in detail."
VQA_PROMPT = "Answer the question using a single word or phrase."
MCQ_COT = ("Carefully read the following multichoice question, solve it step by step and finally pick the option "
           "associated with the correct answer in the format of \"Answer: selected option\n\n")
SHORT_COT = ("Read the following question carefully, solve it step by step, and then output the final answer in the "
             "format of \"Answer: single number or single word or phrase\".\n\n")
COT = ("MMMU", "HallusionBench", "OCRBench", "ChartQA")
UPSIZE = ("MMVet", "MMBench", "MMStar", "AI2D", "OCRBench")
AREA = 1344 * 1344
V25 = "llama3-v2.5"
V25_OPTIONS_SYSTEM = ("Carefully read the following question and select the letter corresponding to the correct answer. "
                      "Highlight the applicable choices without giving explanations.\nPlease just indicate your choice.")


def system_and_prompt(question: str, extra: dict, spec: dict) -> tuple[str, str]:
    """MiniCPM_V_2_6.build_prompt's (system prompt, prompt)."""
    kind, bench = spec.get("bench_type", "yorn"), spec.get("bench", "")
    h, opts = hint(extra), options(extra)
    system, prompt = "", ""
    if not any(b in bench for b in COT):
        if kind == "mcq":
            prompt = question_and_options(question, extra) + (OPTIONS_SUFFIX if opts else "")
            if not opts:
                system = WO_OPTIONS_SYSTEM
            if "MMMU" in bench and system:
                prompt, system = system + "\n" + prompt, ""
        elif kind == "vqa":
            system = "" if "LLaVABench" in bench else DETAIL_SYSTEM if "MMVet" in bench else VQA_PROMPT
            prompt = question
        else:
            prompt = question
        return system, prompt
    if kind == "mcq":
        prompt = (f"Hint: {h}\n" if h is not None else "") + f"{question}\n" + "".join(f"{k}. {v}\n"
                                                                                         for k, v in opts.items())
        return "", (MCQ_COT if opts else SHORT_COT) + prompt
    return "", SHORT_COT + question


def system_and_prompt_v25(question: str, extra: dict, spec: dict):
    """MiniCPM_Llama3_V.build_prompt's (system prompt, prompt); None where it takes the benchmark's own prompt."""
    kind, bench = spec.get("bench_type", "yorn"), spec.get("bench", "")
    if kind == "mcq":
        prompt = question_and_options(question, extra)
        system = V25_OPTIONS_SYSTEM if options(extra) else WO_OPTIONS_SYSTEM
        return ("", system + "\n" + prompt) if "MMMU" in bench else (system, prompt)
    if "HallusionBench" in bench:
        return "", question + " Yes or No?"
    if kind != "vqa":
        return None
    if "OCRBench" in bench:
        return VQA_PROMPT, question
    if any(b in bench for b in ("LLaVABench", "MMLongBench_DOC")):
        return "", question
    return (DETAIL_SYSTEM if "MMVet" in bench else VQA_PROMPT), question


def v25_new_tokens(spec: dict) -> int:
    return {"mcq": 200, "yorn": 3}.get(spec.get("bench_type"), 1024)


def upsized(image, rng: random.Random):
    """An image under 1344x1344 pixels scaled up to a random width, as the wrapper does for some benchmarks."""
    w, h = image.width, image.height
    if w * h >= AREA:
        return image
    new_w = rng.randint(w, int(w * math.sqrt(AREA / (w * h))))
    return image.resize((new_w, int(new_w / w * h)))


def content(sample, spec: dict) -> list:
    if (spec.get("prompt") or {}).get("variant") == V25:
        custom = system_and_prompt_v25(sample.question, sample.extra or {}, spec)
        if custom is None:  # the benchmark's default message, interleaved as it comes
            msg = dataset_message(sample.question, sample.extra or {}, spec, len(sample.images))
            return [sample.images[m[1]] if isinstance(m, tuple) else m for m in msg]
        return ([custom[0]] if custom[0] else []) + list(sample.images) + [custom[1]]
    system, prompt = system_and_prompt(sample.question, sample.extra or {}, spec)
    rng = random.Random(row_seed(sample.index))
    up = any(b in spec.get("bench", "") for b in UPSIZE)
    images = [upsized(im, rng) if up else im for im in sample.images]
    return ([system] if system else []) + images + [prompt]


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoModel, AutoTokenizer

        self.spec, self.device = spec, device
        where = placement(spec, device)
        model = AutoModel.from_pretrained(model_dir, trust_remote_code=True, **where)
        self.model = placed(model.to(dtype=torch_dtype(spec.get("dtype", "bfloat16"), device)), device, where)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
        self.gen = generation_kwargs(spec)

    def _chat_kwargs(self) -> dict:
        """The wrapper's chat() arguments, from the manifest's settings (chat()'s own name for sampling)."""
        kw = {"max_new_tokens": self.gen["max_new_tokens"], "sampling": bool(self.gen.get("do_sample", False)),
              "num_beams": self.gen.get("num_beams", 3)}
        if (self.spec.get("prompt") or {}).get("variant") == V25:
            # by the benchmark's type; the manifest's max_new_tokens caps it (1024 for the checkpoint: no cap)
            return {**kw, "max_new_tokens": min(v25_new_tokens(self.spec), int(self.gen["max_new_tokens"]))}
        return {"max_inp_length": 8192, "use_image_id": True, "max_slice_nums": None, **kw}

    def prepare(self, samples):
        return [content(s, self.spec) for s in samples]

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        answers = []
        for c in (prepared if prepared is not None else self.prepare(samples)):
            with torch.inference_mode():
                res = self.model.chat(image=None, msgs=[{"role": "user", "content": c}], context=None,
                                      tokenizer=self.tokenizer, **self._chat_kwargs())
            answers.append(res[0] if isinstance(res, tuple) and res else res)
        return answers
