"""Tiny Qwen2-VL: the real Qwen2VLForConditionalGeneration and Qwen2VLProcessor, random weights."""
from ._demo import answer_tokens, install
from ._tokenizer import byte_level_tokenizer, version_tuple

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>"]
# Qwen2-VL's chat layout, reduced to what image, video and text turns need.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if loop.first and m['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


TINY = dict(
    text=dict(vocab_size=None, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=4096,
              rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
    vision=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=4, mlp_ratio=2, patch_size=14,
                spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
    dtype="float32",
)


def make(out_dir, shape=TINY, arch="Qwen2VL", demo=False):
    """arch: Qwen2VL or Qwen2_5_VL (the same layout; Qwen2.5-VL's vision tower takes window attention).
    demo: give it a DEMO head (see _demo.py) that answers in the benchmark's format."""
    import torch
    import transformers

    Config = getattr(transformers, f"{arch}Config")
    Model = getattr(transformers, f"{arch}ForConditionalGeneration")
    Processor = getattr(transformers, f"{arch}Processor")
    tok = byte_level_tokenizer(SPECIAL, CHAT_TEMPLATE, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    if demo:
        answer_tokens(tok)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    text = dict(shape["text"])
    text["vocab_size"] = text["vocab_size"] or len(tok) + 8
    vision = dict(shape["vision"])
    tokens = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                  vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                  bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    text.update({k: tokens[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")})
    if version_tuple() >= (5, 0):
        cfg = Config(text_config=text, vision_config=vision, **tokens)
    else:  # 4.x: the text settings sit at the top level
        cfg = Config(**{**tokens, **text}, vision_config=vision)
    torch.manual_seed(0)
    # On a GPU box the random init of a full-size shape takes seconds there instead of a minute on the CPU.
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Model(cfg).to(getattr(torch, shape["dtype"]))
    # Qwen2.5-VL's processor takes Qwen2-VL's image processor
    proc_kw = dict(image_processor=transformers.Qwen2VLImageProcessor(), tokenizer=tok, chat_template=CHAT_TEMPLATE)
    if hasattr(transformers, "Qwen2VLVideoProcessor"):  # needed explicitly from transformers 4.57 on
        proc_kw["video_processor"] = transformers.Qwen2VLVideoProcessor()
    processor = Processor(**proc_kw)
    if demo:
        _demo_head(model, processor, text, tokens["eos_token_id"])
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)


def _demo_head(model, processor, text, eos_id):
    import torch

    lm = model.model.language_model if hasattr(model.model, "language_model") else model.model  # 5.x / 4.x
    writers = [m for n, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and m.out_features == text["hidden_size"] and ".layers." not in n
               and m is not model.lm_head]

    size = {"shortest_edge": 4 * 28 * 28, "longest_edge": 64 * 28 * 28}

    def run_prompt(image, question):
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        prompt = processor.apply_chat_template(msgs, add_generation_prompt=True)
        model(**processor(text=[prompt], images=[image], return_tensors="pt", size=size))

    install(processor.tokenizer, lm.embed_tokens, model.lm_head, lm.norm, lm.layers, writers, text["num_attention_heads"],
            text["num_key_value_heads"], eos_id, run_prompt, size_range=(56, 300))
