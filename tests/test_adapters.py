"""The adapters' torch-free parts: the inputs VLMEvalKit gives each model (prompts, tiling, pixel bounds)."""
import pytest
from PIL import Image

from vlmrun.manifest import Catalogue
from vlmrun_worker.adapters import internvl_chat, qwen2_vl

from .conftest import cpu_catalogue


@pytest.mark.parametrize("size, max_num, grid", [
    ((160, 120), 6, (3, 2)),    # 4:3 -> closest ratio with at most 6 tiles is 3:2
    ((448, 448), 6, (1, 1)),
    ((1000, 200), 6, (5, 1)),
    ((1792, 896), 6, (2, 1)),   # 4x2 would be 8 tiles
    ((896, 448), 12, (2, 1)),   # exact tie with 4x2: a small image keeps the smaller grid
    ((1792, 896), 12, (4, 2)),  # ... a large one (more than half of 4x2's pixels) takes the larger grid
    ((300, 1200), 6, (1, 4)),
])
def test_internvl_tile_grid_follows_internvl_dynamic_preprocess(size, max_num, grid):
    assert internvl_chat.target_grid(*size, max_num=max_num) == grid


def test_internvl_tiles_plus_thumbnail():
    tiles = internvl_chat.tile_image(Image.new("RGB", (160, 120)), max_num=6)
    assert len(tiles) == 7 and all(t.size == (448, 448) for t in tiles)  # 3x2 tiles + thumbnail
    assert len(internvl_chat.tile_image(Image.new("RGB", (448, 448)), max_num=6)) == 1  # no thumbnail for one tile


def _spec(model, bench):
    """The settings the worker gets for (model, bench): the manifest plus the benchmark's overrides."""
    from vlmrun.container import model_settings
    from vlmrun.plan import make_plan

    (job,) = make_plan(cpu_catalogue(), [model], [bench], "/tmp/unused")  # GPU-only models too
    b = Catalogue().benchmark(bench)
    return {**model_settings(job), "bench": b.name, "bench_type": b.type}


MCQ_ROW = {"A": "a cat", "B": "a dog", "C": None, "hint": "Look at the animal."}  # None: a missing cell


def test_internvl2_prompts_are_vlmevalkits():
    q = "Is there a train in this image? Please answer yes or no."
    spec = _spec("internvl2-2b", "MME")
    assert internvl_chat.build_prompt(q, spec) == (
        "<image>\nIs there a train in this image? Please answer yes or no. "
        "Answer the question using a single word or phrase.")
    assert spec["processor"]["max_num"] == 6 and spec["dtype"] == "bfloat16"
    assert spec["generation"]["do_sample"] is False
    assert internvl_chat.build_prompt("Is it?", _spec("internvl2-2b", "POPE")) == "<image>\nIs it?"
    assert internvl_chat.build_prompt("Is it?", _spec("internvl2-2b", "HallusionBench")) == (
        "<image>\nIs it? Please answer yes or no. Answer the question using a single word or phrase.")
    assert internvl_chat.build_prompt("Which animal?", _spec("internvl2-2b", "MMBench_DEV_EN"), MCQ_ROW) == (
        "<image>\nLook at the animal.\nWhich animal?\nA. a cat\nB. a dog\n"
        "Answer with the option's letter from the given choices directly.")
    assert internvl_chat.build_prompt("哪个?", _spec("internvl2-2b", "MMStar"), {"A": "猫", "B": "狗"}).endswith(
        "\n请直接回答选项字母。")
    ocr = _spec("internvl2-2b", "OCRBench")
    assert internvl_chat.build_prompt("What is written?", ocr) == (
        "<image>\nWhat is written?\nAnswer the question using a single word or phrase.")
    assert ocr["processor"]["max_num"] == 24 and _spec("internvl2-2b", "DocVQA_VAL")["processor"]["max_num"] == 18
    assert internvl_chat.build_prompt("Compare.", _spec("internvl2-2b", "MMMU_DEV_VAL"), {"A": "x"}, 2).startswith(
        "Image-1: <image>\nImage-2: <image>\nCompare.\nA. x")


def test_qwen2_vl_prompts_are_vlmevalkits():
    # the whole message, tokens and pixels are checked against VLMEvalKit's own code in tests/test_parity.py
    text = lambda q, bench, extra=None: qwen2_vl.build_message(q, extra or {}, _spec("qwen2-vl-2b", bench))[-1]  # noqa: E731
    assert text("Is it?", "MME") == "Is it?"
    assert text("Is it?", "POPE") == "Is it? Please answer yes or no."
    assert text("Which animal?", "MMBench_DEV_EN", MCQ_ROW) == (
        "Hint: Look at the animal.\nQuestion: Which animal?\nOptions:\nA. a cat\nB. a dog\n"
        "Please select the correct answer from the options above.")
    assert text("Which animal?", "MMBench_DEV_EN") == "Question: Which animal?"  # no options: no instruction
    assert text("What is written?", "TextVQA_VAL") == (
        "What is written?\nPlease try to answer the question with short words or phrases if possible.")
    assert qwen2_vl.pixel_bounds(_spec("qwen2-vl-2b", "OCRBench")) == (78400, 16384 * 28 * 28)
    msgs = qwen2_vl.build_messages("Compare.", _spec("qwen2-vl-2b", "MMMU_DEV_VAL"), {"A": "x"}, n_images=2)
    assert [c["type"] for c in msgs[0]["content"]] == ["image", "image", "text"]
    # Qwen2.5-VL takes MMMU's default message: images at their <image k> tags
    spec = _spec("qwen2.5-vl-3b", "MMMU_DEV_VAL")
    assert qwen2_vl.image_order("<image 2> or <image 1>?", spec, {"A": "x"}, 2) == [1, 0]


def test_qwen2_vl_resizes_as_qwen_vl_utils_with_vlmevalkits_pixel_bounds():
    spec = _spec("qwen2-vl-2b", "MME")
    assert qwen2_vl.pixel_bounds(spec) == (1280 * 28 * 28, 16384 * 28 * 28)
    assert qwen2_vl.smart_resize(480, 640, *qwen2_vl.pixel_bounds(spec)) == (868, 1176)  # 62 x 84 patches: 1302 tokens
    assert qwen2_vl.resize(Image.new("RGB", (640, 480)), spec).size == (1176, 868)
    q = "Is this photo taken in a place of youth hostel? Please answer yes or no."
    assert qwen2_vl.build_messages(q, spec) == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
    with_system = {**spec, "prompt": {"suffix": "", "system": "Be brief."}}
    assert qwen2_vl.build_messages("q", with_system)[0] == {"role": "system", "content": "Be brief."}
