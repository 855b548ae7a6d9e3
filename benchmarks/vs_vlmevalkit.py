"""vlmrun against VLMEvalKit on the same machine, weights and data: wall times, ratios, answers that agree.

    .venv/bin/python benchmarks/vs_vlmevalkit.py [--rows 2374] [--repeats 3] [--questions DIR]

Both sides run the same tiny Qwen2-VL (the `qwen2_vl` recipe, seeded: the weights are the same bytes) on the same
MME-format TSV (MME's 2374 real questions with generated images), on the CPU, in the same image
(transformers-latest, from the same lock):
- VLMEvalKit: as published on PyPI (ms-vlmeval, hash-pinned in tests/parity/wheels.txt), its own inference loop
  (`vlmeval.inference.infer_data_job` with its Qwen2VLChat wrapper) and its own MME scoring, in a cold container:
  one process, and `torchrun --nproc-per-node 2` (tests/parity/vlmeval_infer.py says what is set aside);
- vlmrun: `vlmrun eval tiny-qwen2-vl --bench MME-synth` with `--batch-size 1`, the default, and `--nproc 2`.
Wall time is from the command's start to its scores written; the configurations alternate and each is repeated
`--repeats` times (the median is printed). Predictions are compared row by row with VLMEvalKit's one-process run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "parity"))


def vlmeval_cfg(model_dir: str, tag: str) -> dict:
    import host

    spec = host.model_spec("tiny-qwen2-vl")
    p = spec.get("processor") or {}
    return {"wrapper": "Qwen2VLChat", "adapter": "qwen2_vl", "spec": spec, "model_dir": model_dir,
            # Qwen2VLChat's arguments for the same pixel bounds and answer length as the manifest's
            "wrapper_args": {"min_pixels": p.get("min_pixels"), "max_pixels": p.get("max_pixels"),
                             "max_new_tokens": spec["generation"]["max_new_tokens"]},
            "bench": "MME", "bench_types": {"MME": "yorn"}, "model_name": "tiny-qwen2-vl", "site": "/oracle",
            "lmudata": "/work/LMUData", "work_dir": f"/work/vlmeval-{tag}", "out": f"/work/vlmeval-{tag}.json"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2374)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "data" / "mme" / "questions")
    a = ap.parse_args()

    import json
    import shutil

    import docker
    import pandas as pd

    import host
    from throughput import make_project  # benchmarks/throughput.py: the MME-format project copy
    from vlmrun.images import ensure_image
    from vlmrun.manifest import Catalogue
    from vlmrun.predictions import read_predictions

    image = ensure_image(docker.from_env(), Catalogue(), "transformers-latest", "cpu", log=lambda *_: None).tag
    with tempfile.TemporaryDirectory(prefix="vlmrun-vs-") as tmpd:
        tmp = Path(tmpd)
        proj = make_project(tmp, a.questions, a.rows)
        work = tmp / "work"
        (work / "LMUData").mkdir(parents=True)
        shutil.copy(proj / "data" / "MME-synth.tsv", work / "LMUData" / "MME.tsv")
        os.chmod(work / "LMUData", 0o777)  # the image's user writes the dumped images there
        model_dir = host.make_model(image, work, "qwen2_vl", "tiny_qwen2_vl")
        env = {**os.environ, "VLMRUN_HOME": str(proj)}

        def vlmrun(tag, *args):
            out = tmp / f"vlmrun-{tag}"
            shutil.rmtree(out, ignore_errors=True)
            t = time.monotonic()
            p = subprocess.run([sys.executable, "-m", "vlmrun.cli", "eval", "tiny-qwen2-vl", "--bench", "MME-synth",
                                "--work-dir", str(out), *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if p.returncode:
                sys.exit(f"vlmrun {tag} failed:\n{p.stdout[-3000:]}")
            wall = time.monotonic() - t
            df = read_predictions(out / "tiny-qwen2-vl" / "MME-synth" / "tiny-qwen2-vl_MME-synth.xlsx")
            return wall, dict(zip(df["index"].astype(str), df["prediction"].astype(str)))

        def vlmeval(tag, ranks):
            cfg = vlmeval_cfg(model_dir, tag)
            shutil.rmtree(work / f"vlmeval-{tag}", ignore_errors=True)
            (work / f"vlmeval-{tag}.json").unlink(missing_ok=True)
            (work / f"config-{tag}.json").write_text(json.dumps(cfg))
            argv = (["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"] if ranks > 1 else [])
            t = time.monotonic()
            p = host.run_in_image(image, work, [*argv, "/parity/vlmeval_infer.py", f"/work/config-{tag}.json"],
                                  timeout=3600)
            if p.returncode:
                sys.exit(f"VLMEvalKit {tag} failed:\n{p.stdout[-3000:]}")
            wall = time.monotonic() - t
            res = json.loads((work / f"vlmeval-{tag}.json").read_text())
            df = pd.read_csv(work / res["result_file"].removeprefix("/work/"), sep="\t", dtype={"index": str},
                             keep_default_na=False)
            return wall, dict(zip(df["index"].astype(str), df["prediction"].astype(str)))

        vlmrun("warm", "--limit", "2")  # the tiny model made and the image found, outside the timed runs
        runs = [("VLMEvalKit run loop, 1 process", 1, lambda: vlmeval("r1", 1)),
                ("vlmrun --batch-size 1", 1, lambda: vlmrun("b1", "--batch-size", "1")),
                ("vlmrun default", 1, lambda: vlmrun("default")),
                ("VLMEvalKit torchrun, 2 ranks", 2, lambda: vlmeval("r2", 2)),
                ("vlmrun --nproc 2", 2, lambda: vlmrun("n2", "--nproc", "2"))]
        walls: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        preds: dict[str, dict] = {}
        for k in range(a.repeats):
            for name, _, fn in runs:
                wall, p = fn()
                walls[name].append(wall)
                preds[name] = p
                print(f"  round {k + 1}: {name:<32} {wall:7.1f} s", flush=True)
        ref = preds[runs[0][0]]
        base = {1: statistics.median(walls[runs[0][0]]), 2: statistics.median(walls[runs[3][0]])}
        print(f"\n{a.rows} MME-format rows, tiny-qwen2-vl, {os.cpu_count()} CPUs, image {image}, "
              f"medians of {a.repeats}")
        print(f"{'setup':<34}{'wall s':>9}{'vs VLMEvalKit':>15}{'answers = VLMEvalKit 1 process':>34}")
        for name, ranks, _ in runs:
            med = statistics.median(walls[name])
            same = sum(preds[name].get(i) == v for i, v in ref.items())
            print(f"{name:<34}{med:9.1f}{med / base[ranks]:15.2f}{f'{same}/{len(ref)}':>34}")


if __name__ == "__main__":
    main()
