"""The adapters' torch-free parts: the inputs VLMEvalKit gives each model (prompts, tiling, pixel bounds)."""
import pytest
from PIL import Image

from vlmrun.manifest import Catalogue
from vlmrun_worker.adapters import internvl_chat, qwen2_vl


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


def test_internvl2_prompt_is_vlmevalkits_for_yes_no_benchmarks():
    spec = Catalogue().model("internvl2-2b").model_dump(mode="json")
    q = "Is there a train in this image? Please answer yes or no."
    assert internvl_chat.build_prompt(q, spec) == (
        "<image>\nIs there a train in this image? Please answer yes or no. "
        "Answer the question using a single word or phrase.")
    assert spec["processor"]["max_num"] == 6 and spec["dtype"] == "bfloat16"
    assert spec["generation"]["do_sample"] is False


def test_qwen2_vl_gets_the_raw_question_and_vlmevalkits_pixel_bounds():
    spec = Catalogue().model("qwen2-vl-2b").model_dump(mode="json")
    q = "Is this photo taken in a place of youth hostel? Please answer yes or no."
    assert qwen2_vl.build_messages(q, spec) == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
    assert qwen2_vl.pixel_bounds(spec, (4, 49)) == {"min_pixels": 1280 * 28 * 28, "max_pixels": 16384 * 28 * 28}
    assert qwen2_vl.pixel_bounds(spec, (5, 24)) == {
        "size": {"shortest_edge": 1280 * 28 * 28, "longest_edge": 16384 * 28 * 28}}
    with_system = {**spec, "prompt": {"suffix": "", "system": "Be brief."}}
    assert qwen2_vl.build_messages("q", with_system)[0] == {"role": "system",
                                                           "content": [{"type": "text", "text": "Be brief."}]}
