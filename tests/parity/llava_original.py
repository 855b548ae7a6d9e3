"""LLaVA-1.5 at token level: VLMEvalKit's `LLaVA` wrapper runs haotian-liu's original `llava` package (PyPI
`llava-torch`, the code of liuhaotian/llava-v1.5-7b) while vlmrun runs the llava-hf conversion through
transformers. Both are given the same tiny random weights, each in its own layout, made here the way the
published pair was made:

  original    a LlavaLlamaForCausalLM (Llama + mlp2x_gelu projector), its config shaped like
              liuhaotian/llava-v1.5-7b's (mm_vision_select_layer -2, 'patch' features, image_aspect_ratio 'pad'),
              a SentencePiece BPE tokenizer trained here with LLaMA's settings (byte fallback, split digits,
              whitespace pieces, dummy prefix; read by the slow LlamaTokenizer with legacy=False, as VLMEvalKit does
              with use_fast=False), and a CLIP tower folder at 336 px (the original loads it by path);
  hf          the same weights through transformers' own conversion (models/llava/convert_llava_weights_to_hf.py:
              its key mapping, '<image>' and '<pad>' added to the fast tokenizer, embeddings grown to a multiple of
              64), with llava-hf's processor.

  python llava_original.py SITE OUT   (in the transformers-4.37 image; SITE: the oracle's unpacked wheels)
      -> OUT/llava-v1.5-tiny (original), OUT/clip-vit-tiny-336 (its tower), OUT/llava-1.5-tiny-hf (converted)

In the oracle both sides generate for real (fp16, as VLMEvalKit runs it; vlmrun's fp16 kept on the CPU here as it
is on a GPU), each model wrapped by a spy that records its generate() call: the checks compare the prompt tokens
(the original's IMAGE_TOKEN_INDEX -200 read as llava-hf's <image> id), pixels, generate() arguments, stopping,
and the answers (the first `cap` new tokens of each)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE = 336  # the published CLIP ViT-L/14-336 preprocessing: 576 image tokens
SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
          "detailed, and polite answers to the human's questions. ")


def corpus() -> list[str]:
    """Training text for the tiny tokenizer: the prompts the checks build, with runs of spaces (LLaMA's vocabulary
    has whitespace pieces from its first merge on) and digits."""
    sys.path.insert(0, str(HERE))
    import cases

    lines = [SYSTEM + "USER:  <image> What is shown? ASSISTANT: A cat.",
             "Answer with the option's letter from the given choices directly.", "Answer the question directly.",
             "Please answer yes or no.", "Answer the question using a single word or phrase.",
             "    def f(x):\n        return x  # indented code", "1234567890 3.14 2024-11-26", "\u8bf7\u76f4\u63a5\u56de\u7b54\u9009\u9879\u5b57\u6bcd\u3002"]
    for text in cases.tables().values():
        for row in text.splitlines()[1:]:
            lines += [c for c in row.split("\t") if c and len(c) < 300]
    return lines * 20


def make_tokenizer(out: Path) -> None:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_prefix=str(out / "tokenizer"), model_type="bpe", vocab_size=1200,
        hard_vocab_limit=False, byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity", add_dummy_prefix=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, character_coverage=0.9995, num_threads=1, minloglevel=2)
    (out / "tokenizer.vocab").unlink()
    (out / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": None, "clean_up_tokenization_spaces": False, "legacy": False, "model_max_length": 4096,
        "padding_side": "right", "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer"}, indent=1))
    (out / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}, indent=1))


def make(out: Path) -> None:
    import torch
    from transformers import (AddedToken, AutoTokenizer, CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel,
                              LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor)
    from transformers.models.llava.convert_llava_weights_to_hf import convert_state_dict_to_hf

    from llava.model import LlavaLlamaForCausalLM
    from llava.model.language_model.llava_llama import LlavaConfig as OriginalConfig

    orig, clip, hf = out / "llava-v1.5-tiny", out / "clip-vit-tiny-336", out / "llava-1.5-tiny-hf"
    for d in (orig, clip, hf):
        d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                              image_size=IMAGE, patch_size=14, projection_dim=32)
    CLIPVisionModel(vision).save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}).save_pretrained(clip)
    make_tokenizer(orig)
    slow = AutoTokenizer.from_pretrained(orig, use_fast=False)
    cfg = OriginalConfig(
        vocab_size=len(slow), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=4096, max_length=4096, rms_norm_eps=1e-5, bos_token_id=1,
        eos_token_id=2, pad_token_id=0, tie_word_embeddings=False, architectures=["LlavaLlamaForCausalLM"],
        mm_vision_tower=str(clip), mm_hidden_size=32, mm_projector_type="mlp2x_gelu", mm_vision_select_layer=-2,
        mm_vision_select_feature="patch", image_aspect_ratio="pad", mm_use_im_start_end=False,
        mm_use_im_patch_token=False, use_mm_proj=True, torch_dtype="float16")
    model = LlavaLlamaForCausalLM(cfg)
    model.model.vision_tower.load_model()  # the tower by path, as the original loads it
    # the original checkpoint holds the LLM and projector; the tower stays in its own folder
    model.save_pretrained(orig, state_dict={k: v for k, v in model.state_dict().items() if ".vision_tower." not in k})
    cfg_json = json.loads((orig / "config.json").read_text())
    cfg_json["model_type"] = "llava"  # as liuhaotian/llava-v1.5-7b writes it
    (orig / "config.json").write_text(json.dumps(cfg_json, indent=1))

    # llava-hf's conversion, on these weights
    tok = AutoTokenizer.from_pretrained(orig)  # fast, converted from the slow one
    tok.add_tokens(AddedToken("<image>", special=True, normalized=False), special_tokens=True)
    tok.add_special_tokens({"pad_token": "<pad>"})
    text = model.config.to_dict()
    text = {k: text[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                 "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                                 "rms_norm_eps", "bos_token_id", "eos_token_id", "tie_word_embeddings")}
    config = LlavaConfig(text_config={"model_type": "llama", **text}, vision_config=vision.to_dict(),
                         image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-2,
                         vision_feature_select_strategy="default", projector_hidden_act="gelu",
                         vocab_size=text["vocab_size"])
    config.pad_token_id = tok.pad_token_id
    converted = LlavaForConditionalGeneration(config)
    converted.load_state_dict(convert_state_dict_to_hf(model.state_dict()), strict=True)
    emb = converted.language_model.model.embed_tokens.weight.data
    mu, sd = emb.mean(0), emb.std(0)
    n = text["vocab_size"]
    converted.resize_token_embeddings(n + 2, 64)
    with torch.no_grad():  # the added rows drawn around the old rows' mean, as the conversion does
        for w in (converted.language_model.model.embed_tokens.weight, converted.language_model.lm_head.weight):
            w[n:] = mu + 1e-2 * sd * torch.randn(w.shape[0] - n, w.shape[1])
    converted.config.vocab_size = converted.config.text_config.vocab_size = converted.language_model.lm_head.weight.shape[0]
    converted.to(torch.float16).save_pretrained(hf)
    LlavaProcessor(tokenizer=tok, image_processor=CLIPImageProcessor.from_pretrained(clip)).save_pretrained(hf)
    tc = json.loads((hf / "tokenizer_config.json").read_text())
    tc["padding_side"] = "left"  # as llava-hf/llava-1.5-7b-hf publishes it
    (hf / "tokenizer_config.json").write_text(json.dumps(tc, indent=1))


# --- in the oracle -------------------------------------------------------------------------------------------

class Spy:
    """Stands in front of a model: records each generate() call as given, then runs the real one with at most
    `cap` new tokens (a random-weight model seldom stops by itself)."""

    def __init__(self, model, cap: int):
        self.model, self.cap, self.calls = model, cap, []
        self.device = getattr(model, "device", "cpu")

    def __getattr__(self, name):
        return getattr(self.model, name)

    def generate(self, *args, **kw):
        if args:
            kw = {"input_ids": args[0], **kw}
        self.calls.append(dict(kw))
        run = dict(kw)
        run["max_new_tokens"] = min(int(run.get("max_new_tokens") or self.cap), self.cap)
        inputs = run.pop("input_ids")
        return self.model.generate(inputs, **run)


def _cuda_on_cpu():
    """VLMEvalKit's LLaVA moves the model and inputs with .cuda() / .to('cuda', ...): both stay on the CPU here."""
    import torch

    torch.nn.Module.cuda = lambda self, *a, **kw: self
    torch.Tensor.cuda = lambda self, *a, **kw: self
    to = torch.Tensor.to

    def to_cpu(self, *a, **kw):
        a = tuple("cpu" if x == "cuda" else x for x in a)
        if kw.get("device") == "cuda":
            kw["device"] = "cpu"
        return to(self, *a, **kw)

    torch.Tensor.to = to_cpu


def build(cfg):
    import torch
    from vlmeval.vlm.llava import llava as M

    from vlmrun_worker.adapters import base, load_adapter

    _cuda_on_cpu()
    base.torch_dtype = lambda name, device: getattr(torch, name)  # fp16 stays fp16 on the CPU (a GPU's precision)
    wrapper = M.LLaVA(model_path=cfg["original_dir"], **cfg["wrapper_args"])
    adapter = load_adapter(cfg["adapter"], cfg["model_dir"], dict(cfg["spec"]), "cpu")
    adapter.model_dir = cfg["model_dir"]
    wrapper.model, adapter.model = Spy(wrapper.model, cfg["cap"]), Spy(adapter.model, cfg["cap"])
    wrapper.original_dir = cfg["original_dir"]
    return wrapper, adapter


# generation settings that differ by layout and decide nothing here: the pad id (the original pads with <unk>,
# the conversion adds <pad>; a batch of one is never padded) and max_length (max_new_tokens overrides it)
LAYOUT = ("pad_token_id", "max_length")


def compare(wrapper, adapter, struct, sample, name):
    import torch
    from oracle import describe, same
    from wrappers import _effective, _same_pixels

    from llava.constants import IMAGE_TOKEN_INDEX

    wrapper.model.calls.clear()
    adapter.model.calls.clear()
    theirs = wrapper.generate(message=struct, dataset=name)
    ours = adapter.generate([sample])[0]
    a, b = wrapper.model.calls[-1], adapter.model.calls[-1]
    image_id = adapter.model.config.image_token_index
    ids = a["input_ids"].clone()
    ids[ids == IMAGE_TOKEN_INDEX] = image_id
    stops = a.pop("stopping_criteria")
    ga = {k: v for k, v in a.items() if k not in ("input_ids", "images")}
    gb = {k: v for k, v in b.items() if not isinstance(v, torch.Tensor)}
    ea = {k: v for k, v in _effective(wrapper.original_dir, ga).items() if k not in LAYOUT}
    eb = {k: v for k, v in _effective(adapter.model_dir, gb).items() if k not in LAYOUT}
    eos = adapter.processor.tokenizer.eos_token
    checks = {
        "prompt tokens": same(ids, b["input_ids"]),
        "attention mask": "attention_mask" not in a and bool((b["attention_mask"] == 1).all()),
        "image pixels": _same_pixels(a["images"], b["pixel_values"]),
        "generate kwargs": same(ga, gb),
        "effective generation": ea == eb,
        "stops at </s>": [k for s in stops for k in s.keywords] == [eos] and eb.get("eos_token_id") ==
        adapter.processor.tokenizer.convert_tokens_to_ids(eos),
        "answer": theirs == ours,
    }
    tok = adapter.processor.tokenizer
    return {"checks": checks, "prompt": tok.decode(b["input_ids"][0]), "vlmeval": theirs, "vlmrun": ours,
            "image_tokens": int((b["input_ids"] == image_id).sum()), "generate_kwargs": describe(gb),
            "effective_generation": eb,
            "differs": {k: v for k, v in {
                "input_ids": [ids.tolist(), b["input_ids"].tolist()] if not checks["prompt tokens"] else None,
                "generate": [describe(ga), describe(gb)] if not checks["generate kwargs"] else None,
                "effective": [ea, eb] if not checks["effective generation"] else None,
                "answer": [theirs, ours] if not checks["answer"] else None}.items() if v is not None}}


if __name__ == "__main__":
    sys.path.insert(1, sys.argv[1])
    make(Path(sys.argv[2]))
