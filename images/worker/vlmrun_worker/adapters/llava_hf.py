"""LLaVA-1.5, LLaVA-NeXT (1.6) and LLaVA-OneVision checkpoints in llava-hf's layout, through transformers' own
LlavaForConditionalGeneration / LlavaNextForConditionalGeneration / LlavaOnevisionForConditionalGeneration (chosen
by the checkpoint's model_type).

Inputs as VLMEvalKit's LLaVA and LLaVA_Next wrappers give them (vlmeval/vlm/llava/llava.py):
  text: MCQ: hint, question, '\\nA. ...' per option, "\\nAnswer with the option's letter from the given choices
        directly."; Y/N and VQA: the benchmark's default prompt (see base.dataset_prompt).
  prompt: the manifest's `prompt.template` with {images} (one `prompt.image_token` per image) and {text}:
        LLaVA-1.5: its system prompt + 'USER: ' + ' <image> ' + text + ' ASSISTANT: ' (VLMEvalKit's LLaVA)
        LLaVA-NeXT-Mistral: '[INST] <image>\\n' + text + ' [/INST]' (the checkpoint's chat template)
  image: LLaVA-1.5 pads to a square filled with the image mean first (`processor.pad_to_square`, the original
        repo's image_aspect_ratio='pad'); LLaVA-NeXT tiles at any resolution in its processor.
  greedy decoding; the answer is the new tokens, special tokens dropped, stripped.

LLaVA-OneVision as VLMEvalKit's LLaVA_OneVision_HF gives it (`prompt.style: chat_template`): the benchmark's default
message (no custom prompt), written as one text with '<image>\n' where each image stands, through the
checkpoint's own chat template; the images as one flat list, as VLMEvalKit passes a row's images, so that each is
tiled at any resolution (also in rows of several images); the answer is the new tokens, special tokens dropped, not
stripped.
"""
from __future__ import annotations

from .base import (PerThread, dataset_message, dataset_prompt, dtype_kwargs, generate_answers, generation_kwargs,
                   letter_prompt, placed, placement, with_suffix)

CLASSES = {"llava": "LlavaForConditionalGeneration", "llava_next": "LlavaNextForConditionalGeneration",
           "llava_onevision": "LlavaOnevisionForConditionalGeneration"}

DEFAULT_TEMPLATE = "USER: {images}{text} ASSISTANT:"


def build_text(question: str, extra: dict, spec: dict) -> str:
    if spec.get("bench_type") == "mcq":
        return with_suffix(letter_prompt(question, extra), spec)
    return with_suffix(dataset_prompt(question, extra, spec), spec)


def build_prompt(question: str, extra: dict, spec: dict, n_images: int = 1) -> str:
    p = spec.get("prompt") or {}
    template = p.get("template") or DEFAULT_TEMPLATE
    return template.format(images=(p.get("image_token") or "<image>\n") * n_images,
                           text=build_text(question, extra or {}, spec))


def chat_message(question: str, extra: dict, spec: dict, n_images: int) -> tuple[str, list[int]]:
    """LLaVA_OneVision_HF's user text (the benchmark's default message, '<image>\n' where each image stands) and
    the images it shows, in order."""
    msg = dataset_message(question, extra or {}, spec, n_images)
    text = "".join("<image>\n" if isinstance(m, tuple) else m for m in msg)
    return text, [m[1] for m in msg if isinstance(m, tuple)]


def pad_to_square(image, fill):
    """The original LLaVA's expand2square: the image centred on a square canvas of the mean colour."""
    from PIL import Image

    w, h = image.size
    if w == h:
        return image
    side = max(w, h)
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        import transformers
        from transformers import AutoConfig, AutoProcessor

        self.spec, self.device = spec, device
        kind = AutoConfig.from_pretrained(model_dir).model_type
        cls = CLASSES.get(kind)
        if cls is None:
            raise ValueError(f"llava_hf adapter: checkpoint model_type {kind!r} is none of {', '.join(CLASSES)}")
        self.chat = (spec.get("prompt") or {}).get("style") == "chat_template"
        self.processor = AutoProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        where = placement(spec, device)
        self.model = placed(getattr(transformers, cls).from_pretrained(
            model_dir, **dtype_kwargs(spec.get("dtype", "float16"), device), **where), device, where)
        self.gen = generation_kwargs(spec)
        self.pad = bool((spec.get("processor") or {}).get("pad_to_square"))
        mean = getattr(self.processor.image_processor, "image_mean", None) or [0.5, 0.5, 0.5]
        self.fill = tuple(int(x * 255) for x in mean)

    def prepare(self, samples):
        proc = self.processors.get()
        if self.chat:
            return self._prepare_chat(proc, samples)
        texts = [build_prompt(s.question, s.extra, self.spec, len(s.images)) for s in samples]
        images = [pad_to_square(im, self.fill) if self.pad else im for s in samples for im in s.images]
        out = proc(text=texts, images=images or None, padding=True, return_tensors="pt")  # none: a text-only request
        for key in [k for k, v in out.items() if v is None]:  # older processors return pixel_values=None then
            del out[key]
        return out

    def _prepare_chat(self, proc, samples):
        texts, images = [], []
        for s in samples:
            text, shown = chat_message(s.question, s.extra, self.spec, len(s.images))
            conv = [{"role": "user", "content": [{"type": "text", "text": text}]}]
            texts.append(proc.apply_chat_template(conv, add_generation_prompt=True))
            images += [s.images[k] for k in shown]
        # one flat list, as VLMEvalKit hands a row's images with its one prompt: the processor then tiles every
        # image at any resolution, also in rows of several images (it keeps plain crops only for a nested list)
        return proc(text=texts, images=images or None, padding=True, return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        answers = generate_answers(self.model, self.processor, inputs, self.gen)
        return answers if self.chat else [t.strip() for t in answers]
