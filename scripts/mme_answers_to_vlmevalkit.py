"""Turn a model's answers in the official MME tool's layout into a VLMEvalKit predictions file for an MME TSV.

The official tool's answers are one file per subtask, lines 'image<TAB>question<TAB>answer<TAB>prediction'
(e.g. the LaVIN example answers shipped with the tool). Each row of the TSV (MME.tsv or the bundled MME-mini)
gets the prediction made for its subtask, image and question; the output has VLMEvalKit's predictions columns
(index, question, answer, category, image_path, prediction), ready for `vlmrun import`.

Usage: python scripts/mme_answers_to_vlmevalkit.py ANSWERS_DIR OUT.xlsx [--tsv data/MME-mini.tsv]
"""
import argparse
import sys
from pathlib import Path

import pandas as pd

from vlmrun.datasets import read_tsv


def answers(folder: Path) -> dict:
    out = {}
    for path in sorted(folder.glob("*.txt")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split("\t")
            if len(parts) < 4:
                if line.strip():
                    sys.exit(f"{path}:{n}: expected 'image<TAB>question<TAB>answer<TAB>prediction'")
                continue
            out[(path.stem, parts[0], parts[1].strip())] = parts[3].strip()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("answers", type=Path, help="folder with one <subtask>.txt per MME subtask")
    ap.add_argument("out", type=Path, help="the predictions file to write (.xlsx or .tsv)")
    ap.add_argument("--tsv", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "MME-mini.tsv")
    a = ap.parse_args()
    found = answers(a.answers)
    rows, missing = [], []
    for r in read_tsv(a.tsv):
        key = (r["category"], r["image_path"].split("/")[-1], r["question"].strip())
        if key not in found:
            missing.append(r["index"])
            continue
        rows.append({k: r[k] for k in ("index", "question", "answer", "category", "image_path")} | {"prediction": found[key]})
    if missing:
        sys.exit(f"{a.answers} has no answer for {len(missing)} rows of {a.tsv} (e.g. index {', '.join(missing[:3])})")
    df = pd.DataFrame(rows)
    df["index"] = df["index"].astype(int)
    if a.out.suffix == ".xlsx":
        df.to_excel(a.out, index=False, engine="openpyxl")
    else:
        df.to_csv(a.out, sep="\t", index=False)
    print(f"wrote {a.out}: {len(df)} rows")


if __name__ == "__main__":
    main()
