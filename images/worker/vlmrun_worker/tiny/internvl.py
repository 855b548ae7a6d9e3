"""Tiny InternVL-interface TEST MODEL (remote code of our own; see internvl_remote/)."""
import shutil
from pathlib import Path

from ._demo import answer_tokens, install
from ._tokenizer import byte_level_tokenizer

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>"]
REMOTE = Path(__file__).parent / "internvl_remote"


AUTO_MAP = {"AutoConfig": "configuration_tiny_internvl.TinyInternVLChatConfig",
            "AutoModel": "modeling_tiny_internvl.TinyInternVLChatModel"}
TINY_LLM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=8192)


def make(out_dir, demo=False, llm_sizes=None, vision=None, dtype=None):
    """demo: give it a DEMO head (see _demo.py) that answers in the benchmark's format. llm_sizes, vision (the
    config's vision_* fields), dtype: another size of the same model (internvl2_2b_shape.py)."""
    import torch

    tok = byte_level_tokenizer(SPECIAL, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|endoftext|>")
    if demo:
        answer_tokens(tok)
    config_cls, model_cls = remote_classes(out_dir)
    llm = {"vocab_size": len(tok) + 8, **(llm_sizes or TINY_LLM), "bos_token_id": tok.bos_token_id,
           "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"), "pad_token_id": tok.pad_token_id}
    cfg = config_cls(llm_config=llm, auto_map=AUTO_MAP, architectures=["TinyInternVLChatModel"], **(vision or {}))
    torch.manual_seed(0)
    model = model_cls(cfg)
    model.apply(model._init_weights)
    if demo:
        _demo_head(model, tok, llm)
    if dtype:
        model = model.to(getattr(torch, dtype))
        model.config.torch_dtype = dtype
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)


def remote_classes(out_dir):
    """The test model's remote code copied into `out_dir` and its (config, model) classes imported from there, the
    way transformers will: as a package module next to the weights."""
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    for f in REMOTE.glob("*.py"):
        shutil.copy(f, Path(out_dir) / f.name)
    return tuple(get_class_from_dynamic_module(AUTO_MAP[k], str(out_dir)) for k in ("AutoConfig", "AutoModel"))


def _demo_head(model, tok, llm):
    import torch

    from ..adapters.internvl_chat import pixel_values

    lm = model.language_model
    writers = [m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
               and m.out_features == llm["hidden_size"] and not n.startswith("language_model.")]
    gen = dict(max_new_tokens=1, do_sample=False)

    def run_prompt(image, question):
        model.chat(tok, pixel_values(image, 6, torch.float32), question, gen)

    install(tok, lm.get_input_embeddings(), lm.lm_head, lm.model.norm, lm.model.layers, writers,
            llm["num_attention_heads"], llm["num_key_value_heads"], llm["eos_token_id"], run_prompt, size_range=(100, 900))
