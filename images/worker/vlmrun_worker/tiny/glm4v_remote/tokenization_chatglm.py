# TEST MODEL CODE (vlmrun): NOT GLM-4V's tokenizer; see configuration_chatglm.py. A byte-level tiktoken vocabulary
# (tokenizer.model: one rank per byte) with GLM-4's special tokens after it.
import base64
import os

import numpy as np
import tiktoken
import torch
from PIL import Image
from transformers import BatchEncoding, PreTrainedTokenizer

PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
SPECIAL = ("<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>", "<|assistant|>",
           "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>")
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def write_vocab(path):
    with open(path, "w") as f:
        for b in range(256):
            f.write(f"{base64.b64encode(bytes([b])).decode()} {b}\n")


class ChatGLM4Tokenizer(PreTrainedTokenizer):
    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask", "position_ids"]

    def __init__(self, vocab_file, padding_side="left", image_size=1120, errors="replace", **kwargs):
        with open(vocab_file, "rb") as f:
            ranks = {base64.b64decode(t): int(r) for t, r in (line.split() for line in f if line.strip())}
        self.mergeable_ranks = ranks
        self.special_tokens = {t: i for i, t in enumerate(SPECIAL, start=len(ranks))}
        self.tokenizer = tiktoken.Encoding("TinyGLM4", pat_str=PAT_STR, mergeable_ranks=ranks,
                                           special_tokens=self.special_tokens)
        self.decoder = {v: k for k, v in ranks.items()}
        self.decoder.update({v: k for k, v in self.special_tokens.items()})
        self.vocab_file, self.image_size, self.errors = vocab_file, image_size, errors
        super().__init__(padding_side=padding_side, image_size=image_size, errors=errors, **kwargs)

    @property
    def vocab_size(self):
        return self.tokenizer.n_vocab

    def get_vocab(self):
        return {**{k.decode("latin-1"): v for k, v in self.mergeable_ranks.items()}, **self.special_tokens}

    def _tokenize(self, text, **kwargs):
        return [self.decoder[t] for t in self.tokenizer.encode(text, disallowed_special=())]

    def convert_tokens_to_string(self, tokens):
        out, buf = "", b""
        for t in tokens:
            if isinstance(t, str):
                out, buf = out + buf.decode("utf-8", errors=self.errors) + t, b""
            else:
                buf += t
        return out + buf.decode("utf-8", errors=self.errors)

    def _convert_token_to_id(self, token):
        return self.special_tokens[token] if token in self.special_tokens else self.mergeable_ranks[token]

    def _convert_id_to_token(self, index):
        return self.decoder[index]

    def _decode(self, token_ids, skip_special_tokens=False, **kwargs):
        ids = [token_ids] if isinstance(token_ids, int) else list(token_ids)
        if skip_special_tokens:
            ids = [i for i in ids if i < len(self.mergeable_ranks)]
        return self.tokenizer.decode(ids, errors=self.errors)

    def _image(self, image):
        im = image.convert("RGB").resize((self.image_size, self.image_size), Image.BICUBIC)
        a = np.asarray(im, np.float32).transpose(2, 0, 1) / 255.0
        return torch.from_numpy((a - np.array(MEAN, np.float32)[:, None, None]) / np.array(STD, np.float32)[:, None, None])

    def _turn(self, role, message, prefix=None):
        return ([self.special_tokens[f"<|{role}|>"]] + self.tokenizer.encode("\n", disallowed_special=())
                + (prefix or []) + self.tokenizer.encode(message, disallowed_special=()))

    def apply_chat_template(self, conversation, add_generation_prompt=False, tokenize=True, padding=False,
                            truncation=False, max_length=None, return_tensors=None, return_dict=False, **kwargs):
        ids = [self.special_tokens["[gMASK]"], self.special_tokens["<sop>"]]
        image = None
        for item in conversation:
            prefix = None
            if item.get("image"):
                assert image is None, "Multiple images are not supported"
                image = self._image(item["image"])
                prefix = [self.special_tokens[t] for t in ("<|begin_of_image|>", "<|endoftext|>", "<|end_of_image|>")]
            if item.get("content") or prefix:
                ids += self._turn(item["role"], item.get("content") or "", prefix)
        if add_generation_prompt:
            ids.append(self.special_tokens["<|assistant|>"])
        if not tokenize:
            return self._decode(ids)
        data = {"input_ids": [ids], "attention_mask": [[1] * len(ids)], "position_ids": [list(range(len(ids)))]}
        out = BatchEncoding(data, tensor_type=return_tensors)
        if not return_dict:
            return out["input_ids"]
        if image is not None:
            out["images"] = torch.stack([image])
        return out

    def save_vocabulary(self, save_directory, filename_prefix=None):
        path = os.path.join(save_directory, (filename_prefix or "") + "tokenizer.model")
        write_vocab(path)
        return (path,)
