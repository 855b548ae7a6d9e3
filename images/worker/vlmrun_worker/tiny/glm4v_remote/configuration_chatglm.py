# TEST MODEL CODE (vlmrun): NOT GLM-4V. A tiny model exposing GLM-4V-9B's remote-code interface -- AutoTokenizer
# and AutoModelForCausalLM with trust_remote_code; the tokenizer's apply_chat_template takes a user turn holding
# an image and returns input_ids, attention_mask, position_ids and the image as `images` ('[gMASK]<sop>', the
# role token, '<|begin_of_image|><|endoftext|><|end_of_image|>' before the text, '<|assistant|>'); generate() takes
# all of them -- so vlmrun's glm4v adapter can be tested where the real checkpoint cannot be downloaded. Written
# from the interface's behaviour, not its code.
from transformers import PretrainedConfig


class ChatGLMConfig(PretrainedConfig):
    model_type = "chatglm"

    def __init__(self, vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, boi_token_id=None,
                 eoi_token_id=None, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.max_position_embeddings = max_position_embeddings
        self.boi_token_id, self.eoi_token_id = boi_token_id, eoi_token_id
        super().__init__(**kwargs)
