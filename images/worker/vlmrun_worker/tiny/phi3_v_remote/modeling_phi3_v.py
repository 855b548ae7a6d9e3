# TEST MODEL CODE (vlmrun): NOT Phi-3-Vision; see configuration_phi3_v.py. A Llama decoder stands in for Phi-3's;
# each run of -k ids in the prompt takes image k's features (its crops, patch-embedded, cycled to its length).
import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_phi3_v import Phi3VConfig
from .tiny_decoder import init_weights, tiny_llama


class Phi3VForCausalLM(PreTrainedModel):
    config_class = Phi3VConfig
    _no_split_modules = ["LlamaDecoderLayer"]
    _supports_sdpa = True

    def __init__(self, config):
        super().__init__(config)
        self.lm = tiny_llama(config, attn_implementation=config._attn_implementation)
        self.patch = nn.Conv2d(3, 32, kernel_size=48, stride=48)
        self.proj = nn.Linear(32, config.hidden_size)

    def _init_weights(self, module):
        init_weights(module)

    def _embeds(self, input_ids, pixel_values, image_sizes):
        embeds = self.lm.get_input_embeddings()(input_ids.clamp(min=0))
        if pixel_values is None:
            return embeds
        embeds = embeds.clone()
        for k, (crops, (h, w)) in enumerate(zip(pixel_values, image_sizes)):
            n_crops = int(h) // 336 * (int(w) // 336) + 1
            x = self.patch(crops[:n_crops].to(self.patch.weight.dtype)).flatten(2).transpose(1, 2).reshape(-1, 32)
            feats = self.proj(x)
            where = (input_ids == -(k + 1)).nonzero()
            embeds[where[:, 0], where[:, 1]] = feats[torch.arange(len(where)) % len(feats)].to(embeds.dtype)
        return embeds

    @torch.no_grad()
    def generate(self, input_ids=None, attention_mask=None, pixel_values=None, image_sizes=None, **kwargs):
        kwargs.setdefault("generation_config", self.generation_config)
        new = self.lm.generate(input_ids=input_ids.clamp(min=0), attention_mask=attention_mask,
                               inputs_embeds=self._embeds(input_ids, pixel_values, image_sizes), **kwargs)
        return torch.cat([input_ids, new[:, input_ids.shape[1]:]], dim=1)
