"""Mantis on Idefics2 (TIGER-Lab/Mantis-8B-Idefics2) through transformers' own Idefics2ForConditionalGeneration,
as VLMEvalKit's Mantis wrapper drives its Idefics2 checkpoints (vlmeval/vlm/mantis.py, the `_is_idefics` branch):
- multiple-choice benchmarks: its custom prompt (hint, question, '\\nA. ...' per option, "\\nAnswer with the
  option's letter from the given choices directly.", in Chinese where the text is), the images first; other
  benchmarks: their default message;
- one user turn through the checkpoint's chat template: an image item per image, then the message's texts joined;
- the processor on (prompt, images), truncation on; generate with do_sample=False, temperature=0,
  max_new_tokens=1024, top_p=None, num_beams=1; float16;
- the answer: the new tokens decoded with special tokens kept (the wrapper's `skip_special_token` is not an
  argument decode knows) and cut as its output_process does ('<s>' dropped, text after '[/INST]' / 'ASSISTANT:' /
  'assistant\\n' / the third header end, text before '</s>' / '<|im_end|>' / '<|eot_id|>' / '<end_of_utterance>' /
  '|ENDOFTEXT|').
"""
from __future__ import annotations

from .base import HFAdapter, dataset_message, letter_prompt, rows_until_end


def message(question: str, extra: dict, spec: dict, n_images: int) -> list:
    if spec.get("bench_type") == "mcq":
        return [("image", k) for k in range(n_images)] + [letter_prompt(question, extra or {})]
    return dataset_message(question, extra or {}, spec, n_images)


def output_process(answer: str) -> str:
    if "<s>" in answer:
        answer = answer.replace("<s>", "").strip()
    if "[/INST]" in answer:
        answer = answer.split("[/INST]")[1].strip()
    elif "ASSISTANT:" in answer:
        answer = answer.split("ASSISTANT:")[1].strip()
    elif "assistant\n" in answer:
        answer = answer.split("assistant\n")[1].strip()
    elif "<|end_header_id|>\n\n" in answer:
        answer = answer.split("<|end_header_id|>\n\n")[2].strip()
    for end in ("</s>", "<|im_end|>", "<|eot_id|>", "<end_of_utterance>", "|ENDOFTEXT|"):
        if end in answer:
            return answer.split(end)[0].strip()
    return answer


class Adapter(HFAdapter):
    MODEL = "Idefics2ForConditionalGeneration"
    DTYPE = "float16"

    def prepare(self, samples):
        proc = self.processors.get()
        texts, images = [], []
        for s in samples:
            msg = message(s.question, s.extra, self.spec, len(s.images))
            shown = [m[1] for m in msg if isinstance(m, tuple)]
            content = [{"type": "image"} for _ in shown] + [{"type": "text",
                                                             "text": "".join(m for m in msg if isinstance(m, str))}]
            texts.append(proc.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True))
            images.append([s.images[k] for k in shown])
        inputs = proc(text=texts, images=images if any(images) else None, padding=True, truncation=True,
                      return_tensors="pt")
        inputs.pop("token_type_ids", None)  # the byte-level test tokenizer returns them; the model takes none
        return inputs

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        rows = rows_until_end(out[:, inputs["input_ids"].shape[1]:], self.eos)
        return [output_process(self.processor.decode(row)) for row in rows]
