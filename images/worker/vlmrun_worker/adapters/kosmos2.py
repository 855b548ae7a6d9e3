"""Kosmos-2 (microsoft/kosmos-2-patch14-224) through transformers' own Kosmos2ForConditionalGeneration, as
VLMEvalKit's Kosmos2 wrapper drives it (vlmeval/vlm/kosmos.py):
- its custom prompt for multiple-choice benchmarks (MMMU aside) and MMVet: 'Hint: ...\\n' question '\\n', 'A. ...\\n'
  per option, then '\\nAnswer with the option’s letter from the given choices directly. ' (or, with no options,
  'Answer the question directly. '); MMVet: question + '\\nAnswer the question directly. '; other benchmarks: their
  default message;
- the prompt '<grounding> ' + 'Question: ' + text + 'Answer: ' per text of the message, with the message's first
  image (the processor writes '<image>', the image tokens and '</image>');
- generate(pixel_values, input_ids, attention_mask, image_embeds=None, image_embeds_position_mask, max_new_tokens
  512, use_cache True); float16;
- the answer: the whole output decoded (special tokens dropped), post_process_generation(cleanup_and_extract=True),
  every 'Question: ... Answer:' (or a trailing 'Question: ...') removed, stripped.
"""
from __future__ import annotations

import re

from .base import HFAdapter, dataset_message, hint, one_image_each, options

MCQ_END = "\nAnswer with the option’s letter from the given choices directly. "  # the wrapper's curly apostrophe
DIRECT = "Answer the question directly. "


def custom_text(question: str, extra: dict, spec: dict) -> str | None:
    """Kosmos2.build_prompt's text where use_custom_prompt holds (None elsewhere)."""
    bench, kind = spec.get("bench", ""), spec.get("bench_type")
    if bench == "MMVet":
        return question + "\n" + DIRECT
    if kind != "mcq" or "MMMU" in bench:
        return None
    opts, h = options(extra), hint(extra)
    text = (f"Hint: {h}\n" if h is not None else "") + f"{question}\n"
    return text + ("".join(f"{k}. {v}\n" for k, v in opts.items()) + MCQ_END if opts else DIRECT)


def prompt_and_image(question: str, extra: dict, spec: dict, n_images: int) -> tuple[str, int | None]:
    """The wrapper's prompt string and the index of the image it hands the processor (its message's first)."""
    text = custom_text(question, extra or {}, spec)
    msg = [text] + [("image", k) for k in range(n_images)] if text is not None else \
        dataset_message(question, extra or {}, spec, n_images)
    prompt = "<grounding> " + "".join(f"Question: {m}Answer: " for m in msg if isinstance(m, str))
    shown = [m[1] for m in msg if isinstance(m, tuple)]
    return prompt, (shown[0] if shown else None)


def clean(processor, text: str) -> str:
    processed = processor.post_process_generation(text, cleanup_and_extract=True)[0]
    return re.sub(r"(Question:.*?Answer:|Question:.*)", "", processed).strip()


class Adapter(HFAdapter):
    MODEL = "Kosmos2ForConditionalGeneration"
    DTYPE = "float16"

    def prepare(self, samples):
        texts, images = one_image_each(samples, self.spec, prompt_and_image, "Kosmos-2")
        return self.processors.get()(text=texts, images=images, padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        """Rows of one prompt length go to generate() together, unpadded: Kosmos-2's text decoder numbers the
        positions of new tokens from the padded length, so a left-padded row would not get batch 1's answer."""
        import torch

        x = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        lengths = x["attention_mask"].sum(dim=1).tolist()
        answers = [""] * len(samples)
        for n in sorted(set(lengths)):
            rows = [i for i, k in enumerate(lengths) if k == n]
            sub = {k: x[k][rows][:, -n:] for k in ("input_ids", "attention_mask", "image_embeds_position_mask")}
            with torch.inference_mode():
                out = self.model.generate(pixel_values=x["pixel_values"][rows], input_ids=sub["input_ids"],
                                          attention_mask=sub["attention_mask"], image_embeds=None,
                                          image_embeds_position_mask=sub["image_embeds_position_mask"], **self.gen)
            for i, text in zip(rows, self.processor.batch_decode(out, skip_special_tokens=True)):
                answers[i] = clean(self.processor, text)
        return answers
