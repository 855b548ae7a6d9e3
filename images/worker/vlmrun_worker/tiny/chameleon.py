"""Tiny Chameleon (facebook/chameleon-7b's classes): the real ChameleonForConditionalGeneration (a VQ-VAE image
tokenizer whose codes are BPE tokens of the text model, early fusion) and ChameleonProcessor, random weights. As in
the published checkpoint, the processor writes '<racm3:break>' + the image tokens + '<eoss>' for each '<image>' and
ends a chat-mode prompt with the separator token, and the vocabulary names each VQ code 'IMGIMG<code, digits as
letters A-J>Z'; 32-pixel images, 16 codes, an 8x8 latent grid (64 image tokens)."""
from ._tokenizer import byte_level_tokenizer

SIZE, CODES, GRID = 32, 16, 8
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<image>", "<racm3:break>", "<eoss>", "<reserved08706>"]


def code_name(k: int) -> str:
    return "IMGIMG" + "".join(chr(ord("A") + int(d)) for d in str(k)) + "Z"


def make(out_dir):
    import torch
    from transformers import ChameleonConfig, ChameleonForConditionalGeneration, ChameleonImageProcessor, \
        ChameleonProcessor

    tok = byte_level_tokenizer(SPECIAL + [code_name(k) for k in range(CODES)], bos_token="<s>", eos_token="</s>",
                               pad_token="<pad>", unk_token="<unk>", sep_token="<reserved08706>")
    vq = dict(embed_dim=8, num_embeddings=CODES, latent_channels=8, resolution=SIZE, base_channels=32,
              channel_multiplier=[1, 1, 2], num_res_blocks=1, attn_resolutions=[])
    cfg = ChameleonConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, bos_token_id=tok.bos_token_id,
                          eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, vq_config=vq,
                          vocabulary_map=dict(tok.get_vocab()), initializer_range=0.2)
    torch.manual_seed(0)
    model = ChameleonForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out_dir)
    image_proc = ChameleonImageProcessor(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})
    ChameleonProcessor(image_proc, tok, image_seq_length=GRID * GRID).save_pretrained(out_dir)
