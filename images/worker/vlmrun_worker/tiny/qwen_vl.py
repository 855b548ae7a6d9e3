"""Tiny Qwen-VL-interface TEST MODEL (remote code of our own; see qwen_vl_remote/): shaped like Qwen/Qwen-VL-Chat's
folder -- config.json and tokenizer_config.json with auto_map, qwen.tiktoken, and the published
generation_config.json's settings (chatml, sampling with top_p 0.3, top_k 0, 512 new tokens), with this
vocabulary's ids."""
import json
from pathlib import Path

from ._remote import copy_remote

REMOTE = Path(__file__).parent / "qwen_vl_remote"


def make(out_dir):
    import torch
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    out_dir = Path(out_dir)
    copy_remote(REMOTE, out_dir)
    tokenization = get_class_from_dynamic_module("tokenization_qwen.QWenTokenizer", str(out_dir))
    import importlib

    tmod = importlib.import_module(tokenization.__module__)
    tmod.write_vocab(out_dir / "qwen.tiktoken")
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "auto_map": {"AutoTokenizer": ["tokenization_qwen.QWenTokenizer", None]},
        "tokenizer_class": "QWenTokenizer", "model_max_length": 8192}, indent=1))
    tok = tokenization(vocab_file=str(out_dir / "qwen.tiktoken"))
    auto_map = {"AutoConfig": "configuration_qwen.QWenConfig", "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"}
    config_cls = get_class_from_dynamic_module(auto_map["AutoConfig"], str(out_dir))
    model_cls = get_class_from_dynamic_module(auto_map["AutoModelForCausalLM"], str(out_dir))
    cfg = config_cls(vocab_size=len(tok), visual={"image_start_id": tok.img_start_id, "image_size": 448},
                     auto_map=auto_map, architectures=["QWenLMHeadModel"])
    torch.manual_seed(0)
    model = model_cls(cfg)
    model.apply(model._init_weights)
    model.save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "generation_config.json").write_text(json.dumps({
        "chat_format": "chatml", "do_sample": True, "eos_token_id": tok.eod_id, "max_new_tokens": 512,
        "max_window_size": 6144, "pad_token_id": tok.eod_id, "top_k": 0, "top_p": 0.3}, indent=1))
