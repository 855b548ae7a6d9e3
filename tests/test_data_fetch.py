"""`vlmrun data fetch`: md5-checked, resumable downloads into $LMUData, from a local file server (never the
network); files already in $LMUData are reused; a bad download is a one-line error and is not used."""
import hashlib
import http.server
import threading

import pytest
import yaml

from .conftest import run_cli

PAYLOAD = ("index\tquestion\tanswer\n" + "".join(f"{i}\tq{i}?\tYes\n" for i in range(20000))).encode()


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD, honouring Range requests; `cut` makes the first response stop early (a dropped link)."""
    cut = None
    requests = []

    def do_GET(self):
        rng = self.headers.get("Range")
        RangeHandler.requests.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        body = PAYLOAD[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if RangeHandler.cut is not None:
            self.wfile.write(body[:RangeHandler.cut])
            RangeHandler.cut = None
            self.wfile.flush()
            self.connection.shutdown(2)  # drop the connection mid-body
            return
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    RangeHandler.requests = []
    yield f"http://127.0.0.1:{srv.server_address[1]}/MME.tsv"
    srv.shutdown()


def _point_mme_at(project_copy, url, md5):
    p = project_copy / "manifests" / "benchmarks" / "MME.yaml"
    data = yaml.safe_load(p.read_text())
    data.update(url=url, md5=md5, rows=20000)
    p.write_text(yaml.safe_dump(data))


def test_fetch_resumes_after_a_dropped_connection_and_checks_md5(project_copy, tmp_path, server):
    _point_mme_at(project_copy, server, hashlib.md5(PAYLOAD).hexdigest())
    env = {"VLMRUN_HOME": str(project_copy), "LMUData": str(tmp_path / "lmu")}
    RangeHandler.cut = 100_000
    first = run_cli("data", "fetch", "MME", env=env)
    assert first.returncode == 2 and "run `vlmrun data fetch MME` again to resume" in first.stdout
    part = tmp_path / "lmu" / "MME.tsv.part"
    assert part.stat().st_size == 100_000 and not (tmp_path / "lmu" / "MME.tsv").exists()
    second = run_cli("data", "fetch", "MME", env=env)
    assert second.returncode == 0, second.stdout
    assert RangeHandler.requests[-1] == "bytes=100000-"  # resumed, not restarted
    assert (tmp_path / "lmu" / "MME.tsv").read_bytes() == PAYLOAD and not part.exists()
    third = run_cli("data", "fetch", "MME", env=env)
    assert third.returncode == 0 and "already in" in third.stdout
    assert len(RangeHandler.requests) == 2  # reused: nothing downloaded again


def test_wrong_md5_is_one_line_and_the_file_is_not_used(project_copy, tmp_path, server):
    _point_mme_at(project_copy, server, "0" * 32)
    env = {"VLMRUN_HOME": str(project_copy), "LMUData": str(tmp_path / "lmu")}
    out = run_cli("data", "fetch", "MME", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stdout
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("error: the download (kept as ") and "expects 00000000000000000000000000000000" in line
    assert not (tmp_path / "lmu" / "MME.tsv").exists()
    assert (tmp_path / "lmu" / "MME.tsv.bad").exists()


def test_existing_lmudata_file_is_reused_without_network(project_copy, tmp_path):
    lmu = tmp_path / "lmu"
    lmu.mkdir()
    (lmu / "MME.tsv").write_bytes(PAYLOAD)
    _point_mme_at(project_copy, "http://127.0.0.1:9/unreachable", hashlib.md5(PAYLOAD).hexdigest())
    out = run_cli("data", "fetch", "MME", env={"VLMRUN_HOME": str(project_copy), "LMUData": str(lmu)})
    assert out.returncode == 0 and "already in" in out.stdout
