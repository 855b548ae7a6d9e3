"""Tiny LLaVA-NeXT (LLaVA-1.6) in llava-hf's layout (transformers 4.40 and later): the real
LlavaNextForConditionalGeneration (any-resolution tiling over image_grid_pinpoints, Mistral text model) and
LlavaNextProcessor, random weights."""
from .llava import IMAGE, fill_pad_row, text_config, tokenizer, vision_config

PINPOINTS = [[IMAGE, IMAGE], [IMAGE, 2 * IMAGE], [2 * IMAGE, IMAGE], [2 * IMAGE, 2 * IMAGE]]


def make(out_dir):
    import torch
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextImageProcessor, LlavaNextProcessor

    tok = tokenizer()
    cfg = LlavaNextConfig(vision_config=vision_config(), text_config=text_config(tok, "mistral"),
                          image_token_index=tok.convert_tokens_to_ids("<image>"), image_grid_pinpoints=PINPOINTS,
                          vision_feature_layer=-2, vision_feature_select_strategy="default", pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlavaNextForConditionalGeneration(cfg)
    fill_pad_row(model, tok.pad_token_id)
    model.save_pretrained(out_dir)
    image_proc = LlavaNextImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE},
                                         image_grid_pinpoints=PINPOINTS)
    import inspect

    kw = {}
    if "patch_size" in inspect.signature(LlavaNextProcessor.__init__).parameters:
        # from transformers 4.47 the processor expands <image> itself, as in the published llava-hf folders
        kw = dict(patch_size=14, vision_feature_select_strategy="default", num_additional_image_tokens=1)
    LlavaNextProcessor(image_processor=image_proc, tokenizer=tok, **kw).save_pretrained(out_dir)
