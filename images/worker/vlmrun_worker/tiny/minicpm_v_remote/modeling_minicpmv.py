# TEST MODEL CODE (vlmrun): NOT MiniCPM-V; see configuration_minicpm.py. A Llama decoder stands in for Qwen2; each
# image (resized to image_size, no slicing) becomes query_num '<unk>' positions between '<image>' and '</image>',
# after '<image_id>k</image_id>' when use_image_id, which take its features.
import numpy as np
import torch
from PIL import Image
from torch import nn
from transformers import PreTrainedModel

from .configuration_minicpm import MiniCPMVConfig
from .tiny_decoder import init_weights, tiny_llama


class MiniCPMV(PreTrainedModel):
    config_class = MiniCPMVConfig
    _no_split_modules = ["LlamaDecoderLayer"]

    def __init__(self, config):
        super().__init__(config)
        self.llm = tiny_llama(config)
        self.patch = nn.Conv2d(3, 32, kernel_size=14, stride=14)
        self.proj = nn.Linear(32, config.hidden_size)
        self.terminators = ["<|im_end|>", "<|endoftext|>"]

    def _init_weights(self, module):
        init_weights(module)

    def _features(self, image):
        size = self.config.image_size
        a = np.asarray(image.convert("RGB").resize((size, size), Image.BICUBIC), np.float32).transpose(2, 0, 1)
        x = torch.from_numpy((a / 255.0 - 0.5) / 0.5)[None].to(self.device, self.patch.weight.dtype)
        f = self.proj(self.patch(x).flatten(2).transpose(1, 2))[0]
        return f[torch.arange(self.config.query_num) % len(f)]

    def chat(self, image, msgs, tokenizer, processor=None, vision_hidden_states=None, max_new_tokens=2048,
             min_new_tokens=0, sampling=True, max_inp_length=8192, system_prompt="", stream=False,
             max_slice_nums=None, use_image_id=None, **kwargs):
        assert image is None and len(msgs) == 1 and msgs[0]["role"] == "user", "one user turn, images in its content"
        text = "<|im_start|>user\n"
        images = [c for c in msgs[0]["content"] if isinstance(c, Image.Image)]
        n = 0
        for item in msgs[0]["content"]:
            if isinstance(item, Image.Image):
                n += 1
                text += (f"<image_id>{n - 1}</image_id>" if use_image_id else "") + "<image>" \
                    + "<unk>" * self.config.query_num + "</image>\n"
            else:
                text += item
        text += "<|im_end|>\n<|im_start|>assistant\n"
        ids = tokenizer(text, return_tensors="pt").input_ids[:, -max_inp_length:].to(self.device)
        embeds = self.llm.get_input_embeddings()(ids).clone()
        where = (ids[0] == tokenizer.convert_tokens_to_ids("<unk>")).nonzero()[:, 0]
        if images:
            feats = torch.cat([self._features(im) for im in images]).to(embeds.dtype)
            embeds[0, where] = feats[:len(where)]
        gen = dict(max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, do_sample=sampling,
                   eos_token_id=[tokenizer.convert_tokens_to_ids(t) for t in self.terminators],
                   pad_token_id=tokenizer.pad_token_id)
        gen.update({"num_beams": 3, "repetition_penalty": 1.2} if not sampling else
                   {"top_p": 0.8, "top_k": 100, "temperature": 0.7, "repetition_penalty": 1.05})
        gen.update(kwargs)
        with torch.inference_mode():
            out = self.llm.generate(input_ids=ids, inputs_embeds=embeds, attention_mask=torch.ones_like(ids), **gen)
        return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
