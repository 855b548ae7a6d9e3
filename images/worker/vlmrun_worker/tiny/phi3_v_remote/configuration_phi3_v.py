# TEST MODEL CODE (vlmrun): NOT Phi-3-Vision. A tiny model exposing Phi-3-Vision / Phi-3.5-Vision's remote-code
# interface -- AutoModelForCausalLM and AutoProcessor with trust_remote_code; the processor turns each
# '<|image_k|>' into -k repeated for that image's token count, tokenizes the text between them each with its own
# BOS, and hands generate() pixel_values (the global view and up to num_crops 336px crops per image) and
# image_sizes -- so vlmrun's phi3_vision adapter can be tested where the real checkpoints cannot be downloaded.
# Written from the interface's behaviour, not its code.
from transformers import PretrainedConfig


class Phi3VConfig(PretrainedConfig):
    model_type = "phi3_v"

    def __init__(self, vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, pad_token_id=None,
                 **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.max_position_embeddings = max_position_embeddings
        super().__init__(pad_token_id=pad_token_id, **kwargs)
