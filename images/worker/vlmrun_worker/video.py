"""Which frames of a video a model sees, as VLMEvalKit and the models' own video readers pick them: pure functions
of the video's length and fps and the run's --nframe / --fps (no decoding here; no torch).

dataset_indices  VLMEvalKit's VideoBaseDataset.save_video_frames (and Video-MME's, the same rule): with nframe N,
                 the N inner points of N+1 equal steps, int(i * n_frames / (N+1)) for i = 1..N; with fps F,
                 int(i * video_fps / F) for i < int(n_frames / video_fps * F). Frames are saved as
                 frame-{i}-of-{N}.jpg (nframe) or frame-{i}-of-{n}-{F}fps.jpg (fps), 1-based, per video.
qwen_indices     qwen_vl_utils' smart_nframes and its linspace (what Qwen2-VL / Qwen2.5-VL see when VLMEvalKit hands
                 them the video file): nframes rounded to a multiple of 2, or n_frames / video_fps * fps clamped to
                 [4, min(768, n_frames)] and floored to a multiple of 2; then round(linspace(0, n_frames - 1, n))
                 computed in float32 as torch does, rounding half to even.
"""
from __future__ import annotations

import math


def dataset_indices(n_frames: int, video_fps: float, nframe: int = 0, fps: float = -1) -> list[int]:
    if (nframe > 0) == (fps > 0):
        raise ValueError("give exactly one of nframe (> 0) or fps (> 0)")
    if nframe > 0:
        step = n_frames / (nframe + 1)
        return [int(i * step) for i in range(1, nframe + 1)]
    required = int(n_frames / video_fps * fps)
    step = video_fps / fps
    return [int(i * step) for i in range(required)]


def frame_names(n: int, nframe: int = 0, fps: float = -1) -> list[str]:
    """The file names VLMEvalKit gives the sampled frames (under <frame root>/<video>/)."""
    if nframe > 0:
        return [f"frame-{i}-of-{nframe}.jpg" for i in range(1, nframe + 1)]
    return [f"frame-{i}-of-{n}-{fps}fps.jpg" for i in range(1, n + 1)]


FRAME_FACTOR, FPS_MIN_FRAMES, FPS_MAX_FRAMES = 2, 4, 768


def _round_by(x: float, f: int) -> int:
    return round(x / f) * f


def qwen_nframes(n_frames: int, video_fps: float, nframes: int | None = None, fps: float | None = None,
                 min_frames: int = FPS_MIN_FRAMES, max_frames: int | None = None) -> int:
    if nframes is not None:
        n = _round_by(nframes, FRAME_FACTOR)
    else:
        fps = 2.0 if fps is None else fps
        lo = math.ceil(min_frames / FRAME_FACTOR) * FRAME_FACTOR
        hi = math.floor((max_frames if max_frames is not None else min(FPS_MAX_FRAMES, n_frames)) / FRAME_FACTOR) * FRAME_FACTOR
        n = min(min(max(n_frames / video_fps * fps, lo), hi), n_frames)
        n = math.floor(n / FRAME_FACTOR) * FRAME_FACTOR
    if not FRAME_FACTOR <= n <= n_frames:
        raise ValueError(f"{n} frames: the video has {n_frames}, and at least {FRAME_FACTOR} are needed")
    return n


def _f32(x: float) -> float:
    import struct

    return struct.unpack("f", struct.pack("f", x))[0]


def linspace_f32(start: float, end: float, steps: int) -> list[float]:
    """torch.linspace(start, end, steps) in float32: the first half counted up from start, the rest down from end."""
    if steps == 1:
        return [_f32(start)]
    step = _f32(_f32(end - start) / (steps - 1))
    half = steps // 2
    return [_f32(start + _f32(step * i)) if i < half else _f32(end - _f32(step * (steps - i - 1)))
            for i in range(steps)]


def qwen_indices(n_frames: int, video_fps: float, nframes: int | None = None, fps: float | None = None) -> list[int]:
    n = qwen_nframes(n_frames, video_fps, nframes=nframes, fps=fps)
    return [round(x) for x in linspace_f32(0, n_frames - 1, n)]  # Python's round: half to even, as torch.round


# -- prompts ---------------------------------------------------------------------------------------------------------
VIDEOMME_FRAMES = """
These are the frames of a video. Select the best answer to the following multiple-choice question based on the video. Respond with only the letter (A, B, C, or D) of the correct option.
"""


def videomme_message(question: str, candidates: list, n_frames: int) -> list:
    """VLMEvalKit's VideoMME.build_prompt for a model that takes frames (video_llm False, no subtitles):
    its (empty) system text, the frames as ('image', k), the frames template, then 'Question: ...\\nAnswer: '."""
    return (["", *[("image", k) for k in range(n_frames)], VIDEOMME_FRAMES,
             "Question: {}\nAnswer: ".format(question + "\n" + "\n".join(candidates))])


def internvl_video_prompt(items: list, bench: str, max_frames: int = 64) -> str:
    """InternVLChat.generate_v2 for a video benchmark: reorganize_prompt for several images ('Image-k: <image>'
    lines first, the texts after), then build_video_prompt (Image-k read as Frame-k; Video-MME drops '\\nAnswer:' and
    asks for the option's letter; MMBench-Video drops '\\nAnswer:'; MVBench drops 'Best option:(')."""
    n = sum(isinstance(it, tuple) for it in items)
    prompt, k = "", 1
    for it in items:
        if isinstance(it, tuple):
            prompt += f"<Image-{k}>"
            k += 1
        else:
            prompt += it
    prompt = "".join(f"Image-{i + 1}: <image>\n" for i in range(n)) + prompt
    prompt = prompt.replace("".join(f"<Image-{i + 1}>" for i in range(n)), "")
    for start in range(0, max_frames, 8):
        prompt = prompt.replace("".join(f"<Image-{i}>" for i in range(start + 1, start + 9)), "")
    for i in range(max_frames):
        prompt = prompt.replace(f"Image-{i + 1}", f"Frame-{i + 1}")
    if "MMBench-Video" in bench:
        prompt = prompt.replace("\nAnswer:", "")
    elif "Video-MME" in bench or "WorldSense" in bench:
        prompt = prompt.replace("\nAnswer:", "") + "\nAnswer with the option's letter from the given choices directly."
    elif "MVBench" in bench:
        prompt = prompt.replace("Best option:(", "")
    return prompt
