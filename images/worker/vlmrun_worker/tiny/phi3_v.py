"""Tiny Phi-3-Vision-interface TEST MODEL (remote code of our own; see phi3_v_remote/): shaped like
microsoft/Phi-3-vision-128k-instruct's folder -- config.json and preprocessor_config.json with auto_map (the
processor and image processor are remote code too), num_crops 16, a Llama fast tokenizer that adds BOS, and the
chat template '<|user|>\\n...<|end|>\\n<|assistant|>\\n'."""
import json
from pathlib import Path

from ._remote import copy_remote
from ._tokenizer import byte_level_tokenizer

REMOTE = Path(__file__).parent / "phi3_v_remote"
SPECIAL = ["<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}"
                 "{% endfor %}{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}"
                 "{{- '<|assistant|>\n' -}}{% endif %}")
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def make(out_dir, num_crops=16):
    import torch
    from transformers import LlamaTokenizerFast
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    out_dir = Path(out_dir)
    copy_remote(REMOTE, out_dir)
    tok = byte_level_tokenizer(SPECIAL, chat_template=CHAT_TEMPLATE, cls=LlamaTokenizerFast, unk_token="<unk>",
                               bos_token="<s>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tok.save_pretrained(out_dir)
    (out_dir / "preprocessor_config.json").write_text(json.dumps({
        "auto_map": {"AutoProcessor": "processing_phi3_v.Phi3VProcessor",
                     "AutoImageProcessor": "image_processing_phi3_v.Phi3VImageProcessor"},
        "image_processor_type": "Phi3VImageProcessor", "processor_class": "Phi3VProcessor", "num_crops": num_crops,
        "image_mean": MEAN, "image_std": STD, "do_convert_rgb": True}, indent=1))
    auto_map = {"AutoConfig": "configuration_phi3_v.Phi3VConfig", "AutoModelForCausalLM": "modeling_phi3_v.Phi3VForCausalLM"}
    config_cls = get_class_from_dynamic_module(auto_map["AutoConfig"], str(out_dir))
    model_cls = get_class_from_dynamic_module(auto_map["AutoModelForCausalLM"], str(out_dir))
    end = tok.convert_tokens_to_ids("<|end|>")
    cfg = config_cls(vocab_size=len(tok), auto_map=auto_map, architectures=["Phi3VForCausalLM"],
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                     torch_dtype="float32")
    torch.manual_seed(0)
    model = model_cls(cfg)
    model.apply(model._init_weights)
    model.save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "generation_config.json").write_text(json.dumps({
        "bos_token_id": tok.bos_token_id, "eos_token_id": [tok.eos_token_id, end], "pad_token_id": tok.pad_token_id},
        indent=1))
