"""`vlmrun inspect`: what a model is given for one row, through the real image (weights not loaded)."""
import json

import pytest

from vlmrun.manifest import Catalogue

from .conftest import run_cli

pytestmark = pytest.mark.docker


def test_inspect_shows_prompt_image_tokens_and_generation(tmp_path, docker_client):
    proc = run_cli("inspect", "tiny-qwen2-vl", "--bench", "MME-mini", "--row", "3", "--json", "--work-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:]
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert out["index"] == "3" and out["images_in_row"] == [[160, 120]]
    assert out["prompt"].startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert out["prompt"].endswith("Please answer yes or no.<|im_end|>\n<|im_start|>assistant\n")
    # 160x120 under the manifest's min 4*28*28 / max 64*28*28: 168x112 after resizing, 6x4 merged patches
    assert out["images_after_preprocessing"] == [[168, 112]] and out["image_tokens"] == [24]
    assert f"<|image_pad|> x {out['image_tokens'][0]}" in out["prompt"]
    gen = Catalogue().model("tiny-qwen2-vl").generation.kwargs()
    assert out["generate_kwargs"] == gen
    assert {k: out["effective_generation"][k] for k in gen} == gen
    assert out["reference"].startswith("vlmevalkit e8e78f05")


def test_inspect_internvl_shows_tiles(tmp_path, docker_client):
    proc = run_cli("inspect", "tiny-internvl", "--bench", "MME-mini", "--json", "--work-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:]
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert out["prompt"] == ("<image>\nIs there a train in this image? Please answer yes or no. "
                             "Answer the question using a single word or phrase.")
    assert out["tiles"] == [7] and out["pixel_values"] == [7, 3, 448, 448]  # 3x2 tiles + thumbnail
    assert out["generate_kwargs"] == Catalogue().model("tiny-internvl").generation.kwargs()


def test_inspect_unknown_row_is_one_line(tmp_path, docker_client):
    proc = run_cli("inspect", "tiny-qwen2-vl", "--bench", "MME-mini", "--row", "nope", "--work-dir", str(tmp_path))
    assert proc.returncode != 0
    assert "no row with index 'nope' in MME-mini" in proc.stdout and "Traceback" not in proc.stdout


def test_inspect_shows_the_remote_code_test_models(tmp_path, docker_client):
    """Qwen-VL-Chat's chat() query (its image file named), Phi-3-Vision's negative image ids shown as runs, GLM-4V's
    max_length-only generation."""
    def inspect(model):
        proc = run_cli("inspect", model, "--bench", "MME-mini", "--json", "--work-dir", str(tmp_path))
        assert proc.returncode == 0, proc.stdout[-2000:]
        return json.loads(proc.stdout[proc.stdout.index("{"):])

    qwen = inspect("tiny-qwen-vl-chat")
    assert qwen["prompt"].startswith("Picture 1: <img>FILE</img>\n") and qwen["history"] is None
    assert qwen["generate_kwargs"] == {"max_new_tokens": 8} and qwen["effective_generation"]["top_p"] == 0.3
    phi = inspect("tiny-phi-3.5-vision")
    assert phi["prompt"].startswith("<s><|user|>\n<|image_1|> x 757 <s>\n") and phi["image_tokens"] == [757]
    assert phi["pixel_values"] == [1, 5, 3, 336, 336]  # num_crops 4: the global view and 4 crops
    glm = inspect("tiny-glm-4v")
    assert glm["prompt"].endswith("\nShort Answer.<|assistant|>")


@pytest.mark.parametrize("model, prompt_end", [
    ("tiny-idefics2", "\nGive a very brief answer.<end_of_utterance>\nAssistant:"),
    ("tiny-mantis", "<end_of_utterance>\nAssistant:"),
    ("tiny-llama-vision", "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("tiny-kosmos-2", "Please answer yes or no.Answer:"),  # the wrapper writes no space before Answer
])
def test_inspect_shows_each_familys_prompt_and_image_tokens(tmp_path, docker_client, model, prompt_end):
    """The image tokens are counted whatever the processor's image token is (Idefics2 in transformers 4.40 keeps an
    AddedToken)."""
    proc = run_cli("inspect", model, "--bench", "MME-mini", "--row", "3", "--json", "--work-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:]
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert out["prompt"].endswith(prompt_end) and out["prompt_tokens"] > 0
    assert out["generate_kwargs"]["max_new_tokens"] == Catalogue().model(model).generation.max_new_tokens
    if model in ("tiny-idefics2", "tiny-mantis"):
        assert out["image_tokens"] == [8]  # the tiny Idefics2's 8 perceiver latents
