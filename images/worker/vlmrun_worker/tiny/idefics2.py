"""Tiny Idefics2 (transformers 4.40 era): the real Idefics2ForConditionalGeneration and Idefics2Processor,
random weights."""
from ._tokenizer import byte_level_tokenizer

SPECIAL = ["<unk>", "<s>", "</s>", "<fake_token_around_image>", "<image>", "<end_of_utterance>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def make(out_dir):
    import torch
    from transformers import (Idefics2Config, Idefics2ForConditionalGeneration, Idefics2ImageProcessor,
                              Idefics2Processor)

    tok = byte_level_tokenizer(SPECIAL, CHAT_TEMPLATE, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                               pad_token="<unk>")
    tok.add_special_tokens({"additional_special_tokens": ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]})
    latents = 8
    cfg = Idefics2Config(
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=56, patch_size=14),
        perceiver_config=dict(resampler_n_latents=latents, resampler_depth=1, resampler_n_heads=2,
                              resampler_head_dim=16, num_key_value_heads=1, hidden_size=64),
        text_config=dict(model_type="mistral", vocab_size=len(tok) + 8, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
    )
    torch.manual_seed(0)
    Idefics2ForConditionalGeneration(cfg).save_pretrained(out_dir)
    image_proc = Idefics2ImageProcessor(do_image_splitting=False, size={"longest_edge": 56, "shortest_edge": 28})
    Idefics2Processor(image_proc, tok, image_seq_len=latents, chat_template=CHAT_TEMPLATE).save_pretrained(out_dir)
