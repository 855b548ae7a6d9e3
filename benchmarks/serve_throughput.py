"""Requests per second of `vlmrun serve MODEL` at 1 and more concurrent clients.

    .venv/bin/python benchmarks/serve_throughput.py [--model tiny-qwen2-vl] [--clients 1,8] [--requests 64]

Starts the server (its container, loopback), sends MME-mini's rows as VLMEvalKit's OpenAIWrapper would (the
request of adapters/openai_api.py: base64 JPEG images, the benchmark prompt), N requests per setting from C client
threads, and prints requests/s, mean latency and how many batches the server ran; then stops the server."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "images" / "worker"))


def rows_as_payloads(model: str) -> list[dict]:
    from vlmrun_worker.adapters.openai_api import payload
    from vlmrun_worker.data import read_rows
    from vlmrun_worker.run import Sample

    spec = {"bench": "MME-mini", "bench_type": "yorn",
            "source": {"api": {"base_url": "http://x/v1", "model": model, "img_size": 512, "max_tokens": 16}}}
    return [payload(Sample.of(r), spec)
            for r in read_rows(str(ROOT / "data" / "MME-mini.tsv"))]


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return json.loads(r.read())


def post(port: int, body: bytes) -> float:
    t = time.monotonic()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        json.loads(r.read())
    return time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny-qwen2-vl")
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    a = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="vlmrun-serve-bench-")
    proc = subprocess.Popen([sys.executable, "-m", "vlmrun.cli", "serve", a.model, "--port", str(port),
                             "--batch-size", str(a.batch_size), "--work-dir", work],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
    try:
        t0 = time.monotonic()
        while True:
            try:
                health(port)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > 900:
                    sys.exit("the server did not start")
                time.sleep(0.5)
        bodies = [json.dumps(p).encode() for p in rows_as_payloads(a.model)]
        post(port, bodies[0])  # warm-up
        print(f"{a.model} behind vlmrun serve (batch up to {a.batch_size}), {a.requests} MME-mini requests per setting, "
              f"{os.cpu_count()} CPUs")
        print(f"{'clients':>8} {'req/s':>8} {'mean latency s':>15} {'server batches':>15}")
        for c in [int(x) for x in a.clients.split(",")]:
            before = health(port)["batches"]
            t = time.monotonic()
            with ThreadPoolExecutor(c) as pool:
                lat = list(pool.map(lambda i: post(port, bodies[i % len(bodies)]), range(a.requests)))
            wall = time.monotonic() - t
            print(f"{c:>8} {a.requests / wall:>8.2f} {sum(lat) / len(lat):>15.3f} {health(port)['batches'] - before:>15}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
