"""VLMEvalKit's wrapper and vlmrun's adapter for one model, built side by side, and the comparison of what
each hands to the model for one row (see oracle.py). Only what needs a GPU is patched: VLMEvalKit loads with
device_map/flash-attention and moves inputs to 'cuda'; here both load on the CPU with sdpa."""
from __future__ import annotations

import importlib


def _cpu_loading(cls, attn: str = "sdpa"):
    """cls.from_pretrained without device_map and flash-attention (the weights and dtype stay as asked)."""
    orig = cls.from_pretrained.__func__

    def from_pretrained(c, path, *a, **kw):
        kw.pop("device_map", None)
        for key in ("attn_implementation", "_attn_implementation"):
            if kw.get(key) == "flash_attention_2":
                kw[key] = attn
        return orig(c, path, *a, **kw)

    cls.from_pretrained = classmethod(from_pretrained)


def _vision2seq():
    """AutoModelForVision2Seq, which VLMEvalKit's IDEFICS2 and Mantis import: in transformers 5, its new name
    AutoModelForImageTextToText under the old one, set on the module in sys.modules too (once a lazy attribute has
    been read, that is no longer the object `import transformers` returned, and `from transformers import` reads it)."""
    import sys

    import transformers

    if hasattr(transformers, "AutoModelForVision2Seq"):  # transformers 4: the class itself
        return transformers.AutoModelForVision2Seq
    cls = transformers.AutoModelForImageTextToText
    for module in {id(m): m for m in (transformers, sys.modules["transformers"])}.values():
        module.AutoModelForVision2Seq = cls
    return cls


def _inputs_stay_on_cpu():
    import transformers

    orig = transformers.BatchFeature.to

    def to(self, *a, **kw):  # 'cuda' or torch.device('cuda') (Kosmos2), or device='cuda' (Chameleon)
        if str(kw.get("device")) == "cuda":
            kw["device"] = "cpu"
        return orig(self, *("cpu" if str(x) == "cuda" else x for x in a), **kw)

    transformers.BatchFeature.to = to


def build(cfg: dict):
    kind = cfg["wrapper"]
    if kind == "Qwen2VLChat":
        return _build_qwen(cfg)
    if kind == "InternVLChat":
        return _build_internvl(cfg)
    if kind in ("IDEFICS", "IDEFICS2"):
        return _build_idefics(cfg, kind)
    if kind == "LLaVA_Next":
        return _build_llava_next(cfg)
    if kind == "LLaVA_OneVision_HF":
        return _build_llava_onevision(cfg)
    if kind == "PaliGemma":
        return _build_moved_to_cuda(cfg, "PaliGemmaForConditionalGeneration", "vlmeval.vlm.gemma")
    if kind == "Kosmos2":
        return _build_kosmos2(cfg)
    if kind == "llama_vision":
        return _build_llama_vision(cfg)
    if kind == "Mantis":
        return _build_mantis(cfg)
    if kind == "Chameleon":
        return _build_moved_to_cuda(cfg, "ChameleonForConditionalGeneration", "vlmeval.vlm.chameleon")
    if kind == "QwenVLChat":
        return _build_qwen_vl_chat(cfg)
    if kind == "QwenVL":
        return _build_qwen_vl_base(cfg)
    if kind in ("Phi3Vision", "Phi3_5Vision"):
        return _build_phi3(cfg, kind)
    if kind == "GLM4v":
        return _build_glm4v(cfg)
    if kind in ("MiniCPM_V_2_6", "MiniCPM_Llama3_V"):
        return _build_minicpm(cfg, kind)
    if kind == "LLaVA":  # haotian-liu's original llava package against the llava-hf conversion
        return importlib.import_module("llava_original").build(cfg)
    if kind == "GPT4V":  # an API model: the request VLMEvalKit's OpenAIWrapper would send
        return _build_api(cfg)
    raise SystemExit(f"no parity wrapper for {kind}")


def on_bench(adapter, spec):
    """The benchmark's settings, as the worker would build the adapter for this job (the arguments the adapter
    adds itself, e.g. IDEFICS's stop and banned tokens, stay)."""
    if hasattr(adapter, "gen"):
        adapter.gen = {**adapter.gen, **importlib.import_module("vlmrun_worker.adapters.base").generation_kwargs(spec)}


def _adapter(cfg):
    from vlmrun_worker.adapters import load_adapter

    adapter = load_adapter(cfg["adapter"], cfg["model_dir"], dict(cfg["spec"]), "cpu")
    adapter.model_dir = cfg["model_dir"]
    return adapter


def _record_calls(cfg, wrapper, adapter):
    """Both models replaced by a recorder of their generate()/chat() call, unless the check generates."""
    if not cfg.get("generate"):
        from vlmrun_worker.inspect_row import Recorder

        wrapper.model, adapter.model = Recorder(), Recorder()


def _build_qwen(cfg):
    import transformers
    from vlmeval.vlm.qwen2_vl import model as M

    M.get_gpu_memory = lambda: [80 * 1024]
    for name in ("Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration"):
        _cpu_loading(getattr(transformers, name))
    _inputs_stay_on_cpu()
    wrapper = M.Qwen2VLChat(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    # every copy of a repeated image handed to the model as VLMEvalKit hands it (an MMMU row can show one image
    # twice): the recorder stands in for the model, so the vision tower's shared encoding of repeats
    # (adapters/shared_images.py) cannot expand them here; tests/test_shared_images.py shows that sharing gives
    # the language model the same inputs and the same answers
    from vlmrun_worker.adapters.shared_images import ProcessOnce

    ProcessOnce.ENABLED = False
    adapter = None if cfg.get("wrapper_only") else _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_idefics(cfg, kind):
    import transformers
    from vlmeval.vlm import idefics as M

    if kind == "IDEFICS":
        _cpu_loading(transformers.IdeficsForVisionText2Text)
    elif hasattr(transformers, "AutoModelForVision2Seq"):  # Idefics2 in transformers 4.40 has no sdpa
        _cpu_loading(transformers.AutoModelForVision2Seq, attn="eager")
    else:  # transformers 5 (Idefics3) renamed the auto class that IDEFICS2 imports
        _cpu_loading(_vision2seq())
    _inputs_stay_on_cpu()
    wrapper = getattr(M, kind)(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_llava_next(cfg):
    """VLMEvalKit's LLaVA_Next (vlmeval/vlm/llava/llava.py): fp16 weights, `model.cuda()`, and inputs moved with
    `.to('cuda', torch.float16)`; here the weights load on the CPU and `.cuda()` keeps them there."""
    import sys

    import transformers
    from vlmeval.vlm.llava import llava as M

    sys.modules["flash_attn"] = None  # not installed (a GPU package): `import flash_attn` fails as it would here
    _cpu_loading(transformers.LlavaNextForConditionalGeneration)
    transformers.LlavaNextForConditionalGeneration.cuda = lambda self, *a, **kw: self
    _inputs_stay_on_cpu()
    wrapper = M.LLaVA_Next(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_llava_onevision(cfg):
    """VLMEvalKit's LLaVA_OneVision_HF (vlmeval/vlm/llava/llava.py): fp16 weights moved with `.to('cuda')`, inputs
    with `.to('cuda', torch.float16)`; here both stay on the CPU."""
    import transformers
    from vlmeval.vlm.llava import llava as M

    cls = transformers.LlavaOnevisionForConditionalGeneration
    move = cls.to
    cls.to = lambda self, *a, **kw: self if a[:1] == ("cuda",) else move(self, *a, **kw)
    _inputs_stay_on_cpu()
    wrapper = M.LLaVA_OneVision_HF(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_moved_to_cuda(cfg, cls_name, module):
    """A wrapper that loads its model (with device_map='auto': PaliGemma), moves it with `.cuda()` and its inputs
    with `.to('cuda')` / `.to(device='cuda', ...)` (PaliGemma, Chameleon): here the weights load on the CPU and
    stay there."""
    import transformers

    cls = getattr(transformers, cls_name)
    _cpu_loading(cls)
    cls.cuda = lambda self, *a, **kw: self
    _inputs_stay_on_cpu()
    wrapper = getattr(importlib.import_module(module), cfg["wrapper"])(model_path=cfg["model_dir"],
                                                                       **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_kosmos2(cfg):
    """VLMEvalKit's Kosmos2 (vlmeval/vlm/kosmos.py): fp16 weights and inputs moved with `.to(torch.device('cuda'))`;
    here both stay on the CPU."""
    import transformers
    from vlmeval.vlm import kosmos as M

    cls = transformers.Kosmos2ForConditionalGeneration
    move = cls.to
    cls.to = lambda self, *a, **kw: self if a and str(a[0]) == "cuda" else move(self, *a, **kw)
    _inputs_stay_on_cpu()
    wrapper = M.Kosmos2(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_llama_vision(cfg):
    """VLMEvalKit's llama_vision (vlmeval/vlm/llama_vision.py): bf16 weights with device_map='auto', inputs moved
    to 'cuda'; here both stay on the CPU. It tells the 11B and 90B prompts apart by the model path, so the tiny
    model's folder carries the checkpoint's name."""
    import transformers
    from vlmeval.vlm import llama_vision as M

    _cpu_loading(transformers.MllamaForConditionalGeneration)
    _inputs_stay_on_cpu()
    wrapper = M.llama_vision(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_mantis(cfg):
    """VLMEvalKit's Mantis (vlmeval/vlm/mantis.py) on an Idefics2 checkpoint (its `_is_idefics` branch, chosen by
    'idefics' in the model path: the tiny model's folder carries the checkpoint's name). Its __init__ imports the
    mantis package's LLaVA and Fuyu classes, which that branch never uses: stand-ins here (the package is not on
    PyPI); AutoModelForVision2Seq is transformers 5's AutoModelForImageTextToText; fp16 weights loaded with
    device_map='cuda' and moved with `.cuda()` stay on the CPU."""
    import sys
    import types

    import transformers
    from vlmeval.vlm import mantis as M

    for name, attrs in {"mantis": (), "mantis.models": (), "mantis.models.conversation": ("conv_mllava_v1", "conv_templates"),
                        "mantis.models.mfuyu": ("MFuyuForCausalLM", "MFuyuProcessor"),
                        "mantis.models.mllava": ("LlavaForConditionalGeneration", "MLlavaProcessor")}.items():
        module = sys.modules.setdefault(name, types.ModuleType(name))
        for attr in attrs:
            setattr(module, attr, None)
    transformers.Idefics2ForConditionalGeneration.cuda = lambda self, *a, **kw: self
    _cpu_loading(_vision2seq())
    wrapper = M.Mantis(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


class _ApiRequest:
    """vlmrun's side of an API model: the request adapters/openai_api.py builds (no weights, no container)."""

    def __init__(self, spec):
        self.spec = spec

    def generate(self, samples):
        from vlmrun_worker.adapters.openai_api import payload

        self.last = payload(samples[0], self.spec)
        return [""]


def _build_api(cfg):
    from vlmeval.api.gpt import OpenAIWrapper

    # nothing is sent: the key and base are placeholders, the request is compared before it would be posted
    wrapper = OpenAIWrapper(key="unused", api_base="http://127.0.0.1:9/v1/chat/completions", **cfg["wrapper_args"])
    return wrapper, _ApiRequest(dict(cfg["spec"]))


def _compare_api(wrapper, adapter, struct, sample, name):
    theirs = wrapper.prepare_inputs(wrapper.preproc_content(struct))
    adapter.generate([sample])
    ours = adapter.last
    same_messages = theirs == ours["messages"]
    images = [p["image_url"]["url"] for m in ours["messages"] if isinstance(m["content"], list)
              for p in m["content"] if p.get("type") == "image_url"]
    return {"checks": {"messages (texts, image bytes)": same_messages,
                       "temperature, max_tokens": (wrapper.temperature, wrapper.max_tokens) ==
                       (ours["temperature"], ours["max_tokens"])},
            "images": len(images), "image_b64_chars": [len(u) for u in images],
            "differs": {} if same_messages else {"messages": [repr(theirs)[:600], repr(ours["messages"])[:600]]}}


def _build_internvl(cfg):
    import torch
    import transformers
    from vlmeval.vlm.internvl import internvl_chat as M

    _cpu_loading(transformers.AutoModel)
    wrapper = M.InternVLChat(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    wrapper.device = "cpu"
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    if cfg.get("tiles_recorded"):
        # This image has no torchvision (no CPU build of it matches the family's CPU torch), which
        # VLMEvalKit's load_image needs: record its arguments here; the tiles themselves are compared with
        # VLMEvalKit's load_image in the transformers-latest image (check 'internvl tiles').
        wrapper.tile_calls = []

        def load_image(image_file, input_size=448, max_num=6, upscale=False):
            from PIL import Image
            from vlmrun_worker.adapters.internvl_chat import pixel_values

            wrapper.tile_calls.append({"file": image_file, "max_num": max_num, "upscale": upscale})
            return pixel_values(Image.open(image_file), max_num, torch.float32, upscale=upscale)

        M.load_image = load_image
    return wrapper, adapter


def _effective(model_dir, kwargs):
    """The generation settings generate() ends up with: the checkpoint's generation_config, updated (as `vlmrun
    inspect` shows them)."""
    from vlmrun_worker.inspect_row import effective_generation

    return effective_generation(model_dir, kwargs)


def _same_pixels(theirs, ours) -> bool:
    """Pixel tensors equal as the model receives them: where one side already casts to the model's half
    precision (VLMEvalKit's LLaVA_Next: `.to('cuda', torch.float16)`) and the other leaves the cast to the model's
    vision tower, the other is compared after that same cast."""
    import torch
    from oracle import same

    if isinstance(theirs, torch.Tensor) and isinstance(ours, torch.Tensor) and theirs.dtype != ours.dtype \
            and theirs.dtype in (torch.float16, torch.bfloat16):
        ours = ours.to(theirs.dtype)
    return same(theirs, ours)


def compare(wrapper, adapter, struct, sample, name):
    from oracle import describe, same

    if isinstance(getattr(wrapper.model, "chat", None), _MsgsSpy):
        return _compare_minicpm(wrapper, adapter, struct, sample, name)
    if isinstance(getattr(wrapper.model, "chat", None), _ChatSpy):
        return _compare_qwen_chat(wrapper, adapter, struct, sample, name)
    if isinstance(getattr(wrapper.model, "generate", None), _GenerateSpy):
        return _compare_qwen_base(wrapper, adapter, struct, sample, name)
    if hasattr(wrapper, "original_dir"):
        return importlib.import_module("llava_original").compare(wrapper, adapter, struct, sample, name)
    if isinstance(adapter, _ApiRequest):
        return _compare_api(wrapper, adapter, struct, sample, name)
    wrapper.model.calls.clear()
    adapter.model.calls.clear()
    if hasattr(wrapper, "tile_calls"):
        wrapper.tile_calls.clear()
    theirs = wrapper.generate(message=struct, dataset=name)
    ours = adapter.generate([sample])[0]
    a, b = wrapper.model.calls[-1], adapter.model.calls[-1]
    if "question" in a:  # InternVL chat()
        return _compare_chat(wrapper, adapter, a, b, sample)
    import torch

    # token_type_ids: where the adapter drops them, only the tiny models' byte-level test tokenizer returns them
    # (the real ones do not) and VLMEvalKit passes them on; where the adapter passes them (PaliGemma: they mark
    # the prefix the model attends to both ways) they are compared
    types = (a.get("token_type_ids"), b.get("token_type_ids")) if "token_type_ids" in b else None
    ta = {k: v for k, v in a.items() if isinstance(v, torch.Tensor) and k != "token_type_ids"}
    tb = {k: v for k, v in b.items() if isinstance(v, torch.Tensor) and k != "token_type_ids"}
    a = {k: v for k, v in a.items() if k != "token_type_ids"}
    b = {k: v for k, v in b.items() if k != "token_type_ids"}
    ga = {k: v for k, v in a.items() if k not in ta}
    gb = {k: v for k, v in b.items() if k not in tb}
    tok = adapter.processor.tokenizer if hasattr(adapter, "processor") else adapter.tokenizer  # GLM4v: a tokenizer
    grid = tb.get("image_grid_thw")
    checks = {
        "prompt tokens": same(ta.get("input_ids"), tb.get("input_ids")),
        "attention mask": same(ta.get("attention_mask"), tb.get("attention_mask")),
        "image pixels": _same_pixels(ta.get("pixel_values"), tb.get("pixel_values")),
        "generate kwargs": same(ga, gb),
        "effective generation": _effective(adapter.model_dir, ga) == _effective(adapter.model_dir, gb),
        "answer decoding": theirs == ours,
    }
    named = {"input_ids", "attention_mask", "pixel_values", "image_grid_thw", "image_attention_mask", "image_sizes",
             "pixel_attention_mask", "image_embeds_position_mask"}
    others = sorted((set(ta) | set(tb)) - named)  # e.g. Mllama's cross_attention_mask, aspect_ratio_ids / _mask
    if others:
        checks["other input tensors"] = all(same(ta.get(k), tb.get(k)) for k in others)
    if "image_embeds_position_mask" in ta or "image_embeds_position_mask" in tb:  # Kosmos-2
        checks["image embeds position mask"] = same(ta.get("image_embeds_position_mask"),
                                                    tb.get("image_embeds_position_mask"))
    if types is not None:  # PaliGemma
        checks["token type ids"] = same(*types)
    if "image_grid_thw" in ta or "image_grid_thw" in tb:  # Qwen
        checks["image grid"] = same(ta.get("image_grid_thw"), tb.get("image_grid_thw"))
    if "image_attention_mask" in ta or "image_attention_mask" in tb:  # IDEFICS
        checks["image attention mask"] = same(ta.get("image_attention_mask"), tb.get("image_attention_mask"))
    if "image_sizes" in ta or "image_sizes" in tb:  # LLaVA-NeXT
        checks["image sizes"] = same(ta.get("image_sizes"), tb.get("image_sizes"))
    if "pixel_attention_mask" in ta or "pixel_attention_mask" in tb:  # Idefics2
        checks["pixel attention mask"] = same(ta.get("pixel_attention_mask"), tb.get("pixel_attention_mask"))
    return {"checks": checks,
            # (Phi-3-Vision's image positions are negative ids: the text around them)
            "prompt": tok.decode([i for i in tb["input_ids"][0].tolist() if i >= 0]) if "input_ids" in tb else None,
            "image_tokens": [int(g.prod()) // 4 for g in grid] if grid is not None else [],
            "image_grid": grid.tolist() if grid is not None else [],
            "generate_kwargs": describe(gb), "vlmeval_generate_kwargs": describe(ga),
            "effective_generation": _effective(adapter.model_dir, gb),
            "differs": {k: [describe(ta.get(k) if k in ta else ga.get(k)), describe(tb.get(k) if k in tb else gb.get(k))]
                        for k in set(ta) | set(tb) | set(ga) | set(gb)
                        if not same(ta.get(k, ga.get(k)), tb.get(k, gb.get(k)))}}


def _compare_chat(wrapper, adapter, a, b, sample):
    from oracle import same
    from vlmrun_worker.adapters.internvl_chat import tiling

    ours_tiling = [{"max_num": n, "upscale": up} for n, up in tiling(adapter.spec, len(sample.images))]
    theirs_tiling = [{"max_num": c["max_num"], "upscale": c["upscale"]} for c in getattr(wrapper, "tile_calls", [])]
    ga, gb = a["generation_config"], b["generation_config"]
    checks = {
        "prompt text": a["question"] == b["question"],
        "generate kwargs": ga == gb,
        "effective generation": _effective(adapter.model_dir, ga) == _effective(adapter.model_dir, gb),
        "tile settings": theirs_tiling == ours_tiling,
        "num_patches_list": list(a.get("num_patches_list") or []) == list(b.get("num_patches_list") or []),
    }
    if not hasattr(wrapper, "tile_calls"):
        checks["image pixels"] = same(a["pixel_values"], b["pixel_values"])
    return {"checks": checks, "prompt": b["question"], "tiling": ours_tiling,
            "num_patches": list(b.get("num_patches_list") or []), "generate_kwargs": gb,
            "effective_generation": _effective(adapter.model_dir, gb),
            "differs": {"question": [a["question"], b["question"]]} if a["question"] != b["question"] else
                       ({"generation_config": [ga, gb]} if ga != gb else
                        ({"tiling": [theirs_tiling, ours_tiling]} if theirs_tiling != ours_tiling else {}))}


class _ChatSpy:
    """Qwen-VL-Chat's model.chat, recorded: the query, history and settings, and the pixels of every image file
    the query names, read when the model reads them; then the real chat() runs."""

    def __init__(self, chat):
        self.chat, self.calls = chat, []

    def __call__(self, tokenizer, query=None, history=None, **kw):
        import re

        import numpy as np
        from PIL import Image

        paths = re.findall(r"<img>(.*?)</img>", query)
        self.calls.append({"query": query, "history": history, "kwargs": dict(kw), "paths": paths,
                           "pixels": [np.asarray(Image.open(p).convert("RGB")) for p in paths]})
        return self.chat(tokenizer, query=query, history=history, **kw)


def _build_phi3(cfg, kind):
    """Phi3Vision / Phi3_5Vision on the test model: its remote processor's BatchFeature stays on the CPU; the
    flash-attention 2 that Phi3_5Vision asks for is eager attention, as the manifests have it."""
    import transformers
    from vlmeval.vlm import phi3_vision as M

    _cpu_loading(transformers.AutoModelForCausalLM, "eager")
    _inputs_stay_on_cpu()
    wrapper = getattr(M, kind)(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_glm4v(cfg):
    """GLM4v (vlmeval/vlm/cogvlm.py) on the test model: the model's `.to('cuda')` and the tokenizer's BatchEncoding
    `.to('cuda')` leave both on the CPU."""
    import transformers
    from vlmeval.vlm import cogvlm as M

    move = transformers.PreTrainedModel.to
    transformers.PreTrainedModel.to = lambda self, *a, **kw: self if a and str(a[0]) == "cuda" else move(self, *a, **kw)
    move_inputs = transformers.BatchEncoding.to
    transformers.BatchEncoding.to = lambda self, device, **kw: self if str(device) == "cuda" else \
        move_inputs(self, device, **kw)
    wrapper = M.GLM4v(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    _record_calls(cfg, wrapper, adapter)
    return wrapper, adapter


def _build_qwen_vl_chat(cfg):
    import transformers
    from vlmeval.vlm import qwen_vl as M

    _cpu_loading(transformers.AutoModelForCausalLM)
    wrapper = M.QwenVLChat(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    for side in (wrapper, adapter):
        side.model.chat = _ChatSpy(side.model.chat)
    return wrapper, adapter


def _compare_qwen_chat(wrapper, adapter, struct, sample, name):
    """Both sides run the test model for real, VLMEvalKit's seeded as vlmrun seeds the row (VLMEvalKit itself does
    not seed): the same query but for the image files' paths (each path stands for its image, in order), the same
    pixels in those files, the same chat() arguments, the same answer."""
    import re

    import numpy as np
    import torch
    from vlmrun_worker.adapters.base import row_seed

    spies = wrapper.model.chat, adapter.model.chat
    for spy in spies:
        spy.calls.clear()
    torch.manual_seed(row_seed(sample.index))
    theirs = wrapper.generate(message=struct, dataset=name)
    ours = adapter.generate([sample])[0]
    a, b = (spy.calls[-1] for spy in spies)

    def numbered(call):
        order = list(dict.fromkeys(call["paths"]))
        return re.sub(r"<img>(.*?)</img>", lambda m: f"<img>#{order.index(m.group(1))}</img>", call["query"])

    checks = {
        "query text": numbered(a) == numbered(b),
        "image pixels": len(a["pixels"]) == len(b["pixels"]) and all(
            x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a["pixels"], b["pixels"])),
        "history": a["history"] is None and b["history"] is None,
        "chat kwargs": a["kwargs"] == b["kwargs"],
        "effective generation": _effective(adapter.model_dir, a["kwargs"]) == _effective(adapter.model_dir, b["kwargs"]),
        "answer": theirs == ours,
    }
    return {"checks": checks, "prompt": numbered(b), "chat_kwargs": b["kwargs"],
            "effective_generation": _effective(adapter.model_dir, b["kwargs"]), "answer": ours,
            "differs": {k: v for k, v in {"query": [numbered(a), numbered(b)], "kwargs": [a["kwargs"], b["kwargs"]],
                                          "answer": [theirs, ours]}.items() if v[0] != v[1]}}


class _GenerateSpy:
    """Qwen-VL's model.generate, recorded: the arguments, the prompt tokens with each image's span blanked (its path,
    where the image file lies, differs between the two sides, and so does where its padding starts), and the pixels of the files the
    paths name; then the real generate() runs."""

    def __init__(self, generate, start_id):
        self.generate, self.start, self.calls = generate, start_id, []

    def __call__(self, input_ids=None, attention_mask=None, **kw):
        import numpy as np
        from PIL import Image

        ids, paths = input_ids.clone(), []
        for b, a in (input_ids == self.start).nonzero().tolist():
            row = input_ids[b, a + 1:].tolist()
            inner = row[:row.index(self.start + 1)]
            path = inner[:inner.index(self.start + 2)] if self.start + 2 in inner else inner
            paths.append(bytes(path).decode("utf-8"))
            ids[b, a + 1:a + 1 + len(inner)] = -1  # the path and its padding to the image's 256 positions
        self.calls.append({"input_ids": ids, "attention_mask": attention_mask, "kwargs": dict(kw),
                           "pixels": [np.asarray(Image.open(p).convert("RGB")) for p in paths]})
        return self.generate(input_ids=input_ids, attention_mask=attention_mask, **kw)


def _build_qwen_vl_base(cfg):
    """QwenVL moves its input tensors with `.to('cuda')`: here they stay on the CPU."""
    import torch
    import transformers
    from vlmeval.vlm import qwen_vl as M

    move = torch.Tensor.to
    torch.Tensor.to = lambda self, *a, **kw: self if a and str(a[0]) == "cuda" else move(self, *a, **kw)
    _cpu_loading(transformers.AutoModelForCausalLM)
    wrapper = M.QwenVL(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    for side in (wrapper, adapter):
        side.model.generate = _GenerateSpy(side.model.generate, side.model.config.visual["image_start_id"])
    return wrapper, adapter


def _compare_qwen_base(wrapper, adapter, struct, sample, name):
    """Both sides run the test model, greedily: the same prompt tokens but for the image files' paths, the same
    pixels in those files, the same generate() arguments, the same answer."""
    import numpy as np
    from oracle import same

    spies = wrapper.model.generate, adapter.model.generate
    for spy in spies:
        spy.calls.clear()
    theirs = wrapper.generate(message=struct, dataset=name)
    ours = adapter.generate([sample])[0]
    a, b = (spy.calls[-1] for spy in spies)
    checks = {
        "prompt tokens": same(a["input_ids"], b["input_ids"]),
        "attention mask": same(a["attention_mask"], b["attention_mask"]),
        "image pixels": len(a["pixels"]) == len(b["pixels"]) and all(
            x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a["pixels"], b["pixels"])),
        "generate kwargs": a["kwargs"] == b["kwargs"],
        "answer": theirs == ours,
    }
    ids = b["input_ids"][0]
    return {"checks": checks, "prompt": adapter.tokenizer.decode([i for i in ids.tolist() if i >= 0]),
            "generate_kwargs": b["kwargs"], "answer": ours,
            "differs": {k: v for k, v in {"kwargs": [a["kwargs"], b["kwargs"]], "answer": [theirs, ours]}.items()
                        if v[0] != v[1]}}


class _MsgsSpy:
    """MiniCPM-V's model.chat, recorded: its arguments, each image of the user turn as its pixels. It answers '' (the
    chat itself, 3 beams of up to 2048 tokens, runs in the e2e tests on the test model)."""

    def __init__(self):
        self.calls = []

    def __call__(self, image=None, msgs=None, tokenizer=None, **kw):
        import numpy as np
        from PIL import Image

        items = [("image", np.asarray(c.convert("RGB"))) if isinstance(c, Image.Image) else ("text", c)
                 for c in msgs[0]["content"]]
        self.calls.append({"image": image, "roles": [m["role"] for m in msgs], "items": items, "kwargs": kw})
        return ""


def _build_minicpm(cfg, kind):
    """MiniCPM_V_2_6 / MiniCPM_Llama3_V on the test model: its `.cuda()` leaves the model on the CPU."""
    import transformers
    from vlmeval.vlm import minicpm_v as M

    transformers.PreTrainedModel.cuda = lambda self, *a, **kw: self
    wrapper = getattr(M, kind)(model_path=cfg["model_dir"], **cfg["wrapper_args"])
    adapter = _adapter(cfg)
    for side in (wrapper, adapter):
        side.model.chat = _MsgsSpy()
    return wrapper, adapter


def _compare_minicpm(wrapper, adapter, struct, sample, name):
    """The same user turn (texts, and images pixel for pixel, upscaled alike: VLMEvalKit's `random` seeded as vlmrun
    seeds the row) and the same chat() arguments."""
    import random

    import numpy as np
    from vlmrun_worker.adapters.base import row_seed

    spies = wrapper.model.chat, adapter.model.chat
    for spy in spies:
        spy.calls.clear()
    random.seed(row_seed(sample.index))
    wrapper.generate(message=struct, dataset=name)
    adapter.generate([sample])
    a, b = (spy.calls[-1] for spy in spies)
    texts = lambda c: [(k, v) if k == "text" else (k, v.shape) for k, v in c["items"]]  # noqa: E731
    checks = {
        "user turn": texts(a) == texts(b) and a["roles"] == b["roles"] == ["user"] and a["image"] is b["image"] is None,
        "image pixels": all(np.array_equal(x, y) for (k, x), (_, y) in zip(a["items"], b["items"]) if k == "image"),
        "chat kwargs": a["kwargs"] == b["kwargs"],
    }
    return {"checks": checks, "turn": [v if k == "text" else f"image {v.shape[1]}x{v.shape[0]}" for k, v in b["items"]],
            "chat_kwargs": b["kwargs"],
            "differs": {k: v for k, v in {"turn": [texts(a), texts(b)], "kwargs": [a["kwargs"], b["kwargs"]]}.items()
                        if v[0] != v[1]}}
