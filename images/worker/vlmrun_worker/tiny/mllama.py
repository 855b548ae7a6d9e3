"""Tiny Llama-3.2-Vision (meta-llama/Llama-3.2-11B-Vision-Instruct's classes): the real
MllamaForConditionalGeneration (tiled vision encoder with global layers, cross-attention layers in a Llama text
model) and MllamaProcessor, random weights. As in the published checkpoint, images are cut into up to 4 tiles of
the encoder's size with an aspect-ratio id, '<|image|>' marks where the image is cross-attended, and turns end with
'<|eot_id|>'; 56-pixel tiles of 14-pixel patches. A TEST MODEL: its chat template writes the user turn as the
published one does when the message shows an image ('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n'
+ items + '<|eot_id|>'); real checkpoints bring their own (the adapter uses whatever template the checkpoint has)."""
from ._tokenizer import byte_level_tokenizer

TILE, PATCH = 56, 14
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|image|>", "<|python_tag|>", "<|start_header_id|>",
           "<|end_header_id|>", "<|eot_id|>", "<|finetune_right_pad_id|>"]
CHAT_TEMPLATE = (
    "{{- bos_token }}{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- for content in message['content'] %}{%- if content['type'] == 'image' %}{{- '<|image|>' }}"
    "{%- elif content['type'] == 'text' %}{{- content['text'] }}{%- endif %}{%- endfor %}{{- '<|eot_id|>' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}")


def make(out_dir):
    import torch
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaImageProcessor, MllamaProcessor

    tok = byte_level_tokenizer(SPECIAL, CHAT_TEMPLATE, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                               pad_token="<|finetune_right_pad_id|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1, attention_heads=4,
                  image_size=TILE, patch_size=PATCH, max_num_tiles=4, intermediate_layers_indices=[0],
                  vision_output_dim=64)
    text = dict(vocab_size=len(tok) + 8, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, cross_attention_layers=[1],
                bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|eot_id|>"],
                pad_token_id=ids["<|finetune_right_pad_id|>"], initializer_range=0.2)
    cfg = MllamaConfig(vision_config=vision, text_config=text, image_token_index=ids["<|image|>"])
    torch.manual_seed(0)
    model = MllamaForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["<|eot_id|>"]
    model.generation_config.pad_token_id = ids["<|finetune_right_pad_id|>"]
    model.generation_config.bos_token_id = ids["<|begin_of_text|>"]
    model.save_pretrained(out_dir)
    image_proc = MllamaImageProcessor(size={"height": TILE, "width": TILE}, max_image_tiles=4)
    MllamaProcessor(image_proc, tok, chat_template=CHAT_TEMPLATE).save_pretrained(out_dir)
