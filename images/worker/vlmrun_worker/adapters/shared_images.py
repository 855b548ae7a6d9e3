"""A batch's repeated images go through the vision tower once.

MME asks two questions of each image and MMBench's circular rows show one image up to four times; `group_by_length`
puts the rows of one image next to each other, so both questions usually land in the same batch. The image
processor, wrapped (`ProcessOnce`), resizes and normalises each distinct image once and keeps its pixels once; the
vision tower, wrapped (`SharedImages`), encodes those and hands every placeholder its image's features, copied, in
the original order. The language model sees the same features it would without this; the preprocessing and the
vision tower's work shrink (MME: by half).
"""
from __future__ import annotations

import hashlib

COPIES_KEY = "vlmrun_image_copies"  # in the prepared batch: for each image, its position among the distinct ones


def image_digest(image) -> tuple:
    """What makes two images the same input: size, mode and every pixel."""
    return image.size, image.mode, hashlib.blake2b(image.tobytes(), digest_size=16).digest()


def copies_of(keys: list) -> list[int]:
    """For each item, the position of its first occurrence among the distinct items (in order of first sight)."""
    seen: dict = {}
    return [seen.setdefault(k, len(seen)) for k in keys]


def firsts(copies: list[int]) -> list[int]:
    """The item positions holding the first copy of each distinct item."""
    out: dict = {}
    for i, c in enumerate(copies):
        out.setdefault(c, i)
    return [out[c] for c in range(len(out))]


class ProcessOnce:
    """Wraps a processor's image processor: each distinct image of a call is processed once. The output holds the
    pixel rows of the distinct images only, every image's grid (so the processor still expands each image's
    placeholder to its token count) and, where images repeat, COPIES_KEY. `ENABLED = False` turns it off."""

    ENABLED = True

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):  # merge_size, patch_size, ...: the wrapped processor's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __call__(self, images, *args, **kwargs):
        if not (self.ENABLED and isinstance(images, list) and all(hasattr(im, "tobytes") for im in images)):
            return self.inner(images, *args, **kwargs)
        copies = copies_of([image_digest(im) for im in images])
        if len(set(copies)) == len(copies):
            return self.inner(images, *args, **kwargs)
        out = self.inner([images[k] for k in firsts(copies)], *args, **kwargs)
        out["image_grid_thw"] = out["image_grid_thw"][copies]
        out[COPIES_KEY] = copies
        return out

    @classmethod
    def install(cls, processor):
        """Wrap `processor.image_processor` once."""
        if not isinstance(processor.image_processor, cls):
            processor.image_processor = cls(processor.image_processor)
        return processor


def as_list(prepared):
    """The processor's output with COPIES_KEY as a plain list (BatchFeature made it a tensor; a list stays on the
    host when the batch moves to the GPU)."""
    copies = prepared.pop(COPIES_KEY, None)
    if copies is not None:
        prepared[COPIES_KEY] = [int(c) for c in (copies.tolist() if hasattr(copies, "tolist") else copies)]
    return prepared


class SharedImages:
    """Wraps a Qwen2-VL-style vision tower (`forward(pixels, grid_thw=...)`, each image's rows contiguous in its
    output) so that, for the next call after `expect(copies)`, it encodes only the distinct images and returns
    every image's rows, in order, as if it had encoded them all. No tower (the stand-in model `vlmrun inspect`
    loads, which records its inputs for one row): nothing is wrapped."""

    def __init__(self, visual):
        self.copies = None
        self.stats = {"images": 0, "encoded": 0}  # what the vision tower was given, and what it encoded
        if visual is None:
            return
        self.merge = getattr(visual, "spatial_merge_size", 1)
        # the tower's own forward, also when an earlier adapter wrapped this model (one model for several jobs)
        forward = visual.__dict__.get("_vlmrun_plain_forward") or visual.forward
        visual._vlmrun_plain_forward = forward

        def shared_forward(hidden_states, grid_thw=None, **kwargs):
            copies = self.copies
            if copies is not None and grid_thw is not None and len(grid_thw) == len(copies):
                self.copies = None  # the images' call (a batch's videos, if any, come in a call of their own)
            else:
                copies = None
            if copies is None or grid_thw is None:
                n = 0 if grid_thw is None else len(grid_thw)
                self.stats["images"] += n
                self.stats["encoded"] += n
                return forward(hidden_states, grid_thw=grid_thw, **kwargs)
            keep = firsts(copies)
            self.stats["images"] += len(copies)
            self.stats["encoded"] += len(keep)
            out = forward(hidden_states, grid_thw=grid_thw[keep], **kwargs)
            counts = grid_thw[keep].prod(-1).tolist()
            return self._expand(out, counts, copies)

        visual.forward = shared_forward

    def expect(self, copies):
        self.copies = copies

    def _expand(self, out, counts, copies):
        merged = [c // self.merge ** 2 for c in counts]
        if not hasattr(out, "pooler_output"):  # a plain tensor: the merged features
            return _spread(out, merged, copies)
        out.pooler_output = _spread(out.pooler_output, merged, copies)
        if getattr(out, "last_hidden_state", None) is not None:
            out.last_hidden_state = _spread(out.last_hidden_state, counts, copies)
        return out


def _spread(rows, sizes: list[int], copies: list[int]):
    import torch

    parts = torch.split(rows, sizes)
    return torch.cat([parts[c] for c in copies])
