"""Tiny Idefics3 (HuggingFaceM4/Idefics3-8B-Llama3's classes): the real Idefics3ForConditionalGeneration and
Idefics3Processor, random weights. Shaped like the published checkpoint at a smaller scale: images split into
tiles of the vision encoder's size plus a global image (`do_image_splitting`), tiles marked with '<row_i_col_j>'
and '<global-img>' tokens, the pixel-shuffle connector (scale factor 2): 56-pixel tiles of 14-pixel patches give
4 image tokens per tile, images resized to at most 4 tiles a side."""
from ._tokenizer import byte_level_tokenizer

TILE, PATCH, SCALE = 56, 14, 2
ROWS = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<fake_token_around_image>", "<image>", "<end_of_utterance>",
           "<global-img>", *ROWS]
CHAT_TEMPLATE = (
    "<|begin_of_text|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def make(out_dir):
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor, Idefics3Processor

    tok = byte_level_tokenizer(SPECIAL, CHAT_TEMPLATE, bos_token="<|begin_of_text|>", eos_token="<end_of_utterance>",
                               pad_token="<|end_of_text|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    cfg = Idefics3Config(
        image_token_id=ids["<image>"], scale_factor=SCALE,
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=TILE, patch_size=PATCH),
        text_config=dict(model_type="llama", vocab_size=len(tok) + 8, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<end_of_utterance>"],
                         pad_token_id=ids["<|end_of_text|>"], initializer_range=0.2),
    )
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["<end_of_utterance>"]
    model.generation_config.pad_token_id = ids["<|end_of_text|>"]
    model.save_pretrained(out_dir)
    image_proc = Idefics3ImageProcessor(do_image_splitting=True, size={"longest_edge": 4 * TILE},
                                       max_image_size={"longest_edge": TILE})
    Idefics3Processor(image_proc, tok, image_seq_len=(TILE // PATCH) ** 2 // SCALE ** 2,
                      chat_template=CHAT_TEMPLATE).save_pretrained(out_dir)
