"""`python -m vlmrun_worker inspect JOB.json [ROW]`: exactly what the model is given for one row, without
loading its weights. The adapter is built as for a run, with every model class's from_pretrained returning a
recorder; its generate() (or chat()) call is then recorded and described: the prompt with its special tokens,
the image sizes after preprocessing, the image-token count, the generate() arguments and the generation
settings they end up as (the checkpoint's generation_config updated with them). One JSON line on stdout,
prefixed with '@@vlmrun-inspect '."""
from __future__ import annotations

import contextlib
import itertools
import json
import re

MARK = "@@vlmrun-inspect "


class Recorder:
    """Stands in for the model: records the call, answers with one token (generate) or '' (chat). The parity
    suite uses it too, for VLMEvalKit's wrappers and vlmrun's adapters alike."""
    device = "cpu"

    def __init__(self, *a, **kw):
        self.calls = []

    def to(self, *a, **kw):
        return self

    def eval(self):
        return self

    def generate(self, **kw):
        import torch

        self.calls.append(kw)
        ids = kw["input_ids"]
        return torch.cat([ids, ids[:, -1:]], dim=1)

    def chat(self, tokenizer, pixel_values=None, question=None, generation_config=None, **kw):
        if "query" in kw:  # Qwen-VL-Chat's chat(tokenizer, query=..., history=..., **settings) -> (response, history)
            self.calls.append({"query": kw.pop("query"), "history": kw.pop("history", None), "kwargs": kw})
            return "", []
        self.calls.append({"pixel_values": pixel_values, "question": question,
                           "generation_config": dict(generation_config or {}), **kw})
        return ""


@contextlib.contextmanager
def no_weights():
    """Every from_pretrained of a model class returns a Recorder (processors and tokenizers load as usual)."""
    import transformers
    from transformers.models.auto import auto_factory

    targets = [(transformers.PreTrainedModel, "from_pretrained"), (auto_factory._BaseAutoModelClass, "from_pretrained")]
    saved = [(cls, name, cls.__dict__[name]) for cls, name in targets]
    for cls, name in targets:
        setattr(cls, name, classmethod(lambda c, *a, **kw: Recorder()))
    try:
        yield
    finally:
        for cls, name, orig in saved:
            setattr(cls, name, orig)


def effective_generation(model_dir: str, kwargs: dict) -> dict:
    from .adapters.base import checkpoint_generation

    gc = checkpoint_generation(model_dir)
    gc.update(**kwargs)
    d = gc.to_diff_dict()
    return {k: d[k] for k in sorted(d) if k != "transformers_version"}


def compact(prompt: str) -> str:
    """A run of one repeated token (an image's placeholder tokens) as '<tok> x N'."""
    return re.sub(r"(<[^<>\s]{1,40}>)\1{3,}", lambda m: f"{m.group(1)} x {len(m.group(0)) // len(m.group(1))} ", prompt)


def decode_with_images(tok, ids) -> str:
    """The prompt as text; a run of negative ids (Phi-3-Vision's image k is -k) as '<|image_k|> x N '."""
    out = ""
    for key, group in itertools.groupby(ids.tolist(), key=lambda i: i if i < 0 else None):
        group = list(group)
        out += (tok.decode(group, skip_special_tokens=False, clean_up_tokenization_spaces=False) if key is None
                else f"<|image_{-key}|> x {len(group)} ")
    return out


def describe(call: dict, adapter, model_dir: str, sample) -> dict:
    import torch

    out = {"index": sample.index, "images_in_row": [list(im.size) for im in sample.images]}
    if "question" in call:  # InternVL-style chat()
        pv = call["pixel_values"]
        out.update(prompt=call["question"], tiles=list(call.get("num_patches_list") or [pv.shape[0]]),
                   pixel_values=list(pv.shape), dtype=str(pv.dtype).replace("torch.", ""),
                   generate_kwargs=call["generation_config"],
                   effective_generation=effective_generation(model_dir, call["generation_config"]))
        return out
    if "query" in call:  # Qwen-VL-Chat's chat(): the query names each image's file (a temporary one here)
        out.update(prompt=re.sub(r"<img>[^<]*</img>", "<img>FILE</img>", call["query"]), history=call["history"],
                   generate_kwargs=call["kwargs"], effective_generation=effective_generation(model_dir, call["kwargs"]))
        return out
    tensors = {k: v for k, v in call.items() if isinstance(v, torch.Tensor)}
    kwargs = {k: v for k, v in call.items() if k not in tensors}
    tok = getattr(getattr(adapter, "processor", None), "tokenizer", None) or getattr(adapter, "tokenizer", None)
    ids = tensors["input_ids"][0]
    if "attention_mask" in tensors:
        ids = ids[tensors["attention_mask"][0].bool()]
    out["prompt"] = compact(decode_with_images(tok, ids))
    out["prompt_tokens"] = int(ids.numel())
    grid = tensors.get("image_grid_thw")
    if grid is not None:  # Qwen: each image's size after resizing, and its tokens (2x2 patches merged)
        patch = 14
        out["images_after_preprocessing"] = [[int(g[2]) * patch, int(g[1]) * patch] for g in grid]
        out["image_tokens"] = [int(g.prod()) // 4 for g in grid]
    elif "pixel_values" in tensors:
        out["pixel_values"] = list(tensors["pixel_values"].shape)
    vgrid = tensors.get("video_grid_thw")
    if vgrid is not None:  # Qwen, a video: its frames, then width and height after resizing (as image sizes are shown)
        out["video_after_preprocessing"] = [[int(g[0]) * 2, int(g[2]) * 14, int(g[1]) * 14] for g in vgrid]
        out["video_tokens"] = [int(g.prod()) // 4 for g in vgrid]
    if bool((ids < 0).any()):  # Phi-3-Vision: image k's positions are -k
        out["image_tokens"] = [int((ids == -k).sum()) for k in range(1, int(-ids.min()) + 1)]
    image_token = getattr(getattr(adapter, "processor", None), "image_token", None)
    if image_token is not None and "image_tokens" not in out:  # a string, or an AddedToken (Idefics2, 4.40)
        image_token = str(getattr(image_token, "content", image_token))
        out["image_tokens"] = [int((ids == tok.convert_tokens_to_ids(image_token)).sum())]
    out["generate_kwargs"] = {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
    out["effective_generation"] = effective_generation(model_dir, out["generate_kwargs"])
    return out


def inspect(job_path: str, row: str | None = None) -> int:
    from .adapters import load_adapter
    from .data import load_images, read_rows
    from .job import JobFile
    from .run import Sample

    job = JobFile.load(job_path)
    video = None
    if job.video is not None:  # a question (or with pack a video) of a video benchmark: its frames decoded
        from .video_job import VideoJob

        video = VideoJob(job)
        rows = video.units(job.data)
    else:
        rows = read_rows(job.data)
    chosen = rows[0] if row is None else next((r for r in rows if r.index == str(row)), None)
    if chosen is None:
        print(MARK + json.dumps({"error": f"no row with index {row!r} in {job.bench}"}), flush=True)
        return 2
    with no_weights():
        adapter = load_adapter(job.adapter, job.model_dir, job.adapter_spec(), "cpu")
    rec = adapter.model
    sample = video.load(chosen) if video else Sample(chosen.index, chosen.question, load_images(chosen), chosen.extra)
    adapter.generate([sample])
    out = {"model": job.model_name, "bench": job.bench, "reference": job.model.get("reference", ""),
           **describe(rec.calls[-1], adapter, job.model_dir, sample)}
    print(MARK + json.dumps(out, default=str), flush=True)
    return 0
