"""InstructBLIP (Salesforce/instructblip-vicuna-7b, -13b) through transformers' own
InstructBlipForConditionalGeneration, with the inputs VLMEvalKit's InstructBLIP wrapper gives LAVIS's
blip2_vicuna_instruct (vlmeval/vlm/instructblip.py; not interleaved, no custom prompt):
- the prompt is the benchmark's default message's texts joined by newlines (BaseModel.message_to_promptimg), the
  image the message's first one, resized to the vision tower's square size;
- the instruction goes to the Q-Former (LAVIS: its BERT tokenizer cuts it to 128 tokens from the left, max_txt_len)
  and, after the query tokens, whole to the LLM (left-padded in a batch);
- LAVIS's generate defaults (the wrapper passes none): beam search over 5 beams, at least 1 and at most 256 new
  tokens, repetition penalty 1.5, length penalty 1, top_p 0.9 and temperature 1 (unused without sampling);
- the answer is the new tokens decoded, special tokens dropped, stripped.
VLMEvalKit runs LAVIS's own model code on LAVIS's checkpoint layout; vlmrun runs transformers' conversion of the
same weights, so the parity oracle cannot run VLMEvalKit's side here (not checked)."""
from __future__ import annotations

from .base import HFAdapter, one_image_each, prompt_and_image

QFORMER_MAX_TOKENS = 128  # LAVIS Blip2VicunaInstruct's max_txt_len (its default; VLMEvalKit's config sets none)


class Adapter(HFAdapter):
    MODEL = "InstructBlipForConditionalGeneration"
    PROCESSOR = "InstructBlipProcessor"
    DTYPE = "float16"

    def prepare(self, samples):
        texts, images = one_image_each(samples, self.spec, prompt_and_image, "InstructBLIP")
        proc = self.processors.get()
        inputs = proc(images=images, text=texts, padding=True, return_tensors="pt")
        # the Q-Former reads the instruction as LAVIS tokenizes it for it: at most 128 tokens, cut on the left
        qt = proc.qformer_tokenizer
        qt.truncation_side = "left"
        q = qt(texts, padding="longest", truncation=True, max_length=QFORMER_MAX_TOKENS, return_tensors="pt")
        inputs["qformer_input_ids"], inputs["qformer_attention_mask"] = q["input_ids"], q["attention_mask"]
        for key in ("token_type_ids", "qformer_token_type_ids"):  # the byte-level test tokenizers return them
            inputs.pop(key, None)
        return inputs

    def generate(self, samples, prepared=None) -> list[str]:
        import torch

        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        n = inputs["input_ids"].shape[1]
        if out.shape[1] > n and torch.equal(out[:, :n], inputs["input_ids"]):
            out = out[:, n:]  # later transformers return the prompt too; 4.33 only the new tokens (LAVIS likewise)
        return [t.strip() for t in self.processor.batch_decode(out, skip_special_tokens=True)]
