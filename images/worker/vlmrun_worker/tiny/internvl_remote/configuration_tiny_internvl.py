# TEST MODEL CODE (vlmrun): NOT InternVL. A tiny model exposing InternVL2's remote-code interface --
# AutoModel with trust_remote_code, chat()/batch_chat(), '<image>' expanded to <img><IMG_CONTEXT>*256*tiles</img>
# -- so vlmrun's internvl_chat adapter can be tested where the real checkpoints cannot be downloaded.
from transformers import LlamaConfig, PretrainedConfig


class TinyInternVLChatConfig(PretrainedConfig):
    model_type = "tiny_internvl_chat"

    def __init__(self, llm_config=None, vision_hidden=32, image_size=448, patch_size=14, downsample_ratio=0.5,
                 system_message="You are a helpful assistant.", vision_layers=0, vision_heads=16,
                 vision_intermediate=4096, **kwargs):
        super().__init__(**kwargs)
        if isinstance(llm_config, LlamaConfig):
            llm_config = llm_config.to_dict()
        self.llm_config = LlamaConfig(**(llm_config or {}))
        self.vision_hidden = vision_hidden
        self.image_size = image_size
        self.patch_size = patch_size
        self.downsample_ratio = downsample_ratio
        self.system_message = system_message
        # vision_layers > 0: a ViT (CLIP's encoder) of that depth before the pixel shuffle, as InternViT is (the
        # full-size benchmark model); 0: the tiny test model's patch embedding alone
        self.vision_layers = vision_layers
        self.vision_heads = vision_heads
        self.vision_intermediate = vision_intermediate

    def to_dict(self):
        out = super().to_dict()
        out["llm_config"] = self.llm_config.to_dict()
        return out
