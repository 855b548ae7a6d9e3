"""Qwen-VL-Chat (Qwen/Qwen-VL-Chat) through its remote code, as VLMEvalKit's QwenVLChat drives it
(vlmeval/vlm/qwen_vl.py; interleaved, no custom prompt):
- the benchmark's default message (images first; MMMU split at its '<image k>' tags), each image as the path of
  its file: `tokenizer.from_list_format([{'image': path} | {'text': text}, ...])` writes
  'Picture k: <img>PATH</img>\\n' per image and the texts as they are;
- `model.chat(tokenizer, query=query, history=None)` with no other argument: the system prompt, the chatml
  context, the stop words and the generation settings are the checkpoint's (Qwen-VL-Chat's generation_config
  samples with top_p 0.3, top_k 0, at most 512 new tokens); the answer is chat()'s response;
- no dtype: the remote code picks its precision (bf16 where the GPU has it).
The model reads each image from its file, so the images are written (PNG, lossless: the pixels are the ones
VLMEvalKit's dumped file decodes to, see data.py) into a private folder for the time of the call. VLMEvalKit
does not seed the sampling; here each row seeds it from its own index (crc32), so an answer does not depend on
the batch size, the rank count or a resume. One row per chat() call, as chat() takes one query.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading

from .base import checkpoint_generation, dataset_message, row_seed


def vl_list(question: str, extra: dict, spec: dict, paths: list[str]) -> list[dict]:
    """QwenVLChat.generate_inner's list for from_list_format: the default message, each image as its file."""
    msg = dataset_message(question, extra or {}, spec, len(paths))
    return [{"image": paths[m[1]]} if isinstance(m, tuple) else {"text": m} for m in msg]


class ImageFiles:
    """A private folder of the images a prompt names, PNG (lossless), one file per image shown; removed with it."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="vlmrun-qwen-vl-")
        self._n, self._lock = 0, threading.Lock()

    def write(self, image) -> str:
        with self._lock:  # the prefetch thread and the model's thread may both write
            self._n += 1
            path = os.path.join(self.folder, f"{self._n}.png")
        image.save(path, format="PNG")
        return path

    @staticmethod
    def remove(paths) -> None:
        """A call's files, once the model has read them."""
        for p in paths:
            if os.path.exists(p):
                os.remove(p)

    def __del__(self):
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .base import placed, placement

        self.spec, self.device = spec, device
        where = placement(spec, device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
        self.model = placed(AutoModelForCausalLM.from_pretrained(model_dir, trust_remote_code=True, **where),
                            device, where)
        self.gen = dict(spec.get("generation") or {})
        self.own = checkpoint_generation(model_dir)
        self.files = ImageFiles()

    def prepare(self, samples):
        """(query, image files) per sample; the files are written here, in the prefetch thread."""
        out = []
        for s in samples:
            paths = [self.files.write(im) for im in s.images]
            out.append((self.tokenizer.from_list_format(vl_list(s.question, s.extra, self.spec, paths)), paths))
        return out

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        prepared = prepared if prepared is not None else self.prepare(samples)
        # QwenVLChat passes chat() no settings: the manifest's go only where they differ from the checkpoint's own
        # generation_config (a test model's few new tokens), so a real checkpoint's chat() gets none either
        gen = {k: v for k, v in self.gen.items() if getattr(self.own, k, None) != v}
        answers = []
        try:
            for s, (query, _) in zip(samples, prepared):
                torch.manual_seed(row_seed(s.index))
                with torch.inference_mode():
                    response, _ = self.model.chat(self.tokenizer, query=query, history=None, **gen)
                answers.append(response)
        finally:
            for _, paths in prepared:
                self.files.remove(paths)
        return answers
