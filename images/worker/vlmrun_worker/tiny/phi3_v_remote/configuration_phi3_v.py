# TEST MODEL CODE (vlmrun): NOT Phi-3-Vision. A tiny model exposing Phi-3-Vision / Phi-3.5-Vision's remote-code
# interface -- AutoModelForCausalLM and AutoProcessor with trust_remote_code; the processor turns each
# '<|image_k|>' into -k repeated for that image's token count, tokenizes the text between them each with its own
# BOS, and hands generate() pixel_values (the global view and up to num_crops 336px crops per image) and
# image_sizes -- so vlmrun's phi3_vision adapter can be tested where the real checkpoints cannot be downloaded.
# Written from the interface's behaviour, not its code.
from .tiny_decoder import TinyDecoderConfig


class Phi3VConfig(TinyDecoderConfig):
    model_type = "phi3_v"
