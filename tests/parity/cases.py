"""Benchmark rows for the parity checks: one TSV per VLMEvalKit dataset name, in VLMEvalKit's layout, with
the cells that differ between TSV readers (quoted words, 'None'/'NA' options, numeric options with gaps),
JPEG/PNG/no image_path, RGBA and palette images, real-size images, hints, Chinese text and MMMU's
'<image k>' tags. Runs in the container (PIL only) and on the host."""
from __future__ import annotations

import base64
import io

# (dataset name, benchmark type in vlmrun)
BENCHES = {"MME": "yorn", "POPE": "yorn", "HallusionBench": "yorn", "MMBench_DEV_EN": "mcq", "AI2D_TEST": "mcq",
           "MMStar": "mcq", "ScienceQA_TEST": "mcq", "OCRBench": "vqa", "TextVQA_VAL": "vqa", "DocVQA_VAL": "vqa",
           "ChartQA_TEST": "vqa", "MMMU_DEV_VAL": "mcq"}
SIZES = [(640, 480), (160, 120), (1000, 500), (333, 999), (1920, 1080), (28, 28), (50, 1200)]


def image(seed: int, size, mode: str = "RGB", fmt: str = "JPEG") -> str:
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.new("RGB", (w, h), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    d = ImageDraw.Draw(img)
    for k in range(6):
        x, y = (seed * 13 + k * 71) % w, (seed * 29 + k * 43) % h
        d.rectangle([x, y, x + w // 5, y + h // 7], fill=((k * 40) % 256, (seed + k * 90) % 256, (k * 17) % 256))
    d.text((2, 2), f"row {seed}", fill=(255, 255, 255))
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.linear_gradient("L").resize((w, h)))
    elif mode == "P":
        img = img.convert("P", palette=Image.ADAPTIVE, colors=32)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return base64.b64encode(buf.getvalue()).decode()


def _tsv(rows: list[dict], columns: list[str]) -> str:
    return "\n".join(["\t".join(columns)] + ["\t".join(str(r.get(c, "")) for c in columns) for r in rows]) + "\n"


def tables() -> dict[str, str]:
    """dataset name -> TSV text."""
    out = {}
    imgs = [image(i, SIZES[i % len(SIZES)]) for i in range(len(SIZES))]
    # Y/N: jpg image paths (a lossy round trip in VLMEvalKit), a quoted word, a later row pointing at row 0's image
    yorn_rows = [
        {"index": 0, "image": imgs[0], "image_path": "cat/0.jpg", "question": "Is this a cat? Please answer yes or no.",
         "answer": "Yes", "category": "existence"},
        {"index": 1, "image": "0", "image_path": "cat/0.jpg", "question": "Is this a dog? Please answer yes or no.",
         "answer": "No", "category": "existence"},
        {"index": 2, "image": imgs[1], "image_path": "ocr/2.png",
         "question": '"angie\'s" is the word in the logo? Please answer yes or no.', "answer": "Yes", "category": "OCR"},
        {"index": 3, "image": image(3, (640, 480), "RGBA", "PNG"), "image_path": "x/3.jpg", "question": "Is it red?",
         "answer": "No", "category": "color"},
    ]
    for name in ("MME", "POPE", "HallusionBench"):
        out[name] = _tsv(yorn_rows, ["index", "image", "image_path", "question", "answer", "category"])
    # MCQ: hint/no hint, options None/NA (missing values in pandas), numeric options with gaps, no options at all,
    # Chinese, a palette image, no image_path column (VLMEvalKit writes <index>.png)
    mcq_rows = [
        {"index": 10, "image": imgs[2], "question": "What is shown?", "hint": "Look closely.", "A": "a cat", "B": "a dog",
         "C": "None", "D": "NA", "answer": "A", "category": "c1"},
        {"index": 11, "image": imgs[3], "question": "How many?", "hint": "", "A": "7", "B": "8", "C": "", "D": "",
         "answer": "A", "category": "c2"},
        {"index": 12, "image": imgs[4], "question": '"Quoted" start, no options', "hint": "", "A": "", "B": "",
         "C": "", "D": "", "answer": "A", "category": "c3"},
        {"index": 13, "image": image(13, (500, 400), "P", "PNG"), "question": "图中是什么？", "hint": "", "A": "猫", "B": "狗",
         "C": "", "D": "", "answer": "A", "category": "c4"},
        {"index": 14, "image": imgs[5], "question": "Tiny image?", "hint": "nan", "A": "yes", "B": "no",
         "C": "maybe", "D": "", "answer": "B", "category": "c5"},
    ]
    cols = ["index", "image", "question", "hint", "A", "B", "C", "D", "answer", "category"]
    for name in ("MMBench_DEV_EN", "MMStar", "ScienceQA_TEST"):
        out[name] = _tsv(mcq_rows, cols)
    # all-numeric option columns with gaps: pandas makes them float ('9.0'), a text reader keeps '9'
    out["AI2D_TEST"] = _tsv([{**r, "A": a, "B": b, "C": c, "D": ""} for r, a, b, c in
                             zip(mcq_rows[:3], (7, 3, 5), (8, 4, 6), (9, "", 1))], cols)
    vqa_rows = [
        {"index": 20, "image": imgs[0], "image_path": "20.jpg", "question": "What does the sign say?",
         "answer": "['stop']", "category": "text"},
        {"index": 21, "image": imgs[4], "image_path": "21.png", "question": "What is the total?", "answer": "['42']", "category": "doc"},
        {"index": 22, "image": imgs[6], "image_path": "sub/22.jpg", "question": "Read the narrow strip.", "answer": "['x']", "category": "doc"},
    ]
    for name in ("OCRBench", "TextVQA_VAL", "DocVQA_VAL", "ChartQA_TEST"):
        out[name] = _tsv(vqa_rows, ["index", "image", "image_path", "question", "answer", "category"])
    mmmu_rows = [
        {"index": 30, "image": str([imgs[2], imgs[0]]), "image_path": str(["30_1.png", "30_2.jpg"]),
         "question": "Compare <image 1> with <image 2>. Which is larger?", "A": "the first", "B": "the second",
         "C": "", "D": "", "answer": "A", "category": "Art"},
        {"index": 31, "image": str([imgs[2]]), "image_path": str(["31.jpg"]), "question": "In <image 1>, what is the value?",
         "A": "1.5", "B": "2", "C": "", "D": "", "answer": "B", "category": "Math"},
        {"index": 32, "image": str([imgs[1], imgs[3], imgs[0]]), "image_path": str(["32_1.png", "32_2.png", "32_3.png"]),
         "question": "<image 2> then <image 1>; is <image 2> the same?", "A": "", "B": "", "C": "", "D": "",
         "answer": "yes", "category": "Open"},
    ]
    out["MMMU_DEV_VAL"] = _tsv(mmmu_rows, ["index", "image", "image_path", "question", "A", "B", "C", "D", "answer",
                                           "category"])
    return out
