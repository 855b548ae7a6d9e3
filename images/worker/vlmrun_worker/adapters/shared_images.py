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
    every image's rows, in order, as if it had encoded them all. The last image of a call is kept with its
    features: when the next call starts with the same image (equal grid and pixel rows: at batch 1 the second
    question of an MME image; a batch's boundary inside one image's rows), its features are reused, not encoded
    again. No tower (the stand-in model `vlmrun inspect` loads, which records its inputs for one row): nothing is
    wrapped. `REUSE_LAST = False` turns the reuse off."""

    REUSE_LAST = True

    def __init__(self, visual):
        self.copies = None
        self.last = None  # (pixel rows, grid row, its rows of each output field) of the last call's last image
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
            if grid_thw is None:
                return forward(hidden_states, grid_thw=grid_thw, **kwargs)
            keep = firsts(copies) if copies is not None else list(range(len(grid_thw)))
            grids = grid_thw[keep]
            counts = grids.prod(-1).tolist()
            self.stats["images"] += len(grid_thw)
            out = self._encode(forward, hidden_states, grids, counts, kwargs)
            return out if copies is None else self._expand(out, counts, copies)

        visual.forward = shared_forward

    def expect(self, copies):
        self.copies = copies

    def _encode(self, forward, pixels, grids, counts, kwargs):
        """The distinct images' outputs; the first from the last call's, where it is the same image."""
        first = pixels[:counts[0]]
        kept = (self.REUSE_LAST and self.last is not None and self.last[2] is not None
                and _same(self.last[0], first) and _same(self.last[1], grids[0]))
        if kept and len(counts) == 1:
            out = self._from_kept(self.last[2])
        else:
            out = forward(pixels[counts[0]:], grid_thw=grids[1:], **kwargs) if kept else forward(pixels, grid_thw=grids,
                                                                                                   **kwargs)
            if kept:
                out = _prepend(out, self.last[2])
        self.stats["encoded"] += len(counts) - kept
        self.last = (pixels[len(pixels) - counts[-1]:].clone(), grids[-1].clone(), self._tail(out, counts[-1]))
        return out

    def _tail(self, out, count: int) -> dict | None:
        """The last image's rows of each output field (a plain tensor: the merged features); None where the output
        holds more than the two fields this knows how to cut per image (nothing is reused then)."""
        merged = count // self.merge ** 2
        if not hasattr(out, "pooler_output"):
            return {"type": None, None: out[len(out) - merged:].clone()}
        if any(v is not None for k, v in out.items() if k not in ("pooler_output", "last_hidden_state")):
            return None
        fields = {"type": type(out), "pooler_output": out.pooler_output[len(out.pooler_output) - merged:].clone()}
        if getattr(out, "last_hidden_state", None) is not None:
            fields["last_hidden_state"] = out.last_hidden_state[len(out.last_hidden_state) - count:].clone()
        return fields

    @staticmethod
    def _from_kept(fields: dict):
        kind = fields["type"]
        if kind is None:
            return fields[None].clone()
        return kind(**{k: v.clone() for k, v in fields.items() if k != "type"})

    def _expand(self, out, counts, copies):
        merged = [c // self.merge ** 2 for c in counts]
        if not hasattr(out, "pooler_output"):  # a plain tensor: the merged features
            return _spread(out, merged, copies)
        out.pooler_output = _spread(out.pooler_output, merged, copies)
        if getattr(out, "last_hidden_state", None) is not None:
            out.last_hidden_state = _spread(out.last_hidden_state, counts, copies)
        return out


def _same(a, b) -> bool:
    import torch

    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)


def _prepend(out, fields: dict):
    """`out` with the kept image's rows before its own."""
    import torch

    if fields["type"] is None:
        return torch.cat([fields[None], out])
    out.pooler_output = torch.cat([fields["pooler_output"], out.pooler_output])
    if "last_hidden_state" in fields and getattr(out, "last_hidden_state", None) is not None:
        out.last_hidden_state = torch.cat([fields["last_hidden_state"], out.last_hidden_state])
    return out


def _spread(rows, sizes: list[int], copies: list[int]):
    import torch

    parts = torch.split(rows, sizes)
    return torch.cat([parts[c] for c in copies])
