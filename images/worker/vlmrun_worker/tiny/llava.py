"""Tiny LLaVA-1.5 in llava-hf's layout (transformers 4.37 era): the real LlavaForConditionalGeneration
(CLIP vision tower, MLP projector, Llama text model) and LlavaProcessor, random weights."""
from ._tokenizer import byte_level_tokenizer

SPECIAL = ["<unk>", "<s>", "</s>", "<image>", "<pad>"]
IMAGE = 56  # pixels; 14-pixel patches: 16 image tokens


def vision_config():
    return dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, image_size=IMAGE, patch_size=14, projection_dim=32)


def text_config(tok, model_type="llama"):
    return dict(model_type=model_type, vocab_size=len(tok) + 8, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)


def fill_pad_row(model, pad_id):
    """A fresh embedding keeps the pad token's row at zero; released llava-hf checkpoints don't (their pad
    token was added with a mean-initialised row), and transformers' merge of image features finds the image
    slots by all-zero rows, so a zero pad row breaks left-padded batches. Match the real checkpoints."""
    import torch

    with torch.no_grad():
        model.get_input_embeddings().weight[pad_id].normal_(0.0, 0.02)


def tokenizer():
    from transformers import LlamaTokenizerFast  # what Llava(Next)Processor insists on

    tok = byte_level_tokenizer(SPECIAL, cls=LlamaTokenizerFast, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                               pad_token="<pad>", add_bos_token=False, add_eos_token=False)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return tok


def make(out_dir):
    import torch
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tok = tokenizer()
    text = text_config(tok)
    cfg = LlavaConfig(vision_config=vision_config(), text_config=text, image_token_index=tok.convert_tokens_to_ids("<image>"),
                      vision_feature_layer=-2, vision_feature_select_strategy="default", pad_token_id=tok.pad_token_id,
                      vocab_size=text["vocab_size"])
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(cfg)
    fill_pad_row(model, tok.pad_token_id)
    model.save_pretrained(out_dir)
    image_proc = CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
    LlavaProcessor(image_processor=image_proc, tokenizer=tok).save_pretrained(out_dir)
