"""Video frames inside the container: decoded with PyAV (the family lock's pinned decoder), sampled by the pure
functions of video.py, and cached on disk so that a second question, model or run on the same video decodes
nothing.

Two caches, both under the job's frame root ($LMUData/images/<benchmark>/<video>/ on the host, VLMEvalKit's own
frame root, so frames VLMEvalKit saved are reused and the other way round):
- frame-{i}-of-{N}.jpg / frame-{i}-of-{n}-{F}fps.jpg: the frames a frames model sees, saved as VLMEvalKit saves
  them (PIL's `save` of the decoded RGB frame, JPEG at PIL's default quality) and read back from that file, as
  its models open them;
- raw-{k}.png: decoded frame k of the video, lossless, for models that take the video itself (Qwen2-VL's
  qwen_vl_utils reads frames at its own indices and resizes them; any nframe/fps setting reuses any frame).
Writers take an flock on <video>.lock and write each file under a temporary name, then rename it: two ranks or
two jobs never see half a frame, and a killed job leaves no torn file.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from .video import dataset_indices, frame_names, mvbench_indices, mvbench_pixels


class VideoError(ValueError):
    """A video the worker cannot read (missing, not a video, no frames)."""


def probe(path: str) -> tuple[int, float]:
    """(frames, average fps) as decord reports them (len(VideoReader), get_avg_fps()): the container's frame
    count where it records one, else the packets counted; the stream's average frame rate."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{path}: no video stream")
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate
            n = s.frames or sum(1 for p in c.demux(s) if p.size)
    except (OSError, av.error.FFmpegError) as e:  # noqa: B014 - av's errors subclass OSError in some versions
        raise VideoError(f"{path}: cannot be read as a video ({type(e).__name__}: {e})") from None
    if not n or not rate:
        raise VideoError(f"{path}: the video has no frames")
    return int(n), float(rate)


def decode(path: str, indices: list[int]) -> dict:
    """{index: RGB uint8 array (H, W, 3)} for the wanted frames; only those are converted to RGB. Frame k is the
    k-th frame in presentation order, as decord counts them. Sparse frames of a long video are reached by seeking
    to the keyframe before each (found by demuxing, nothing decoded), decoding from there; where the stream's
    timestamps do not allow that (missing or repeated), one pass from the start."""
    want = sorted(set(indices))
    if not want:
        return {}
    plan = _seek_plan(path, want)
    out = _decode_seeking(path, want, *plan) if plan else _decode_sequential(path, want)
    missing = set(want) - set(out)
    if missing:
        raise VideoError(f"{path}: frame(s) {sorted(missing)[:5]} not found ({len(out)} decoded)")
    return out


def _decode_sequential(path: str, want: list[int]) -> dict:
    import av

    keep, last, out = set(want), want[-1], {}
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for k, frame in enumerate(c.decode(s)):
            if k in keep:
                out[k] = frame.to_ndarray(format="rgb24")
            if k >= last:
                break
    return out


def _seek_plan(path: str, want: list[int]):
    """(every frame's pts in presentation order, the keyframes' pts) when seeking is exact and worth it: unique
    timestamps on every frame, and wanted frames more than a keyframe interval apart somewhere."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts, keys = [], []
        for p in c.demux(s):
            if not p.size:
                continue
            if p.pts is None:
                return None
            pts.append(p.pts)
            if p.is_keyframe:
                keys.append(p.pts)
    order = sorted(pts)
    if len(set(order)) != len(order) or want[-1] >= len(order) or not keys:
        return None
    keys.sort()
    gop = len(order) / len(keys)
    if not any(b - a > 2 * gop for a, b in zip([-1, *want], want)):
        return None  # dense: one pass is as fast
    return order, keys


def _decode_seeking(path: str, want: list[int], order: list[int], keys: list[int]) -> dict:
    import bisect

    import av

    out = {}
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        frames, at = None, None  # the decoder's iterator, and the pts it last gave
        for k in want:
            target = order[k]
            key = keys[max(0, bisect.bisect_right(keys, target) - 1)]
            if frames is None or at is None or at > target or at < key:
                c.seek(key, backward=True, any_frame=False, stream=s)
                frames = c.decode(s)
            for frame in frames:
                at = frame.pts
                if at is None:
                    return _decode_sequential(path, want)
                if at == target:
                    out[k] = frame.to_ndarray(format="rgb24")
                    break
                if at > target:  # passed it (the seek landed after it): do it the safe way
                    return _decode_sequential(path, want)
    return out


@contextmanager
def video_lock(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(folder.parent / f"{folder.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _save(image, path: Path, **kw) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    image.save(tmp, format=kw.pop("format"), **kw)
    os.replace(tmp, path)


class FrameCache:
    """Frames of the videos of one benchmark. `stats` counts what was decoded and what came from the cache, and
    the seconds spent decoding and sampling (the throughput script reads them from the job's rank report)."""

    def __init__(self, root: str):
        self.root = Path(root)
        self.stats = {"videos_decoded": 0, "frames_decoded": 0, "frames_cached": 0, "decode_s": 0.0}

    def folder(self, video: str) -> Path:
        return self.root / video

    def dataset_frames(self, video: str, path: str, nframe: int = 0, fps: float = -1,
                       layout: str = "videomme") -> tuple[list, list, dict]:
        """VLMEvalKit's save_video_frames: (frame images as its models open them, indices, {'fps', 'n_frames'}).
        layout mvbench_mp4: MVBench_MP4's own frame choice for nframe and its pixel round trip."""
        from PIL import Image

        n_frames, vfps = probe(path)
        mvbench = layout == "mvbench_mp4"
        if mvbench and nframe > 0:
            indices = mvbench_indices(n_frames, nframe)
        else:
            indices = dataset_indices(n_frames, vfps, nframe=nframe, fps=fps)
        if not indices:
            raise VideoError(f"{path}: {n_frames} frames at {vfps:g} fps give no frame at {fps} fps")
        paths = [self.folder(video) / name for name in frame_names(len(indices), nframe=nframe, fps=fps)]
        self._fill(video, path, list(zip(indices, paths)),
                   lambda rgb, p: _save(Image.fromarray(mvbench_pixels(rgb) if mvbench else rgb), p, format="JPEG"))
        images = [Image.open(p).convert("RGB") for p in paths]
        return images, indices, {"fps": vfps, "n_frames": n_frames}

    def raw_frames(self, video: str, path: str, indices: list[int]) -> list:
        """Decoded frames by index (RGB uint8 arrays), from the lossless cache where they are there."""
        import numpy as np
        from PIL import Image

        paths = {k: self.folder(video) / f"raw-{k}.png" for k in indices}
        self._fill(video, path, sorted(paths.items()),
                   lambda rgb, p: _save(Image.fromarray(rgb), p, format="PNG", compress_level=1))
        return [np.asarray(Image.open(paths[k]).convert("RGB")) for k in indices]

    def _fill(self, video: str, path: str, targets: list, save) -> None:
        """Every (frame index, file) of `targets` that is not on disk yet: decoded in one go under the video's
        lock and written by `save(rgb, file)`; counted as decoded or as read from the cache."""
        made = 0
        if not all(p.exists() for _, p in targets):
            with video_lock(self.folder(video)):
                todo = [(k, p) for k, p in targets if not p.exists()]
                if todo:
                    t = time.monotonic()
                    arrays = decode(path, [k for k, _ in todo])
                    for k, p in todo:
                        save(arrays[k], p)
                    made = len(todo)
                    self.stats["videos_decoded"] += 1
                    self.stats["frames_decoded"] += made
                    self.stats["decode_s"] += time.monotonic() - t
        self.stats["frames_cached"] += len(targets) - made
