"""In the transformers-4.37 image: the internvl2_2b_shape recipe's architecture counted on the meta device (nothing
allocated), and a small model with the same ViT path built and run through chat().

  python internvl_shape_check.py OUT.json  ->  {"params", "vision", "num_image_token", "llm_attention": of the
      full-size architecture; "tiles", "feature", "answer", "has_vit": of the small model on a 900x500 image}"""
import json
import sys
import tempfile
from pathlib import Path


def full_size() -> dict:
    import torch

    from vlmrun_worker.tiny import internvl, internvl2_2b_shape as shape

    config_cls, model_cls = internvl.remote_classes(tempfile.mkdtemp())
    cfg = config_cls(llm_config=dict(shape.INTERNLM2_1_8B, bos_token_id=0, eos_token_id=1, pad_token_id=0),
                     **shape.INTERN_VIT_300M)
    with torch.device("meta"):
        model = model_cls(cfg)
    return {"params": sum(p.numel() for p in model.parameters()),
            "vision": sum(p.numel() for p in model.vision_model.parameters()),
            "num_image_token": model.num_image_token,
            "llm_attention": model.language_model.config._attn_implementation}


def small_vit() -> dict:
    import torch
    from PIL import Image
    from transformers import AutoModel, AutoTokenizer

    from vlmrun_worker.adapters.internvl_chat import pixel_values
    from vlmrun_worker.tiny import internvl

    out = Path(tempfile.mkdtemp())
    internvl.make(out, vision=dict(vision_hidden=32, vision_layers=2, vision_heads=4, vision_intermediate=64))
    model = AutoModel.from_pretrained(out, trust_remote_code=True)
    tok = AutoTokenizer.from_pretrained(out, trust_remote_code=True, use_fast=False)
    pv = pixel_values(Image.new("RGB", (900, 500), "red"), 6, torch.float32)
    return {"tiles": int(pv.shape[0]), "feature": list(model.extract_feature(pv).shape),
            "answer": model.chat(tok, pv, "<image>\nIs it red?", dict(max_new_tokens=4, do_sample=False)),
            "has_vit": hasattr(model, "vision_model") and not hasattr(model, "patch_embed")}


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps({**full_size(), **small_vit()}))
