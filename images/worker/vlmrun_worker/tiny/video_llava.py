"""Tiny Video-LLaVA in its transformers layout (LanguageBind/Video-LLaVA-7B-hf): the real
VideoLlavaForConditionalGeneration (CLIP vision tower for images and video frames, projector, Llama) and
VideoLlavaProcessor (image and video processors), random weights."""
from .llava import IMAGE, fill_pad_row, text_config, vision_config
from .llava import tokenizer as llava_tokenizer


def make(out_dir):
    import torch
    from transformers import (VideoLlavaConfig, VideoLlavaForConditionalGeneration, VideoLlavaImageProcessor,
                              VideoLlavaProcessor)

    tok = llava_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<video>"]})
    text = text_config(tok)
    cfg = VideoLlavaConfig(vision_config=vision_config(), text_config=text,
                           image_token_index=tok.convert_tokens_to_ids("<image>"),
                           video_token_index=tok.convert_tokens_to_ids("<video>"),
                           vision_feature_layer=-2, vision_feature_select_strategy="default",
                           pad_token_id=tok.pad_token_id, vocab_size=text["vocab_size"])
    torch.manual_seed(0)
    model = VideoLlavaForConditionalGeneration(cfg)
    fill_pad_row(model, tok.pad_token_id)
    model.save_pretrained(out_dir)
    size = dict(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
    kw = dict(image_processor=VideoLlavaImageProcessor(**size), tokenizer=tok, patch_size=14,
              vision_feature_select_strategy="default")
    try:  # transformers 4.55 on: videos have their own processor
        from transformers import VideoLlavaVideoProcessor

        kw["video_processor"] = VideoLlavaVideoProcessor(**size)
    except ImportError:
        pass
    VideoLlavaProcessor(**kw).save_pretrained(out_dir)
