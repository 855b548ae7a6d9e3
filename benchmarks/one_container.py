"""Several benchmarks of one model: one container (the default) against a container per benchmark.

    .venv/bin/python benchmarks/one_container.py [--models tiny-qwen2-vl tiny-llava] [--benches 4] [--limit 8]
                                                 [--repeats 3]

Each model is evaluated on N copies of the bundled MME-mini (benchmark manifests MME-mini-1 ... MME-mini-N in a copy of
the catalogue, the same rows), once with `-o one_container=false` and once with the default, alternating, `--repeats`
times; the medians of the wall times (command start to report written) are printed, with the load time each job
reported and whether both ways gave the same answers. With real weights the load is the part that grows: reading a
7B model's 15 GB once instead of once per benchmark.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VLMRUN = [str(ROOT / ".venv" / "bin" / "vlmrun")]


def catalogue_copy(where: Path, n: int) -> Path:
    dst = where / "proj"
    for name in ("manifests", "Dockerfiles", "images", "data"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
    mini = (ROOT / "manifests" / "benchmarks" / "MME-mini.yaml").read_text()
    for k in range(1, n + 1):
        (dst / "manifests" / "benchmarks" / f"MME-mini-{k}.yaml").write_text(
            mini.replace("name: MME-mini", f"name: MME-mini-{k}"))
    return dst


def one_run(proj: Path, work: Path, model: str, n: int, limit: int, apart: bool) -> tuple[float, list, dict]:
    benches = [x for k in range(1, n + 1) for x in ("--bench", f"MME-mini-{k}")]
    cmd = [*VLMRUN, "eval", model, *benches, "--limit", str(limit), "--work-dir", str(work),
           *(["-o", "one_container=false"] if apart else [])]
    t = time.monotonic()
    out = subprocess.run(cmd, env={**__import__("os").environ, "VLMRUN_HOME": str(proj)}, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t
    if out.returncode:
        sys.exit(out.stdout[-2000:])
    loads, answers = [], {}
    for k in range(1, n + 1):
        run = work / model / f"MME-mini-{k}"
        prov = json.loads((run / "provenance.json").read_text())
        loads.append(prov["run"]["times"].get("load_s", 0.0))
        for line in (run / "shards").glob("*.jsonl"):
            for rec in map(json.loads, line.read_text().splitlines()):
                answers[(k, rec["index"])] = rec["prediction"]
    return wall, loads, {i: a for (k, i), a in answers.items() if k == 1}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny-qwen2-vl", "tiny-llava"])
    ap.add_argument("--benches", type=int, default=4)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proj = catalogue_copy(Path(tmp), args.benches)
        print(f"{args.benches} benchmarks of {args.limit} rows each, medians of {args.repeats}")
        print(f"{'model':16} {'way':22} {'wall s':>8} {'load s per job':>30}  answers equal")
        for model in args.models:
            walls, loads, answers = {True: [], False: []}, {}, {}
            for r in range(args.repeats):
                for apart in (True, False):
                    work = Path(tmp) / f"{model}-{'apart' if apart else 'shared'}-{r}"
                    w, lo, ans = one_run(proj, work, model, args.benches, args.limit, apart)
                    walls[apart].append(w)
                    loads[apart], answers[apart] = lo, ans
                    shutil.rmtree(work)
            same = answers[True] == answers[False]
            for apart in (True, False):
                way = "a container each" if apart else "one container"
                print(f"{model:16} {way:22} {statistics.median(walls[apart]):8.1f} "
                      f"{' '.join(f'{x:.2f}' for x in loads[apart]):>30}  {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
