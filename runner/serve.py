"""`vlmrun serve MODEL`: a zoo model in its own pinned environment behind an OpenAI-compatible API
(`/v1/chat/completions`), e.g. as the endpoint of an API model manifest or as a local judge.

manifest -> plan (one job, benchmark type 'chat') -> image and model folder (as `eval` gets them) -> the worker's
`serve` command in the container, on the host's network so that it listens where asked (loopback by default:
nothing leaves the machine). Listening on any other address needs a token (--token-env names the variable that
holds it; the server then wants 'Authorization: Bearer <token>')."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
from pathlib import Path
from typing import Callable, Optional

from .backends.base import Task
from .container import serve_container_name, write_job_file
from .datasets import bench_file
from .errors import VlmrunError
from .evaluate import Evaluator
from .manifest import Catalogue
from .plan import make_plan

LOOPBACK = ("127.0.0.1", "localhost")  # the server listens on IPv4


def check_listen(host: str, token_env: Optional[str]) -> None:
    loopback = host in LOOPBACK
    if not loopback:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            raise VlmrunError(f"--host {host!r}: give an IPv4 address to listen on (default 127.0.0.1)") from None
        if addr.version != 4:
            raise VlmrunError(f"--host {host}: the server listens on IPv4 addresses only (e.g. 127.0.0.1, 0.0.0.0)")
        loopback = addr.is_loopback
    if not loopback and not token_env:
        raise VlmrunError(f"--host {host} listens beyond this machine: add --token-env NAME (a variable holding the "
                          "token clients must send)")
    if token_env and not os.environ.get(token_env):
        raise VlmrunError(f"--token-env {token_env}: the variable is not set; export {token_env}=... first")


def serve(cat: Catalogue, model: str, work_dir: Path, host: str = "127.0.0.1", port: int = 8000,
          token_env: Optional[str] = None, batch_size: Optional[int] = None, gpus=None, backend: str = "docker",
          max_wait_ms: float = 10.0, fail_every: int = 0, on_line: Optional[Callable[[str], None]] = None,
          console=None):
    """Runs until the server stops (Ctrl-C); returns the worker's RunOutcome."""
    if backend not in ("docker", "local"):
        raise VlmrunError(f"--backend {backend}: serve runs with docker or local")
    check_listen(host, token_env)
    with socket.socket() as probe:  # the server binds on the host's network: the same test, up front
        try:
            probe.bind((host, port))
        except OSError as e:
            raise VlmrunError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror}); another server? "
                              "choose another --port") from None
    if cat.model(model).is_api:
        raise VlmrunError(f"{model} is an API model: it is served already, at {cat.model(model).source.api.base_url}")
    bench = "MME-mini"  # any bundled benchmark: the job needs one, the server reads no rows
    (job,) = make_plan(cat, [model], [bench], work_dir, gpus=gpus, batch_size=batch_size)
    job = dataclasses.replace(job, run_dir=work_dir / model / "serve")
    job.run_dir.mkdir(parents=True, exist_ok=True)
    ev = Evaluator(cat, backend=backend, console=console)
    env, model_dir = ev.prepare(job)
    task = Task(job)
    req, payload = ev.backend.job_request(task, env, bench_file(job.bench), model_dir)
    payload.update(bench="", bench_type="chat")
    write_job_file(job.run_dir, payload, task.job_file)
    ev.backend.stage(job.run_dir)
    args = ["serve", "{job_file}", "--host", host, "--port", str(port), "--max-wait-ms", str(max_wait_ms)]
    if token_env:
        args += ["--token-env", token_env]
    if fail_every:
        args += ["--fail-every", str(fail_every)]
    req = ev.backend.worker_call(task, req, args)
    if backend == "docker":
        env_vars = dict(req.env)
        if token_env:
            env_vars[token_env] = os.environ[token_env]  # into the container's environment, never to a file
        req = dataclasses.replace(req, network_mode="host", hostname=None, env=env_vars,
                                  name=serve_container_name(model, port))
    return ev.backend.run_one(req, on_line or (lambda line: None))


def serving_url(line: str) -> Optional[str]:
    """The URL in the worker's 'serving' event, if `line` is one."""
    from vlmrun_worker.events import parse

    ev = parse(line)
    return ev.get("url") if ev and ev.get("event") == "serving" else None


def event_error(line: str) -> Optional[str]:
    from vlmrun_worker.events import parse

    ev = parse(line)
    return str(ev.get("message")) if ev and ev.get("event") == "error" else None

