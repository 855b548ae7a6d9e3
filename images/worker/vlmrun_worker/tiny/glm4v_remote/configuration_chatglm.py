# TEST MODEL CODE (vlmrun): NOT GLM-4V. A tiny model exposing GLM-4V-9B's remote-code interface -- AutoTokenizer
# and AutoModelForCausalLM with trust_remote_code; the tokenizer's apply_chat_template takes a user turn holding
# an image and returns input_ids, attention_mask, position_ids and the image as `images` ('[gMASK]<sop>', the
# role token, '<|begin_of_image|><|endoftext|><|end_of_image|>' before the text, '<|assistant|>'); generate() takes
# all of them -- so vlmrun's glm4v adapter can be tested where the real checkpoint cannot be downloaded. Written
# from the interface's behaviour, not its code.
from .tiny_decoder import TinyDecoderConfig


class ChatGLMConfig(TinyDecoderConfig):
    model_type = "chatglm"

    def __init__(self, boi_token_id=None, eoi_token_id=None, **kwargs):
        self.boi_token_id, self.eoi_token_id = boi_token_id, eoi_token_id
        super().__init__(**kwargs)
