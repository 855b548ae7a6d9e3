# TEST MODEL CODE (vlmrun): NOT Qwen-VL. A tiny model exposing Qwen-VL / Qwen-VL-Chat's remote-code interface --
# AutoModelForCausalLM / AutoTokenizer with trust_remote_code, a tiktoken tokenizer whose '<img>PATH</img>' spans
# become the path's bytes padded to 256 image tokens, tokenizer.from_list_format, model.chat() with the chatml
# context, and a vision tower that opens the image files the prompt names -- so vlmrun's qwen_vl adapter can be
# tested where the real checkpoints cannot be downloaded. Written from the interface's behaviour, not its code.
from .tiny_decoder import TinyDecoderConfig


class QWenConfig(TinyDecoderConfig):
    model_type = "qwen"

    def __init__(self, visual=None, bf16=False, fp16=False, fp32=False, **kwargs):
        # image_start_id: '<img>'; '</img>' and '<imgpad>' follow it, as in Qwen-VL's vocabulary
        self.visual = dict(visual or {})
        self.bf16, self.fp16, self.fp32 = bf16, fp16, fp32
        super().__init__(**kwargs)
