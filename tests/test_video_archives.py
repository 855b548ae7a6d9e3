"""`vlmrun data fetch` for a video benchmark's archives, from a local file server (never the network): each zip
downloaded resumably, its CRCs checked, unpacked once and flat into the video root as VLMEvalKit's unzip_hf_zip
does; a second fetch downloads and unpacks nothing; a damaged archive is a one-line error."""
import hashlib
import io
import zipfile

import pytest
import yaml

from .conftest import run_cli
from .fileserver import Files, serve

TSV = ("index\tvideo\tquestion\tanswer\tcandidates\tduration\tdomain\n"
       + "".join(f"{i}\tv{i % 3}\tq{i}?\tA\t['A. x', 'B. y']\tshort\tKnowledge\n" for i in range(6))).encode()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


FILES = {
    "/videos_chunked_01.zip": _zip({"data/v0.mp4": b"\x00" * 300_000, "data/v1.mp4": b"\x01" * 300_000}),
    "/videos_chunked_02.zip": _zip({"v2.mp4": b"\x02" * 1000, "nested/": b""}),
    "/subtitle.zip": _zip({"subtitle/v0.srt": b"1\n00:00:00,000 --> 00:00:01,000\nhello\n"}),
}


@pytest.fixture
def server():
    with serve(FILES) as url:
        yield url


@pytest.fixture
def setup(project_copy, tmp_path, server):
    p = project_copy / "manifests" / "benchmarks" / "Video-MME.yaml"
    data = yaml.safe_load(p.read_text())
    data.update(md5=hashlib.md5(TSV).hexdigest(), rows=6)
    data["videos"]["archives"] = [{"url": f"{server}/videos_chunked_01.zip"}, {"url": f"{server}/videos_chunked_02.zip"},
                                  {"url": f"{server}/subtitle.zip", "into": "subtitle"}]
    p.write_text(yaml.safe_dump(data))
    lmu = tmp_path / "lmu"
    lmu.mkdir()
    (lmu / "Video-MME.tsv").write_bytes(TSV)
    return {"VLMRUN_HOME": str(project_copy), "LMUData": str(lmu)}, lmu / "Video-MME"


def test_archives_resume_unpack_once_and_are_reused(setup):
    env, root = setup
    Files.cut["/videos_chunked_01.zip"] = 200_000
    first = run_cli("data", "fetch", "Video-MME", env=env)
    assert first.returncode != 0 and "run `vlmrun data fetch Video-MME` again to resume" in first.stdout, first.stdout
    assert "Traceback" not in first.stdout
    assert (root / ".archives" / "videos_chunked_01.zip.part").stat().st_size == 200_000

    second = run_cli("data", "fetch", "Video-MME", env=env)
    assert second.returncode == 0, second.stdout
    assert ("/videos_chunked_01.zip", "bytes=200000-") in Files.requests  # resumed, not restarted
    assert sorted(p.name for p in (root / "video").iterdir()) == ["v0.mp4", "v1.mp4", "v2.mp4"]  # flat
    assert (root / "video" / "v1.mp4").read_bytes() == b"\x01" * 300_000
    assert (root / "subtitle" / "v0.srt").read_text().endswith("hello\n")
    assert "3 archive(s) downloaded, 3 unpacked, 0 already unpacked" in second.stdout, second.stdout

    Files.requests = []
    third = run_cli("data", "fetch", "Video-MME", env=env)
    assert third.returncode == 0 and Files.requests == [], (third.stdout, Files.requests)
    assert "0 archive(s) downloaded, 0 unpacked, 3 already unpacked" in third.stdout, third.stdout


def test_a_damaged_archive_is_a_one_line_error_and_not_unpacked(setup):
    env, root = setup
    bad = bytearray(FILES["/videos_chunked_02.zip"])
    bad[bad.index(b"\x02" * 10) + 5] = 0x07  # one byte of a member flipped: its CRC fails
    Files.files["/videos_chunked_02.zip"] = bytes(bad)
    proc = run_cli("data", "fetch", "Video-MME", env=env)
    assert proc.returncode != 0 and "fails its CRC check" in proc.stdout and "Traceback" not in proc.stdout, proc.stdout
    assert not (root / "video" / "v2.mp4").exists()
    assert not (root / ".archives" / "unpacked" / "videos_chunked_02.zip").exists()
