"""Llama-3.2-Vision (meta-llama/Llama-3.2-11B-Vision-Instruct, -90B-) through transformers' own
MllamaForConditionalGeneration, as VLMEvalKit's llama_vision wrapper drives it (vlmeval/vlm/llama_vision.py):
- custom prompts for AI2D, MMMU, MathVista, ChartQA and DocVQA (the text first, then the images; AI2D's and
  ChartQA's differ between the 11B and the 90B checkpoint: `prompt.variant`); the benchmark's default message
  (images first) elsewhere;
- the message's items as one user turn through the checkpoint's chat template ('<|image|>' where each image is),
  then the processor on (images, text);
- new tokens per benchmark (`processor.per_benchmark_tokens`; test models keep the manifest's): AI2D 400, MMMU 2048,
  MathVista 2048, ChartQA 512, DocVQA 512; other multiple-choice and yes/no benchmarks 128, the rest 512; the
  Instruct checkpoints sample (do_sample, temperature 0.6, top_p 0.9: the
  manifest's generation);
- the answer: the new tokens decoded with special tokens kept, '<|eot_id|>' removed.
Sampling is random in VLMEvalKit; vlmrun seeds each generate call from its rows' ids, so a rerun at the same batch
size gives the same answers.
"""
from __future__ import annotations

import zlib

from .base import HFAdapter, dataset_message, options, rows_until_end

CUSTOM = ("AI2D", "MMMU", "MathVista", "ChartQA", "DocVQA")
TOKENS = {"AI2D": 400, "MMMU": 2048, "MathVista": 2048, "ChartQA": 512, "DocVQA": 512}
AI2D = {"11B": ("Look at the scientific diagram carefully and answer the following question: {q}\n"
                "Think step by step and finally respond to the question with only the correct option number as "
                "\"FINAL ANSWER\".<cot_start>Let's think step by step."),
        "90B": ("Look at the scientific diagram carefully and answer the following question: {q}\n"
                "Respond only with the correct option digit.")}
CHARTQA = {"11B": ("You are provided a chart image and will be asked a question. You have to think through your answer "
                   "and provide a step-by-step solution. Once you have the solution, write the final answer in at most "
                   "a few words at the end with the phrase \"FINAL ANSWER:\". The question is: {q}<cot_start>Let's "
                   "think step by step."),
           "90B": ("You are provided a chart image and will be asked a question. Follow these steps carefully:\n "
                   "Step 1: Analyze the question to understand what specific data or information is being asked for. "
                   "Focus on whether the question is asking for a specific number or category from the chart image.\n "
                   "Step 2: Identify any numbers, categories, or groups mentioned in the question and take note of "
                   "them. Focus on detecting and matching them directly to the image. \n"
                   "Step 3: Study the image carefully and find the relevant data corresponding to the categories or "
                   "numbers mentioned. Avoid unnecessary assumptions or calculations; simply read the correct data "
                   "from the image.\n "
                   "Step 4: Develop a clear plan to solve the question by locating the right data. Focus only on the "
                   "specific category or group that matches the question. \n"
                   "Step 5: Use step-by-step reasoning to ensure you are referencing the correct numbers or data "
                   "points from the image, avoiding unnecessary extra steps or interpretations.\n "
                   "Step 6: Provide the final answer, starting with \"FINAL ANSWER:\" and using as few words as "
                   "possible, simply stating the number or data point requested. \n\n "
                   "The question is: {q}<cot_start>Let's think step by step.")}
DOCVQA = ("Read the text in the image carefully and answer the question with the text as seen exactly in the image. "
          "For yes/no questions, just respond Yes or No. If the answer is numeric, just respond with the number and "
          "nothing else. If the answer has multiple words, just respond with the words and absolutely nothing else. "
          "Never respond in a sentence or a phrase.\n Question: {q}")


def _custom(bench: str) -> str | None:
    return next((c for c in CUSTOM if c in bench), None)


def custom_text(question: str, extra: dict, spec: dict, n_images: int) -> str:
    """llama_vision.build_prompt's text for the benchmarks it has a custom prompt for."""
    kind, variant = _custom(spec.get("bench", "")), (spec.get("prompt") or {}).get("variant")
    opts = options(extra)
    if kind in ("AI2D", "ChartQA"):
        if variant not in AI2D:
            raise ValueError(f"llama_vision's {kind} prompt depends on the checkpoint: set prompt.variant to 11B or 90B")
        if kind == "ChartQA":
            return CHARTQA[variant].format(q=question)
        return AI2D[variant].format(q=question + "".join(f"\n{k}. {v}" for k, v in opts.items()))
    if kind == "MMMU":
        text = (f"Look at the image carefully and solve the following question step-by-step. Question: {question} "
                f"Options: {chr(10).join(f'{k}. {v}' for k, v in opts.items())} Indicate the correct answer at the end.")
        for i in range(n_images):
            text = text.replace(f"<image {i + 1}>", "")
        return text
    if kind == "MathVista":
        return question
    return DOCVQA.format(q=question)


def message(question: str, extra: dict, spec: dict, n_images: int) -> list:
    """The message the wrapper hands generate_inner: texts and ('image', k) items in order."""
    if _custom(spec.get("bench", "")):
        return [custom_text(question, extra or {}, spec, n_images)] + [("image", k) for k in range(n_images)]
    return dataset_message(question, extra or {}, spec, n_images)


def max_new_tokens(spec: dict) -> int:
    kind = _custom(spec.get("bench", ""))
    if kind:
        return TOKENS[kind]
    return 128 if spec.get("bench_type") in ("mcq", "yorn") else 512


class Adapter(HFAdapter):
    MODEL = "MllamaForConditionalGeneration"

    def prepare(self, samples):
        proc = self.processors.get()
        texts, images = [], []
        for s in samples:
            msg = message(s.question, s.extra, self.spec, len(s.images))
            payload = [{"type": "image"} if isinstance(m, tuple) else {"type": "text", "text": m} for m in msg]
            texts.append(proc.apply_chat_template([{"role": "user", "content": payload}], add_generation_prompt=True))
            images.append([s.images[m[1]] for m in msg if isinstance(m, tuple)])
        return proc(images=images if any(images) else None, text=texts, padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        gen = dict(self.gen)
        if (self.spec.get("processor") or {}).get("per_benchmark_tokens"):
            gen["max_new_tokens"] = max_new_tokens(self.spec)  # the benchmark's (spec, as the job sets it)
        if gen.get("do_sample"):  # reproducible samples: the seed follows the rows
            torch.manual_seed(zlib.crc32(",".join(str(s.index) for s in samples).encode()))
        with torch.inference_mode():
            out = self.model.generate(**inputs, **gen)
        rows = rows_until_end(out[:, inputs["input_ids"].shape[1]:], self.eos)
        return [self.processor.decode(row).replace("<|eot_id|>", "") for row in rows]
