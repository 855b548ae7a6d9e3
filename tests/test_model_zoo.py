"""The real-model catalogue: every real model's settings checked against what VLMEvalKit gives it.

Sources (open-compass/VLMEvalKit): vlmeval/config.py (model entries and their kwargs), vlmeval/vlm/qwen2_vl/
(model.py generation defaults, prompt.py custom prompts), vlmeval/vlm/internvl/internvl_chat.py (set_max_num,
prompts, kwargs_default of the 4.37-era class), vlmeval/vlm/idefics.py (IDEFICS, IDEFICS2), vlmeval/vlm/llava/
llava.py (LLaVA, LLaVA_Next), vlmeval/dataset/image_mcq.py, image_yorn.py, image_vqa.py (default prompts for
models without a custom prompt), README.md (the transformers version per model series).
"""
import re

import pytest

from vlmrun.manifest import Catalogue
from vlmrun.errors import VlmrunError
from vlmrun.plan import make_plan
from vlmrun_worker.adapters import idefics, idefics2, internvl_chat, kosmos2, llava_hf, mllama, qwen2_vl, qwen_vl

from .test_adapters import MCQ_ROW, _spec

CAT = Catalogue()
REAL = sorted(n for n, m in CAT.models.items() if m.source.hub)

# model -> (family, adapter, hub repo, dtype, max_new_tokens): config.py + each class's kwargs_default;
# family from VLMEvalKit's README table (IDEFICS 4.33, LLaVA/InternVL 4.37, IDEFICS2 4.40, Qwen2-VL latest).
EXPECTED = {
    "idefics-9b-instruct": ("transformers-4.33", "idefics", "HuggingFaceM4/idefics-9b-instruct", "bfloat16", 512),
    "idefics-80b-instruct": ("transformers-4.33", "idefics", "HuggingFaceM4/idefics-80b-instruct", "bfloat16", 512),
    "instructblip-vicuna-7b": ("transformers-4.33", "instructblip", "Salesforce/instructblip-vicuna-7b", "float16",
                               256),
    "internvl2-1b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2-1B", "bfloat16", 4096),
    "internvl2-2b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2-2B", "bfloat16", 4096),
    "internvl2-4b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2-4B", "bfloat16", 4096),
    "internvl2-8b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2-8B", "bfloat16", 4096),
    "internvl2-26b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2-26B", "bfloat16", 4096),
    "internvl2-40b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2-40B", "bfloat16", 4096),
    "internvl2.5-1b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2_5-1B", "bfloat16", 4096),
    "internvl2.5-2b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2_5-2B", "bfloat16", 4096),
    "internvl2.5-4b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2_5-4B", "bfloat16", 4096),
    "internvl2.5-8b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2_5-8B", "bfloat16", 4096),
    "internvl2.5-26b": ("transformers-4.37", "internvl_chat", "OpenGVLab/InternVL2_5-26B", "bfloat16", 4096),
    "llava-1.5-7b": ("transformers-4.37", "llava_hf", "llava-hf/llava-1.5-7b-hf", "float16", 2048),
    "llava-1.5-13b": ("transformers-4.37", "llava_hf", "llava-hf/llava-1.5-13b-hf", "float16", 2048),
    "llava-onevision-0.5b": ("transformers-latest", "llava_hf", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf", "float16",
                             2048),
    "llava-onevision-7b": ("transformers-latest", "llava_hf", "llava-hf/llava-onevision-qwen2-7b-ov-hf", "float16", 2048),
    "idefics2-8b": ("transformers-4.40", "idefics2", "HuggingFaceM4/idefics2-8b", "bfloat16", 1024),
    "mantis-8b-idefics2": ("transformers-4.40", "mantis", "TIGER-Lab/Mantis-8B-Idefics2", "float16", 1024),
    "idefics3-8b": ("transformers-latest", "idefics2", "HuggingFaceM4/Idefics3-8B-Llama3", "bfloat16", 1024),
    "paligemma-3b-mix-448": ("transformers-latest", "paligemma", "google/paligemma-3b-mix-448", "bfloat16", 512),
    "paligemma2-3b-mix-448": ("transformers-latest", "paligemma", "google/paligemma2-3b-mix-448", "bfloat16", 512),
    "paligemma2-10b-mix-448": ("transformers-latest", "paligemma", "google/paligemma2-10b-mix-448", "bfloat16", 512),
    "llava-next-mistral-7b": ("transformers-4.48", "llava_hf", "llava-hf/llava-v1.6-mistral-7b-hf", "float16", 2048),
    "llava-next-vicuna-7b": ("transformers-4.48", "llava_hf", "llava-hf/llava-v1.6-vicuna-7b-hf", "float16", 2048),
    "llava-next-vicuna-13b": ("transformers-4.48", "llava_hf", "llava-hf/llava-v1.6-vicuna-13b-hf", "float16", 2048),
    "llama-3.2-11b-vision": ("transformers-latest", "mllama", "meta-llama/Llama-3.2-11B-Vision-Instruct", "bfloat16",
                             512),
    "llama-3.2-90b-vision": ("transformers-latest", "mllama", "meta-llama/Llama-3.2-90B-Vision-Instruct", "bfloat16",
                             512),
    "chameleon-7b": ("transformers-latest", "chameleon", "facebook/chameleon-7b", "bfloat16", 2048),
    "kosmos-2": ("transformers-latest", "kosmos2", "microsoft/kosmos-2-patch14-224", "float16", 512),
    "video-llava-7b": ("transformers-latest", "video_llava", "LanguageBind/Video-LLaVA-7B-hf", "float16", 1024),
    "glm-4v-9b": ("transformers-4.48", "glm4v", "THUDM/glm-4v-9b", "bfloat16", 64),
    "minicpm-llama3-v2.5": ("transformers-4.40", "minicpm_v", "openbmb/MiniCPM-Llama3-V-2_5", "float16", 1024),
    "minicpm-v-2.6": ("transformers-4.40", "minicpm_v", "openbmb/MiniCPM-V-2_6", "bfloat16", 2048),
    "phi-3-vision": ("transformers-4.40", "phi3_vision", "microsoft/Phi-3-vision-128k-instruct", "bfloat16", 2048),
    "phi-3.5-vision": ("transformers-4.48", "phi3_vision", "microsoft/Phi-3.5-vision-instruct", "bfloat16", 2048),
    "qwen-vl": ("transformers-4.33", "qwen_vl_base", "Qwen/Qwen-VL", "bfloat16", 512),
    "qwen-vl-chat": ("transformers-4.33", "qwen_vl", "Qwen/Qwen-VL-Chat", "bfloat16", 512),
    "qwen2-vl-2b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2-VL-2B-Instruct", "bfloat16", 2048),
    "qwen2-vl-7b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2-VL-7B-Instruct", "bfloat16", 2048),
    "qwen2-vl-72b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2-VL-72B-Instruct", "bfloat16", 2048),
    "qwen2.5-vl-32b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2.5-VL-32B-Instruct", "bfloat16", 2048),
    "qwen2.5-vl-72b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2.5-VL-72B-Instruct", "bfloat16", 2048),
    "qwen2.5-vl-3b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2.5-VL-3B-Instruct", "bfloat16", 2048),
    "qwen2.5-vl-7b": ("transformers-latest", "qwen2_vl", "Qwen/Qwen2.5-VL-7B-Instruct", "bfloat16", 2048),
}


def test_at_least_ten_real_models_in_every_family():
    assert set(REAL) == set(EXPECTED)
    per_family = {}
    for n in REAL:
        per_family.setdefault(CAT.model(n).family, []).append(n)
    assert sorted(per_family) == ["transformers-4.33", "transformers-4.37", "transformers-4.40", "transformers-4.48",
                                  "transformers-latest"]
    assert len(REAL) >= 10
    # transformers-4.48 holds LLaVA-NeXT (moved from 4.40: VLMEvalKit's wrapper for it runs only from 4.4x on) and
    # Phi-3.5-Vision (its model card pins 4.43) and GLM-4V (its remote code breaks from 4.49 on)
    assert all(n.startswith("llava-next-") or n in ("phi-3.5-vision", "glm-4v-9b") for n in per_family["transformers-4.48"])
    assert len(per_family["transformers-4.37"]) >= 2


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_family_adapter_repo_dtype_and_generation(name):
    m = CAT.model(name)
    assert (m.family, m.adapter, m.source.hub, m.dtype, m.generation.max_new_tokens) == EXPECTED[name]
    # the generate() arguments VLMEvalKit's wrapper passes: Qwen2VLChat samples with top_k=1 (one candidate:
    # deterministic), the others decode greedily; tests/test_parity.py compares them with the wrapper's own
    if m.adapter == "qwen2_vl":
        assert m.generation.kwargs() == {"max_new_tokens": 2048, "do_sample": True, "top_k": 1, "top_p": 0.001,
                                         "temperature": 0.01, "repetition_penalty": 1.0}
    elif m.adapter == "mllama":  # llama_vision: an Instruct checkpoint samples; max_new_tokens set per benchmark
        assert m.generation.kwargs() == {"max_new_tokens": 512, "do_sample": True, "temperature": 0.6, "top_p": 0.9}
        assert m.processor == {"per_benchmark_tokens": True} and m.prompt.variant in name.upper()
    elif m.adapter == "instructblip":  # LAVIS blip2_vicuna_instruct.generate's defaults
        assert m.generation.kwargs() == {"max_new_tokens": 256, "min_new_tokens": 1, "num_beams": 5, "do_sample": False,
                                         "top_p": 0.9, "temperature": 1.0, "repetition_penalty": 1.5,
                                         "length_penalty": 1.0}
    elif m.adapter == "minicpm_v":  # sampling=False, num_beams=3; 2.6: 2048 new tokens, 2.5: 200 / 3 / 1024 by type
        assert m.generation.kwargs() == {"max_new_tokens": 2048 if "2.6" in name else 1024, "do_sample": False,
                                         "num_beams": 3}
    elif m.adapter == "glm4v":  # GLM4v's gen_kwargs: max_length (the prompt included), greedy; no max_new_tokens
        assert m.generation.kwargs() == {"max_length": 2048, "do_sample": False} and m.needs_gpu
    elif m.adapter == "phi3_vision":  # Phi3Vision / Phi3_5Vision's generation_args
        assert m.generation.kwargs() == {"max_new_tokens": 2048, "temperature": 0.0, "do_sample": False}
        assert m.needs_gpu and (m.processor, m.prompt.variant) == (
            ({"num_crops": 4}, "3.5") if "3.5" in name else ({}, None))
    elif m.adapter == "qwen_vl_base":  # QwenVL's default_kwargs (pad and end set by the adapter)
        assert m.generation.kwargs() == {"max_new_tokens": 512, "do_sample": False, "num_beams": 1, "min_new_tokens": 1,
                                         "use_cache": True} and m.needs_gpu
    elif m.adapter == "qwen_vl":  # QwenVLChat passes chat() nothing: the checkpoint's generation_config decides
        assert m.generation.kwargs() == {"max_new_tokens": 512} and m.needs_gpu
    else:
        assert m.generation.do_sample is False
    assert m.reference.startswith("vlmevalkit e8e78f05 (")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_revisions_are_pinned_commits(name):
    rev = CAT.model(name).source.revision
    if name in ("idefics-9b-instruct", "chameleon-7b"):
        pytest.xfail(f"no public record of a {name} commit id was found; the manifest says so")
    assert re.fullmatch(r"[0-9a-f]{40}", rev), rev


def test_qwen_pixel_bounds_and_prompt_style():
    for n in ("qwen2-vl-2b", "qwen2-vl-7b", "qwen2.5-vl-3b", "qwen2.5-vl-7b"):
        p = CAT.model(n).processor
        assert (p["min_pixels"], p["max_pixels"]) == (1280 * 28 * 28, 16384 * 28 * 28)  # config.py
        assert qwen2_vl.pixel_bounds(_spec(n, "OCRBench"))[0] == 10 * 10 * 28 * 28  # model.py, OCRBench
    # Qwen2-VL: Qwen2VLPromptMixin (use_custom_prompt defaults True); Qwen2.5-VL: use_custom_prompt=False
    assert CAT.model("qwen2-vl-7b").prompt.style == "model"
    assert CAT.model("qwen2.5-vl-7b").prompt.style == CAT.model("qwen2.5-vl-3b").prompt.style == "dataset"
    text = lambda n, q, bench, extra=None: qwen2_vl.build_message(q, extra or {}, _spec(n, bench))[-1]  # noqa: E731
    assert text("qwen2-vl-7b", "Is it?", "POPE") == "Is it? Please answer yes or no."
    assert text("qwen2.5-vl-7b", "Is it?", "POPE") == "Is it?"
    assert text("qwen2.5-vl-7b", "Which animal?", "MMBench_DEV_EN", MCQ_ROW) == (
        "Hint: Look at the animal.\nQuestion: Which animal?\nOptions:\nA. a cat\nB. a dog\n"
        "Please select the correct answer from the options above. \n")
    assert text("qwen2.5-vl-3b", "What is written?", "TextVQA_VAL") == (
        "What is written?\nAnswer the question using a single word or phrase.")
    assert text("qwen2.5-vl-3b", "What is written?", "OCRBench") == "What is written?"  # ImageBaseDataset


def test_qwen_vl_chat_list_format_and_gpu_only():
    spec = lambda bench: _spec("qwen-vl-chat", bench)  # noqa: E731
    assert qwen_vl.vl_list("Is it?", {}, spec("MME"), ["/tmp/1.png"]) == [{"image": "/tmp/1.png"}, {"text": "Is it?"}]
    assert qwen_vl.vl_list("Which animal?", MCQ_ROW, spec("MMStar"), ["/tmp/1.png"])[1] == {"text": (
        "Hint: Look at the animal.\nQuestion: Which animal?\nOptions:\nA. a cat\nB. a dog\n"
        "Please select the correct answer from the options above. \n")}
    # MMMU: split at its '<image k>' tags, an image shown twice named twice
    assert qwen_vl.vl_list("<image 1> or <image 2>, <image 1>?", {}, spec("MMMU_DEV_VAL"), ["/a.png", "/b.png"]) == [
        {"text": "Question: "}, {"image": "/a.png"}, {"text": " or "}, {"image": "/b.png"}, {"text": ", "},
        {"image": "/a.png"}, {"text": "?\n"}]
    with pytest.raises(VlmrunError, match="runs on GPUs only: its remote code imports torchvision"):
        make_plan(CAT, ["qwen-vl-chat"], ["MME"], "/tmp/unused")


def test_phi3_vision_user_turns():
    from vlmrun_worker.adapters import phi3_vision

    one = phi3_vision.user_content("<image 1> or <image 2>?", {}, _spec("phi-3-vision", "MMMU_DEV_VAL"), 2)
    assert one == ("<|image_1|>\nQuestion: \n or \n?\n", [0])  # texts joined, the first image only
    both = phi3_vision.user_content("<image 1> or <image 2>?", {}, _spec("phi-3.5-vision", "MMMU_DEV_VAL"), 2)
    assert both == ("<|image_1|>\n<|image_2|>\nQuestion: \n or \n?\n", [0, 1])  # every image shown
    assert phi3_vision.user_content("Is it?", {}, _spec("phi-3.5-vision", "MME"), 1) == ("<|image_1|>\nIs it?", [0])


def test_qwen_vl_base_prompt_and_tokens():
    from vlmrun_worker.adapters import qwen_vl_base as Q

    assert Q.prompt("Is it?", {}, _spec("qwen-vl", "MME"), ["/a.png"]) == "<img>/a.png</img>Is it?"
    assert Q.prompt("What?", {}, _spec("qwen-vl", "OCRBench"), ["/a.png"]) == "<img>/a.png</img>What? Answer:"
    got = {b: Q.max_new_tokens(_spec("qwen-vl", b), 512) for b in ("MME", "MMStar", "OCRBench", "TextVQA_VAL",
                                                                       "DocVQA_VAL", "ChartQA_TEST", "MMVet")}
    assert got == {"MME": 32, "MMStar": 32, "OCRBench": 512, "TextVQA_VAL": 10, "DocVQA_VAL": 100,
                   "ChartQA_TEST": 100, "MMVet": 512}


def test_minicpm_v_prompts():
    from vlmrun_worker.adapters import minicpm_v as M

    sp = lambda b: _spec("minicpm-v-2.6", b)  # noqa: E731
    assert M.system_and_prompt("Is it?", {}, sp("MME")) == ("", "Is it?")
    assert M.system_and_prompt("What?", {}, sp("TextVQA_VAL")) == (M.VQA_PROMPT, "What?")
    assert M.system_and_prompt("What?", {}, sp("MMVet")) == ("Answer this question in detail.", "What?")
    assert M.system_and_prompt("Which animal?", MCQ_ROW, sp("MMStar")) == ("", (
        "Hint: Look at the animal.\nQuestion: Which animal?\nOptions:\nA. a cat\nB. a dog\n"
        "\nAnswer with the option's letter from the given choices directly."))
    assert M.system_and_prompt("Which?", {}, sp("MMStar")) == (M.WO_OPTIONS_SYSTEM, "Question: Which?\n")
    # chain of thought: MMMU, HallusionBench, OCRBench, ChartQA
    assert M.system_and_prompt("Which animal?", MCQ_ROW, sp("MMMU_DEV_VAL")) == ("", M.MCQ_COT + (
        "Hint: Look at the animal.\nWhich animal?\nA. a cat\nB. a dog\n"))
    assert M.system_and_prompt("Is it?", {}, sp("HallusionBench")) == ("", M.SHORT_COT + "Is it?")


def test_minicpm_v_upscales_small_images_per_row_reproducibly():
    import random

    from PIL import Image

    from vlmrun_worker.adapters import minicpm_v as M
    from vlmrun_worker.run import Sample

    s = Sample("7", "Which animal?", Image.new("RGB", (200, 100)), MCQ_ROW)
    a, b = M.content(s, _spec("minicpm-v-2.6", "MMStar")), M.content(s, _spec("minicpm-v-2.6", "MMStar"))
    assert a[0].size == b[0].size and 200 <= a[0].width <= int(200 * (1344 * 1344 / 20000) ** 0.5)
    assert a[0].height == int(a[0].width / 200 * 100)
    assert M.content(s, _spec("minicpm-v-2.6", "MME"))[0].size == (200, 100)  # MME: as it is
    big = Sample("8", "Is it?", Image.new("RGB", (1400, 1400)))
    assert M.upsized(big.image, random.Random(0)).size == (1400, 1400)


def test_minicpm_llama3_v_prompts():
    from vlmrun_worker.adapters import minicpm_v as M

    sp = lambda b: _spec("minicpm-llama3-v2.5", b)  # noqa: E731
    assert M.system_and_prompt_v25("Is it?", {}, sp("MME")) is None  # Y/N: the benchmark's own prompt
    assert M.system_and_prompt_v25("Is it?", {}, sp("HallusionBench")) == ("", "Is it? Yes or No?")
    assert M.system_and_prompt_v25("Which animal?", MCQ_ROW, sp("MMStar")) == (M.V25_OPTIONS_SYSTEM, (
        "Hint: Look at the animal.\nQuestion: Which animal?\nOptions:\nA. a cat\nB. a dog\n"))
    assert M.system_and_prompt_v25("Which?", {}, sp("MMMU_DEV_VAL")) == ("", M.WO_OPTIONS_SYSTEM + "\nQuestion: Which?\n")
    assert M.system_and_prompt_v25("What?", {}, sp("OCRBench")) == (M.VQA_PROMPT, "What?")
    assert [M.v25_new_tokens(sp(b)) for b in ("MME", "MMStar", "TextVQA_VAL")] == [3, 200, 1024]


def test_glm4v_prompt():
    from vlmrun_worker.adapters import glm4v

    assert glm4v.prompt_and_index("Is it?", {}, _spec("glm-4v-9b", "MME"), 1) == ("Is it?\nShort Answer.", 0)
    assert glm4v.prompt_and_index("What is written?", {}, _spec("glm-4v-9b", "OCRBench"), 1) == ("What is written?", 0)
    text, first = glm4v.prompt_and_index("Which animal?", MCQ_ROW, _spec("glm-4v-9b", "MMStar"), 1)
    assert text.endswith("Please select the correct answer from the options above. \n\nShort Answer.") and first == 0


def test_internvl_sizes_share_the_tiling_rule():
    # set_max_num looks at the benchmark only: 6 by default, 12 ChartQA/MMMU, 18 DocVQA, 24 OCRBench
    for n in ("internvl2-1b", "internvl2-2b", "internvl2-4b", "internvl2-8b"):
        assert CAT.model(n).source.trust_remote_code
        got = {b: _spec(n, b)["processor"]["max_num"] for b in ("MME", "ChartQA_TEST", "MMMU_DEV_VAL", "DocVQA_VAL",
                                                               "OCRBench")}
        assert got == {"MME": 6, "ChartQA_TEST": 12, "MMMU_DEV_VAL": 12, "DocVQA_VAL": 18, "OCRBench": 24}
        assert internvl_chat.build_prompt("Is it?", _spec(n, "MME")) == (
            "<image>\nIs it? Answer the question using a single word or phrase.")


def test_idefics_prompt_list():
    for n in ("idefics-9b-instruct", "idefics-80b-instruct"):
        img = object()
        assert idefics.build_prompt("Is it?", [img], _spec(n, "MME")) == [
            "Users:", img, "Is it?", "<end_of_utterance>", "\nAssistant: "]
        mcq = idefics.build_prompt("Which animal?", [img], _spec(n, "MMStar"), MCQ_ROW)
        assert mcq[2].startswith("Hint: Look at the animal.\nQuestion: Which animal?\nOptions:\nA. a cat\n")


def test_idefics2_prompt_strings():
    s = lambda bench, q="Is it?", extra=None: idefics2.build_prompt(q, _spec("idefics2-8b", bench), extra)  # noqa: E731
    assert s("MME") == "User:<image>Is it?\nGive a very brief answer.<end_of_utterance>\nAssistant:"
    assert s("HallusionBench") == "User:<image>Is it?\nAnswer yes or no.<end_of_utterance>\nAssistant:"
    assert s("POPE") == "User:<image>Is it?<end_of_utterance>\nAssistant:"
    assert s("TextVQA_VAL", "What?") == (
        "User:<image>What?\nAnswer the question using a single word or phrase.\nGive a very brief answer."
        "<end_of_utterance>\nAssistant:")
    assert s("MMBench_DEV_EN", "Which animal?", MCQ_ROW) == (
        "User:<image>Question: Which animal?\nHint: Look at the animal.\nChoices:\nA. a cat\nB. a dog\n"
        "Answer with a letter.<end_of_utterance>\nAssistant: Answer:")
    assert s("MMStar", "Which animal?", MCQ_ROW).endswith("Answer with the letter.<end_of_utterance>\nAssistant: Answer:")


def test_llava_prompts():
    spec = _spec("llava-1.5-7b", "MME")
    assert llava_hf.build_prompt("Is it?", {}, spec) == (
        "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the human's questions. USER:  <image> Is it? ASSISTANT: ")
    assert spec["processor"]["pad_to_square"] is True  # image_aspect_ratio='pad'
    assert llava_hf.build_text("Which animal?", MCQ_ROW, _spec("llava-1.5-7b", "MMBench_DEV_EN")) == (
        "Look at the animal.\nWhich animal?\nA. a cat\nB. a dog\n"
        "Answer with the option's letter from the given choices directly.")
    assert llava_hf.build_prompt("Is it?", {}, _spec("llava-next-mistral-7b", "POPE")) == "[INST] <image>\nIs it? [/INST]"


def test_llava_pad_to_square_centres_on_the_mean_colour():
    from PIL import Image

    out = llava_hf.pad_to_square(Image.new("RGB", (40, 20), (255, 0, 0)), (122, 116, 104))
    assert out.size == (40, 40)
    assert out.getpixel((0, 0)) == (122, 116, 104) and out.getpixel((20, 20)) == (255, 0, 0)


def test_kosmos2_prompt_strings():
    p = lambda bench, q="Is it?", extra=None: kosmos2.prompt_and_image(q, extra, _spec("kosmos-2", bench), 1)  # noqa: E731
    assert p("MME") == ("<grounding> Question: Is it?Answer: ", 0)
    assert p("MMVet") == ("<grounding> Question: Is it?\nAnswer the question directly. Answer: ", 0)
    assert p("MMStar", "Which animal?", MCQ_ROW) == (
        "<grounding> Question: Hint: Look at the animal.\nWhich animal?\nA. a cat\nB. a dog\n\nAnswer with the "
        "option’s letter from the given choices directly. Answer: ", 0)


def test_llama_vision_prompts_and_tokens():
    spec = lambda n, bench: _spec(n, bench)  # noqa: E731
    msg = mllama.message("Which animal?", MCQ_ROW, spec("llama-3.2-11b-vision", "AI2D_TEST"), 1)
    assert msg[0].startswith("Look at the scientific diagram carefully and answer the following question: Which "
                             "animal?\nA. a cat\nB. a dog\nThink step by step") and msg[1] == ("image", 0)
    msg = mllama.message("Which animal?", MCQ_ROW, spec("llama-3.2-90b-vision", "AI2D_TEST"), 1)
    assert msg[0].endswith("B. a dog\nRespond only with the correct option digit.")
    assert mllama.message("Is it?", {}, spec("llama-3.2-11b-vision", "MME"), 1) == [("image", 0), "Is it?"]
    tokens = {b: mllama.max_new_tokens(spec("llama-3.2-11b-vision", b)) for b in
              ("MME", "MMBench_DEV_EN", "AI2D_TEST", "MMMU_DEV_VAL", "ChartQA_TEST", "DocVQA_VAL", "TextVQA_VAL")}
    assert tokens == {"MME": 128, "MMBench_DEV_EN": 128, "AI2D_TEST": 400, "MMMU_DEV_VAL": 2048, "ChartQA_TEST": 512,
                      "DocVQA_VAL": 512, "TextVQA_VAL": 512}
