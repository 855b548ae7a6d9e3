"""`vlmrun serve` for a tiny model of every family (transformers 4.33, 4.37, 4.40, 4.48, latest): each answers an
image request and a text-only one (what a judge sends) through its own container, and stops cleanly."""
import base64
import io
import json
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from PIL import Image

from .conftest import VLMRUN

pytestmark = pytest.mark.docker
MODELS = ["tiny-idefics", "tiny-internvl", "tiny-llava", "tiny-idefics2", "tiny-llava-next", "tiny-qwen2.5-vl"]


def _post(port, content):
    body = json.dumps({"messages": [{"role": "user", "content": content}], "max_tokens": 4}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["choices"][0]["message"]["content"]


@pytest.mark.parametrize("model", MODELS)
def test_every_family_serves_image_and_text_requests(model, tmp_path, docker_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*VLMRUN, "serve", model, "--port", str(port), "--work-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 900
        while True:
            assert proc.poll() is None, proc.stdout.read()[-2000:]
            assert time.monotonic() < deadline, "no /health in time"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        assert isinstance(_post(port, [{"type": "image_url", "image_url": {"url": url}},
                                       {"type": "text", "text": "What colour is it?"}]), str)
        assert isinstance(_post(port, "Answer with one letter: A or B?"), str)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert not docker_client.containers.list(filters={"name": f"vlmrun-serve-{model.replace('.', '-')}-{port}"})
