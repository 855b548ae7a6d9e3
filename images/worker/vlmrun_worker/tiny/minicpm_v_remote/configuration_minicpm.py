# TEST MODEL CODE (vlmrun): NOT MiniCPM-V. A tiny model exposing MiniCPM-V 2.6's remote-code interface -- AutoModel
# and AutoTokenizer with trust_remote_code, and model.chat(image=None, msgs=[{'role': 'user', 'content': [text or
# PIL image, ...]}], tokenizer=..., max_new_tokens, sampling, num_beams, max_inp_length, use_image_id,
# max_slice_nums) answering a string -- so vlmrun's minicpm_v adapter can be tested where the real checkpoint
# cannot be downloaded. Written from the interface's behaviour, not its code.
from .tiny_decoder import TinyDecoderConfig


class MiniCPMVConfig(TinyDecoderConfig):
    model_type = "minicpmv"

    def __init__(self, query_num=64, image_size=112, **kwargs):
        self.query_num, self.image_size = query_num, image_size
        super().__init__(**kwargs)
