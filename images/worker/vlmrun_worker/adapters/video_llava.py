"""Video-LLaVA through transformers' native classes (LanguageBind/Video-LLaVA-7B-hf), as VLMEvalKit's
VideoLLaVA_HF drives it (vlmeval/vlm/video_llm/video_llava.py; a VIDEO_LLM: it reads the video itself):
- 8 frames, the indices np.arange(0, n, n / 8).astype(int) of the video's frame count as PyAV reports it
  (stream.frames), decoded RGB (read_video_pyav); it takes no other frame setting;
- the prompt 'USER: <video>\\n{the message's texts joined by newlines} ASSISTANT:';
- the processor on (text, videos=frames); generate with its settings (max_new_tokens 1024, temperature 0.0,
  do_sample False, then the model's kwargs); the answer is the new tokens, decoded.
"""
from __future__ import annotations

from .base import dtype_kwargs, generate_answers, generation_kwargs, placed, placement

NFRAME = 8


def frame_indices(n_frames: int, nframe: int = NFRAME) -> list[int]:
    """np.arange(0, n, n / nframe).astype(int), in plain Python (float64 steps, truncated)."""
    step, out, k = n_frames / nframe, [], 0
    while k * step < n_frames:
        out.append(int(k * step))
        k += 1
    return out


def prompt(message: list) -> str:
    """BaseModel.message_to_promptvideo (texts joined by newlines), in the wrapper's template."""
    question = "\n".join(m for m in message if isinstance(m, str))
    return f"USER: <video>\n{question} ASSISTANT:"


class Adapter:
    def __init__(self, model_dir: str, spec: dict, device: str):
        from transformers import VideoLlavaForConditionalGeneration, VideoLlavaProcessor

        self.spec, self.device = spec, device
        self.processor = VideoLlavaProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        where = placement(spec, device)
        self.model = placed(VideoLlavaForConditionalGeneration.from_pretrained(
            model_dir, **dtype_kwargs(spec.get("dtype", "float16"), device), **where), device, where)
        self.gen = generation_kwargs(spec)

    def prepare(self, samples):
        import numpy as np

        clips = []
        for s in samples:
            if s.video is None:
                raise ValueError("Video-LLaVA answers questions about a video (a video benchmark)")
            n, _ = s.video.probe()
            clips.append(np.stack(s.video.cache.raw_frames(s.video.name, s.video.path, frame_indices(n))))
        return self.processor(text=[prompt(s.message) for s in samples], videos=clips, padding=True,
                              return_tensors="pt")

    def generate(self, samples, prepared=None) -> list[str]:
        inputs = (prepared if prepared is not None else self.prepare(samples)).to(self.device)
        return generate_answers(self.model, self.processor, inputs, self.gen)
