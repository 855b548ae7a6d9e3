"""`vlmrun models pull --source modelscope`: against a local server speaking ModelScope's file API (never the
network): files listed at a revision, downloaded resumably after a dropped connection, checked by sha256,
found by `eval`'s weight lookup; the token goes out as a cookie and is never written."""
import hashlib
import http.server
import json
import threading
import urllib.parse

import pytest

from .conftest import run_cli

TOKEN = "ms-vlmrunTESTtokenNEVERwritten0123"
FILES = {
    "config.json": b'{"model_type": "qwen2_vl"}',
    "model.safetensors": bytes(range(256)) * 4000,  # ~1 MB
    "sub/tokenizer.json": b'{"version": "1.0"}',
}


class FakeModelScope(http.server.BaseHTTPRequestHandler):
    cut = None  # bytes to send of model.safetensors before dropping the connection, once
    corrupt = False
    seen = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        FakeModelScope.seen.append((url.path, q, self.headers.get("Range"), self.headers.get("Cookie")))
        if url.path == "/api/v1/models/org/tiny-vl/repo/files":
            if q.get("Revision") != ["v1.0"] or q.get("Recursive") != ["True"]:
                return self._json({"Code": 10010205001, "Success": False, "Message": "revision not found"})
            files = [{"Name": "sub", "Path": "sub", "Type": "tree", "Size": 0},
                     {"Name": ".gitattributes", "Path": ".gitattributes", "Type": "blob", "Size": 3}]
            files += [{"Name": p.split("/")[-1], "Path": p, "Type": "blob", "Size": len(b), "IsLFS": False,
                       "Sha256": hashlib.sha256(b).hexdigest(), "Revision": "0f1e2d3c"} for p, b in FILES.items()]
            return self._json({"Code": 200, "Success": True, "Message": "success", "Data": {"Files": files}})
        if url.path == "/api/v1/models/org/tiny-vl/repo":
            body = FILES[q["FilePath"][0]]
            if FakeModelScope.corrupt and q["FilePath"][0] == "model.safetensors":
                body = b"\0" * len(body)
            rng = self.headers.get("Range")
            start = int(rng.split("=")[1].split("-")[0]) if rng else 0
            self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if FakeModelScope.cut and q["FilePath"][0] == "model.safetensors":
                self.wfile.write(body[start:start + FakeModelScope.cut])
                FakeModelScope.cut = None
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(body[start:])
            return
        self.send_response(404)
        self.end_headers()

    def _json(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def modelscope(project_copy, tmp_path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeModelScope)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    FakeModelScope.seen, FakeModelScope.cut, FakeModelScope.corrupt = [], None, False
    (project_copy / "manifests" / "models" / "ms-tiny.yaml").write_text(
        "name: ms-tiny\nfamily: transformers-latest\nadapter: qwen2_vl\n"
        "source: {hub: org/tiny-vl, revision: 0123456789abcdef0123456789abcdef01234567, modelscope: org/tiny-vl, "
        "modelscope_revision: v1.0}\n")
    env = {"VLMRUN_HOME": str(project_copy), "VLMRUN_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf"),
           "MODELSCOPE_DOMAIN": f"http://127.0.0.1:{srv.server_address[1]}", "MODELSCOPE_API_TOKEN": TOKEN}
    yield env
    srv.shutdown()


def test_pull_resumes_checks_sha256_and_eval_finds_the_snapshot(modelscope, tmp_path, project_copy):
    from vlmrun.manifest import Catalogue
    from vlmrun.weights import hub_snapshot

    env = modelscope
    FakeModelScope.cut = 300_000
    first = run_cli("models", "pull", "ms-tiny", "--source", "modelscope", env=env)
    assert first.returncode == 2, first.stdout
    assert "broke off" in first.stdout or "bytes arrived" in first.stdout
    assert "run the same command again to resume" in first.stdout.replace("\n", " ")
    assert "Traceback" not in first.stdout
    second = run_cli("models", "pull", "ms-tiny", "--source", "modelscope", env=env)
    assert second.returncode == 0, second.stdout
    snap = tmp_path / "cache" / "modelscope" / "org" / "tiny-vl" / "v1.0"
    for path, body in FILES.items():
        assert (snap / path).read_bytes() == body
    assert not (snap / ".gitattributes").exists() and not list(snap.rglob("*.part"))
    ranges = [r for p, q, r, c in FakeModelScope.seen if q.get("FilePath") == ["model.safetensors"]]
    assert ranges[0] is None and ranges[-1].startswith("bytes=") and int(ranges[-1][6:].rstrip("-")) >= 300_000
    # the token travelled as ModelScope's session cookie, and is written nowhere
    assert all(c == f"m_session_id={TOKEN}" for *_, c in FakeModelScope.seen)
    for f in (tmp_path / "cache").rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes(), f
    # a third pull downloads nothing; eval's weight lookup finds the ModelScope snapshot (no HF snapshot there)
    n = len(FakeModelScope.seen)
    assert run_cli("models", "pull", "ms-tiny", "--source", "modelscope", env=env).returncode == 0
    assert [p for p, *_ in FakeModelScope.seen[n:]] == ["/api/v1/models/org/tiny-vl/repo/files"]
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, env):
        assert hub_snapshot(Catalogue(project_copy).model("ms-tiny")) == snap


def test_a_corrupt_file_is_removed_and_the_error_says_what_to_do(modelscope):
    FakeModelScope.corrupt = True
    out = run_cli("models", "pull", "ms-tiny", "--source", "modelscope", env=modelscope)
    assert out.returncode == 2 and "sha256 differs" in out.stdout and "Traceback" not in out.stdout


def test_unknown_revision_and_model_without_modelscope_repo_are_one_line(modelscope, project_copy):
    p = project_copy / "manifests" / "models" / "ms-tiny.yaml"
    p.write_text(p.read_text().replace("modelscope_revision: v1.0", "modelscope_revision: v9"))
    out = run_cli("models", "pull", "ms-tiny", "--source", "modelscope", env=modelscope)
    assert out.returncode == 2 and "ModelScope refused org/tiny-vl@v9: revision not found" in out.stdout
    out = run_cli("models", "pull", "idefics2-8b", "--source", "modelscope", env=modelscope)
    assert out.returncode == 2 and "names no ModelScope repo" in out.stdout
