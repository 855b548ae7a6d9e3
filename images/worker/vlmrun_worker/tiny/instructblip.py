"""Tiny InstructBLIP (Salesforce/instructblip-vicuna-7b's classes): the real InstructBlipForConditionalGeneration
(ViT vision tower, a Q-Former that reads the instruction too, query tokens prepended to a Llama text model) and
InstructBlipProcessor (BLIP image processor, the LLM's tokenizer and the Q-Former's BERT-style one), random weights;
56-pixel images of 14-pixel patches, 4 query tokens. Written for the transformers of the 4.33 family (the processor
adds no image tokens to the text; the query embeddings go in front of the prompt's)."""
from ._tokenizer import byte_level_tokenizer

SIZE, PATCH, QUERIES = 56, 14, 4


def make(out_dir):
    import torch
    from transformers import BlipImageProcessor, InstructBlipConfig, InstructBlipForConditionalGeneration, \
        InstructBlipProcessor

    tok = byte_level_tokenizer(["<unk>", "<s>", "</s>"], bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                               pad_token="<unk>")
    tok.add_bos_token = True
    qtok = byte_level_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"], pad_token="[PAD]",
                                unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                bos_token="[DEC]")
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<unk>", "<s>", "</s>")}
    cfg = InstructBlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=SIZE, patch_size=PATCH),
        qformer_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                            vocab_size=len(qtok), encoder_hidden_size=32, pad_token_id=qtok.pad_token_id),
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, bos_token_id=ids["<s>"],
                         eos_token_id=ids["</s>"], pad_token_id=ids["<unk>"], initializer_range=0.2,
                         architectures=["LlamaForCausalLM"]),  # generate() reads it (the published one's too)
        num_query_tokens=QUERIES)
    torch.manual_seed(0)
    model = InstructBlipForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["</s>"]
    model.generation_config.pad_token_id = ids["<unk>"]
    model.generation_config.bos_token_id = ids["<s>"]
    model.save_pretrained(out_dir)
    image_proc = BlipImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.48145466, 0.4578275, 0.40821073],
                                    image_std=[0.26862954, 0.26130258, 0.27577711])
    InstructBlipProcessor(image_proc, tok, qtok).save_pretrained(out_dir)
