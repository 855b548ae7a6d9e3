"""Idefics2 (e.g. HuggingFaceM4/idefics2-8b) through transformers' own classes.

The prompt is the string VLMEvalKit's IDEFICS2 wrapper builds (vlmeval/vlm/idefics.py): 'User:', one
'<image>' per image, the benchmark's default text stripped, a per-benchmark suffix, then
'<end_of_utterance>\nAssistant:'. Suffixes: '\nGive a very brief answer.' for MME and the short-answer VQA
sets, '\nAnswer yes or no.' for HallusionBench. MMBench and the pure multiple-choice sets (MMStar,
SEEDBench_IMG, AI2D_TEST, ScienceQA) say 'Choices:' instead of 'Options:', ask for a letter, and end
'Assistant: Answer:' (MMBench also moves the hint after the question). Greedy decoding, generated tokens
as the answer.
"""
from __future__ import annotations

from .base import PerThread, dataset_prompt, dtype_kwargs, generate_answers, generation_kwargs, with_suffix

BRIEF = {"MME", "MME-mini", "MMVet", "OCRVQA_TEST", "OCRVQA_TESTCORE", "TextVQA_VAL", "ChartQA_TEST", "DocVQA_VAL",
         "DocVQA_TEST", "InfoVQA_VAL", "InfoVQA_TEST"}
PURE_MCQ = {"MMStar", "SEEDBench_IMG", "AI2D_TEST", "ScienceQA_VAL", "ScienceQA_TEST"}
SELECT = "Please select the correct answer from the options above."


def build_prompt(question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> str:
    bench = spec.get("bench", "")
    text = dataset_prompt(question, extra or {}, spec).strip()
    images = "<image>" * n_images
    mmbench = bench.startswith("MMBench")
    if spec.get("bench_type") == "mcq" and (mmbench or bench in PURE_MCQ):
        text = text.replace("\nOptions:", "\nChoices:").replace(SELECT, "Answer with a letter." if mmbench else "Answer with the letter.")
        if mmbench and text.startswith("Hint:") and "\nQuestion:" in text and "\nChoices:" in text:
            h, rest = text.split("\nQuestion:", 1)
            q, choices = rest.split("\nChoices:", 1)
            text = "Question:" + q + "\n" + h + "\nChoices:" + choices
        return f"User:{images}{with_suffix(text, spec)}<end_of_utterance>\nAssistant: Answer:"
    suffix = "\nGive a very brief answer." if bench in BRIEF else "\nAnswer yes or no." if bench == "HallusionBench" else ""
    return f"User:{images}{with_suffix(text, spec)}{suffix}<end_of_utterance>\nAssistant:"


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoProcessor, Idefics2ForConditionalGeneration

        self.spec, self.device = spec, device
        self.processor = AutoProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        self.model = Idefics2ForConditionalGeneration.from_pretrained(
            model_dir, **dtype_kwargs(spec.get("dtype", "bfloat16"), device))
        self.model.to(device).eval()
        self.gen = generation_kwargs(spec)
        self.gen["eos_token_id"] = self.processor.tokenizer.convert_tokens_to_ids("<end_of_utterance>")

    def prepare(self, samples):
        proc = self.processors.get()
        texts = [build_prompt(s.question, self.spec, s.extra, len(s.images)) for s in samples]
        inputs = proc(text=texts, images=[s.images for s in samples], padding=True, return_tensors="pt")
        inputs.pop("token_type_ids", None)  # the byte-level test tokenizer returns them; the model takes none
        return inputs

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        return [t.strip() for t in generate_answers(self.model, self.processor, inputs, self.gen)]
