"""Idefics2 (e.g. HuggingFaceM4/idefics2-8b) through transformers' own classes and the model's chat template:
one user turn with the image then the text ('User:<image>...<end_of_utterance>\\nAssistant:'), greedy
decoding, the generated tokens as the answer."""
from __future__ import annotations

from .base import PerThread, dtype_kwargs, generate_answers, greedy_kwargs, with_suffix


def build_messages(question: str, spec: dict, n_images: int = 1) -> list[dict]:
    content = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": with_suffix(question, spec)})
    return [{"role": "user", "content": content}]


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
        self.gen = greedy_kwargs(spec)
        self.gen["eos_token_id"] = self.processor.tokenizer.convert_tokens_to_ids("<end_of_utterance>")

    def prepare(self, samples):
        proc = self.processors.get()
        texts = [proc.apply_chat_template(build_messages(s.question, self.spec, len(s.images)),
                                                    add_generation_prompt=True) for s in samples]
        inputs = proc(text=texts, images=[s.images for s in samples], padding=True, return_tensors="pt")
        inputs.pop("token_type_ids", None)  # the byte-level test tokenizer returns them; the model takes none
        return inputs

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        return [t.strip() for t in generate_answers(self.model, self.processor, inputs, self.gen)]
