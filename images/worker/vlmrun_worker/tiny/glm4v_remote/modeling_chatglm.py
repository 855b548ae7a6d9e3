# TEST MODEL CODE (vlmrun): NOT GLM-4V; see configuration_chatglm.py. A Llama decoder stands in for GLM's; the
# placeholder between '<|begin_of_image|>' and '<|end_of_image|>' takes the image's pooled feature.
import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_chatglm import ChatGLMConfig
from .tiny_decoder import init_weights, tiny_llama


class ChatGLMForConditionalGeneration(PreTrainedModel):
    config_class = ChatGLMConfig
    _no_split_modules = ["LlamaDecoderLayer"]

    def __init__(self, config):
        super().__init__(config)
        self.lm = tiny_llama(config)
        self.patch = nn.Conv2d(3, 32, kernel_size=14, stride=14)
        self.proj = nn.Linear(32, config.hidden_size)

    def _init_weights(self, module):
        init_weights(module)

    @torch.no_grad()
    def generate(self, input_ids=None, attention_mask=None, position_ids=None, images=None, **kwargs):
        embeds = self.lm.get_input_embeddings()(input_ids)
        if images is not None:
            feats = self.proj(self.patch(images.to(self.patch.weight.dtype)).mean(dim=(2, 3)))
            embeds = embeds.clone()
            for b in range(input_ids.shape[0]):
                at = (input_ids[b] == self.config.boi_token_id).nonzero()
                if len(at):
                    embeds[b, int(at[0]) + 1] = feats[b].to(embeds.dtype)
        kwargs.setdefault("generation_config", self.generation_config)
        return self.lm.generate(input_ids=input_ids, inputs_embeds=embeds, attention_mask=attention_mask, **kwargs)
