"""Benchmark rows from VLMEvalKit-format TSV files, read the way VLMEvalKit reads them.

VLMEvalKit (vlmeval/smp/file.py load, vlmeval/dataset/image_base.py ImageBaseDataset) reads a TSV with
`pandas.read_csv(path, sep='\\t')`: quoted cells lose their quotes, 'None'/'NA'/'nan'/... are missing values,
and a numeric column with gaps is float ('7.0'). Rows without an image are skipped; an image cell of at most
64 characters names the row that holds the image; a cell '[...]' is a list of images (MMMU). Every cell an
adapter sees here is what `str(line[col])` gives there, or None where `pd.isna(line[col])`.

VLMEvalKit's models never see the decoded base64 directly: `dump_image` writes each image to
`$LMUData/images/<dataset>/<image_path>` (PIL's `save`, so a '.jpg' path is a lossy re-encode at PIL's
default quality; no image_path: '<index>.png', or '<index>_<k>.png' for a list) and the model opens that
file. `load_image` does the same round trip in memory, so the pixels are the ones VLMEvalKit's models get.
"""
from __future__ import annotations

import ast
import base64
import io
import os
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

# VLMEvalKit stores an image once; later rows that show the same image hold the first row's index instead.
IMAGE_REF_MAX_LEN = 64


class DataError(ValueError):
    """A benchmark file the worker can never read: retrying does not help (the worker exits 2)."""


@dataclass
class Row:
    index: str
    question: str
    image_b64: object  # str, or a list of str (several images in one row)
    extra: dict = field(default_factory=dict)
    image_path: object = None  # the file name(s) VLMEvalKit writes the image(s) to

    @property
    def image_names(self) -> list[str]:
        """The file name each image goes through in VLMEvalKit (its extension picks the encoding)."""
        if isinstance(self.image_b64, list):
            names = self.image_path if isinstance(self.image_path, list) else None
            return names or [f"{self.index}_{k}.png" for k in range(len(self.image_b64))]
        if isinstance(self.image_path, str):
            return [self.image_path]
        return [f"{self.index}.png"]


def cell(value):
    """A cell as VLMEvalKit's prompt code sees it: None where pandas has a missing value, else str()."""
    import pandas as pd

    if not isinstance(value, (list, tuple)) and pd.isna(value):
        return None
    return str(value)


def _as_list(value):
    """VLMEvalKit's toliststr, then `x[0] if len(x) == 1 else x`: a cell '[...]' is a list literal, and a list
    of one is its item."""
    s = str(value)
    if s.startswith("[") and s.endswith("]"):
        items = [str(x) for x in ast.literal_eval(s)]
        return items[0] if len(items) == 1 else items
    return s


def read_rows(path: str) -> list[Row]:
    import pandas as pd

    df = pd.read_csv(path, sep="\t", dtype={"index": str})
    if not {"index", "question", "image"} <= set(df.columns):
        raise DataError(f"{path}: a benchmark TSV needs the columns index, question, image")
    df = df[~pd.isna(df["image"])]
    images = {str(i): str(im) for i, im in zip(df["index"], df["image"])}
    rows = []
    for rec in df.to_dict("records"):
        index = str(rec.pop("index"))
        img = images[index]
        if len(img) <= IMAGE_REF_MAX_LEN:
            target = images.get(img)
            if target is None or len(target) <= IMAGE_REF_MAX_LEN:
                raise DataError(f"{path}: row {index} refers to image of row {img!r}, which holds no image")
            img = target
        rec.pop("image")
        image_path = rec.pop("image_path", None)
        image_path = None if cell(image_path) is None else _as_list(image_path)
        question = rec.pop("question")
        rows.append(Row(index=index, question=str(question), image_b64=_as_list(img),
                        extra={k: cell(v) for k, v in rec.items()}, image_path=image_path))
    return rows


def _format_for(name: str) -> str:
    from PIL import Image

    ext = os.path.splitext(name)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise ValueError(f"image file name {name!r}: PIL has no format for {ext!r} (VLMEvalKit could not save it)")
    return fmt


class Recent:
    """The values of the last `size` keys asked for (the least recently used goes first), each made once by the
    `make` its first `get` brings. Thread-safe: prefetch threads prepare rows side by side. `ENABLED = False` (on a
    subclass) makes every value afresh and keeps none."""

    ENABLED = True

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make):
        if not self.ENABLED:
            return make()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._items.clear()

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items


RECENT_MAX = 8
_RECENT = Recent(RECENT_MAX)  # (base64 text, format) -> the image: the last few decoded


def load_image(b64: str, name: str):
    """The image as VLMEvalKit's model opens it: decoded (RGBA/P/LA made RGB), saved in the format of its
    file name, read back, converted to RGB. The rows of one image come one after another (group_by_length; MME's
    two questions, MMBench's circular copies), so the last few images are kept and each row gets a copy."""
    key = (b64, _format_for(name))
    return _RECENT.get(key, lambda: _round_trip(*key)).copy()


def _round_trip(b64: str, fmt: str):
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    if img.mode in ("RGBA", "P", "LA"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def load_images(row: Row):
    """One image, or a list of them where the row holds several."""
    if isinstance(row.image_b64, list):
        return [load_image(b, n) for b, n in zip(row.image_b64, row.image_names)]
    return load_image(row.image_b64, row.image_names[0])


def length_key(row: Row) -> tuple:
    """What decides a row's prompt length for any model: its images' sizes (they fix Qwen2-VL's image tokens and
    InternVL's tile count) and its text length. Read from the image headers, nothing decoded; an unreadable
    image sorts first and fails later, where it is loaded."""
    from PIL import Image

    sizes = []
    for b in (row.image_b64 if isinstance(row.image_b64, list) else [row.image_b64]):
        try:
            w, h = Image.open(io.BytesIO(base64.b64decode(b))).size
        except Exception:  # noqa: BLE001 - load_images reports it properly
            w, h = 0, 0
        sizes.append((w * h, w, h))
    text = len(row.question) + sum(len(str(v)) for v in row.extra.values())
    return (len(sizes), tuple(sorted(sizes)), text)


def image_count(row) -> int:
    images = getattr(row, "image_b64", None)  # a video request (video_job.Unit) counts as one
    return len(images) if isinstance(images, list) else 1


def same_image_count(items: list, count=image_count) -> list:
    """The longest head of `items` whose members have as many images as the first: a batch never mixes rows
    with different numbers of images. transformers 4.37's Llava places the decode steps' attention mask wrongly
    for a row with fewer images than the batch's most (its image padding is masked at the end, not the start), so
    such a batch changes answers (the parity suite's MMMU rows); no model needs the mix, and grouped rows
    (`group_by_length` sorts by image count first) lose at most one short batch per count."""
    n = count(items[0]) if items else 0
    return items[:next((k for k, it in enumerate(items) if count(it) != n), len(items))]


def image_identity(row) -> tuple:
    """Equal for rows showing the same image(s) (VLMEvalKit's rows that refer to another row's image get its
    image here); read from the base64 text's length and ends, so it costs nothing."""
    images = row.image_b64 if isinstance(row.image_b64, list) else [row.image_b64]
    return tuple((len(b), zlib.crc32(b[:1024].encode()), zlib.crc32(b[-1024:].encode())) for b in map(str, images))


def group_by_length(rows: list[Row]) -> list[Row]:
    """The rows in an order where each batch holds rows of equal or near prompt length, so batches need little
    padding, and the rows of one image are next to each other (so the vision tower can encode it once for all of
    them: adapters/shared_images.py). Each image's rows sort where its shortest one would. Predictions are written
    by index, so order changes neither the output nor resuming."""
    keys = [length_key(r) for r in rows]
    ident = [image_identity(r) for r in rows]
    first: dict = {}
    for k, i in zip(keys, ident):
        first[i] = min(first.get(i, k), k)
    order = sorted(range(len(rows)), key=lambda j: (first[ident[j]], ident[j], keys[j]))
    return [rows[j] for j in order]
