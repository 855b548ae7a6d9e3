"""`python -m vlmrun_worker serve JOB.json [--host H] [--port P] [--token-env NAME] [--max-wait-ms MS]
[--fail-every N]`: the job's model behind an OpenAI-compatible API, in its own environment.

  POST /v1/chat/completions   {"model", "messages": [{"role", "content": str | [{"type": "text", "text"},
                              {"type": "image_url", "image_url": {"url": "data:image/...;base64,..."}}]}]}
  GET  /v1/models, /health

The request's texts (joined by newlines) are the prompt and its images go first, through the model's own chat
template and processor (benchmark type 'chat': no benchmark prompt is added); answers use the manifest's
generation settings (a request's max_tokens caps max_new_tokens; temperature and other sampling fields are not
honoured). Concurrent requests are batched: the model thread takes what is queued, waiting up to --max-wait-ms
for the batch to fill to the job's batch size. With --token-env the server wants 'Authorization: Bearer <token>'.
--fail-every N answers every Nth request with 503 (tests: the client's retries).
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import queue
import threading
import time
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .events import emit
from .job import JobFile
from .run import Sample


def request_sample(body: dict, n: int) -> Sample:
    """The request as the adapters take a row: the texts of its messages, its images."""
    from PIL import Image

    texts, images = [], []
    for msg in body.get("messages") or []:
        if msg.get("role") == "system":
            continue
        parts = msg.get("content")
        for part in ([{"type": "text", "text": parts}] if isinstance(parts, str) else parts or []):
            if part.get("type") == "text" and part.get("text"):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                if not url.startswith("data:") or ";base64," not in url:
                    raise ValueError("images must be data URLs (data:image/...;base64,...)")
                images.append(Image.open(io.BytesIO(base64.b64decode(url.split(";base64,", 1)[1]))).convert("RGB"))
    if not texts:
        raise ValueError("the request has no text")
    return Sample(f"req-{n}", "\n".join(texts), images if len(images) != 1 else images[0])


class Batcher:
    """One model thread; requests queue up and run together, up to `size` at a time."""

    def __init__(self, adapter, size: int, max_wait_s: float):
        self.adapter, self.size, self.max_wait = adapter, size, max_wait_s
        self.q: queue.Queue = queue.Queue()
        self.batches = self.served = 0
        threading.Thread(target=self._loop, name="vlmrun-serve-model", daemon=True).start()

    def submit(self, sample: Sample, max_new_tokens=None) -> Future:
        fut: Future = Future()
        self.q.put((sample, max_new_tokens, fut))
        return fut

    def _loop(self):
        while True:
            try:
                self._one_batch()
            except Exception as e:  # noqa: BLE001 - the model thread must outlive any request
                emit("error", rank=0, message=f"serve: {type(e).__name__}: {e}")

    def _one_batch(self):
        batch = [self.q.get()]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.size:
            try:
                batch.append(self.q.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        # one generate() per max_tokens value and image count (a batch never mixes image counts: data.py)
        for cap, n_images in dict.fromkeys((b[1], len(b[0].images)) for b in batch):
            part = [b for b in batch if b[1] == cap and len(b[0].images) == n_images]
            gen = getattr(self.adapter, "gen", None)
            saved = dict(gen) if gen is not None else None
            try:
                if cap and gen is not None:
                    gen["max_new_tokens"] = min(int(cap), int(gen.get("max_new_tokens", cap)))
                answers = self.adapter.generate([s for s, _, _ in part])
                for (_, _, fut), a in zip(part, answers):
                    fut.set_result(a)
            except Exception as e:  # noqa: BLE001 - the request gets the error, the server goes on
                for _, _, fut in part:
                    fut.set_exception(e)
            finally:
                if saved is not None:
                    gen.clear()
                    gen.update(saved)
            self.batches += 1
            self.served += len(part)


def make_handler(batcher: Batcher, model_name: str, token: str | None, fail_every: int):
    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # one event line per request instead
            pass

        def _send(self, code: int, obj: dict):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            if token and self.headers.get("Authorization", "") != f"Bearer {token}":
                self._send(401, {"error": {"message": "missing or wrong bearer token"}})
                return False
            return True

        def do_GET(self):
            if not self._authorised():
                return
            if self.path == "/health":
                return self._send(200, {"status": "ok", "served": batcher.served, "batches": batcher.batches})
            if self.path == "/v1/models":
                return self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self._authorised():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            with lock:
                counter["n"] += 1
                n = counter["n"]
            if fail_every and n % fail_every == 0:
                return self._send(503, {"error": {"message": "injected failure (--fail-every)"}})
            try:
                body = json.loads(raw)
                if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                    raise ValueError("the body must be a JSON object with a 'messages' list")
                cap = body.get("max_tokens")
                if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
                    raise ValueError("max_tokens must be a positive integer")
                sample = request_sample(body, n)
            except (ValueError, OSError, TypeError, AttributeError) as e:
                return self._send(400, {"error": {"message": str(e)}})
            try:
                answer = batcher.submit(sample, body.get("max_tokens")).result()
            except Exception as e:  # noqa: BLE001
                return self._send(500, {"error": {"message": f"{type(e).__name__}: {e}"}})
            self._send(200, {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                             "model": body.get("model") or model_name,
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                          "finish_reason": "stop"}]})

    return Handler


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except Exception as e:  # noqa: BLE001 - the host shows this line (a bad job file, a port in use, a load error)
        emit("error", rank=0, message=f"serve: {type(e).__name__}: {e}")
        return 1


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="vlmrun_worker serve")
    ap.add_argument("job")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--token-env", default=None)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--fail-every", type=int, default=0)
    a = ap.parse_args(argv)
    job = JobFile.load(a.job)
    token = os.environ.get(a.token_env) if a.token_env else None
    if a.token_env and not token:
        emit("error", rank=0, message=f"--token-env {a.token_env}: the variable is not set")
        return 2
    import torch

    from .adapters import load_adapter

    device = "cuda:0" if job.device == "cuda" and torch.cuda.is_available() else "cpu"
    t0 = time.monotonic()
    spec = {**job.model, "bench": "", "bench_type": "chat"}
    adapter = load_adapter(job.adapter, job.model_dir, spec, device)
    emit("loaded", rank=0, seconds=round(time.monotonic() - t0, 3))
    batcher = Batcher(adapter, job.batch_size, a.max_wait_ms / 1000)
    server = ThreadingHTTPServer((a.host, a.port), make_handler(batcher, job.model_name, token, a.fail_every))
    server.daemon_threads = True
    emit("serving", url=f"http://{a.host}:{server.server_address[1]}/v1", model=job.model_name,
         batch_size=job.batch_size, device=device)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
