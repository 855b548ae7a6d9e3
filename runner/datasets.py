"""Benchmark data on the host: find the TSV, check it, and build MME-format TSVs from question lists."""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import sys
from pathlib import Path

from .errors import VlmrunError
from .manifest import Benchmark
from .paths import file_digest, lmu_data_dir, project_root

csv.field_size_limit(sys.maxsize)

MME_PERCEPTION = ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
                  "artwork", "OCR"]
MME_REASONING = ["commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"]
TSV_COLUMNS = ["index", "image", "image_path", "question", "answer", "category"]


def md5_file(path: Path) -> str:
    return file_digest(path, "md5")


def bench_file(bench: Benchmark, root: Path | None = None, check: bool = True) -> Path:
    """The benchmark's TSV on this host, checked against the manifest's md5."""
    if bench.bundled:
        path = (root or project_root()) / bench.file
    else:
        path = lmu_data_dir() / bench.file
    if not path.is_file():
        where = (f"run `vlmrun data fetch {bench.name}` (downloads {bench.url}, md5 {bench.md5}, to {path})"
                 if bench.url else f"put it at {path}")
        raise VlmrunError(f"data file for {bench.name} not found: {where} (or set $LMUData to the folder holding it)")
    if check:
        verify(bench, path)
    return path


def read_tsv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except (UnicodeDecodeError, csv.Error) as e:
        raise VlmrunError(f"{path} is not a readable TSV ({type(e).__name__}: {str(e)[:100]}); "
                          "benchmark files are UTF-8, tab-separated, as VLMEvalKit writes them") from None


def is_missing(value) -> bool:
    """A TSV cell that pandas.read_csv (VLMEvalKit's reader) reads as missing: empty, or 'None', 'NA', 'nan', ..."""
    from pandas._libs.parsers import STR_NA_VALUES  # pandas.read_csv's missing-value markers

    return value is None or (isinstance(value, str) and (value == "" or value in STR_NA_VALUES))


def bench_rows(path: Path) -> list[dict]:
    """The rows a job predicts: VLMEvalKit skips rows without an image (ImageBaseDataset, skip_noimg), and so
    does the worker; a row whose image cell is empty or a missing-value marker gets no prediction."""
    rows = read_tsv(path)
    if rows and "video" in rows[0] and "image" not in rows[0]:  # a video benchmark: one row per question
        lacking = [c for c in ("index", "question") if c not in rows[0]]
        if lacking:
            raise VlmrunError(f"{path} has no {', '.join(lacking)} column: a video benchmark TSV in VLMEvalKit's layout "
                              "has index, video, question (and answer)")
        return rows
    if rows:  # checked here, before any container starts
        lacking = [c for c in ("index", "question") if c not in rows[0]]
        if "image" not in rows[0] and "image_path" not in rows[0]:
            lacking.append("image (or image_path)")
        if lacking:
            raise VlmrunError(f"{path} has no {', '.join(lacking)} column: a benchmark TSV in VLMEvalKit's layout has "
                              "index, image, question (and answer); check the file or its manifest")
    return [r for r in rows if "image" not in r or not is_missing(r["image"])]


def write_tsv(rows: list[dict], path: Path, columns: list[str]) -> None:
    """Write a TSV atomically (VLMEvalKit's files are plain tab-separated text, no quoting)."""
    lines = ["\t".join(columns)]
    for r in rows:
        cells = [str(r.get(c, "")) for c in columns]
        for c, cell in zip(columns, cells):
            if "\t" in cell or "\n" in cell:
                raise VlmrunError(f"row {r.get('index')}: column {c} holds a tab or newline, which a TSV cannot")
        lines.append("\t".join(cells))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_mme_questions(questions_dir: Path) -> list[dict]:
    """MME's official question lists: one file per subtask, lines 'image<TAB>question<TAB>answer'."""
    out = []
    for category in MME_PERCEPTION + MME_REASONING:
        path = Path(questions_dir) / f"{category}.txt"
        if not path.is_file():
            raise VlmrunError(f"MME question list {path} is missing")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 3:
                raise VlmrunError(f"{path}:{n}: expected 'image<TAB>question<TAB>answer'")
            out.append({"category": category, "image_name": parts[0], "question": parts[1].strip(),
                        "answer": parts[2].strip()})
    return out


def synthetic_image(seed_text: str, size=(160, 120)) -> str:
    """A small generated JPEG (base64) standing in for a real MME image."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(seed_text.encode()).digest()
    img = Image.new("RGB", size, tuple(digest[:3]))
    draw = ImageDraw.Draw(img)
    for k in range(4):
        x0, y0 = digest[3 + k] % size[0], digest[7 + k] % size[1]
        draw.rectangle([x0, y0, x0 + 20 + digest[11 + k] % 40, y0 + 15 + digest[15 + k] % 30],
                       fill=tuple(digest[19 + 3 * k: 22 + 3 * k]))
    draw.text((4, size[1] - 14), seed_text[:26], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return base64.b64encode(buf.getvalue()).decode()


def build_mme_tsv(questions_dir: Path, out: Path, per_category: int | None = None) -> int:
    """Write an MME-format TSV (VLMEvalKit layout) with generated images; `per_category` keeps the first
    N images of each subtask (both questions of each). Returns the number of rows."""
    questions = read_mme_questions(questions_dir)
    images_per_category: dict[str, list[str]] = {}
    for q in questions:
        names = images_per_category.setdefault(q["category"], [])
        if q["image_name"] not in names:
            names.append(q["image_name"])
    kept = {(c, n) for c, names in images_per_category.items() for n in names[:per_category]}
    rows, first_index = [], {}
    for q in questions:
        key = (q["category"], q["image_name"])
        if key not in kept:
            continue
        idx = str(len(rows))
        if key in first_index:
            image = first_index[key]  # VLMEvalKit: a later row of the same image holds the first row's index
        else:
            first_index[key] = idx
            image = synthetic_image(f"{q['category']}/{q['image_name']}")
        rows.append({"index": idx, "image": image, "image_path": f"{q['category']}/{q['image_name']}",
                     "question": q["question"], "answer": q["answer"], "category": q["category"]})
    out.parent.mkdir(parents=True, exist_ok=True)
    write_tsv(rows, out, TSV_COLUMNS)
    return len(rows)


# ---------------------------------------------------------------------------------------------- fetch


def _count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f) - 1


def verify(bench: Benchmark, path: Path) -> None:
    """md5 (when the manifest has one) and row count (when it has one); a one-line error otherwise."""
    if bench.md5:
        got = md5_file(path)
        if got != bench.md5:
            raise VlmrunError(f"{path} has md5 {got}, the {bench.name} manifest expects {bench.md5}: "
                              "the file is damaged, truncated or a different version; it was not used")
    if bench.rows and not bench.md5:
        n = _count_rows(path)
        if n != bench.rows:
            raise VlmrunError(f"{path} holds {n} rows, the {bench.name} manifest expects {bench.rows}: "
                              "truncated or a different version; it was not used")


def download(url: str, part: Path, again: str, progress=None, timeout: float = 60.0) -> None:
    """Download url into `part`, resuming what an earlier try left there (HTTP Range); a one-line error that says
    to run `again` (which resumes) when the connection fails."""
    import urllib.error
    import urllib.request

    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resumed = have and resp.status == 206
            if not resumed:
                have = 0
            total = resp.headers.get("Content-Length")
            total = int(total) + have if total is not None else None
            if progress:
                progress(have, total)
            with open(part, "ab" if resumed else "wb") as f:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    have += len(chunk)
                    if progress:
                        progress(have, total)
            if total is not None and have < total:
                raise OSError(f"connection closed after {have} of {total} bytes")
    except urllib.error.HTTPError as e:
        if not (e.code == 416 and have):  # 416 with a partial file: it is already complete
            raise VlmrunError(f"downloading {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise VlmrunError(f"downloading {url} failed ({reason}); run `{again}` again to resume "
                          f"({have} bytes kept in {part})") from None


def fetch(bench: Benchmark, progress=None, timeout: float = 60.0) -> tuple[Path, str]:
    """Download a benchmark's TSV into $LMUData (resuming a partial download), check it, and move it into
    place. A file already there and correct is reused. Returns (path, what happened)."""
    if bench.bundled:
        return bench_file(bench), "bundled with vlmrun"
    dest = lmu_data_dir() / bench.file
    if dest.is_file():
        verify(bench, dest)
        return dest, f"already in {dest.parent}"
    if not bench.url:
        raise VlmrunError(f"{bench.name} has no url in its manifest: put {bench.file} in {dest.parent} yourself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    download(bench.url, part, f"vlmrun data fetch {bench.name}", progress, timeout)
    try:
        verify(bench, part)
    except VlmrunError as e:
        bad = part.with_name(dest.name + ".bad")
        os.replace(part, bad)
        raise VlmrunError(str(e).replace(str(part), f"the download (kept as {bad})")) from None
    os.replace(part, dest)
    return dest, f"downloaded to {dest}"
