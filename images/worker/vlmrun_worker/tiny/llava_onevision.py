"""Tiny LLaVA-OneVision in llava-hf's layout: the real LlavaOnevisionForConditionalGeneration (SigLIP vision tower,
any-resolution tiling with 'anyres_max_9', Qwen2 text model) and LlavaOnevisionProcessor, random weights, shaped
like llava-hf/llava-onevision-qwen2-*-ov-hf (processor: full vision features, no CLS; image grid pinpoints from 1x1
to 6x6 tiles; ChatML roles) at 32-pixel tiles of 8-pixel patches (16 image tokens per tile). A TEST MODEL: its chat
template writes a turn as '<|im_start|>ROLE\\n' + its items in order + '<|im_end|>\\n', which real checkpoints bring
their own of (the adapter uses whatever template the checkpoint has)."""
from ._tokenizer import byte_level_tokenizer

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
TILE, PATCH = 32, 8
PINPOINTS = [[TILE * i, TILE * j] for i in range(1, 7) for j in range(1, 7)]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<image>' }}"
    "{% elif content['type'] == 'video' %}{{ '<video>' }}{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def make(out_dir):
    import torch
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor)

    tok = byte_level_tokenizer(SPECIAL, CHAT_TEMPLATE, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    vision = dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, image_size=TILE, patch_size=PATCH)
    text = dict(model_type="qwen2", vocab_size=len(tok) + 8, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False,
                initializer_range=0.2)
    cfg = LlavaOnevisionConfig(vision_config=vision, text_config=text, image_token_index=ids["<image>"],
                               video_token_index=ids["<video>"], image_grid_pinpoints=PINPOINTS,
                               vision_feature_select_strategy="full", vision_feature_layer=-1,
                               vision_aspect_ratio="anyres_max_9", tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlavaOnevisionForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out_dir)
    mean = [0.5, 0.5, 0.5]
    image_proc = LlavaOnevisionImageProcessor(size={"height": TILE, "width": TILE}, image_grid_pinpoints=PINPOINTS,
                                              image_mean=mean, image_std=mean, do_pad=True)
    video_proc = LlavaOnevisionVideoProcessor(size={"height": TILE, "width": TILE}, image_mean=mean, image_std=mean)
    LlavaOnevisionProcessor(image_processor=image_proc, tokenizer=tok, video_processor=video_proc,
                            num_image_tokens=(TILE // PATCH) ** 2, vision_feature_select_strategy="full",
                            vision_aspect_ratio="anyres_max_9", chat_template=CHAT_TEMPLATE).save_pretrained(out_dir)
