"""InternVL2-style chat models, loaded with trust_remote_code and driven through their own chat() API.

Inputs as VLMEvalKit's InternVLChat gives them (vlmeval/vlm/internvl/): the image tiled dynamically into
448px tiles (at most `max_num`, 6 by default, more for document benchmarks via the benchmark's overrides, plus
a 448px thumbnail when there is more than one tile), each resized bicubic and normalised with ImageNet
mean/std; greedy decoding; '<image>\\n' (or 'Image-k: <image>\\n' per image) before the text, which is:
  Y/N: MME question + ' Answer the question using a single word or phrase.'; HallusionBench adds
       ' Please answer yes or no.' before that; POPE the plain question.
  MCQ: hint, question, '\\nA. ...' per option, "\\nAnswer with the option's letter from the given choices directly."
  VQA: question + '\\nAnswer the question using a single word or phrase.'
"""
from __future__ import annotations

from ..video import internvl_video_prompt
from .base import dtype_kwargs, generation_kwargs, letter_prompt, placed, placement, with_suffix
from .internvl_tiles import SharedTiles, TileCache, tile_key

SHORT = " Answer the question using a single word or phrase."

IMAGE_SIZE = 448
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def build_text(question: str, extra: dict, spec: dict) -> str:
    kind, bench = spec.get("bench_type", "yorn"), spec.get("bench", "")
    if kind == "chat":  # `vlmrun serve`: the request's text is the whole prompt
        text = question
    elif kind == "mcq":
        text = letter_prompt(question, extra)
    elif kind == "vqa":
        text = question + "\n" + SHORT.strip()
    elif bench == "POPE":
        text = question
    elif bench == "HallusionBench":
        text = question + " Please answer yes or no." + SHORT
    else:
        text = question + SHORT
    return with_suffix(text, spec)


def build_prompt(question: str, spec: dict, extra: dict | None = None, n_images: int = 1) -> str:
    text = build_text(question, extra or {}, spec)
    if n_images == 1:
        return "<image>\n" + text
    return "".join(f"Image-{i + 1}: <image>\n" for i in range(n_images)) + text


def target_grid(width: int, height: int, max_num: int, min_num: int = 1, image_size: int = IMAGE_SIZE):
    """InternVL's choice of tile grid (columns, rows): the closest aspect ratio among grids of
    min_num..max_num tiles (ascending tile count); on an exact tie a larger grid wins only when the
    image has more than half of that grid's pixels."""
    ratios = sorted({(i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1)
                     for j in range(1, n + 1) if min_num <= i * j <= max_num}, key=lambda r: r[0] * r[1])
    aspect = width / height
    best_diff, best = float("inf"), (1, 1)
    area = width * height
    for r in ratios:
        diff = abs(aspect - r[0] / r[1])
        if diff < best_diff:
            best_diff, best = diff, r
        elif diff == best_diff and area > 0.5 * image_size * image_size * r[0] * r[1]:
            best = r
    return best


def tile_image(image, max_num: int = 6, use_thumbnail: bool = True, image_size: int = IMAGE_SIZE) -> list:
    cols, rows = target_grid(image.width, image.height, max_num, 1, image_size)
    resized = image.resize((image_size * cols, image_size * rows))
    tiles = []
    for k in range(cols * rows):
        x, y = (k % cols) * image_size, (k // cols) * image_size
        tiles.append(resized.crop((x, y, x + image_size, y + image_size)))
    if use_thumbnail and len(tiles) != 1:
        tiles.append(image.resize((image_size, image_size)))
    return tiles


def pixel_values(image, max_num: int, dtype, image_size: int = IMAGE_SIZE, upscale: bool = False):
    """Tiles as a (n, 3, 448, 448) tensor: bicubic resize, scale to [0, 1], ImageNet normalisation (float32, the
    operations of torchvision's ToTensor and Normalize, so the same values).
    upscale: the image is first doubled in size (bilinear), as VLMEvalKit does for MMMU's first image."""
    import numpy as np
    import torch
    from PIL import Image

    image = image.convert("RGB")
    if upscale:
        image = image.resize((image.width * 2, image.height * 2), Image.BILINEAR)
    tiles = [t.resize((image_size, image_size), Image.BICUBIC)
             for t in tile_image(image, max_num=max_num, image_size=image_size)]
    x = torch.from_numpy(np.stack([np.asarray(t) for t in tiles])).permute(0, 3, 1, 2).contiguous()
    x = x.to(torch.float32).div_(255).sub_(torch.tensor(MEAN).view(3, 1, 1)).div_(torch.tensor(STD).view(3, 1, 1))
    return x.to(dtype)


TOTAL_MAX_NUM = 64  # VLMEvalKit's cap on the tiles of all of a row's images together


def tiling(spec: dict, n_images: int) -> list[tuple]:
    """(max_num, upscale) per image, as VLMEvalKit's InternVLChat.generate_v2 picks them: the benchmark's tile
    count, at most 64 // images; MMMU doubles the size of the first image."""
    max_num = max(1, min(int((spec.get("processor") or {}).get("max_num", 6)), TOTAL_MAX_NUM // max(1, n_images)))
    mmmu = "MMMU" in spec.get("bench", "")
    return [(max_num, mmmu and k == 0) for k in range(n_images)]


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoModel, AutoTokenizer

        self.spec, self.device = spec, device
        kw = dtype_kwargs(spec.get("dtype", "bfloat16"), device)
        self.dtype = next(iter(kw.values()))
        where = placement(spec, device)
        self.model = placed(AutoModel.from_pretrained(model_dir, trust_remote_code=True, low_cpu_mem_usage=True, **kw,
                                                      **where), device, where)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True, use_fast=False)
        self.gen = generation_kwargs(spec)
        self.tiles = TileCache()
        self.shared = SharedTiles(self.model)

    def prepare(self, samples):
        # per sample: one tensor per image (its tiles, made once per image: TileCache) and each image's key; a
        # video's frames are one tile each (VLMEvalKit's max_num 1 for video datasets), its prompt the message as
        # build_video_prompt rewrites it
        pv, prompts, keys = [], [], []
        for s in samples:
            tiles = [(1, False)] * len(s.images) if s.message is not None else tiling(self.spec, len(s.images))
            ks = [tile_key(im, n, up, str(self.dtype)) for im, (n, up) in zip(s.images, tiles)]
            pv.append([self.tiles.get(k, lambda im=im, n=n, up=up: pixel_values(im, n, self.dtype, upscale=up))
                       for k, im, (n, up) in zip(ks, s.images, tiles)])
            keys.append(ks)
            prompts.append(with_suffix(internvl_video_prompt(s.message, self.spec.get("bench", "")), self.spec)
                           if s.message is not None else build_prompt(s.question, self.spec, s.extra, len(s.images)))
        return pv, prompts, keys

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        pv, prompts, keys = prepared if prepared is not None else self.prepare(samples)
        if len(samples) == 1 or any(len(p) != 1 for p in pv):
            # one question at a time; several images go in as num_patches_list, as InternVL2's chat() takes them;
            # none (a text-only request to `vlmrun serve`): chat() without pixel values
            parts = [[i] for i in range(len(samples))]
        else:
            parts = self.unpadded(pv, prompts) if str(self.device).startswith("cpu") else [list(range(len(samples)))]
        out = [None] * len(samples)
        with torch.inference_mode():
            for part in parts:
                for i, answer in zip(part, self._chat(part, pv, prompts, keys)):
                    out[i] = answer
        return out

    def unpadded(self, pv, prompts) -> list[list[int]]:
        """On the CPU, a batch's rows in groups of equal prompt length (equal tile count, equal token count of the
        text), each group one batch_chat call: a padded batch costs more than batching saves there (transformers
        4.37 builds a dense (batch, 1, L, L) mask over ~1850-token prompts, and attention can no longer skip the
        causal half), while an unpadded one costs no more than its rows one by one."""
        groups: dict = {}
        for i, (p, q) in enumerate(zip(pv, prompts)):
            groups.setdefault((p[0].shape[0], len(self.tokenizer(q).input_ids)), []).append(i)
        return list(groups.values())

    def _chat(self, part, pv, prompts, keys) -> list[str]:
        import torch

        if len(part) == 1:
            p, q, k = pv[part[0]], prompts[part[0]], keys[part[0]]
            self.shared.expect(k or None, [t.shape[0] for t in p])
            return [self.model.chat(self.tokenizer, torch.cat(p).to(self.device) if p else None, q, dict(self.gen),
                                    num_patches_list=[t.shape[0] for t in p] if p else None)]
        self.shared.expect([keys[i][0] for i in part], [pv[i][0].shape[0] for i in part])
        return list(self.model.batch_chat(self.tokenizer, torch.cat([pv[i][0] for i in part]).to(self.device),
                                          num_patches_list=[pv[i][0].shape[0] for i in part],
                                          questions=[prompts[i] for i in part], generation_config=dict(self.gen)))
