"""`python -m vlmrun_worker api JOB.json`: an API model's job, run on the host (no torch, no container).

The rows of this shard that have no prediction yet are sent as VLMEvalKit's OpenAIWrapper sends them
(adapters/openai_api.py), `api_threads` at a time; each answer is written to the shard file as it arrives, so an
interrupted run resumes where it stopped, and every answer is also kept in the request cache
($VLMRUN_API_CACHE, which the host sets to <vlmrun cache>/api, else <out_dir>/api-cache; keyed by the full
request), so a row asked again, in any run, costs no request. Events as `run` emits them,
with the request counts in `finished`. A request the endpoint rejects as such (HTTP 400, 404, 413, 422: e.g. a
content filter) gets VLMEvalKit's failure text as its answer, scored wrong; anything else that fails after the
retries (a wrong key, an endpoint that is down) ends the job, and the same command resumes it."""
from __future__ import annotations

import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .adapters.openai_api import payload
from .api_client import FAIL_MSG, ApiError, Client, RowRejected
from .data import read_rows
from .events import emit
from .job import JobFile, shard_rows
from .run import Sample
from .shards import ShardWriter, read_records


def client_for(job: JobFile) -> Client:
    api = job.model["source"]["api"]
    key = None
    if api.get("key_env"):
        key = os.environ.get(api["key_env"])
        if not key:
            raise ApiError(f"the API key variable {api['key_env']} is not set: export it and run again")
    cache = os.environ.get("VLMRUN_API_CACHE") or Path(job.out_dir) / "api-cache"
    return Client(api["base_url"], key, api.get("timeout_s", 300), api.get("retries", 5), api.get("retry_wait_s", 5),
                  cache)


def run(job_path: str) -> int:
    job = JobFile.load(job_path)
    shard = job.shard_index()
    out = Path(job.out_dir)
    rows = read_rows(job.data)[: job.limit or None]
    part = set(shard_rows([r.index for r in rows], shard, job.shards))
    rows = [r for r in rows if r.index in part]
    done = set(read_records(out / "shards"))
    mine = [r for r in rows if r.index not in done]
    emit("start", rank=0, world=1, shard=shard, shards=job.shards, total=len(rows),
         already_done=len(rows) - len(mine), todo=len(mine), device="api")
    client = client_for(job)
    spec = {**job.model, "bench": job.bench, "bench_type": job.bench_type}
    emit("loaded", rank=0, seconds=0.0)
    t0 = time.monotonic()

    def ask(row):
        try:
            return row.index, client.chat(payload(Sample.of(row), spec))
        except RowRejected as e:  # this request can never succeed (VLMEvalKit records its failure text too)
            client._count("rejected")
            return row.index, f"{FAIL_MSG} {e}"

    n = 0
    with ShardWriter(out / "shards", 0, shard, job.shards) as writer:
        pool = ThreadPoolExecutor(job.api_threads)
        try:
            for fut in as_completed([pool.submit(ask, r) for r in mine]):
                index, answer = fut.result()  # any other ApiError ends the job; what was written stays
                writer.write({"index": index, "prediction": answer})
                n += 1
                emit("progress", rank=0, n=1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # on an error: no queued request is sent
    env = {"python": platform.python_version(), "device": "api", "nproc": 1,
           "endpoint": job.model["source"]["api"]["base_url"], "api_model": job.model["source"]["api"]["model"]}
    tmp = out / ".environment.json.tmp"
    tmp.write_text(json.dumps(env, indent=1))
    os.replace(tmp, out / "environment.json")
    emit("env", **env)
    emit("finished", rank=0, samples=n, infer_s=round(time.monotonic() - t0, 3), api_threads=job.api_threads,
         **{f"api_{k}": v for k, v in client.counts.items()})
    return 0


def main_guarded(job_path: str) -> int:
    from .data import DataError
    from .job import JobFileError

    try:
        return run(job_path)
    except (JobFileError, DataError) as e:
        emit("error", rank=0, message=f"{type(e).__name__}: {e}")
        return 2
    except ApiError as e:
        emit("error", rank=0, message=f"API: {e}")
        return 1
