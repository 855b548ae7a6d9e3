"""Regenerate data/MME-mini.tsv from MME's official question lists (default ../shared/data/mme/questions).

Usage: python scripts/make_mme_mini.py [QUESTIONS_DIR]
"""
import sys
from pathlib import Path

from vlmrun.datasets import build_mme_tsv, md5_file

root = Path(__file__).resolve().parent.parent
questions = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data" / "mme" / "questions"
out = root / "data" / "MME-mini.tsv"
n = build_mme_tsv(questions, out, per_category=2)
print(f"wrote {out}: {n} rows, md5 {md5_file(out)} (put it in manifests/benchmarks/MME-mini.yaml)")
