"""Shared pieces of the adapters."""
from __future__ import annotations

import copy
import threading
import zlib


class PerThread:
    """One copy of a processor per prefetch thread. A fast tokenizer keeps its padding settings in one shared
    Rust object, so two threads tokenizing at once can fail ('Already borrowed'); each prefetch thread gets
    its own deep copy, made on first use, and the main thread keeps the original."""

    def __init__(self, obj):
        self.obj, self._local = obj, threading.local()

    def get(self):
        if threading.current_thread() is threading.main_thread():
            return self.obj
        mine = getattr(self._local, "obj", None)
        if mine is None:
            mine = self._local.obj = copy.deepcopy(self.obj)
        return mine


def torch_dtype(name: str, device: str):
    import torch

    dtype = getattr(torch, name)
    if device == "cpu" and dtype == torch.float16:
        return torch.float32  # half precision matmuls are not implemented on every CPU
    return dtype


def with_suffix(text: str, spec: dict) -> str:
    """A model's extra prompt suffix from its manifest (empty unless set), after the benchmark's prompt."""
    return text + (spec.get("prompt") or {}).get("suffix", "")


def options(extra: dict) -> dict:
    """A multiple-choice row's options, letter -> text, in order: VLMEvalKit's
    `{c: line[c] for c in string.ascii_uppercase if c in line and not pd.isna(line[c])}` (data.cell gives None
    for a missing value, so an empty-looking but present cell such as ' ' is an option there and here)."""
    return {k: extra[k] for k in (chr(ord("A") + i) for i in range(26)) if extra.get(k) is not None}


def hint(extra: dict):
    return extra.get("hint")


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# VLMEvalKit's ImageVQADataset benchmarks (their default prompt asks for a short answer); OCRBench and the
# other VQA sets are ImageBaseDataset, whose default prompt is the bare question.
IMAGE_VQA_DATASETS = {"TextVQA_VAL", "DocVQA_VAL", "DocVQA_TEST", "InfoVQA_VAL", "InfoVQA_TEST", "ChartQA_TEST",
                      "OCRVQA_TEST", "OCRVQA_TESTCORE"}


def question_and_options(question: str, extra: dict) -> str:
    """'Hint: ...\n' (where the row has one), 'Question: ...\n', and 'Options:\nA. ...\n' (where it has options): the
    multiple-choice text of VLMEvalKit's default prompt, which MiniCPM-V's prompts start with too."""
    h, opts = hint(extra), options(extra)
    text = (f"Hint: {h}\n" if h is not None else "") + f"Question: {question}\n"
    return text + ("Options:\n" + "".join(f"{k}. {v}\n" for k, v in opts.items()) if opts else "")


def dataset_prompt(question: str, extra: dict, spec: dict) -> str:
    """The benchmark's own default prompt in VLMEvalKit, for models that take no custom prompt
    (vlmeval/dataset/image_mcq.py, image_yorn.py, image_vqa.py build_prompt):
      MCQ: 'Hint: ...\n' 'Question: ...\n' 'Options:\nA. ...\n' 'Please select the correct answer from the options above. \n'
      Y/N: the bare question.   VQA: + '\nAnswer the question using a single word or phrase.' (ImageVQADataset)."""
    kind, bench = spec.get("bench_type", "yorn"), spec.get("bench", "")
    if kind == "mcq":
        text = question_and_options(question, extra)
        return text + ("Please select the correct answer from the options above. \n" if options(extra) else "")
    if kind == "vqa" and bench in IMAGE_VQA_DATASETS:
        return question + "\nAnswer the question using a single word or phrase."
    return question


MMMU_DATASETS = {"MMMU_DEV_VAL", "MMMU_TEST"}


def split_image_tags(n_images: int, text: str) -> list:
    """VLMEvalKit's MMMUDataset.split_MMMU: a text holding '<image k>' tags becomes the interleaved list
    [text, ('image', k-1), text, ...] (an image can appear twice or not at all); otherwise all images first."""
    segs = text.split("<image ")
    if len(segs) == 1:
        return [("image", k) for k in range(n_images)] + [text]
    out = [segs[0]]
    for seg in segs[1:]:
        if not (seg[:1].isdigit() and seg[1:2] == ">"):
            raise ValueError(f"MMMU question with a malformed image tag: '<image {seg[:8]}'")
        out += [("image", int(seg[0]) - 1), seg[2:]]
    return out


def dataset_message(question: str, extra: dict, spec: dict, n_images: int) -> list:
    """The benchmark's default message in VLMEvalKit (dataset.build_prompt): ('image', k) items and texts,
    images first; MMMU splits its text at the '<image k>' tags."""
    text = dataset_prompt(question, extra, spec)
    if spec.get("bench") in MMMU_DATASETS:
        return split_image_tags(n_images, text)
    return [("image", k) for k in range(n_images)] + [text]


def prompt_and_image(question: str, extra: dict, spec: dict, n_images: int) -> tuple[str, int | None]:
    """VLMEvalKit's BaseModel.message_to_promptimg for wrappers that take no interleaved input, on the benchmark's
    default message: the texts joined by newlines, and the index of the first image shown (None: none)."""
    msg = dataset_message(question, extra or {}, spec, n_images)
    shown = [m[1] for m in msg if isinstance(m, tuple)]
    return "\n".join(m for m in msg if isinstance(m, str)), (shown[0] if shown else None)


def letter_prompt(question: str, extra: dict) -> str:
    """The multiple-choice prompt of VLMEvalKit's LLaVA and InternVL wrappers (build_multi_choice_prompt):
    hint, question, '\nA. ...' per option, then the instruction to answer with the letter (or, with no
    options, to answer directly), in Chinese where the text holds Chinese."""
    h, opts = hint(extra), options(extra)
    text = (f"{h}\n" if h is not None else "") + question + "".join(f"\n{k}. {v}" for k, v in opts.items())
    if opts:
        return text + ("\n请直接回答选项字母。" if has_chinese(text) else "\nAnswer with the option's letter from the given choices directly.")
    return text + ("\n请直接回答问题。" if has_chinese(text) else "\nAnswer the question directly.")


def generation_kwargs(spec: dict) -> dict:
    """The keyword arguments for generate, exactly as the model manifest lists them (they follow VLMEvalKit's
    wrapper for the model, which passes them explicitly; whatever is not listed comes from the checkpoint's
    generation_config, there as here)."""
    gen = dict(spec.get("generation") or {})
    if "max_length" not in gen:  # a wrapper that caps the whole sequence instead (GLM4v) passes only that
        gen.setdefault("max_new_tokens", 64)
    return gen


def row_seed(index) -> int:
    """A row's own random seed (crc32 of its index): what a sampling model draws for a row then depends neither on
    the batch, the ranks nor a resume."""
    return zlib.crc32(str(index).encode("utf-8"))


def checkpoint_generation(model_dir: str):
    """The checkpoint's generation_config, read from its folder (transformers' defaults where it has none)."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model_dir)
    except OSError:
        return GenerationConfig()


def transformers_version() -> tuple:
    """(major, minor) of the transformers in this environment."""
    import transformers

    return tuple(int(x) for x in transformers.__version__.split(".")[:2])


def dtype_kwargs(name: str, device: str) -> dict:
    """from_pretrained's dtype argument: `dtype` from transformers 4.56 on, `torch_dtype` before."""
    key = "dtype" if transformers_version() >= (4, 56) else "torch_dtype"
    return {key: torch_dtype(name, device)}


def placement(spec: dict, device: str) -> dict:
    """from_pretrained's placement: a rank spread over several GPUs (`gpus_per_rank` > 1; it sees only its own, as
    launch.py gives them) loads with device_map="auto" over them (transformers keeps each decoder layer whole and
    starts on the first GPU, where the inputs go); otherwise nothing, and the adapter moves the model."""
    return {"device_map": "auto"} if device.startswith("cuda") and int(spec.get("gpus_per_rank") or 1) > 1 else {}


def placed(model, device: str, where: dict):
    """The model in eval mode on its device: moved there unless from_pretrained placed it (`where`)."""
    if not where:
        model.to(device)
    return model.eval()


def generate_answers(model, processor, inputs, gen: dict) -> list[str]:
    """Greedy generation; the answers are the new tokens only (the prompt is cut off), decoded."""
    import torch

    with torch.inference_mode():
        out = model.generate(**inputs, **gen)
    new = out[:, inputs["input_ids"].shape[1]:]
    return processor.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def eos_ids(model) -> set:
    """The token ids that end generation, from the model's generation_config (an int or a list; none for the
    stand-in model of `vlmrun inspect`)."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    return set(eos if isinstance(eos, list) else [] if eos is None else [eos])


def rows_until_end(new_tokens, eos: set) -> list[list[int]]:
    """Each row's new tokens up to and including its first end token: what generate() returns for that row alone
    (in a batch, a row that ends early is padded after its end). For wrappers that decode special tokens too."""
    out = []
    for row in new_tokens.tolist():
        end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
        out.append(row[:end])
    return out


class HFAdapter:
    """What most adapters over one transformers model class share: the checkpoint's processor (left padding for
    batches, one copy per prefetch thread), the model in the manifest's dtype on the job's device (or spread over a
    rank's GPUs), and generate()'s keyword arguments. A subclass names its classes and builds its inputs."""
    MODEL = ""  # the transformers model class
    PROCESSOR = "AutoProcessor"
    DTYPE = "bfloat16"  # where the manifest gives none

    def __init__(self, model_dir: str, spec: dict, device: str):
        import transformers

        self.spec, self.device = spec, device
        self.processor = getattr(transformers, self.PROCESSOR).from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.processors = PerThread(self.processor)  # prepare() runs in several prefetch threads
        where = placement(spec, device)
        self.model = placed(getattr(transformers, self.MODEL).from_pretrained(
            model_dir, **dtype_kwargs(spec.get("dtype", self.DTYPE), device), **where), device, where)
        self.gen = generation_kwargs(spec)

    @property
    def eos(self) -> set:
        return eos_ids(self.model)


def one_image_each(samples, spec: dict, build, model: str) -> tuple[list[str], list]:
    """For wrappers that take one image per request: each sample's prompt and the image it shows, from `build`
    (question, extra, spec, n_images) -> (prompt, index of the image or None)."""
    texts, images = [], []
    for s in samples:
        text, first = build(s.question, s.extra, spec, len(s.images))
        if first is None:
            raise ValueError(f"{model} answers questions about an image: this request has none")
        texts.append(text)
        images.append(s.images[first])
    return texts, images


class OneRowAdapter:
    """For wrappers whose processor takes one text: `_inputs(sample)` builds a row's model inputs, `_decode(new)` its
    answer from the new tokens (a (1, n) tensor); prepare and generate run them row by row."""

    def prepare(self, samples):
        return [self._inputs(s) for s in samples]

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        answers = []
        for inputs in (prepared if prepared is not None else self.prepare(samples)):
            inputs = inputs.to(self.device)
            with torch.inference_mode():
                out = self.model.generate(**inputs, **self.gen)
            answers.append(self._decode(out[:, inputs["input_ids"].shape[1]:]))
        return answers
