"""Throughput benchmark: prints, for this machine, where the time of a `vlmrun eval` goes.

    .venv/bin/python benchmarks/throughput.py [--rows 2374] [--questions DIR] [--skip-local]

Runs the real CLI (real images, real containers) on a 2374-row MME-format set built from MME's question lists
with generated images, each configuration in a fresh work dir, and reads the timings from the provenance:
  1. samples/s at batch size 1 and 8 (tiny-qwen2-vl, 1 rank)
  2. 1 vs 2 ranks (tiny-qwen2-vl, batch 8)
  3. docker backend vs local backend on the same job (tiny-internvl; local = a host venv from the same lock)
  4. the time split: image check, tiny model, container start, model load, inference, merge, scoring

    .venv/bin/python benchmarks/throughput.py --video [--video-seconds 600]

Video: the decode + sample time per video (a synthetic 10-minute video, 30 fps, made with PyAV in the
transformers-latest image, 640x360 by default) for each frame setting, cold (decoded and cached) and warm (from the frame cache);
then tiny models on the bundled Video-MME-mini through real containers, with their decode time per job.

    .venv/bin/python benchmarks/throughput.py --full-size --gpus all [--rows 2374] [--backend local]

On a GPU machine: the same measurements (batch 1 vs 8, 1 vs N ranks) with qwen2-vl-2b-random, Qwen2-VL-2B's
full architecture with random weights built from its config (no download), on the CUDA image flavour
(`--backend local`: in the Python environment VLMRUN_LOCAL_PYTHON names, e.g. a GPU box with no Docker).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_project(tmp: Path, questions: Path, rows: int) -> Path:
    from vlmrun.datasets import build_mme_tsv, read_tsv, write_tsv, TSV_COLUMNS

    proj = tmp / "proj"
    for name in ("manifests", "Dockerfiles", "images", "data"):
        shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    tsv = proj / "data" / "MME-synth.tsv"
    build_mme_tsv(questions, tsv)
    if rows < 2374:
        write_tsv(read_tsv(tsv)[:rows], tsv, TSV_COLUMNS)
    (proj / "manifests" / "benchmarks" / "MME-synth.yaml").write_text(
        "name: MME-synth\ntype: yorn\nscorer: mme\nfile: data/MME-synth.tsv\nbundled: true\n"
        "description: all MME questions with generated images (benchmark only)\n")
    return proj


def run(proj: Path, work: Path, *args, env=None) -> float:
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "vlmrun.cli", "eval", *args, "--bench", "MME-synth",
                          "--work-dir", str(work)], env={**os.environ, "VLMRUN_HOME": str(proj), **(env or {})},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if out.returncode != 0:
        sys.exit(f"vlmrun eval {' '.join(args)} failed:\n{out.stdout[-3000:]}")
    return time.monotonic() - t0


def times(work: Path, model: str) -> dict:
    prov = json.loads((work / model / "MME-synth" / "provenance.json").read_text())
    t = dict(prov["run"]["times"])
    t["samples"] = prov["run"]["samples_computed"]
    return t


def print_split(rows, keys) -> None:
    """The time split table: rows of (label, times, wall seconds)."""
    width = max(17, *(len(label) + 1 for label, _, _ in rows))
    print(f"{'time split (s)':<{width}}" + "".join(f"{k[:-2]:>18}" for k in keys) + f"{'wall':>9}")
    for label, t, wall in rows:
        print(f"{label:<{width}}" + "".join(f"{t.get(k, 0.0):>18.2f}" for k in keys) + f"{wall:>9.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2374)
    ap.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "data" / "mme" / "questions")
    ap.add_argument("--skip-local", action="store_true", help="skip the docker-vs-local comparison")
    ap.add_argument("--full-size", action="store_true",
                    help="measure a full-size random-weight model (--model: qwen2-vl-2b-random, Qwen2-VL-2B's "
                         "architecture, or internvl2-2b-random, InternVL2-2B's sizes); needs --gpus")
    ap.add_argument("--gpus", default=None, help="as vlmrun eval --gpus (all | N | 0,1)")
    ap.add_argument("--backend", default="docker", choices=["docker", "local"], help="--full-size: where the jobs run")
    ap.add_argument("--model", default="qwen2-vl-2b-random", help="--full-size: the model to measure")
    ap.add_argument("--configs", default="batch1,batch8-prefetch1,batch8,batch16,default",
                    help="--full-size: which runs (default: no --batch-size, the batch grown from free GPU memory)")
    ap.add_argument("--video", action="store_true", help="decode + sample time per video, and the mini video benchmark")
    ap.add_argument("--video-seconds", type=int, default=600, help="--video: the long video's length (s)")
    ap.add_argument("--video-size", default="640x360", help="--video: the long video's frame size, WxH")
    a = ap.parse_args()
    if a.video:
        video(a)
        return
    if a.full_size and not a.gpus and a.model.endswith("-random"):
        sys.exit("--full-size measures a 2B model: run it on a GPU machine with --gpus all")
    with tempfile.TemporaryDirectory(prefix="vlmrun-bench-") as tmpd:
        tmp = Path(tmpd)
        proj = make_project(tmp, a.questions, a.rows)
        results = []

        def job(name, model, *args, env=None):
            work = tmp / name
            wall = run(proj, work, model, *args, env=env)
            t = times(work, model)
            t["wall_s"] = wall
            results.append((name, model, t))
            print(f"  {name:<22} {model:<14} {t['samples']:>5} samples  infer {t['infer_s']:7.2f} s  "
                  f"{t['samples'] / max(t['infer_s'], 1e-9):7.1f} samples/s  wall {wall:6.1f} s", flush=True)
            return t

        if a.full_size:
            full(a, proj, tmp)
            return
        print(f"vlmrun throughput on {os.cpu_count()} CPUs, {a.rows} MME-format rows, tiny random-weight models")
        # warm: images built or found, tiny models made, outside the timed runs
        run(proj, tmp / "warm", "tiny-qwen2-vl", "tiny-internvl", "--limit", "2")
        b1 = job("batch1", "tiny-qwen2-vl", "--batch-size", "1")
        b8 = job("batch8", "tiny-qwen2-vl", "--batch-size", "8")
        r2 = job("batch8-2ranks", "tiny-qwen2-vl", "--batch-size", "8", "--nproc", "2")
        dk = job("docker", "tiny-internvl", "--batch-size", "1", "--limit", str(min(a.rows, 400)))
        lc = None
        if not a.skip_local:
            from vlmrun.images import host_venv
            from vlmrun.manifest import Catalogue

            py = host_venv(Catalogue(proj), "transformers-4.37", log=lambda s: None) / "bin" / "python"
            lc = job("local", "tiny-internvl", "--batch-size", "1", "--limit", str(min(a.rows, 400)),
                     "--backend", "local", env={"VLMRUN_LOCAL_PYTHON": str(py)})
        print()
        sps = lambda t: t["samples"] / t["infer_s"]  # noqa: E731
        print(f"batch 8 vs 1 (tiny-qwen2-vl): {sps(b8):.1f} vs {sps(b1):.1f} samples/s = {sps(b8) / sps(b1):.2f}x")
        print(f"2 ranks vs 1 (batch 8):       wall {r2['wall_s']:.1f} s vs {b8['wall_s']:.1f} s = "
              f"{b8['wall_s'] / r2['wall_s']:.2f}x  (2 CPU cores shared by both ranks)")
        if lc:
            extra = dk["wall_s"] - lc["wall_s"]
            print(f"docker vs local (tiny-internvl, same job): wall {dk['wall_s']:.1f} s vs {lc['wall_s']:.1f} s = "
                  f"{dk['wall_s'] / lc['wall_s']:.2f}x, {extra:+.1f} s per job")
        print()
        print_split([(f"{name} {model}", t, t["wall_s"]) for name, model, t in results],
                    ["image_s", "tiny_model_s", "container_start_s", "load_s", "infer_s", "data_wait_s", "merge_s",
                     "score_s"])


def video(a) -> None:
    from vlmrun.images import ensure_image
    from vlmrun.manifest import Catalogue
    from vlmrun.backends.docker_backend import connect

    tag = ensure_image(connect(), Catalogue(), "transformers-latest", "cpu", log=lambda s: None).tag
    with tempfile.TemporaryDirectory(prefix="vlmrun-video-") as tmpd:
        tmp = Path(tmpd)
        os.chmod(tmp, 0o777)
        docker = ["docker", "run", "--rm", "--network", "none", "-v", f"{ROOT / 'images' / 'worker'}:/opt/vlmrun/worker:ro",
                  "-v", f"{ROOT / 'benchmarks'}:/bench:ro", "-v", f"{tmp}:/work", "-e", "PYTHONPATH=/opt/vlmrun/worker", tag]
        t = time.monotonic()
        subprocess.run([*docker, "python", "-m", "vlmrun_worker", "make-videos", "--long", str(a.video_seconds),
                        "/work/long.mp4", a.video_size], check=True, stdout=subprocess.DEVNULL)
        print(f"a {a.video_seconds} s video at 30 fps, {a.video_size}, H.264: made in {time.monotonic() - t:.1f} s ({tag})")
        out = subprocess.run([*docker, "python", "/bench/video_frames.py", "/work/long.mp4", "/work/cache"],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        print(f"\n{'setting':<30} {'frames':>6}  {'decode+sample (cold)':>20}  {'from the cache':>14}  "
              f"{'decode: seeking / one pass (same frames)':>42}  first indices")
        for line in out.splitlines():
            r = json.loads(line)
            how = (f"{r['decode_only_s']:.2f} s / {r['one_pass_s']:.2f} s ({'yes' if r['same_as_one_pass'] else 'NO'})"
                   if r["seeks"] else f"one pass {r['one_pass_s']:.2f} s")
            print(f"{r['setting']:<30} {r['sampled']:>6}  {r['cold_s']:>18.2f} s  {r['warm_s']:>12.3f} s  {how:>42}  "
                  f"{r['first']}")
        lmu = tmp / "lmu"
        env = {**os.environ, "LMUData": str(lmu)}
        subprocess.run([sys.executable, "-m", "vlmrun.cli", "data", "fetch", "Video-MME-mini"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print("\nVideo-MME-mini (12 questions, 4 videos of 2-5 s), tiny models, one job each:")
        for model, args in [("tiny-internvl", ["--nframe", "8"]), ("tiny-internvl", ["--nframe", "8", "--pack"]),
                            ("tiny-qwen2-vl", ["--nframe", "8"]), ("tiny-video-llava", ["--nframe", "8"])]:
            work = tmp / "work"
            t = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "vlmrun.cli", "eval", model, "--bench", "Video-MME-mini",
                                   *args, "--work-dir", str(work)], env=env, stdout=subprocess.PIPE, text=True)
            wall = time.monotonic() - t
            if proc.returncode:
                print(proc.stdout[-2000:])
                raise SystemExit(1)
            label = "Video-MME-mini_" + "_".join(x.strip("-") for x in args[1:2]) + "frame" + ("_pack" if "--pack" in args else "")
            prov = json.loads((work / model / label / "provenance.json").read_text())
            tm = prov["run"]["times"]
            v = tm.get("video", {})
            print(f"  {model:<17} {' '.join(args):<18} wall {wall:5.1f} s  infer {tm.get('infer_s', 0):5.2f} s  "
                  f"decoded {v.get('frames_decoded', 0):>3} frames in {v.get('decode_s', 0):.3f} s, "
                  f"{v.get('frames_cached', 0):>3} from the cache")


def full(a, proj: Path, tmp: Path) -> None:
    model = a.model
    common = [*(["--gpus", a.gpus] if a.gpus else []), "--backend", a.backend]
    print(f"vlmrun throughput, {model} on GPUs {a.gpus}, {a.rows} MME-format rows, {a.backend} backend", flush=True)
    t0 = time.monotonic()
    run(proj, tmp / "warm", model, "--limit", "2", *common)
    print(f"  warm-up (random model built from the config, saved, loaded; 2 rows): {time.monotonic() - t0:.1f} s",
          flush=True)
    rows = []
    configs = [("batch1", ["--batch-size", "1", "--prefetch", "1", "--limit", str(max(8, a.rows // 4))]),
               ("batch8-prefetch1", ["--batch-size", "8", "--prefetch", "1"]),
               ("batch8", ["--batch-size", "8"]),
               ("batch16", ["--batch-size", "16"]),
               ("default", [])]
    wanted = a.configs.split(",")
    for name, extra in [c for c in configs if c[0] in wanted]:
        work = tmp / name
        wall = run(proj, work, model, "--nproc", "1", *extra, *common)
        t = times(work, model)
        rows.append((name, t, wall))
        print(f"  {name:<17} {t['samples']:>5} samples  infer {t['infer_s']:8.2f} s  "
              f"{t['samples'] / t['infer_s']:7.2f} samples/s  waited for data {t.get('data_wait_s', 0):6.2f} s  "
              f"preprocessing {t.get('prepare_s', 0):6.2f} s on {t.get('prefetch_workers', '?')} thread(s)  "
              f"batch {t.get('batch_size_used', '?')}  load {t['load_s']:.1f} s  wall {wall:.1f} s  images encoded "
              f"{t.get('vision', {}).get('encoded', '?')}/{t.get('vision', {}).get('images', '?')}", flush=True)
    sps = {name: t["samples"] / t["infer_s"] for name, t, _ in rows}
    if "batch1" in sps:
        print("vs batch 1: " + "   ".join(f"{name} {v / sps['batch1']:.2f}x" for name, v in sps.items() if name != "batch1"))
    print_split(rows, ["tiny_model_s", "container_start_s", "load_s", "infer_s", "data_wait_s", "merge_s", "score_s"])

if __name__ == "__main__":
    main()
