"""Synthetic test videos, made where the decoder is (inside a family image, with PyAV): a coloured square moving
over a grey field, each video's content read from its name, so the same name always gives the same video.

  python -m vlmrun_worker make-videos TSV ROOT     every video a benchmark TSV names, as ROOT/video/<name>.mp4,
                                                   with a subtitle file ROOT/subtitle/<name>.srt
  python -m vlmrun_worker make-videos --long SECONDS PATH.mp4 [WxH]    one long video, 30 fps (the throughput script)

A name is '<colour>-<direction>-<seconds>s' (e.g. 'red-right-4s'): colour red, green, blue or yellow; direction
right, left, up or down. 160x120 pixels, 24 fps, H.264 where the wheel's FFmpeg has it, else MPEG-4 part 2.
Files are written under a temporary name and renamed; a video already there is kept.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40)}
SIZE, FPS = (160, 120), 24


def parse(name: str) -> tuple:
    parts = name.split("-")
    if len(parts) != 3 or parts[0] not in COLOURS or parts[1] not in ("right", "left", "up", "down") \
            or not parts[2].endswith("s") or not parts[2][:-1].isdigit():
        raise ValueError(f"synthetic video name {name!r}: expected <colour>-<direction>-<seconds>s, "
                         f"colour one of {', '.join(COLOURS)}")
    return COLOURS[parts[0]], parts[1], int(parts[2][:-1])


def frame(colour, direction: str, k: int, n: int, size=SIZE):
    import numpy as np

    w, h = size
    img = np.full((h, w, 3), 128, dtype=np.uint8)
    img[:, :, 1] = (np.arange(w) * 255 // w).astype(np.uint8)[None, :] // 4 + 96  # a gradient: motion is visible
    side, t = 32, k / max(1, n - 1)
    x = int(t * (w - side)) if direction == "right" else int((1 - t) * (w - side)) if direction == "left" else (w - side) // 2
    y = int(t * (h - side)) if direction == "down" else int((1 - t) * (h - side)) if direction == "up" else (h - side) // 2
    img[y:y + side, x:x + side] = colour
    return img


def encode(path: Path, frames, fps: int = FPS, size=SIZE, gop: int | None = None) -> None:
    import av

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.mp4")
    with av.open(str(tmp), "w") as out:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        if codec == "libx264":
            s.options = {"threads": "1", "preset": "veryfast", "crf": "23"}
        if gop:  # a keyframe every `gop` frames (the parity suite's seeking check)
            s.codec_context.gop_size = gop
        for img in frames:
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    os.replace(tmp, path)


def srt(name: str) -> str:
    colour, direction, seconds = name.split("-")[0], name.split("-")[1], int(name.split("-")[2][:-1])
    lines = []
    for s in range(seconds):
        lines += [str(s + 1), f"00:00:{s:02d},100 --> 00:00:{s:02d},900", f"The {colour} square moves {direction}.", ""]
    return "\n".join(lines)


def make_video(path: Path, name: str) -> bool:
    if path.exists():
        return False
    colour, direction, seconds = parse(name)
    n = seconds * FPS
    path.parent.mkdir(parents=True, exist_ok=True)
    encode(path, (frame(colour, direction, k, n) for k in range(n)))
    return True


def make_for_tsv(tsv: str, root: str) -> int:
    import pandas as pd

    names = sorted(set(pd.read_csv(tsv, sep="\t", dtype={"video": str})["video"]))
    made = 0
    for name in names:
        made += make_video(Path(root) / "video" / f"{name}.mp4", name)
        sub = Path(root) / "subtitle" / f"{name}.srt"
        if not sub.exists():
            sub.parent.mkdir(parents=True, exist_ok=True)
            sub.write_text(srt(name), encoding="utf-8")
    print(f"{made} video(s) made, {len(names) - made} already there, in {root}/video")
    return 0


def make_long(seconds: int, path: str, size=SIZE, fps: int = 30) -> int:
    """One long video for the throughput script (e.g. 600 s: a 10-minute video, 18000 frames)."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        n = seconds * fps
        encode(p, (frame(COLOURS["blue"], "right", k, n, size) for k in range(n)), fps=fps, size=size)
    print(f"{p}: {seconds} s at {fps} fps, {size[0]}x{size[1]}")
    return 0


def main(args: list[str]) -> int:
    if len(args) in (3, 4) and args[0] == "--long":
        size = tuple(int(x) for x in args[3].split("x")) if len(args) == 4 else SIZE
        return make_long(int(args[1]), args[2], size)
    if len(args) == 2:
        return make_for_tsv(args[0], args[1])
    print(__doc__, file=sys.stderr)
    return 2
