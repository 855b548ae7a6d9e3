"""Fault suite with figures: each fault is made to happen to a real `vlmrun eval` (real engine, real containers),
then the same command is run again. Prints, per fault: what happened (the one line the user saw), the
finished rows lost (rows done before the fault and missing or changed afterwards; target 0), the rows
computed twice, and the vlmrun containers left behind (target 0).

    .venv/bin/python benchmarks/faults.py [--only NAME,...] [--skip-daemon]

The daemon-restart fault stops and restarts dockerd (it must have been started by scripts/setup.sh).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "images" / "worker"))
VLMRUN = [sys.executable, "-m", "vlmrun.cli"]
ENV = {**os.environ, "COLUMNS": "200"}
MODEL, BENCH, ROWS = "tiny-internvl", "MME-mini", 56


def cli(*args, env=None, timeout=900):
    return subprocess.run([*VLMRUN, *args], cwd=ROOT, env={**ENV, **(env or {})}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def last_line(out: str) -> str:
    lines = [l for l in out.strip().splitlines() if l.strip()]
    for l in reversed(lines):
        if l.startswith(("error:", "failed", "interrupted")):
            return l[:220]
    return (lines[-1] if lines else "")[:220]


def records(work: Path, model=MODEL) -> dict:
    from vlmrun_worker.shards import read_records

    d = work / model / BENCH / "shards"
    return read_records(d) if d.is_dir() else {}


def containers() -> set:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=io.vlmrun.version"], capture_output=True, text=True)
    probes = subprocess.run(["docker", "ps", "-aq", "--filter", "name=vlmrun-"], capture_output=True, text=True)
    return set(out.stdout.split()) | set(probes.stdout.split())


def start(work: Path, *extra, model=MODEL):
    return subprocess.Popen([*VLMRUN, "eval", model, "--bench", BENCH, "--batch-size", "1", "--work-dir", str(work),
                             *extra], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_rows(work: Path, n: int, limit=300) -> None:
    deadline = time.monotonic() + limit
    while len(records(work)) < n and time.monotonic() < deadline:
        time.sleep(0.1)


def job_container():
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.vlmrun.job={MODEL}_{BENCH}"],
                         capture_output=True, text=True).stdout.split()
    return ids[0] if ids else None


def rerun_and_count(work: Path, before: dict, *extra) -> tuple[int, int, str]:
    """Run the same eval again: (finished rows lost, rows computed twice, its outcome)."""
    out = cli("eval", MODEL, "--bench", BENCH, "--work-dir", str(work), *extra)
    after = records(work)
    lost = sum(1 for i, r in before.items() if after.get(i) != r)
    import json

    prov = work / MODEL / BENCH / "provenance.json"
    computed = json.loads(prov.read_text())["run"]["samples_computed"] if prov.is_file() else 0
    twice = max(0, computed - (ROWS - len(before)))
    return lost, twice, "rerun ok" if out.returncode == 0 else "rerun: " + last_line(out.stdout)


# ------------------------------------------------------------------------------------------------- faults


def kill_mid_run(work: Path) -> str:
    """Start the eval, SIGKILL its job container after 6 rows; returns what vlmrun printed."""
    proc = start(work)
    wait_rows(work, 6)
    subprocess.run(["docker", "kill", "-s", "KILL", job_container()], capture_output=True)
    return proc.communicate(timeout=300)[0]


def f_sigkill(work: Path):
    out = kill_mid_run(work)
    before = records(work)
    lost, twice, rerun = rerun_and_count(work, before)
    return f"{last_line(out)} | {len(before)} rows kept | {rerun}", lost, twice


def f_torn_line(work: Path):
    kill_mid_run(work)
    shard = sorted((work / MODEL / BENCH / "shards").glob("*.jsonl"))[0]
    with open(shard, "ab") as f:
        f.write(b'{"index": "99", "predic')  # a line torn by the kill
    before = records(work)
    lost, twice, rerun = rerun_and_count(work, before)
    return f"torn last line skipped; {len(before)} rows kept | {rerun}", lost, twice


def f_two_evals(work: Path):
    first = start(work)
    wait_rows(work, 2)
    second = cli("eval", MODEL, "--bench", BENCH, "--batch-size", "1", "--work-dir", str(work))
    out, _ = first.communicate(timeout=600)
    lines = sum(len(p.read_text().splitlines()) for p in (work / MODEL / BENCH / "shards").glob("*.jsonl"))
    return (f"second: exit {second.returncode}: {last_line(second.stdout)[:120]}... | first: exit {first.returncode}, "
            f"shards {lines} lines for {ROWS} rows"), 0, lines - ROWS


def f_oom(work: Path):
    out = cli("eval", MODEL, "--bench", BENCH, "--work-dir", str(work), "--memory", "150m")
    before = records(work)
    lost, twice, rerun = rerun_and_count(work, before)
    return f"exit {out.returncode}: {last_line(out.stdout)} | {rerun}", lost, twice


def f_disk_full(work: Path):
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(work)], check=True)
    try:
        out = cli("eval", MODEL, "--bench", BENCH, "--batch-size", "1", "--work-dir", str(work))
        before = records(work)
        subprocess.run(["mount", "-o", "remount,size=64m", str(work)], check=True)  # space freed
        lost, twice, rerun = rerun_and_count(work, before)
        return f"exit {out.returncode}: {last_line(out.stdout)} | {len(before)} rows kept | {rerun}", lost, twice
    finally:
        subprocess.run(["umount", "-l", str(work)])


def f_ctrl_c_inference(work: Path):
    proc = start(work)
    wait_rows(work, 6)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    time.sleep(1)
    before = records(work)
    lost, twice, rerun = rerun_and_count(work, before)
    return f"exit {proc.returncode}: {last_line(out)} | {len(before)} rows kept | {rerun}", lost, twice


def f_ctrl_c_tiny_build(work: Path):
    from vlmrun.manifest import Catalogue

    cache = Path(tempfile.mkdtemp(prefix="vlmrun-cache-"))  # a cache without the tiny model: it is built now
    shutil.copytree(Path.home() / ".cache" / "vlmrun" / "wheelhouse", cache / "wheelhouse", dirs_exist_ok=True) \
        if (Path.home() / ".cache" / "vlmrun" / "wheelhouse").is_dir() else None
    os.chmod(cache, 0o777)
    env = {**ENV, "VLMRUN_CACHE": str(cache)}
    proc = subprocess.Popen([*VLMRUN, "eval", MODEL, "--bench", BENCH, "--work-dir", str(work)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.vlmrun.tiny={MODEL}"],
                          capture_output=True, text=True).stdout.strip():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    half = [p for p in (cache / "tiny" / MODEL).glob("*") if not (p / "vlmrun-tiny.json").is_file()] \
        if (cache / "tiny" / MODEL).is_dir() else []
    again = subprocess.run([*VLMRUN, "eval", MODEL, "--bench", BENCH, "--work-dir", str(work)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    shutil.rmtree(cache, ignore_errors=True)
    _ = Catalogue
    return (f"exit {proc.returncode}: {last_line(out)} | unfinished tiny folders used: none "
            f"({len(half)} tmp left, rebuilt next run) | rerun exit {again.returncode}"), 0, 0


def f_ctrl_c_image_build(work: Path):
    """A catalogue copy whose 4.40 family has its own Dockerfile, the shared one plus a comment: a new image tag, built from scratch here
    (the real images are not touched); Ctrl-C once the build runs, then the same command."""
    proj = work / "proj"
    for name in ("manifests", "Dockerfiles", "images", "data"):
        shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shared = proj / "Dockerfiles" / "family.Dockerfile"
    (proj / "Dockerfiles" / "fault.Dockerfile").write_text(shared.read_text() + "\n# fault suite: another image tag\n")
    fam = proj / "manifests" / "families" / "transformers-4.40.yaml"
    fam.write_text(fam.read_text() + "dockerfile: Dockerfiles/fault.Dockerfile\n")
    env = {**ENV, "VLMRUN_HOME": str(proj)}
    args = [*VLMRUN, "eval", "tiny-idefics2", "--bench", BENCH, "--limit", "4", "--work-dir", str(work / "w")]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(25)  # past the wheelhouse check, inside `docker build`
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    tags = subprocess.run(["docker", "images", "-q", "--filter", "dangling=false", "--filter",
                           "label=io.vlmrun.family=transformers-4.40"], capture_output=True, text=True).stdout.split()
    again = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=900)
    new = subprocess.run(["docker", "images", "-q", "--filter", "label=io.vlmrun.family=transformers-4.40"],
                         capture_output=True, text=True).stdout.split()
    for image in set(new) - set(tags):  # the fault's own image
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)
    return (f"exit {proc.returncode}: {last_line(out)[:120]} | 4.40 images tagged after Ctrl-C: {len(tags)} (the "
            f"real one only) | rerun exit {again.returncode}, built and ran"), 0, 0


def f_gpus_without_toolkit(work: Path):
    out = cli("eval", MODEL, "--bench", BENCH, "--gpus", "all", "--work-dir", str(work))
    return f"exit {out.returncode}: {last_line(out.stdout)[:140]}...", 0, 0


def f_corrupt_weights(work: Path):
    from vlmrun.weights import recipe_hash

    cli("eval", MODEL, "--bench", BENCH, "--work-dir", str(work), "--limit", "1")  # make sure the weights exist
    found = [p for p in (Path.home() / ".cache" / "vlmrun" / "tiny" / MODEL).glob(f"*-{recipe_hash()[:8]}/model.safetensors")
             if not p.parent.name.startswith("local-")]  # the docker backend's copy
    target = found[0]
    saved = target.read_bytes()
    try:
        target.write_bytes(saved[: len(saved) // 3])
        out = cli("eval", MODEL, "--bench", BENCH, "--work-dir", str(work / "2"))
    finally:
        target.write_bytes(saved)
    return f"exit {out.returncode}: {last_line(out.stdout)}", 0, 0


def f_bad_tsv(work: Path):
    from vlmrun.datasets import read_tsv, write_tsv

    proj = work / "proj"
    for name in ("manifests", "Dockerfiles", "images", "data"):
        shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    rows = read_tsv(ROOT / "data" / "MME-mini.tsv")
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, "PNG")  # 900 M pixels in a few hundred KB
    cases = {
        "broken base64": lambda rs: [{**rs[0], "image": "not//base64!!"}] + rs[1:4],
        "decompression bomb": lambda rs: [{**rs[0], "image": base64.b64encode(buf.getvalue()).decode()}] + rs[1:4],
        "missing columns": lambda rs: [{k: v for k, v in r.items() if k != "question"} for r in rs[:4]],
        "100k rows": lambda rs: [{**rs[i % 56], "index": str(i), "image": rs[i % 56]["image"] if rs[i % 56]["image"]
                                  and len(rs[i % 56]["image"]) > 20 else rs[(i % 56) - 1]["image"]} for i in range(100_000)],
    }
    out_lines = []
    for name, make in cases.items():
        data = make(rows)
        cols = list(data[0].keys())
        write_tsv(data, proj / "data" / "BAD.tsv", cols)
        (proj / "manifests" / "benchmarks" / "BAD.yaml").write_text(
            "name: BAD\ntype: yorn\nscorer: mme\nfile: data/BAD.tsv\nbundled: true\n")
        t = time.monotonic()
        out = cli("eval", MODEL, "--bench", "BAD", "--work-dir", str(work / name.replace(" ", "_")), "--limit", "4",
                  env={"VLMRUN_HOME": str(proj)})
        tb = "Traceback" in out.stdout
        out_lines.append(f"{name}: exit {out.returncode} in {time.monotonic() - t:.0f}s{' TRACEBACK' if tb else ''}: "
                         f"{last_line(out.stdout)[:100]}")
    return " || ".join(out_lines), 0, 0


def f_hostile_manifest(work: Path):
    proj = work / "proj"
    for name in ("manifests", "Dockerfiles", "images", "data"):
        shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    results = []
    base = (ROOT / "manifests" / "models" / "tiny-qwen2-vl.yaml").read_text()
    cases = {"model name ../x": base.replace("name: tiny-qwen2-vl", "name: ../evil"),
             "bench file ../../etc/passwd": None,
             "extra docker option": base + "docker_options: ['--privileged']\n"}
    for name, text in cases.items():
        p = proj / "manifests" / ("models/evil.yaml" if text else "benchmarks/EVIL.yaml")
        p.write_text(text or "name: EVIL\ntype: yorn\nscorer: mme\nfile: ../../etc/passwd\nbundled: true\n")
        out = cli("models", "list", env={"VLMRUN_HOME": str(proj)})
        results.append(f"{name}: exit {out.returncode}: {last_line(out.stdout)[:110]}")
        p.unlink()
    return " || ".join(results), 0, 0


def f_daemon_restart(work: Path):
    proc = start(work)
    wait_rows(work, 6)
    subprocess.run(["pkill", "-x", "dockerd"])
    out, _ = proc.communicate(timeout=300)
    while subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0:
        time.sleep(0.5)  # the old engine has to be gone before a new one starts
    before = records(work)
    subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh")], cwd=ROOT, capture_output=True)
    lost, twice, rerun = rerun_and_count(work, before)
    return f"exit {proc.returncode}: {last_line(out)} | {len(before)} rows kept | {rerun}", lost, twice


FAULTS = {"sigkill": ("container SIGKILL mid-run", f_sigkill),
          "torn-line": ("truncated last shard line after a kill", f_torn_line),
          "two-evals": ("two evals at once on one work dir", f_two_evals),
          "oom": ("job killed by the memory limit (--memory 150m)", f_oom),
          "disk-full": ("work dir's disk full (96 KB tmpfs)", f_disk_full),
          "ctrl-c-infer": ("Ctrl-C during inference", f_ctrl_c_inference),
          "ctrl-c-tiny": ("Ctrl-C during the tiny-model build", f_ctrl_c_tiny_build),
          "ctrl-c-build": ("Ctrl-C during an image build", f_ctrl_c_image_build),
          "gpus": ("--gpus on an engine without GPU support", f_gpus_without_toolkit),
          "weights": ("corrupt (truncated) weights", f_corrupt_weights),
          "tsv": ("bad benchmark TSVs", f_bad_tsv),
          "manifest": ("hostile manifest values", f_hostile_manifest),
          "daemon": ("Docker daemon restarted mid-run", f_daemon_restart)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help=f"comma-separated: {', '.join(FAULTS)}")
    ap.add_argument("--skip-daemon", action="store_true")
    a = ap.parse_args()
    chosen = [k for k in FAULTS if (not a.only or k in a.only.split(",")) and not (a.skip_daemon and k == "daemon")]
    rows = []
    for key in chosen:
        title, fn = FAULTS[key]
        work = Path(tempfile.mkdtemp(prefix=f"vlmrun-fault-{key}-"))
        os.chmod(work, 0o777)
        before = containers()
        t = time.monotonic()
        try:
            outcome, lost, twice = fn(work / "w")
        except Exception as e:  # noqa: BLE001 - a fault script reports, it does not stop
            outcome, lost, twice = f"SCRIPT ERROR {type(e).__name__}: {e}", "?", "?"
        left = len(containers() - before)
        rows.append((title, outcome, lost, twice, left, time.monotonic() - t))
        print(f"[{key}] {outcome} | lost {lost}, twice {twice}, containers left {left}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    print("\n| fault | outcome | finished rows lost | rows computed twice | containers left |")
    print("|---|---|---|---|---|")
    for title, outcome, lost, twice, left, _ in rows:
        print(f"| {title} | {outcome.replace('|', '/')} | {lost} | {twice} | {left} |")


if __name__ == "__main__":
    main()
