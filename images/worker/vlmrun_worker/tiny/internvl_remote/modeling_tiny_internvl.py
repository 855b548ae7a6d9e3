# TEST MODEL CODE (vlmrun): NOT InternVL. See configuration_tiny_internvl.py.
import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaForCausalLM, PreTrainedModel

from .configuration_tiny_internvl import TinyInternVLChatConfig

IMG_START_TOKEN = "<img>"
IMG_END_TOKEN = "</img>"
IMG_CONTEXT_TOKEN = "<IMG_CONTEXT>"


class TinyInternVLChatModel(PreTrainedModel):
    config_class = TinyInternVLChatConfig
    main_input_name = "pixel_values"
    _no_split_modules = ["LlamaDecoderLayer", "CLIPEncoderLayer"]

    def __init__(self, config):
        super().__init__(config)
        vh, hidden = config.vision_hidden, config.llm_config.hidden_size
        if getattr(config, "vision_layers", 0):  # InternVL's vision_model: a ViT whose CLS row is dropped
            self.vision_model = CLIPVisionModel(CLIPVisionConfig(
                hidden_size=vh, intermediate_size=config.vision_intermediate, num_hidden_layers=config.vision_layers,
                num_attention_heads=config.vision_heads, image_size=config.image_size, patch_size=config.patch_size))
        else:
            self.patch_embed = nn.Conv2d(3, vh, kernel_size=config.patch_size, stride=config.patch_size)
        scale = int(1 / config.downsample_ratio)
        self.mlp1 = nn.Sequential(nn.LayerNorm(vh * scale * scale), nn.Linear(vh * scale * scale, hidden),
                                  nn.GELU(), nn.Linear(hidden, hidden))
        self.language_model = LlamaForCausalLM(config.llm_config)
        self.num_image_token = int((config.image_size // config.patch_size) ** 2 * config.downsample_ratio ** 2)
        self.img_context_token_id = None

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.weight.data.normal_(0.0, 0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(0.0, 0.02)

    def pixel_shuffle(self, x, scale_factor):
        n, w, h, c = x.size()
        x = x.view(n, w, int(h * scale_factor), int(c / scale_factor))
        x = x.permute(0, 2, 1, 3).contiguous()
        x = x.view(n, int(h * scale_factor), int(w * scale_factor), int(c / (scale_factor * scale_factor)))
        return x.permute(0, 2, 1, 3).contiguous()

    def extract_feature(self, pixel_values):
        if getattr(self.config, "vision_layers", 0):
            x = self.vision_model(pixel_values=pixel_values).last_hidden_state[:, 1:, :]
            side = int(x.shape[1] ** 0.5)
            x = x.reshape(x.shape[0], side, side, x.shape[-1])
        else:
            x = self.patch_embed(pixel_values).permute(0, 2, 3, 1).contiguous()  # n, h, w, c
        x = self.pixel_shuffle(x, self.config.downsample_ratio)
        x = x.reshape(x.shape[0], -1, x.shape[-1])
        return self.mlp1(x)

    def _query(self, question, patches_per_image):
        """Each '<image>' in turn becomes <img> + <IMG_CONTEXT> x 256 x that image's tiles + </img>."""
        if "<image>" not in question:
            question = "<image>\n" + question
        query = (f"<|im_start|>system\n{self.config.system_message}<|im_end|>\n"
                 f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")
        for n in patches_per_image:
            image_tokens = IMG_START_TOKEN + IMG_CONTEXT_TOKEN * self.num_image_token * n + IMG_END_TOKEN
            query = query.replace("<image>", image_tokens, 1)
        return query

    def chat(self, tokenizer, pixel_values, question, generation_config, history=None, return_history=False,
             num_patches_list=None, verbose=False, **kwargs):
        if num_patches_list is None:
            num_patches_list = [pixel_values.shape[0]] if pixel_values is not None else []
        return self._generate_text(tokenizer, pixel_values, [self._query(question, num_patches_list)],
                                   generation_config)[0]

    def batch_chat(self, tokenizer, pixel_values, questions, generation_config, num_patches_list=None,
                   history=None, return_history=False, verbose=False, image_counts=None, **kwargs):
        """One image per question, as InternVL2's batch_chat takes them."""
        queries = [self._query(q, [n]) for q, n in zip(questions, num_patches_list)]
        return self._generate_text(tokenizer, pixel_values, queries, generation_config)

    def _generate_text(self, tokenizer, pixel_values, queries, generation_config):
        self.img_context_token_id = tokenizer.convert_tokens_to_ids(IMG_CONTEXT_TOKEN)
        tokenizer.padding_side = "left"
        enc = tokenizer(queries, return_tensors="pt", padding=True)
        gen = dict(generation_config)
        gen["eos_token_id"] = tokenizer.convert_tokens_to_ids("<|im_end|>")
        gen.setdefault("pad_token_id", tokenizer.pad_token_id)
        out = self.generate(pixel_values=pixel_values, input_ids=enc["input_ids"].to(self.device),
                            attention_mask=enc["attention_mask"].to(self.device), **gen)
        texts = tokenizer.batch_decode(out, skip_special_tokens=True)
        return [t.split("<|im_end|>")[0].strip() for t in texts]

    @torch.no_grad()
    def generate(self, pixel_values=None, input_ids=None, attention_mask=None, **generate_kwargs):
        embeds = self.language_model.get_input_embeddings()(input_ids)
        if pixel_values is not None:
            vit = self.extract_feature(pixel_values.to(self.dtype))
            b, n, c = embeds.shape
            flat = embeds.reshape(b * n, c)
            selected = input_ids.reshape(-1) == self.img_context_token_id
            flat[selected] = vit.reshape(-1, c).to(flat.dtype)
            embeds = flat.reshape(b, n, c)
        return self.language_model.generate(inputs_embeds=embeds, attention_mask=attention_mask, **generate_kwargs)
