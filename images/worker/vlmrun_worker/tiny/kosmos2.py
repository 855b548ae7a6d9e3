"""Tiny Kosmos-2 (microsoft/kosmos-2-patch14-224's classes): the real Kosmos2ForConditionalGeneration (CLIP-style
vision tower, 64 latent queries as the image's tokens, a Magneto-style text decoder) and Kosmos2Processor, random
weights. As in the published checkpoint, the processor adds the grounding tags and the 1024 '<patch_index_NNNN>'
tokens to the tokenizer and writes '<image>' + 64 image tokens + '</image>' itself. The image tokens are the 64
ids after '<unk>': '<s>', '<pad>', '</s>', '<unk>' are ids 0-3 as in XLM-RoBERTa's vocabulary, so those ids are
ordinary text tokens here too (their decoded text is what post_process_generation cleans off). 56-pixel images of
14-pixel patches."""
SIZE, PATCH, LATENTS = 56, 14, 64
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]


def make(out_dir):
    import torch
    from transformers import CLIPImageProcessor, Kosmos2Config, Kosmos2ForConditionalGeneration, Kosmos2Processor

    tok = _tokenizer()
    image_proc = CLIPImageProcessor(size={"height": SIZE, "width": SIZE}, do_center_crop=False,
                                    image_mean=[0.48145466, 0.4578275, 0.40821073],
                                    image_std=[0.26862954, 0.26130258, 0.27577711], resample=3)
    proc = Kosmos2Processor(image_proc, tok)  # adds the tag and patch index tokens
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    cfg = Kosmos2Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=SIZE, patch_size=PATCH),
        text_config=dict(vocab_size=len(tok), embed_dim=64, layers=2, ffn_dim=128, attention_heads=4,
                         max_position_embeddings=2048, bos_token_id=ids["<s>"], eos_token_id=ids["</s>"],
                         pad_token_id=ids["<pad>"], init_std=0.2),
        latent_query_num=LATENTS)
    torch.manual_seed(0)
    model = Kosmos2ForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["</s>"]
    model.generation_config.pad_token_id = ids["<pad>"]
    model.generation_config.bos_token_id = ids["<s>"]
    model.save_pretrained(out_dir)
    proc.save_pretrained(out_dir)


def _tokenizer():
    """A byte-level BPE tokenizer with XLM-RoBERTa's four special tokens first (ids 0-3), then the 256 bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIAL)}
    vocab.update({c: i + len(SPECIAL) for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))})
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens(SPECIAL)
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")
