# TEST MODEL CODE (vlmrun): NOT Qwen-VL. A tiny model exposing Qwen-VL / Qwen-VL-Chat's remote-code interface --
# AutoModelForCausalLM / AutoTokenizer with trust_remote_code, a tiktoken tokenizer whose '<img>PATH</img>' spans
# become the path's bytes padded to 256 image tokens, tokenizer.from_list_format, model.chat() with the chatml
# context, and a vision tower that opens the image files the prompt names -- so vlmrun's qwen_vl adapter can be
# tested where the real checkpoints cannot be downloaded. Written from the interface's behaviour, not its code.
from transformers import PretrainedConfig


class QWenConfig(PretrainedConfig):
    model_type = "qwen"

    def __init__(self, vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, visual=None,
                 bf16=False, fp16=False, fp32=False, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.max_position_embeddings = max_position_embeddings
        # image_start_id: '<img>'; '</img>' and '<imgpad>' follow it, as in Qwen-VL's vocabulary
        self.visual = dict(visual or {})
        self.bf16, self.fp16, self.fp32 = bf16, fp16, fp32
        super().__init__(**kwargs)
