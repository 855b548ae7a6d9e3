"""Qwen2-VL / Qwen2.5-VL through transformers' native classes and the model's own processor.

Inputs as VLMEvalKit's Qwen2VLChat builds them (vlmeval/vlm/qwen2_vl/model.py, prompt.py):
- one user turn holding the message's images and texts in order; no system turn unless the manifest sets one;
- each image resized first, as qwen_vl_utils.fetch_image does: PIL `resize` (bicubic) to `smart_resize` of its
  size with the model's min/max pixels (OCRBench: min 10*10*28*28) and factor 28; then the checkpoint's own
  processor, built with no overrides (a published checkpoint's top-level min/max_pixels stay in force there);
- the text per benchmark (use_custom_prompt):
  MCQ and MMMU: 'Hint: ...\\nQuestion: ...\\nOptions:\\nA. ...\\n' + 'Please select the correct answer from the
  options above.' (only when there are options); Y/N: POPE and HallusionBench add ' Please answer yes or no.',
  other Y/N sets (MME) take the dataset's prompt; VQA: + '\\nPlease try to answer the question with short words
  or phrases if possible.';
  with `prompt.style: dataset` (Qwen2.5-VL: use_custom_prompt=False) the benchmark's own default message,
  MMMU's images placed at its '<image k>' tags;
- generate with the manifest's keyword arguments (VLMEvalKit's: top_k=1, top_p=0.001, temperature=0.01,
  repetition_penalty=1.0, do_sample=True, max_new_tokens=2048); the answer is the new tokens, decoded.
"""
from __future__ import annotations

import math

from .base import (MMMU_DATASETS, PerThread, dataset_message, dtype_kwargs, generate_answers, generation_kwargs,
                   has_chinese, hint, options, placed, placement, with_suffix)
from .shared_images import COPIES_KEY, ProcessOnce, SharedImages, as_list

FACTOR = 28  # VLMEvalKit calls process_vision_info with qwen_vl_utils' default patch size 14 (x merge size 2)
OCRBENCH_MIN_PIXELS = 10 * 10 * 28 * 28
VQA_SUFFIX = "\nPlease try to answer the question with short words or phrases if possible."


def _mcq_text(question: str, extra: dict, mmmu: bool) -> str:
    h, opts = hint(extra), options(extra)
    text = (f"Hint: {h}\n" if h is not None else "") + f"Question: {question}\n"
    if opts:
        text += "Options:\n" + "".join(f"{k}. {v}\n" for k, v in opts.items())
        if mmmu:
            text += "Please select the correct answer from the options above. \n"
        else:
            text += "请直接回答选项字母。" if has_chinese(text) else "Please select the correct answer from the options above."
    return text.rstrip()


def uses_custom_prompt(spec: dict) -> bool:
    """Qwen2VLPromptMixin.use_custom_prompt."""
    if (spec.get("prompt") or {}).get("style") == "dataset":
        return False
    kind, bench = spec.get("bench_type"), spec.get("bench", "")
    if bench in MMMU_DATASETS:
        return True
    if kind == "mcq":
        return "LEGO" not in bench
    if kind == "yorn":
        return bench in ("HallusionBench", "POPE")
    if kind == "vqa":
        return bench not in ("MMVet", "ChartQAPro", "ChartQAPro_CoT", "ChartQAPro_PoT", "ChartMuseum")
    return False


def build_message(question: str, extra: dict, spec: dict, n_images: int = 1) -> list:
    """The message as VLMEvalKit builds it: ('image', k) items and texts, in order."""
    if not uses_custom_prompt(spec):
        msg = dataset_message(question, extra, spec, n_images)
    else:
        kind, bench = spec.get("bench_type"), spec.get("bench", "")
        if bench in MMMU_DATASETS or kind == "mcq":
            text = _mcq_text(question, extra, bench in MMMU_DATASETS)
        elif kind == "vqa":
            text = question + VQA_SUFFIX
        else:
            text = question + " Please answer yes or no."
        msg = [("image", k) for k in range(n_images)] + [text]
    suffix = with_suffix("", spec)
    if suffix:
        msg = msg[:-1] + [msg[-1] + suffix] if isinstance(msg[-1], str) else msg + [suffix]
    return msg


def build_messages(question: str, spec: dict, extra: dict | None = None, n_images: int = 1, message=None) -> list[dict]:
    """The chat messages (images as {'type': 'image'}, a video as {'type': 'video'}, in message order); `message`:
    a video benchmark's message, as the worker built it."""
    msgs = []
    system = (spec.get("prompt") or {}).get("system")
    if system:
        msgs.append({"role": "system", "content": system})
    items = message if message is not None else build_message(question, extra or {}, spec, n_images)
    content = [{"type": m[0]} if isinstance(m, tuple) else {"type": "text", "text": m} for m in items]
    msgs.append({"role": "user", "content": content})
    return msgs


VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS = 128 * FACTOR * FACTOR, 768 * FACTOR * FACTOR  # qwen_vl_utils 0.0.14
VIDEO_TOTAL_PIXELS = 128000 * FACTOR * FACTOR * 0.9  # its MODEL_SEQ_LEN default (128000 tokens) x 0.9


def video_frames_for(n_frames: int, video_fps: float, nframe: int, fps: float) -> list[int]:
    """The frames Qwen2-VL sees of a video, as VLMEvalKit's Qwen2VLChat asks qwen_vl_utils for them: with the
    run's fps, `fps`; with nframe, `nframes` (the video's frame count rounded down to even when it has fewer)."""
    from ..video import qwen_indices

    if fps > 0:
        return qwen_indices(n_frames, video_fps, fps=fps)
    return qwen_indices(n_frames, video_fps, nframes=nframe if n_frames >= nframe else n_frames // 2 * 2)


def video_size(height: int, width: int, n: int, spec: dict) -> tuple:
    """qwen_vl_utils.fetch_video's frame size: smart_resize within the video's pixel bounds (the model's
    min/max pixels where VLMEvalKit passes them, capped by 768 tokens a frame and the total budget)."""
    lo, hi = pixel_bounds(spec)
    lo = VIDEO_MIN_PIXELS if lo is None else lo
    most = max(min(VIDEO_MAX_PIXELS, VIDEO_TOTAL_PIXELS / n * 2), int(lo * 1.05))
    return smart_resize(height, width, lo, most if hi is None else min(hi, most))


def video_tensor(ref, spec: dict):
    """The video as qwen_vl_utils hands it to the processor: (T, C, H, W) float, resized bicubic with
    antialiasing from the decoded uint8 frames."""
    import numpy as np
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize as tv_resize

    n_frames, vfps = ref.probe()
    idx = video_frames_for(n_frames, vfps, ref.nframe, ref.fps)
    video = torch.from_numpy(np.stack(ref.cache.raw_frames(ref.name, ref.path, idx))).permute(0, 3, 1, 2)
    h, w = video_size(video.shape[2], video.shape[3], len(idx), spec)
    return tv_resize(video, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()


def image_order(question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> list[int]:
    """Which of the row's images go to the processor, in order (MMMU can repeat or skip one)."""
    return [m[1] for m in build_message(question, extra or {}, spec, n_images) if isinstance(m, tuple)]


def pixel_bounds(spec: dict) -> tuple:
    """(min_pixels, max_pixels) for this benchmark: the manifest's, OCRBench's min as VLMEvalKit sets it;
    None where VLMEvalKit passes none (qwen_vl_utils' defaults: 4 and 16384 tokens)."""
    p = spec.get("processor") or {}
    lo, hi = p.get("min_pixels"), p.get("max_pixels")
    if spec.get("bench") == "OCRBench":
        lo = OCRBENCH_MIN_PIXELS
    return (None if lo is None else int(lo)), (None if hi is None else int(hi))


def smart_resize(height: int, width: int, min_pixels=None, max_pixels=None, factor: int = FACTOR) -> tuple:
    """Qwen's resize rule: both sides multiples of `factor`, the area within [min_pixels, max_pixels], the
    aspect ratio kept as closely as possible. Returns (height, width)."""
    max_pixels = 16384 * factor * factor if max_pixels is None else max_pixels
    min_pixels = 4 * factor * factor if min_pixels is None else min_pixels
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"image {width}x{height}: Qwen-VL takes aspect ratios up to 200")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


def resize(image, spec: dict):
    """The image as qwen_vl_utils hands it to the processor."""
    lo, hi = pixel_bounds(spec)
    h, w = smart_resize(image.height, image.width, lo, hi)
    return image.resize((w, h))


class Preparer:
    """The preprocessing alone (the processor, no model): the adapter's own, and what each prefetch process
    builds from the same arguments (procs.py). `dtype`: pixels cast to that torch dtype (the model's, on a GPU;
    the model casts them anyway, with the same rounding)."""

    def __init__(self, model_dir: str, spec: dict, dtype: str | None = None):
        from transformers import AutoProcessor

        self.spec, self.dtype = spec, dtype
        self.processor = AutoProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads

    def __call__(self, samples):
        proc = ProcessOnce.install(self.processors.get())
        texts, images, videos = [], [], []
        for s in samples:
            msgs = build_messages(s.question, self.spec, s.extra, len(s.images), s.message)
            texts.append(proc.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
            if s.message is not None:  # a video benchmark: the frames given, or the video itself
                images += [resize(im, self.spec) for im in s.images]
                videos += [video_tensor(s.video, self.spec)] if s.video is not None else []
            else:
                images += [resize(s.images[k], self.spec) for k in image_order(s.question, self.spec, s.extra, len(s.images))]
        out = as_list(proc(text=texts, images=images or None, videos=videos or None, padding=True, return_tensors="pt"))
        if self.dtype and "pixel_values" in out:
            import torch

            out["pixel_values"] = out["pixel_values"].to(getattr(torch, self.dtype))
        return out


def preparer(model_dir: str, spec: dict, device: str) -> tuple:
    """(class, arguments) of this adapter's preprocessing, for prefetch processes."""
    return Preparer, (model_dir, spec, spec.get("dtype", "bfloat16") if device.startswith("cuda") else None)


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        import transformers

        self.device = device
        factory, args = preparer(model_dir, spec, device)
        self.preparer = factory(*args)
        self.processor = self.preparer.processor
        cls = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModelForVision2Seq
        # on one GPU the weights load straight onto it (no copy through host memory first)
        where = placement(spec, device) or ({"device_map": device} if device.startswith("cuda") else {})
        self.model = placed(cls.from_pretrained(model_dir, attn_implementation=spec.get("attn_implementation", "sdpa"),
                                                **dtype_kwargs(spec.get("dtype", "bfloat16"), device), **where),
                            device, where)
        self.gen = generation_kwargs(self.spec)
        self.cuda = device.startswith("cuda")
        self.shared = SharedImages(getattr(getattr(self.model, "model", None), "visual", None))
        if self.cuda:
            from .gpu import strided_conv_as_matmul

            strided_conv_as_matmul(self.model)

    @property
    def spec(self) -> dict:
        """The settings the preparation follows (set anew, e.g. per benchmark, it follows those)."""
        return self.preparer.spec

    @spec.setter
    def spec(self, value: dict) -> None:
        self.preparer.spec = value

    def prepare(self, samples):
        """In the main thread or a prefetch thread (prefetch processes run the preparer alone): on a GPU the pixels
        are pinned too, so their copy to the GPU moves at full speed."""
        prepared = self.preparer(samples)
        if self.cuda:
            from .gpu import pin_pixels

            pin_pixels(prepared)
        return prepared

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        self.shared.expect(inputs.pop(COPIES_KEY, None))
        return generate_answers(self.model, self.processor, inputs, self.gen)
