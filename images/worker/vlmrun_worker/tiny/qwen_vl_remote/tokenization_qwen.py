# TEST MODEL CODE (vlmrun): NOT Qwen-VL's tokenizer; see configuration_qwen.py. A byte-level tiktoken vocabulary
# (qwen.tiktoken: one rank per byte) with Qwen-VL's special tokens after it.
import base64
import os
import unicodedata

import tiktoken
from transformers import PreTrainedTokenizer

PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
ENDOFTEXT, IMSTART, IMEND = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
IMAGE_ST = ("<ref>", "</ref>", "<box>", "</box>", "<quad>", "</quad>", "<img>", "</img>", "<imgpad>")
SPECIAL_TOKENS = (ENDOFTEXT, IMSTART, IMEND) + IMAGE_ST
IMG_TOKEN_SPAN = 256
VOCAB_FILES_NAMES = {"vocab_file": "qwen.tiktoken"}


def write_vocab(path):
    """The byte-level vocabulary file: each byte is its own rank."""
    with open(path, "w") as f:
        for b in range(256):
            f.write(f"{base64.b64encode(bytes([b])).decode()} {b}\n")


def _load_ranks(path):
    with open(path, "rb") as f:
        return {base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in f if line.strip())}


def _replace_closed_tag(items, start, end, fn):
    """Each span start..end (inclusive) of `items` replaced by fn(span)."""
    out, i = [], 0
    while i < len(items):
        if items[i] == start and end in items[i + 1:]:
            j = items.index(end, i + 1)
            out += fn(items[i:j + 1])
            i = j + 1
        else:
            out.append(items[i])
            i += 1
    return out


class QWenTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(self, vocab_file, errors="replace", **kwargs):
        self.errors = errors
        self.mergeable_ranks = _load_ranks(vocab_file)
        self.special_tokens = {t: i for i, t in enumerate(SPECIAL_TOKENS, start=len(self.mergeable_ranks))}
        self.tokenizer = tiktoken.Encoding("TinyQwen", pat_str=PAT_STR, mergeable_ranks=self.mergeable_ranks,
                                           special_tokens=self.special_tokens)
        self.decoder = {v: k for k, v in self.mergeable_ranks.items()}
        self.decoder.update({v: k for k, v in self.special_tokens.items()})
        self.eod_id = self.special_tokens[ENDOFTEXT]
        self.im_start_id, self.im_end_id = self.special_tokens[IMSTART], self.special_tokens[IMEND]
        self.image_start_tag, self.image_end_tag, self.image_pad_tag = "<img>", "</img>", "<imgpad>"
        self.img_start_id = self.special_tokens[self.image_start_tag]
        self.img_end_id = self.special_tokens[self.image_end_tag]
        self.img_pad_id = self.special_tokens[self.image_pad_tag]
        self.ref_start_tag, self.ref_end_tag, self.box_start_tag, self.box_end_tag = IMAGE_ST[:4]
        self.vocab_file = vocab_file
        super().__init__(errors=errors, **kwargs)

    @property
    def vocab_size(self):
        return self.tokenizer.n_vocab

    def __len__(self):
        return self.tokenizer.n_vocab

    def get_vocab(self):
        return {**{k: v for k, v in self.mergeable_ranks.items()}, **self.special_tokens}

    def tokenize(self, text, allowed_special="all", disallowed_special=(), **kwargs):
        text = unicodedata.normalize("NFC", text)
        tokens = [self.decoder[t] for t in self.tokenizer.encode(text, allowed_special=allowed_special,
                                                                 disallowed_special=disallowed_special)]

        def encode_path(span):  # '<img>', the path's bytes as tokens, padded to 256 with '<imgpad>', '</img>'
            path = b"".join(span[1:-1])
            inner = [self.decoder[b] for b in path]
            if len(inner) > IMG_TOKEN_SPAN:
                raise ValueError(f"The content in {self.image_start_tag}..{self.image_end_tag} is too long")
            return [self.image_start_tag] + inner + [self.image_pad_tag] * (IMG_TOKEN_SPAN - len(inner)) \
                + [self.image_end_tag]

        return _replace_closed_tag(tokens, self.image_start_tag, self.image_end_tag, encode_path)

    def convert_tokens_to_string(self, tokens):
        out, buf = "", b""
        for t in tokens:
            if isinstance(t, str):
                out += buf.decode("utf-8", errors=self.errors) + t
                buf = b""
            else:
                buf += t
        return out + buf.decode("utf-8", errors=self.errors)

    def _convert_token_to_id(self, token):
        if token in self.special_tokens:
            return self.special_tokens[token]
        return self.mergeable_ranks[token]

    def _convert_id_to_token(self, index):
        return self.decoder[index]

    def _decode(self, token_ids, skip_special_tokens=False, errors=None, **kwargs):
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        token_ids = list(token_ids)

        def decode_path(span):
            inner = span[1:-1]
            inner = inner[:inner.index(self.img_pad_id)] if self.img_pad_id in inner else inner
            if any(i > 255 for i in inner):  # not a path (a random model can write '<img>' anywhere)
                return span
            return [self.img_start_id] + self.tokenizer.encode(bytes(inner).decode("utf-8")) + [self.img_end_id]

        token_ids = _replace_closed_tag(token_ids, self.img_start_id, self.img_end_id, decode_path)
        if skip_special_tokens:
            token_ids = [i for i in token_ids if i < self.eod_id]
        return self.tokenizer.decode(token_ids, errors=errors or self.errors)

    def from_list_format(self, list_format):
        text, num_images = "", 0
        for ele in list_format:
            if "image" in ele:
                num_images += 1
                text += f"Picture {num_images}: " + self.image_start_tag + ele["image"] + self.image_end_tag + "\n"
            elif "text" in ele:
                text += ele["text"]
            elif "box" in ele:
                if "ref" in ele:
                    text += self.ref_start_tag + ele["ref"] + self.ref_end_tag
                for box in ele["box"]:
                    text += self.box_start_tag + "(%d,%d),(%d,%d)" % tuple(box[:4]) + self.box_end_tag
            else:
                raise ValueError("Unsupported element: " + str(ele))
        return text

    def save_vocabulary(self, save_directory, filename_prefix=None):
        path = os.path.join(save_directory, (filename_prefix or "") + "qwen.tiktoken")
        write_vocab(path)
        return (path,)
