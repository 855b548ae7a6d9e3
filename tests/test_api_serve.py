"""API models against a real server: `vlmrun serve tiny-qwen2-vl` (its container, on the host's loopback, with a
bearer token and every 4th request failing with 503) and `vlmrun eval` of an API model manifest pointing at it on
MME-mini: every row answered through the retries; a second run in another work dir sends no request (the request
cache); a run that gives up keeps what it finished and the rerun asks only for the rest."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import VLMRUN, run_cli

pytestmark = pytest.mark.docker
TOKEN = "vlmrun-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_client):
    port = _free_port()
    work = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "VLMRUN_TEST_TOKEN": TOKEN, "COLUMNS": "200"}
    proc = subprocess.Popen([*VLMRUN, "serve", "tiny-qwen2-vl", "--port", str(port), "--token-env", "VLMRUN_TEST_TOKEN",
                             "--fail-every", "4", "--batch-size", "8", "--work-dir", str(work)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 900  # the image may be built first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"vlmrun serve exited {proc.returncode}: {proc.stdout.read()[-2000:]}")
        try:
            _get(port, "/health", TOKEN)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("vlmrun serve did not answer /health in time")
    yield port
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the container is removed
    proc.wait(timeout=60)


def _get(port, path, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _api_project(project_copy, port, retries=5):
    (project_copy / "manifests" / "models" / "served-api.yaml").write_text(f"""name: served-api
description: tiny-qwen2-vl behind vlmrun serve, as an API model (test)
adapter: openai_api
source:
  api:
    base_url: http://127.0.0.1:{port}/v1
    model: tiny-qwen2-vl
    key_env: VLMRUN_TEST_TOKEN
    img_size: 512
    max_tokens: 16
    retries: {retries}
    retry_wait_s: 0.05
""")
    return project_copy


def _eval(project, work, cache, *extra):
    env = {"VLMRUN_HOME": str(project), "VLMRUN_CACHE": str(cache), "VLMRUN_TEST_TOKEN": TOKEN}
    return run_cli("eval", "served-api", "--bench", "MME-mini", "--api-threads", "8", "--work-dir", str(work),
                   *extra, env=env)


def _times(work):
    return json.loads((work / "served-api" / "MME-mini" / "provenance.json").read_text())["run"]["times"]


def _predictions(work):
    from vlmrun_worker.shards import read_records

    return {i: r["prediction"] for i, r in read_records(work / "served-api" / "MME-mini" / "shards").items()}


def test_api_eval_against_the_served_model_retries_and_caches(server, project_copy, tmp_path):
    project, cache = _api_project(project_copy, server), tmp_path / "cache"
    out = _eval(project, tmp_path / "run1", cache)
    assert out.returncode == 0, out.stdout[-3000:]
    first = _times(tmp_path / "run1")
    assert first["api_retries"] >= 1 and first["api_requests"] == 56 + first["api_retries"], first
    assert first["api_cache_hits"] == 0
    preds = _predictions(tmp_path / "run1")
    assert len(preds) == 56 and all(isinstance(p, str) for p in preds.values())
    prov = json.loads((tmp_path / "run1" / "served-api" / "MME-mini" / "provenance.json").read_text())
    assert prov["backend"] == "api" and prov["model"]["api"]["base_url"].endswith(f":{server}/v1")
    assert TOKEN not in json.dumps(prov) and TOKEN not in (tmp_path / "run1" / "served-api" / "MME-mini" / "job.json").read_text()

    out = _eval(project, tmp_path / "run2", cache)  # another work dir, the same request cache
    assert out.returncode == 0, out.stdout[-3000:]
    second = _times(tmp_path / "run2")
    assert second["api_requests"] == 0 and second["api_cache_hits"] == 56, second
    assert _predictions(tmp_path / "run2") == preds


def test_an_api_run_that_gives_up_keeps_its_answers_and_resumes(server, project_copy, tmp_path):
    cache = tmp_path / "cache"
    out = _eval(_api_project(project_copy, server, retries=0), tmp_path / "w", cache)
    assert out.returncode == 1 and "HTTP 503" in out.stdout and "Traceback" not in out.stdout, out.stdout[-2000:]
    kept = _predictions(tmp_path / "w")
    assert len(kept) < 56
    out = _eval(_api_project(project_copy, server, retries=5), tmp_path / "w", cache)
    assert out.returncode == 0, out.stdout[-3000:]
    final, t = _predictions(tmp_path / "w"), _times(tmp_path / "w")
    assert len(final) == 56 and all(final[i] == p for i, p in kept.items())
    # the rerun asked only for the rows without a prediction: each answered by the cache (in flight when the first
    # run stopped) or by one successful request
    assert t["api_requests"] - t["api_retries"] + t["api_cache_hits"] == 56 - len(kept), t


def test_the_server_wants_its_token_and_speaks_openai(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        _get(server, "/v1/models")
    assert e.value.code == 401
    assert _get(server, "/v1/models", TOKEN)["data"][0]["id"] == "tiny-qwen2-vl"


def test_a_malformed_request_is_a_400_and_the_server_goes_on(server):
    def post(body):
        req = urllib.request.Request(f"http://127.0.0.1:{server}/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    for bad in ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": [3]}, ["not", "an", "object"],
                {"messages": "hi"}):
        with pytest.raises(urllib.error.HTTPError) as e:
            post(bad)
        assert e.value.code in (400, 503), bad  # 503: the server's own injected failure (--fail-every 4)
    for _ in range(3):  # the model thread is still serving (one of these may meet the injected 503)
        try:
            assert isinstance(post({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
                              ["choices"][0]["message"]["content"], str)
            break
        except urllib.error.HTTPError as e:
            assert e.code == 503


def test_a_port_in_use_is_one_line(server):
    out = run_cli("serve", "tiny-qwen2-vl", "--port", str(server))
    assert out.returncode == 2 and "Address already in use" in out.stdout and "Traceback" not in out.stdout, out.stdout


def test_serving_beyond_loopback_needs_a_token():
    out = run_cli("serve", "tiny-qwen2-vl", "--host", "0.0.0.0")
    assert out.returncode == 2 and "--token-env" in out.stdout and "Traceback" not in out.stdout, out.stdout
