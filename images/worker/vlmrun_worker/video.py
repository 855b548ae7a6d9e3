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
    return message("videomme", question, candidates, n_frames)


def internvl_video_prompt(items: list, bench: str, max_frames: int = 64) -> str:
    """InternVLChat.generate_v2 for a video benchmark: reorganize_prompt for several images ('Image-k: <image>'
    lines first, the texts after), then build_video_prompt (Image-k read as Frame-k; Video-MME drops '\\nAnswer:' and
    asks for the option's letter; MMBench-Video drops '\\nAnswer:'; MVBench drops 'Best option:(')."""
    n = sum(isinstance(it, tuple) for it in items)
    if n == 1:  # reorganize_prompt's one-image case: the texts joined by newlines after '<image>\n'
        return _video_rewrite("<image>\n" + "\n".join(it for it in items if isinstance(it, str)), bench, max_frames)
    prompt, k = "", 1
    for it in items:
        if isinstance(it, tuple):
            prompt += f"<Image-{k}>"
            k += 1
        else:
            prompt += it
    prompt = "".join(f"Image-{i + 1}: <image>\n" for i in range(n)) + prompt
    prompt = prompt.replace("".join(f"<Image-{i + 1}>" for i in range(n)), "")
    return _video_rewrite(prompt, bench, max_frames)


def _video_rewrite(prompt: str, bench: str, max_frames: int) -> str:
    """InternVL's build_video_prompt."""
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


VIDEOMME_FRAMES_SUB = """
These are the frames of a video. This video's subtitles are listed below:
{}
Select the best answer to the following multiple-choice question based on the video. Respond with only the letter (A, B, C, or D) of the correct option.
"""

MMBENCH_VIDEO_SYS = "You are an AI assistant responsible for answering questions about videos."
MMBENCH_VIDEO_PACK = """
You will be provided with {} separate frames uniformly sampled from a video, the frames are provided in chronological order of the video.
Please analyze these images and provide the answer / answers to the following question / questions about the video content.
If multiple questions are provided (with indices I1, I2, I3, ...), you should organize your answers in the following json format:
{{
    'I1': 'Answer to Question I1',
    'I2': 'Answer to Question I2',
    ...
}}
Otherwise, please directly reply with your response to the only question.
Even if the information in these separate frames is not enough to give an answer,
PLEASE GIVE A RESPONSE TO EACH OF THE QUESTIONS IN THE FORMAT DESCRIBED ABOVE.
"""
MMBENCH_VIDEO_NOPACK = """
You will be provided with {} separate frames uniformly sampled from a video, the frames are provided in chronological order of the video.
Please analyze these images and provide the answer to the question about the video content.
Please directly reply with your response to the only question.
"""
LAYOUTS = ("videomme", "mmbench_video", "mvbench_mp4")
VIDEO = ("video",)  # the item a model that takes the video itself gets in place of the frames


MVBENCH_SYS = """Carefully watch the video and pay attention to the cause and sequence of events, the detail and movement of objects, and the action and pose of persons. Based on your observations, select the best option that accurately addresses the question.
"""


def mvbench_indices(n_frames: int, nframe: int) -> list[int]:
    """MVBench_MP4.get_index_by_frame: nframe segments of the video's (frames - 1), each segment's middle:
    int(seg / 2 + np.round(seg * k)) (numpy rounds half to even, as Python's round does)."""
    seg = float(n_frames - 1) / nframe
    return [int(seg / 2 + round(seg * k)) for k in range(nframe)]


def mvbench_pixels(rgb):
    """MVBench_MP4's round trip of a decoded frame, with the same torch operations (ToTorchFormatTensor:
    float() / 255; ToPILImage: * 255, then byte(), which truncates)."""
    import torch

    return torch.from_numpy(rgb).float().div(255).mul(255).byte().numpy()


def mvbench_question(question: str, candidates) -> str:
    """MVBench_MP4.qa_template: 'Question: ...\nOptions:\n(A) ...' (the answer line is not part of the prompt)."""
    import ast

    cands = ast.literal_eval(candidates) if isinstance(candidates, str) else candidates
    text = f"Question: {question}\nOptions:\n" + "".join(f"({chr(ord('A') + k)}) {c}\n" for k, c in enumerate(cands))
    return text.rstrip()


def question_text(layout: str, question: str, candidates) -> str:
    """The question as the layout's build_prompt words it: Video-MME appends its candidates ('A. ...' lines,
    a Python list literal in the TSV), MMBench-Video asks the bare question."""
    if layout == "videomme":
        import ast

        return question + "\n" + "\n".join(ast.literal_eval(candidates) if isinstance(candidates, str) else candidates)
    if layout == "mvbench_mp4":
        return mvbench_question(question, candidates)
    return question


def message(layout: str, question: str, candidates, n_frames: int, video_llm: bool = False,
            subtitles: str | None = None) -> list:
    """One question's message, as the layout's VLMEvalKit build_prompt makes it: texts and ('image', k) frame
    items, or VIDEO for a model that reads the video itself (VIDEO_LLM). subtitles: None without, else the text
    (Video-MME's _subs settings)."""
    q = question_text(layout, question, candidates)
    if layout == "videomme":
        body = [VIDEO] if video_llm else [("image", k) for k in range(n_frames)]
        text = VIDEOMME_FRAMES if subtitles is None else VIDEOMME_FRAMES_SUB.format(subtitles)
        return ["", *body, text, f"Question: {q}\nAnswer: "]
    if layout == "mvbench_mp4":  # its system text, the frames, the question, then 'Best option:(' as the answer's start
        body = [VIDEO] if video_llm else [("image", k) for k in range(n_frames)]
        return [MVBENCH_SYS, *body, q, "\nOnly give the best option.", "Best option:("]
    if video_llm:
        return [q, VIDEO]
    return [MMBENCH_VIDEO_NOPACK.format(n_frames), *[("image", k) for k in range(n_frames)], f"Question: {q}\nAnswer: "]


def _json_key(index: str):
    return int(index) if str(index).lstrip("-").isdigit() else str(index)


def pack_message(layout: str, questions: list[tuple], n_frames: int) -> list:
    """MMBench-Video's build_prompt_pack, for every question of one video: the pack instructions, the frames,
    then 'Questions: \\n{json of index: question}\\nAnswers: \\n'. questions: (index, question, candidates)."""
    import json

    qs = {_json_key(i): question_text(layout, q, c) for i, q, c in questions}
    return ([MMBENCH_VIDEO_SYS + MMBENCH_VIDEO_PACK.format(n_frames), *[("image", k) for k in range(n_frames)],
             "Questions: \n{}\nAnswers: \n".format(json.dumps(qs))])


def extract_json_objects(text: str):
    from json import JSONDecoder

    decoder, pos = JSONDecoder(), 0
    while (match := text.find("{", pos)) != -1:
        try:
            result, end = decoder.raw_decode(text[match:])
            yield result
            pos = match + end
        except ValueError:
            pos = match + 1


def _strip_side_quotes(s: str, syms=(",", '"', "'")) -> str:
    if all(x in syms for x in s):
        return ""
    while s[0] in syms:
        s = s[1:]
    while s[-1] in syms:
        s = s[:-1]
    return s


def robust_json_load(s: str):
    """MMBenchVideo.robust_json_load: the one JSON object in the answer; else, with a single '{', its
    'key: value' lines; else None."""
    try:
        found = list(extract_json_objects(s))
        assert len(found) == 1
        return found[0]
    except Exception:  # noqa: BLE001 - VLMEvalKit falls back on any failure
        if "{" in s and s.find("{") == s.rfind("{"):
            res = {}
            for line in s[s.find("{") + 1:].strip().split("\n"):
                line = line.strip()
                if ": " in line:
                    key, val = line.split(": ")[0].strip(), line.split(": ")[1].strip()
                    key, val = _strip_side_quotes(key), _strip_side_quotes(val)
                    if len(key) and len(val):
                        res[key] = val
            return res
        return None


def split_pack_answer(answer: str, indices: list[str]) -> tuple[dict, str]:
    """A packed answer split back per question, as MMBenchVideo.load_pack_answers does: {index: answer or None}
    and how it went ('PARSE_OK' / 'PARSE_FAIL'). A question the answer does not name gets None."""
    res = robust_json_load(answer.strip())
    if res is None or not isinstance(res, dict):
        return {i: None for i in indices}, "PARSE_FAIL"
    return {i: (None if res.get(str(i)) is None else str(res[str(i)])) for i in indices}, "PARSE_OK"


def subtitle_text(srt_path: str, frame_indices: list[int], video_fps: float) -> str:
    """Video-MME's subtitles for the sampled frames (VideoMME.build_prompt): for each frame, the first cue
    showing at its time (pysubs2.make_time), '\\N' read as a space; empty ones left out; one per line."""
    import pysubs2

    subs = pysubs2.load(srt_path, encoding="utf-8")
    lines = []
    for k in frame_indices:
        t, text = pysubs2.make_time(fps=video_fps, frames=k), ""
        for sub in subs:
            if sub.start < t and sub.end > t:
                text = sub.text.replace("\\N", " ")
                break
        if text.strip():
            lines.append(text)
    return "\n".join(lines)
