"""The worker's torch-free pieces: prediction shards (resume, torn lines) and TSV rows."""
import json

import pytest

from vlmrun.datasets import bench_file, md5_file
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun_worker.data import load_images, read_rows
from vlmrun_worker.events import emit, parse
from vlmrun_worker.shards import ShardWriter, my_share, read_records

from .conftest import ROOT


def test_torn_line_from_a_killed_writer_is_skipped_and_not_glued_to_the_next(tmp_path):
    with ShardWriter(tmp_path, 0) as w:
        w.write({"index": "1", "prediction": "Yes"})
    with open(tmp_path / "rank0.jsonl", "a") as f:
        f.write('{"index": "2", "predic')  # SIGKILL mid-write
    assert set(read_records(tmp_path)) == {"1"}
    with ShardWriter(tmp_path, 0) as w:
        w.write({"index": "2", "prediction": "No"})
    recs = read_records(tmp_path)
    assert recs["2"]["prediction"] == "No" and set(recs) == {"1", "2"}


def test_resume_with_another_world_size_redoes_only_what_is_missing(tmp_path):
    indices = [str(i) for i in range(10)]
    # first run: 2 ranks, killed after 3 samples each
    for rank in (0, 1):
        with ShardWriter(tmp_path, rank) as w:
            for i in my_share(indices, set(), rank, 2)[:3]:
                w.write({"index": i, "prediction": "x"})
    done = set(read_records(tmp_path))
    assert len(done) == 6
    # second run: 3 ranks share exactly the 4 missing rows
    shares = [my_share(indices, done, r, 3) for r in range(3)]
    flat = sorted(i for s in shares for i in s)
    assert flat == sorted(set(indices) - done)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_ranks_share_by_image_and_resume_by_image():
    indices = [str(i) for i in range(12)]
    groups = [i // 2 for i in range(12)]  # MME: two questions per image
    shares = [my_share(indices, set(), r, 2, groups) for r in range(2)]
    assert shares == [["0", "1", "4", "5", "8", "9"], ["2", "3", "6", "7", "10", "11"]]
    done = {"0", "1", "2", "4"}  # a killed run; the next one has 3 ranks
    shares = [my_share(indices, done, r, 3, groups) for r in range(3)]
    assert sorted(i for s in shares for i in s) == sorted(set(indices) - done)
    for s in shares:  # an image's unfinished rows on one rank
        assert all(str(k ^ 1) in s or str(k ^ 1) in done for k in map(int, s))


def test_events_round_trip(capsys):
    emit("progress", rank=1, n=4)
    line = capsys.readouterr().out.strip()
    assert parse(line) == {"event": "progress", "rank": 1, "n": 4}
    assert parse("plain log line") is None


def test_bundled_mini_rows_resolve_shared_images():
    rows = read_rows(str(ROOT / "data" / "MME-mini.tsv"))
    assert len(rows) == 56
    assert rows[0].image_b64 == rows[1].image_b64  # the second row of an image refers to the first
    img = load_images(rows[1])
    assert img.mode == "RGB" and img.size == (160, 120)
    assert rows[1].image_names == [rows[1].image_path] and rows[1].image_path.endswith(".jpg")
    assert rows[0].extra["category"] == "existence"


def test_an_image_shown_again_is_decoded_once_and_each_row_gets_its_own_copy(monkeypatch):
    from vlmrun_worker import data

    rows = read_rows(str(ROOT / "data" / "MME-mini.tsv"))
    data._RECENT.clear()
    decoded = []
    real = data._round_trip
    monkeypatch.setattr(data, "_round_trip", lambda b64, fmt: decoded.append(fmt) or real(b64, fmt))
    a, b = load_images(rows[0]), load_images(rows[1])  # the same image, each row through a .jpg file name
    assert decoded == ["JPEG"]
    assert a is not b and a.tobytes() == b.tobytes()
    b.paste((0, 0, 0), (0, 0, 10, 10))  # what one row's copy goes through leaves the next row's alone
    assert load_images(rows[1]).tobytes() == a.tobytes()
    # the same base64 under a .png name is another round trip (JPEG re-encodes, PNG does not)
    png = data.load_image(rows[0].image_b64, "x.png")
    assert decoded == ["JPEG", "PNG"] and png.tobytes() != a.tobytes()
    for r in rows[2:2 + 2 * data.RECENT_MAX:2]:  # other images push it out, the last RECENT_MAX stay
        load_images(r)
    assert len(data._RECENT) == data.RECENT_MAX and (rows[0].image_b64, "JPEG") not in data._RECENT


def test_dangling_image_reference_is_an_error(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("index\timage\tquestion\n0\t7\tq?\n")
    with pytest.raises(ValueError, match="refers to image of row '7'"):
        read_rows(str(p))


def test_data_file_md5_is_checked(tmp_path, monkeypatch):
    cat = Catalogue()
    mini = cat.benchmark("MME-mini")
    assert md5_file(bench_file(mini)) == mini.md5
    monkeypatch.setenv("LMUData", str(tmp_path))
    with pytest.raises(VlmrunError, match=r"data file for MME not found: run `vlmrun data fetch MME` \(downloads https://.*MME.tsv, md5 b36b"):
        bench_file(cat.benchmark("MME"))
    (tmp_path / "MME.tsv").write_text("index\timage\n")
    with pytest.raises(VlmrunError, match="has md5 .* expects b36b43c3f09801f5d368627fb92187c3: .* it was not used"):
        bench_file(cat.benchmark("MME"))


def test_host_and_worker_skip_the_same_rows_without_an_image(tmp_path):
    """VLMEvalKit drops rows whose image is a missing value; the host must not wait for their predictions."""
    from vlmrun.datasets import bench_rows

    p = tmp_path / "x.tsv"
    big = "A" * 80
    p.write_text("index\timage\tquestion\n1\t" + big + "\tq1\n2\t\tq2\n3\tNA\tq3\n4\t1\tq4\n5\tNone\tq5\n")
    assert [r["index"] for r in bench_rows(p)] == [r.index for r in read_rows(str(p))] == ["1", "4"]
