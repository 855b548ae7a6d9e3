"""Tiny PaliGemma (google/paligemma-3b-mix-448's classes): the real PaliGemmaForConditionalGeneration (SigLIP
vision tower, linear projector, Gemma text model) and PaliGemmaProcessor, random weights. As in the published
checkpoint the processor writes the image tokens, '<bos>' and the closing '\\n' itself, and the tokenizer carries
its 1024 '<locNNNN>' and 128 '<segNNN>' tokens; 56-pixel images of 14-pixel patches give 16 image tokens."""
from ._tokenizer import byte_level_tokenizer

SIZE, PATCH = 56, 14
SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<image>"]


def make(out_dir):
    import torch
    from transformers import (PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor,
                              SiglipImageProcessor)

    tok = byte_level_tokenizer(SPECIAL, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_proc = SiglipImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                                      resample=3)
    image_proc.image_seq_length = (SIZE // PATCH) ** 2
    proc = PaliGemmaProcessor(image_processor=image_proc, tokenizer=tok)  # adds the <loc>/<seg> tokens
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    cfg = PaliGemmaConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=SIZE, patch_size=PATCH, projection_dim=64),
        text_config=dict(model_type="gemma", vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                         bos_token_id=ids["<bos>"], eos_token_id=ids["<eos>"], pad_token_id=ids["<pad>"],
                         initializer_range=0.2),
        image_token_index=ids["<image>"], vocab_size=len(tok), projection_dim=64, hidden_size=64)
    torch.manual_seed(0)
    model = PaliGemmaForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["<eos>"]
    model.generation_config.pad_token_id = ids["<pad>"]
    model.save_pretrained(out_dir)
    proc.save_pretrained(out_dir)
