"""Tiny MiniCPM-V-interface TEST MODEL (remote code of our own; see minicpm_v_remote/): config.json with auto_map,
a byte-level tokenizer with MiniCPM-V 2.6's special tokens (Qwen2's chatml ones, '<image>', '<unk>' ...)."""
from pathlib import Path

from ._remote import copy_remote
from ._tokenizer import byte_level_tokenizer

REMOTE = Path(__file__).parent / "minicpm_v_remote"
SPECIAL = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "</image>", "<image_id>", "</image_id>",
           "<slice>", "</slice>", "<ref>", "</ref>", "<box>", "</box>", "<quad>", "</quad>", "<point>", "</point>"]


def make(out_dir):
    import torch
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    out_dir = Path(out_dir)
    copy_remote(REMOTE, out_dir)
    tok = byte_level_tokenizer(SPECIAL, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.save_pretrained(out_dir)
    auto_map = {"AutoConfig": "configuration_minicpm.MiniCPMVConfig", "AutoModel": "modeling_minicpmv.MiniCPMV"}
    config_cls = get_class_from_dynamic_module(auto_map["AutoConfig"], str(out_dir))
    model_cls = get_class_from_dynamic_module(auto_map["AutoModel"], str(out_dir))
    cfg = config_cls(vocab_size=len(tok), auto_map=auto_map, architectures=["MiniCPMV"],
                     eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = model_cls(cfg)
    model.apply(model._init_weights)
    model.save_pretrained(out_dir, safe_serialization=True)
