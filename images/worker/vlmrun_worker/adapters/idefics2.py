"""Idefics2 and Idefics3 (HuggingFaceM4/idefics2-8b, HuggingFaceM4/Idefics3-8B-Llama3) through transformers' own
classes, chosen by the checkpoint's model_type. VLMEvalKit runs both with its IDEFICS2 wrapper (config.py:
"Idefics3 follows Idefics2 Pattern"; its Idefics3 branch tests `'Idefics3' in model_path.lower()`, which never
holds, so the prompts are the same); the processor of each checkpoint expands '<image>' (Idefics3: tiles with
'<row_i_col_j>' and a '<global-img>').

The prompt is the string VLMEvalKit's IDEFICS2 wrapper builds (vlmeval/vlm/idefics.py) from the benchmark's
default message (VLMEvalKit gives IDEFICS2 no custom prompt): 'User:', '<image>' where each image is, each text
stripped, a per-benchmark suffix, then '<end_of_utterance>\nAssistant:'. Suffixes: '\nGive a very brief
answer.' for MME and the short-answer VQA sets, '\nAnswer yes or no.' for HallusionBench. MMBench and the pure
multiple-choice sets (MMStar, SEEDBench_IMG, AI2D_TEST, ScienceQA) say 'Choices:' instead of 'Options:', ask
for a letter, and end 'Assistant: Answer:' (MMBench also moves the hint after the question). MMMU has its own
layout: 'User: Question: ' and '<image k>:<image>\n' per image, then the interleaved message with ' <image k> '
where each image is. generate() gets only the manifest's arguments (VLMEvalKit: max_new_tokens=1024); the
answer is the generated tokens, decoded and stripped.
"""
from __future__ import annotations

from .base import (MMMU_DATASETS, PerThread, dataset_message, dtype_kwargs, generation_kwargs, placed, placement,
                   with_suffix)

# MME-mini is vlmrun's MME sample: it takes MME's prompt
BRIEF = {"MME", "MME-mini", "MMVet", "OCRVQA_TEST", "OCRVQA_TESTCORE", "TextVQA_VAL", "ChartQA_TEST", "DocVQA_VAL",
         "DocVQA_TEST", "InfoVQA_VAL", "InfoVQA_TEST"}
PURE_MCQ = {"MMStar", "SEEDBench_IMG", "AI2D_TEST", "ScienceQA_VAL", "ScienceQA_TEST"}
MMBENCH = {"MMBench_DEV_EN", "MMBench_DEV_EN_V11", "MMBench_TEST_EN", "MMBench_TEST_EN_V11", "MMBench_DEV_CN",
           "MMBench_DEV_CN_V11", "MMBench_TEST_CN", "MMBench_TEST_CN_V11", "MMBench", "MMBench_V11", "MMBench_CN",
           "MMBench_CN_V11"}
CLASSES = {"idefics2": "Idefics2ForConditionalGeneration", "idefics3": "Idefics3ForConditionalGeneration"}
SELECT = "Please select the correct answer from the options above."


def _replace(text: str, mapping: dict) -> str:
    for k, v in mapping.items():
        text = text.replace(k, v)
    return text


def _mmbench_text(text: str) -> str:
    text = _replace(text.strip(), {"\nOptions:": "\nChoices:", SELECT: "Answer with a letter."})
    if text.startswith("Hint:") and text.count("\nQuestion:") == 1:  # the hint goes after the question
        h, rest = text.split("\nQuestion:")
        if rest.count("\nChoices:") == 1:
            q, choices = rest.split("\nChoices:")
            text = "Question:" + q + "\n" + h + "\nChoices:" + choices
    return text


def build(question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> tuple[str, list[int]]:
    """(prompt, the row's images in the order the prompt takes them)."""
    bench = spec.get("bench", "")
    msg = dataset_message(question, extra or {}, spec, n_images)
    if isinstance(msg[-1], str):
        msg[-1] = with_suffix(msg[-1], spec)
    order = [m[1] for m in msg if isinstance(m, tuple)]
    if bench in MMMU_DATASETS:
        mapping = {"Question:": "", SELECT: "Answer with the letter.", "\nOptions:": "\nChoices:"}
        prompt = "User: Question: " + "".join(f"<image {k + 1}>:<image>\n" for k in range(len(order)))
        k = 0
        for m in msg:
            if isinstance(m, tuple):
                k += 1
                prompt += f" <image {k}> "
            else:
                prompt += _replace(m.strip(), mapping).strip()
        prompt += "<end_of_utterance>\nAssistant:"
        return prompt + (" Answer:" if "A." in prompt and "B." in prompt else ""), order
    if bench in MMBENCH or bench in PURE_MCQ:
        mapping = {"\nOptions:": "\nChoices:", SELECT: "Answer with the letter."}
        text = "".join("<image>" if isinstance(m, tuple) else
                       (_mmbench_text(m) if bench in MMBENCH else _replace(m.strip(), mapping)) for m in msg)
        return f"User:{text}<end_of_utterance>\nAssistant: Answer:", order
    text = "".join("<image>" if isinstance(m, tuple) else m.strip() for m in msg)
    suffix = "\nGive a very brief answer." if bench in BRIEF else "\nAnswer yes or no." if bench == "HallusionBench" else ""
    return f"User:{text}{suffix}<end_of_utterance>\nAssistant:", order


def build_prompt(question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> str:
    return build(question, spec, extra, n_images)[0]


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        import transformers
        from transformers import AutoConfig, AutoProcessor

        self.spec, self.device = spec, device
        kind = AutoConfig.from_pretrained(model_dir).model_type
        if kind not in CLASSES:
            raise ValueError(f"idefics2 adapter: checkpoint model_type {kind!r} is none of {', '.join(CLASSES)}")
        self.processor = AutoProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        where = placement(spec, device)
        self.model = placed(getattr(transformers, CLASSES[kind]).from_pretrained(
            model_dir, **dtype_kwargs(spec.get("dtype", "bfloat16"), device), **where), device, where)
        self.gen = generation_kwargs(spec)  # stops where the checkpoint's generation_config says, as in VLMEvalKit

    def prepare(self, samples):
        proc = self.processors.get()
        built = [build(s.question, self.spec, s.extra, len(s.images)) for s in samples]
        images = [[s.images[k] for k in order] for s, (_, order) in zip(samples, built)]
        inputs = proc(text=[p for p, _ in built], images=images if any(images) else None,  # none: text-only (serve)
                      padding=True, return_tensors="pt")
        inputs.pop("token_type_ids", None)  # the byte-level test tokenizer returns them; the model takes none
        return inputs

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        # decoded as IDEFICS2 does: special tokens dropped, spaces cleaned up as the checkpoint's tokenizer says
        return [t.strip() for t in self.processor.batch_decode(out[:, inputs["input_ids"].shape[1]:],
                                                                skip_special_tokens=True)]
