"""`vlmrun data fetch`: md5-checked, resumable downloads into $LMUData, from a local file server (never the
network); files already in $LMUData are reused; a bad download is a one-line error and is not used."""
import hashlib

import pytest
import yaml

from .conftest import run_cli
from .fileserver import Files, serve

PAYLOAD = ("index\tquestion\tanswer\n" + "".join(f"{i}\tq{i}?\tYes\n" for i in range(20000))).encode()


@pytest.fixture
def server():
    with serve({"*": PAYLOAD}) as url:
        yield f"{url}/MME.tsv"


def _point_mme_at(project_copy, url, md5):
    p = project_copy / "manifests" / "benchmarks" / "MME.yaml"
    data = yaml.safe_load(p.read_text())
    data.update(url=url, md5=md5, rows=20000)
    p.write_text(yaml.safe_dump(data))


def test_fetch_resumes_after_a_dropped_connection_and_checks_md5(project_copy, tmp_path, server):
    _point_mme_at(project_copy, server, hashlib.md5(PAYLOAD).hexdigest())
    env = {"VLMRUN_HOME": str(project_copy), "LMUData": str(tmp_path / "lmu")}
    Files.cut["/MME.tsv"] = 100_000
    first = run_cli("data", "fetch", "MME", env=env)
    assert first.returncode == 2 and "run `vlmrun data fetch MME` again to resume" in first.stdout
    part = tmp_path / "lmu" / "MME.tsv.part"
    assert part.stat().st_size == 100_000 and not (tmp_path / "lmu" / "MME.tsv").exists()
    second = run_cli("data", "fetch", "MME", env=env)
    assert second.returncode == 0, second.stdout
    assert Files.requests[-1] == ("/MME.tsv", "bytes=100000-")  # resumed, not restarted
    assert (tmp_path / "lmu" / "MME.tsv").read_bytes() == PAYLOAD and not part.exists()
    third = run_cli("data", "fetch", "MME", env=env)
    assert third.returncode == 0 and "already in" in third.stdout
    assert len(Files.requests) == 2  # reused: nothing downloaded again


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
