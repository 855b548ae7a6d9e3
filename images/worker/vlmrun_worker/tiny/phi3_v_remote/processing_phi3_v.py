# TEST MODEL CODE (vlmrun): NOT Phi-3-Vision's processor; see configuration_phi3_v.py.
import re

import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

PATTERN = r"<\|image_\d+\|>"


class Phi3VProcessor(ProcessorMixin):
    attributes = ["image_processor", "tokenizer"]
    image_processor_class = "AutoImageProcessor"
    tokenizer_class = ("LlamaTokenizer", "LlamaTokenizerFast")

    def __init__(self, image_processor, tokenizer):
        self.image_processor = image_processor
        self.tokenizer = tokenizer

    def __call__(self, text, images=None, padding=False, truncation=None, max_length=None, return_tensors="pt"):
        if not images:
            return BatchFeature(data={**self.tokenizer(text, return_tensors=return_tensors, padding=padding)})
        image_inputs = self.image_processor(images, return_tensors=return_tensors)
        chunks = [self.tokenizer(c).input_ids for c in re.split(PATTERN, text)]
        ids = [int(t.split("|")[1].split("_")[-1]) for t in re.findall(PATTERN, text)]
        assert sorted(set(ids)) == list(range(1, len(set(ids)) + 1)), "image tags must be <|image_1|>..<|image_n|>"
        assert len(set(ids)) == len(image_inputs["pixel_values"]), "one image per distinct image tag"
        pads = [[-k] * image_inputs["num_img_tokens"][k - 1] for k in ids]
        input_ids = []
        for k, chunk in enumerate(chunks):
            input_ids += chunk + (pads[k] if k < len(pads) else [])
        input_ids = torch.tensor(input_ids, dtype=torch.long).unsqueeze(0)
        return BatchFeature(data={"input_ids": input_ids, "attention_mask": (input_ids > -1000000).long(),
                                  "pixel_values": image_inputs["pixel_values"],
                                  "image_sizes": image_inputs["image_sizes"]})

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)
