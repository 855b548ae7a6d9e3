# TEST MODEL CODE (vlmrun): NOT Qwen-VL; see configuration_qwen.py. A Llama decoder stands in for QWen's; the
# interface is Qwen-VL's: generate(input_ids, ...) returns the whole sequence, the vision tower reads each image
# from the file whose path sits (as bytes) between '<img>' and '<imgpad>' in the prompt and replaces that span's
# 256 positions with its features, and chat() builds the chatml context and cuts the answer at its end token.
import numpy as np
import torch
from einops import rearrange
from PIL import Image
from torch import nn
from transformers import GenerationConfig, PreTrainedModel

from .configuration_qwen import QWenConfig
from .tiny_decoder import init_weights, tiny_llama

IMAGE_SIZE = 448
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


class VisionTransformer(nn.Module):
    """448x448 pixels -> 256 features of the language model's width (a 28px patch each)."""

    def __init__(self, width, out_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=28, stride=28)
        self.proj = nn.Linear(width, out_dim)

    def forward(self, x):
        return self.proj(rearrange(self.conv1(x), "b c h w -> b (h w) c"))

    def encode(self, image_paths):
        arrs = []
        for path in image_paths:
            image = Image.open(path).convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
            a = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
            arrs.append((a - np.array(MEAN, np.float32)[:, None, None]) / np.array(STD, np.float32)[:, None, None])
        x = torch.from_numpy(np.stack(arrs)).to(self.conv1.weight.device, self.conv1.weight.dtype)
        return self(x)


class QWenLMHeadModel(PreTrainedModel):
    config_class = QWenConfig
    _no_split_modules = ["LlamaDecoderLayer"]

    def __init__(self, config):
        super().__init__(config)
        self.lm = tiny_llama(config)
        self.visual = VisionTransformer(32, config.hidden_size)
        if not (config.bf16 or config.fp16 or config.fp32):  # Qwen-VL picks its precision itself
            config.bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            config.fp32 = not config.bf16
        if config.bf16:
            self.bfloat16()

    def _init_weights(self, module):
        init_weights(module)

    def _embeds(self, input_ids):
        embeds = self.lm.get_input_embeddings()(input_ids)
        start = self.config.visual["image_start_id"]
        spans = (input_ids == start).nonzero().tolist()
        if not spans:
            return embeds
        paths = []
        for b, a in spans:
            ids = input_ids[b, a + 1:].tolist()
            ids = ids[:ids.index(start + 1)]  # up to '</img>'
            paths.append(bytes(ids[:ids.index(start + 2)] if start + 2 in ids else ids).decode("utf-8"))
        feats = self.visual.encode(paths).to(embeds.dtype)
        embeds = embeds.clone()
        for (b, a), f in zip(spans, feats):
            embeds[b, a + 1:a + 1 + f.shape[0]] = f
        return embeds

    @torch.no_grad()
    def generate(self, input_ids=None, attention_mask=None, generation_config=None, stop_words_ids=None, **kwargs):
        gc = GenerationConfig(**{k: v for k, v in (generation_config or self.generation_config).to_dict().items()
                                 if k not in ("chat_format", "max_window_size", "transformers_version")})
        gc.update(**{k: v for k, v in kwargs.items() if k != "return_dict_in_generate"})
        ends = [gc.eos_token_id] if isinstance(gc.eos_token_id, int) else list(gc.eos_token_id or [])
        gc.eos_token_id = ends + [w[0] for w in (stop_words_ids or []) if len(w) == 1 and w[0] not in ends]
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.lm.generate(input_ids=input_ids, inputs_embeds=self._embeds(input_ids),
                                attention_mask=attention_mask, generation_config=gc)

    def chat(self, tokenizer, query, history, system="You are a helpful assistant.", append_history=True,
             stop_words_ids=None, generation_config=None, **kwargs):
        generation_config = generation_config if generation_config is not None else self.generation_config
        assert generation_config.chat_format == "chatml", "chat() speaks chatml only"
        history = [] if history is None else history
        raw_text = f"<|im_start|>system\n{system}<|im_end|>"
        for q, r in history:
            raw_text += f"\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n{r}<|im_end|>"
        raw_text += f"\n<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n"
        context = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(raw_text))
        stops = list(stop_words_ids or []) + [[tokenizer.im_end_id], [tokenizer.im_start_id]]
        out = self.generate(torch.tensor([context], device=self.device), stop_words_ids=stops,
                            generation_config=generation_config, **kwargs)
        answer = out[0, len(context):].tolist()
        for k, t in enumerate(answer):
            if t in (tokenizer.im_end_id, tokenizer.im_start_id, tokenizer.eod_id):
                answer = answer[:k]
                break
        response = tokenizer.decode(answer, errors="replace").strip()
        if append_history:
            history.append((query, response))
        return response, history

    def chat_stream(self, tokenizer, query, history, **kwargs):
        # as Qwen-VL's, this needs transformers_stream_generator (transformers checks the import at load time)
        from transformers_stream_generator.main import NewGenerationConfig, StreamGenerationConfig  # noqa: F401

        raise NotImplementedError("the test model does not stream")
