"""Benchmark rows from VLMEvalKit-format TSV files (index, image as base64, question, answer, ...)."""
from __future__ import annotations

import base64
import csv
import io
import sys
from dataclasses import dataclass, field

csv.field_size_limit(sys.maxsize)

# VLMEvalKit stores an image once; later rows that show the same image hold the first row's index instead.
IMAGE_REF_MAX_LEN = 64


@dataclass
class Row:
    index: str
    question: str
    image_b64: str
    extra: dict = field(default_factory=dict)


def read_rows(path: str) -> list[Row]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        raw = list(reader)
    if raw and not {"index", "question", "image"} <= set(raw[0]):
        raise ValueError(f"{path}: a benchmark TSV needs the columns index, question, image")
    by_index = {r["index"]: r["image"] for r in raw}
    rows = []
    for r in raw:
        img = r["image"] or ""
        if img.startswith("[") and img.endswith("]"):
            pass  # several images in one row (MMMU): a list literal of base64 strings
        elif len(img) <= IMAGE_REF_MAX_LEN:
            target = by_index.get(img)
            if target is None or len(target) <= IMAGE_REF_MAX_LEN:
                raise ValueError(f"{path}: row {r['index']} refers to image of row {img!r}, which holds no image")
            img = target
        extra = {k: v for k, v in r.items() if k not in ("index", "question", "image")}
        rows.append(Row(index=r["index"], question=r["question"], image_b64=img, extra=extra))
    return rows


def decode_image(b64: str):
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    return img.convert("RGB")


def decode_images(field: str):
    """One image, or a list of them where the TSV cell holds a list literal of base64 strings."""
    if field.startswith("[") and field.endswith("]"):
        import ast

        return [decode_image(b) for b in ast.literal_eval(field)]
    return decode_image(field)
