"""A byte-level BPE tokenizer with a model's special tokens, made with `tokenizers` (no download)."""


def byte_level_tokenizer(special_tokens, chat_template=None, cls=None, **roles):
    """cls: the fast tokenizer class a processor insists on (e.g. LlamaTokenizerFast for LlavaProcessor)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tk = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens(list(special_tokens))
    tok = (cls or PreTrainedTokenizerFast)(tokenizer_object=tk, **roles)
    if chat_template:
        tok.chat_template = chat_template
    return tok


def version_tuple():
    import transformers

    return tuple(int(x) for x in transformers.__version__.split(".")[:2])
