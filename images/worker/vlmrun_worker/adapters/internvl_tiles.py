"""InternVL's image inputs, made and encoded once per image.

MME asks two questions of each image and MMBench's circular rows show one image up to four times; the rows of one
image come one after another (MME's order, and `group_by_length`). Tiling an image (resize, crop, normalise: tens
of milliseconds on one core for 7 tiles) is done once: `TileCache` keeps the tiles of the last few images. The
model's `extract_feature` (InternViT, pixel shuffle and projector, each tile on its own), wrapped (`SharedTiles`),
encodes each distinct image of a call once and hands every copy its features; the features of the last few images
encoded are kept, so at batch 1 an image's second question reuses them. The language model sees the same features
it would without this.
"""
from __future__ import annotations

from collections import OrderedDict

from ..data import Recent
from .shared_images import copies_of, firsts, image_digest


class TileCache(Recent):
    """The tiles of the last `size` (image, tiling) pairs, keyed by every pixel of the image (image_digest) and
    the tiling settings. Rows share the cached tensor: callers copy it (torch.cat, .to(device)) and never change
    it. `ENABLED = False` turns it off."""

    def __init__(self, size: int = 8):
        super().__init__(size)


def tile_key(image, *settings) -> tuple:
    return (image_digest(image), *settings)


class SharedTiles:
    """Wraps an InternVL-style model's `extract_feature(pixel_values)` (tiles (n, 3, H, W) -> features (n, tokens,
    hidden), every tile encoded on its own) so that, for the next call after `expect(keys, tiles)` (each image's key
    and tile count, in the order of the call's pixel_values), it encodes only the distinct images and returns every
    image's features, in order, as if it had encoded them all. The features of the last `KEEP` images encoded are
    kept: an image of a later call that is one of them is not encoded again (at batch 1, an MME image's second
    question; on the CPU, rows of one image in different unpadded groups). A call nothing was expected for (or
    whose tile count differs) runs as it came and forgets the kept images. No `extract_feature` (the stand-in model
    `vlmrun inspect` loads): nothing is wrapped. `REUSE = False` turns the reuse across calls off."""

    REUSE = True
    KEEP = 8

    def __init__(self, model):
        self.expected = None
        self.kept: OrderedDict = OrderedDict()  # key -> features, of the last KEEP images encoded
        self.stats = {"images": 0, "encoded": 0}  # images given to the vision tower, and images it encoded
        plain = getattr(model, "extract_feature", None) if model is not None else None
        if plain is None:
            return
        # the model's own method, also when an earlier adapter wrapped this model (one model for several jobs)
        plain = model.__dict__.get("_vlmrun_plain_extract_feature") or plain
        model._vlmrun_plain_extract_feature = plain

        def extract_feature(pixel_values, *args, **kwargs):
            expected, self.expected = self.expected, None
            if expected is None or args or kwargs or sum(expected[1]) != len(pixel_values):
                self.kept.clear()
                return plain(pixel_values, *args, **kwargs)
            return self._encode(plain, pixel_values, *expected)

        model.extract_feature = extract_feature

    def expect(self, keys: list | None, tiles: list[int] | None = None):
        self.expected = None if keys is None else (list(keys), list(tiles))

    def _encode(self, plain, pixels, keys, tiles):
        import torch

        starts = [0]
        for t in tiles:
            starts.append(starts[-1] + t)
        first = firsts(copies_of(keys))
        todo = [i for i in first if not (self.REUSE and keys[i] in self.kept)]
        self.stats["images"] += len(keys)
        self.stats["encoded"] += len(todo)
        if len(todo) == len(keys):  # every image distinct, none kept: the call as it came
            out = plain(pixels)
            self._keep([(keys[i], out[starts[i]:starts[i + 1]]) for i in todo])
            return out
        feats = {keys[i]: self.kept[keys[i]] for i in first if i not in todo}
        if todo:
            out = plain(torch.cat([pixels[starts[i]:starts[i + 1]] for i in todo]))
            new = list(zip([keys[i] for i in todo], torch.split(out, [tiles[i] for i in todo])))
            feats.update(new)
            self._keep(new)
        for key in feats:
            if key in self.kept:
                self.kept.move_to_end(key)
        return torch.cat([feats[k] for k in keys])

    def _keep(self, items):
        for key, value in items[-self.KEEP:]:
            self.kept[key] = value.clone()
        while len(self.kept) > self.KEEP:
            self.kept.popitem(last=False)
