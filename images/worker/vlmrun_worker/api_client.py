"""A client for OpenAI-compatible chat endpoints (stdlib only; no torch): retries with backoff, a timeout, and a
cache on disk keyed by the full request, so a rerun sends nothing already answered and a crash loses nothing.

The key is read from the environment by the caller and sent as a header; it is never part of the cache key or
written anywhere. Counters (requests sent, retries, cache hits) are kept for the job's provenance."""
from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class _NoKeyAcrossHosts(urllib.request.HTTPRedirectHandler):
    """A redirect keeps the key only when it stays on the same host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_NoKeyAcrossHosts)


FAIL_MSG = "Failed to obtain answer via API."  # VLMEvalKit's answer for a request that failed
REJECTED = {400, 404, 413, 422}  # the request itself is refused: asking again cannot help


class ApiError(RuntimeError):
    pass


class RowRejected(ApiError):
    """The endpoint refused this one request (not the key, not the endpoint as a whole)."""


class Client:
    def __init__(self, base_url: str, key: str | None = None, timeout_s: float = 300, retries: int = 5,
                 retry_wait_s: float = 5, cache_dir: str | Path | None = None, cache_id: str | None = None):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.cache_id = cache_id or self.url  # what the cache key names the endpoint by (a served model: its name)
        self.key, self.timeout, self.retries, self.wait = key, timeout_s, retries, retry_wait_s
        self.cache = Path(cache_dir) if cache_dir else None
        self.counts = {"requests": 0, "retries": 0, "cache_hits": 0, "rejected": 0}
        self._lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def cache_path(self, payload: dict) -> Path | None:
        if self.cache is None:
            return None
        blob = json.dumps({"url": self.cache_id, "payload": payload}, sort_keys=True, ensure_ascii=False)
        h = hashlib.sha256(blob.encode()).hexdigest()
        return self.cache / h[:2] / f"{h}.json"

    def chat(self, payload: dict) -> str:
        """The answer text for one request: from the cache, or from the endpoint (then cached)."""
        path = self.cache_path(payload)
        if path is not None and path.is_file():
            try:
                answer = json.loads(path.read_text(encoding="utf-8"))["answer"]
                self._count("cache_hits")
                return answer
            except (OSError, ValueError, KeyError):
                pass  # a damaged entry is asked again and rewritten
        answer = self._send(payload)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({"answer": answer}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        return answer

    def _send(self, payload: dict) -> str:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._count("retries")
                time.sleep(min(60.0, self.wait * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))
            self._count("requests")
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with _OPENER.open(req, timeout=self.timeout) as resp:
                    data = json.loads(resp.read().decode("utf-8"))
                return (data["choices"][0]["message"]["content"] or "").strip()
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code} from {self.url}: {e.read()[:200].decode('utf-8', 'replace')}"
                if e.code in REJECTED:
                    raise RowRejected(last) from None
                if e.code not in RETRY_STATUS:
                    raise ApiError(last) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = f"{self.url}: {getattr(e, 'reason', e)}"
            except (ValueError, KeyError, IndexError) as e:
                raise ApiError(f"{self.url} answered with no choices[0].message.content: {e}") from None
        hint = " (is the endpoint up? a local model is started with `vlmrun serve MODEL`)" if "refused" in last else ""
        raise ApiError(f"gave up after {self.retries + 1} tries: {last}{hint}")
