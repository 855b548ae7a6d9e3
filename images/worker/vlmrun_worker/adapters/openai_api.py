"""API models: the request VLMEvalKit's OpenAIWrapper (vlmeval/api/gpt.py) sends for a row, built without torch
(it runs on the host, see api_run.py).

  message: the benchmark's default prompt (API wrappers take no custom prompt: dataset.build_prompt), images
           first or, for MMMU, at their '<image k>' tags; empty texts are left out
  images:  each as VLMEvalKit's encode_image_to_base64 makes it: RGBA/P/LA converted to RGB, thumbnailed to
           img_size (when > 0), a side under 100 px scaled up to 100 (VLMEVAL_MIN_IMAGE_EDGE), JPEG, sent as
           {'type': 'image_url', 'image_url': {'url': 'data:image/jpeg;base64,...', 'detail': img_detail}}
  payload: {'model', 'messages', 'temperature', 'max_tokens'} ('n' only for api.openai.com, as there); a system
           prompt first when the manifest has one; a text-only message is one string (texts joined by newlines).
"""
from __future__ import annotations

import base64
import io

from .base import dataset_message

MIN_EDGE = 100


def encode_image(img, target_size: int = -1) -> str:
    from PIL import Image

    if img.mode in ("RGBA", "P", "LA"):
        img = img.convert("RGB")
    if target_size > 0:
        img = img.copy()
        img.thumbnail((target_size, target_size))
    if min(img.size) < MIN_EDGE:
        factor = MIN_EDGE / min(img.size)
        img = img.resize((int(img.size[0] * factor), int(img.size[1] * factor)), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def content(items: list, images: list, api: dict):
    """The user message's content for VLMEvalKit-style items (('image', k) and texts)."""
    if not any(isinstance(it, tuple) for it in items):
        return "\n".join(t for t in items if t)
    out = []
    for it in items:
        if isinstance(it, tuple):
            b64 = encode_image(images[it[1]], int(api.get("img_size", -1)))
            out.append({"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{b64}",
                                                           "detail": api.get("img_detail", "low")}})
        elif it:
            out.append({"type": "text", "text": it})
    return out


def payload(sample, spec: dict) -> dict:
    api = spec["source"]["api"]
    items = dataset_message(sample.question, sample.extra, spec, len(sample.images))
    messages = [{"role": "system", "content": api["system_prompt"]}] if api.get("system_prompt") else []
    messages.append({"role": "user", "content": content(items, sample.images, api)})
    out = {"model": api["model"], "messages": messages, "temperature": api.get("temperature", 0),
           "max_tokens": int(api.get("max_tokens", 2048))}
    if "api.openai.com" in api["base_url"]:
        out["n"] = 1
    return out
