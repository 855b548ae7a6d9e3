"""Tiny GLM-4V-interface TEST MODEL (remote code of our own; see glm4v_remote/): shaped like THUDM/glm-4v-9b's
folder -- config.json and tokenizer_config.json with auto_map, a tiktoken tokenizer.model, a left-padding tokenizer
whose apply_chat_template takes the image, and the generation_config's three end tokens (<|endoftext|>,
<|user|>, <|observation|>). Its images are 112px (the real one: 1120)."""
import importlib
import json
from pathlib import Path

from ._remote import copy_remote

REMOTE = Path(__file__).parent / "glm4v_remote"


def make(out_dir):
    import torch
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    out_dir = Path(out_dir)
    copy_remote(REMOTE, out_dir)
    tok_cls = get_class_from_dynamic_module("tokenization_chatglm.ChatGLM4Tokenizer", str(out_dir))
    importlib.import_module(tok_cls.__module__).write_vocab(out_dir / "tokenizer.model")
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLM4Tokenizer", None]},
        "tokenizer_class": "ChatGLM4Tokenizer", "padding_side": "left", "image_size": 112, "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>", "model_max_length": 8192}, indent=1))
    tok = tok_cls(vocab_file=str(out_dir / "tokenizer.model"), image_size=112)
    sp = tok.special_tokens
    auto_map = {"AutoConfig": "configuration_chatglm.ChatGLMConfig",
                "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"}
    config_cls = get_class_from_dynamic_module(auto_map["AutoConfig"], str(out_dir))
    model_cls = get_class_from_dynamic_module(auto_map["AutoModelForCausalLM"], str(out_dir))
    ends = [sp["<|endoftext|>"], sp["<|user|>"], sp["<|observation|>"]]
    cfg = config_cls(vocab_size=tok.vocab_size, boi_token_id=sp["<|begin_of_image|>"], eoi_token_id=sp["<|end_of_image|>"],
                     auto_map=auto_map, architectures=["ChatGLMForConditionalGeneration"], eos_token_id=ends,
                     pad_token_id=sp["<|endoftext|>"], torch_dtype="bfloat16")
    torch.manual_seed(0)
    model = model_cls(cfg)
    model.apply(model._init_weights)
    model.save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "generation_config.json").write_text(json.dumps({
        "eos_token_id": ends, "pad_token_id": sp["<|endoftext|>"], "do_sample": True, "temperature": 0.8,
        "max_length": 8192, "top_p": 0.8}, indent=1))
