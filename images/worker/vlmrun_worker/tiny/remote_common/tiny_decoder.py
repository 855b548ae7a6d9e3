# TEST MODEL CODE (vlmrun): what the remote-code test models share (a tiny Llama decoder standing in for each real
# model's own), copied next to each one's configuration and modeling files, which import it relatively as remote
# code does.
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, PretrainedConfig

SIZES = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=8192)


class TinyDecoderConfig(PretrainedConfig):
    """A test model's config: the tiny decoder's sizes, and whatever else the model's interface keeps there."""

    def __init__(self, **kwargs):
        for key, default in SIZES.items():
            setattr(self, key, kwargs.pop(key, default))
        super().__init__(**kwargs)


def tiny_llama(config, **extra):
    return LlamaForCausalLM(LlamaConfig(**{key: getattr(config, key) for key in SIZES}, **extra))


def init_weights(module):
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.Embedding)):
        module.weight.data.normal_(0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            module.bias.data.zero_()
