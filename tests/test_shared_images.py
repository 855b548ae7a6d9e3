"""A batch's repeated images are encoded once (adapters/shared_images.py): the rows of one image are grouped next to
each other, and a Qwen2-VL / Qwen2.5-VL batch that shows an image twice gives the vision tower that image once,
with the same answers as encoding every copy and as batch 1; prepared in prefetch processes, the tensors and the
answers are the same too."""
import base64
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "images" / "worker"))
sys.path.insert(0, str(Path(__file__).parent / "parity"))

from vlmrun_worker.adapters.shared_images import copies_of, firsts  # noqa: E402
from vlmrun_worker.data import Row, group_by_length  # noqa: E402


def _b64(size, color) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_copies_and_firsts():
    copies = copies_of(["a", "b", "a", "c", "b", "a"])
    assert copies == [0, 1, 0, 2, 1, 0]
    assert firsts(copies) == [0, 1, 3]
    assert copies_of([]) == [] and firsts([]) == []


def test_rows_of_one_image_are_next_to_each_other_where_their_shortest_sorts():
    red, blue, small = _b64((300, 200), "red"), _b64((300, 200), "blue"), _b64((50, 50), "green")
    rows = [Row("0", "a much longer question about red", red), Row("1", "short blue?", blue),
            Row("2", "red?", red), Row("3", "a longer question about blue", blue), Row("4", "green", small)]
    order = [r.index for r in group_by_length(rows)]
    # the small image first; then red (its shortest row, 'red?', is shorter than blue's), then blue: each
    # image's rows together, shortest first
    assert order == ["4", "2", "0", "1", "3"]


@pytest.mark.docker
@pytest.mark.parametrize("model", ["tiny-qwen2-vl", "tiny-qwen2.5-vl"])
def test_repeated_images_are_encoded_once_with_the_same_answers(model, tmp_path, docker_client):
    out = _check_in_image(model, "shared_images_check.py", " Please answer yes or no.", tmp_path)
    # grouped by size, each image's rows together: batches of 4 -> [img0 x2, img1 x2], [img2 x3]
    assert out["stats"] == {"images": 7, "encoded": 3}
    assert out["encoded_batch1"] == 3  # at batch 1 each image's later rows reuse the features of its first
    shared_rows, unshared_rows = out["pixel_rows"]
    assert shared_rows * 2 == unshared_rows  # the first batch: 2 images of 4 given to the vision tower
    assert out["shared"] == out["unshared"] == out["batch1"] == out["processes"]
    assert out["same_prepared"] == [True, True]  # prefetch processes prepare exactly what the adapter does
    assert all(len(v) == 8 for v in out["shared"].values())
    assert out["embeds_max_abs_diff"] < 1e-5


@pytest.mark.docker
def test_internvl_tiles_and_encodes_each_image_once_and_batches_only_equal_lengths_on_cpu(tmp_path, docker_client):
    """InternVL (adapters/internvl_tiles.py): an image's tiles are made once and it is encoded once, across rows
    and calls; on the CPU a batch goes to batch_chat in groups of equal prompt length (no padding mask). The
    answers equal those with every row tiled and encoded, those at batch 1, and those of one padded call per batch."""
    # image 0's two questions are as long as each other, image 1's are not; at batch 4: [0, 0, 1, 1], [2, 2, 2]
    out = _check_in_image("tiny-internvl", "internvl_tiles_check.py", "", tmp_path)
    assert out["stats"] == {"images": 7, "encoded": 3}  # each image encoded once, across calls too
    assert out["encoded_batch1"] == 3  # at batch 1 an image's later rows reuse the features of its first
    assert out["calls"] and all(len(set(c)) == 1 for c in out["calls"])  # no batch_chat call pads
    assert any(len(c) == 2 for c in out["calls"])  # image 0's two equal-length questions in one call
    assert out["pixels_fresh"]  # the cached tiles are what pixel_values makes afresh, contiguous as ToTensor's
    assert out["batched"] == out["unshared"] == out["batch1"] == out["padded"]
    assert all(len(v) == 1 + 8 for v in out["batched"].values())  # the start token, 8 new ones (max_new_tokens)
    assert out["embeds_max_abs_diff"] == 0.0


def _check_in_image(model: str, script: str, suffix: str, tmp_path) -> dict:
    """tests/parity/<script> in the model's image on 7 MME rows that repeat images, batch 4: 3 images of different
    sizes (InternVL: 6 tiles + thumbnail, 3 + thumbnail, 1), 2 questions each as in MME (the second row refers to
    the first's image), one image asked 3 times; rows out of order. Returns the script's output."""
    import host
    from cases import image

    from vlmrun.container import model_settings
    from vlmrun.evaluate import Evaluator
    from vlmrun.manifest import Catalogue
    from vlmrun.plan import make_plan

    cat = Catalogue()
    (job,) = make_plan(cat, [model], ["MME-mini"], tmp_path / "plan")
    env, model_dir = Evaluator(cat).prepare(job)
    work = tmp_path / "work"
    work.mkdir()
    sizes = [(120, 90), (64, 200), (150, 150)]
    lines = ["index\timage\tquestion\tanswer\tcategory"]
    asks = [(0, "Is there a cat?"), (1, "Is this red?"), (2, "Is it day?"), (0, "Is there a dog?"),
            (1, "Is this blue? Please answer yes or no."), (2, "Is it night?"), (2, "Is it noon?")]
    first: dict = {}
    for i, (k, q) in enumerate(asks):
        if k in first:
            cell = first[k]
        else:
            cell, first[k] = image(k, sizes[k], fmt="PNG"), str(i)
        lines.append(f"{i}\t{cell}\t{q}{suffix}\tYes\texistence")
    (work / "rows.tsv").write_text("\n".join(lines) + "\n")
    spec = {**model_settings(job), "bench": "MME", "bench_type": "yorn"}
    (work / "cfg.json").write_text(json.dumps({"model_dir": "/model", "spec": spec, "batch_size": 4,
                                               "data": "/work/rows.tsv", "out": "/work/out.json"}))
    proc = host.run_in_image(env.tag, work, [f"/parity/{script}", "/work/cfg.json"], mounts=((model_dir, "/model"),))
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.loads((work / "out.json").read_text())
