# TEST MODEL CODE (vlmrun): NOT Phi-3-Vision's image processor; see configuration_phi3_v.py. Its HD transform: the
# image (turned upright when taller than wide) scaled to the most 336px columns whose grid fits num_crops,
# padded with white to whole 336px rows, normalised with CLIP's mean and std; a 336x336 bicubic global view first;
# the crops padded with zeros to num_crops + 1; each image's token count (crops * 144 + 1 + (rows + 1) * 12).
import math

import numpy as np
import torch
from PIL import Image
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def hd_transform(img, hd_num):
    width, height = img.size
    trans = width < height
    if trans:
        img = img.transpose(Image.TRANSPOSE)
        width, height = img.size
    ratio = width / height
    scale = 1
    while scale * math.ceil(scale / ratio) <= hd_num:
        scale += 1
    scale -= 1
    new_w = int(scale * 336)
    new_h = int(new_w / ratio)
    img = img.resize((new_w, new_h), Image.BILINEAR)
    tar = int(math.ceil(new_h / 336) * 336)
    top = (tar - new_h) // 2
    canvas = Image.new("RGB", (new_w, tar), (255, 255, 255))
    canvas.paste(img, (0, top))
    return canvas.transpose(Image.TRANSPOSE) if trans else canvas


class Phi3VImageProcessor(BaseImageProcessor):
    model_input_names = ["pixel_values"]

    def __init__(self, num_crops=1, image_mean=MEAN, image_std=STD, do_convert_rgb=True, **kwargs):
        super().__init__(**kwargs)
        self.num_crops = num_crops
        self.image_mean, self.image_std, self.do_convert_rgb = image_mean, image_std, do_convert_rgb

    def preprocess(self, images, return_tensors=None, **kwargs):
        if not isinstance(images, (list, tuple)):
            images = [images]
        images = [im.convert("RGB") for im in images]
        mean = np.array(self.image_mean, np.float32)[:, None, None]
        std = np.array(self.image_std, np.float32)[:, None, None]
        pixels, sizes, tokens = [], [], []
        for im in images:
            hd = hd_transform(im, self.num_crops)
            a = torch.from_numpy((np.asarray(hd, np.float32).transpose(2, 0, 1) / 255.0 - mean) / std)
            h, w = a.shape[1], a.shape[2]
            glob = torch.nn.functional.interpolate(a[None], size=(336, 336), mode="bicubic")
            crops = a.reshape(3, h // 336, 336, w // 336, 336).permute(1, 3, 0, 2, 4).reshape(-1, 3, 336, 336)
            allc = torch.cat([glob, crops])
            pad = torch.zeros(self.num_crops + 1 - allc.shape[0], 3, 336, 336)
            pixels.append(torch.cat([allc, pad]))
            sizes.append([h, w])
            tokens.append(int((h // 336 * w // 336 + 1) * 144 + 1 + (h // 336 + 1) * 12))
        return BatchFeature(data={"pixel_values": torch.stack(pixels), "image_sizes": sizes,
                                  "num_img_tokens": tokens}, tensor_type=return_tensors)
