"""Tiny IDEFICS (transformers 4.33 era): the real IdeficsForVisionText2Text and IdeficsProcessor, random weights."""
from ._tokenizer import version_tuple

SPECIAL = ["<unk>", "<s>", "</s>", "<image>", "<fake_token_around_image>", "<end_of_utterance>"]


def make(out_dir):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (IdeficsConfig, IdeficsForVisionText2Text, IdeficsImageProcessor, IdeficsProcessor,
                              LlamaTokenizerFast)

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tk = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens(SPECIAL)
    tok = LlamaTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                             pad_token="<unk>", add_bos_token=True, add_eos_token=False)
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<fake_token_around_image>", "<end_of_utterance>"]})
    image_size = 28
    cfg = IdeficsConfig(
        vocab_size=len(tok) + 8, additional_vocab_size=0, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, cross_layer_interval=1, use_resampler=False,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        vision_config=dict(embed_dim=32, image_size=image_size, patch_size=14, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64),
    )
    torch.manual_seed(0)
    IdeficsForVisionText2Text(cfg).save_pretrained(out_dir)
    # the published checkpoints' normalisation (OpenAI CLIP's mean/std); without them the 4.33 image processor
    # normalises with None and every pixel becomes NaN
    clip_mean, clip_std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    proc = IdeficsProcessor(IdeficsImageProcessor(image_size=image_size, image_mean=clip_mean, image_std=clip_std),
                            tok, image_size=image_size)
    proc.save_pretrained(out_dir)
    assert version_tuple() < (4, 50), "IDEFICS (v1) tiny recipe targets the transformers-4.33 family"
