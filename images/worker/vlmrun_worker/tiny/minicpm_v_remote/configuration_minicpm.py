# TEST MODEL CODE (vlmrun): NOT MiniCPM-V. A tiny model exposing MiniCPM-V 2.6's remote-code interface -- AutoModel
# and AutoTokenizer with trust_remote_code, and model.chat(image=None, msgs=[{'role': 'user', 'content': [text or
# PIL image, ...]}], tokenizer=..., max_new_tokens, sampling, num_beams, max_inp_length, use_image_id,
# max_slice_nums) answering a string -- so vlmrun's minicpm_v adapter can be tested where the real checkpoint
# cannot be downloaded. Written from the interface's behaviour, not its code.
from transformers import PretrainedConfig


class MiniCPMVConfig(PretrainedConfig):
    model_type = "minicpmv"

    def __init__(self, vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, query_num=64,
                 image_size=112, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.max_position_embeddings = max_position_embeddings
        self.query_num, self.image_size = query_num, image_size
        super().__init__(**kwargs)
