"""Inside a family image (PyAV): decode + sample time per video, for the frame settings vlmrun runs, cold (an
empty frame cache: decoded and saved) and warm (read back from the cache, as a second question, model or run
on the same video gets them). Run by `benchmarks/throughput.py --video`; prints one JSON line per setting.

    python video_frames.py VIDEO.mp4 CACHE_DIR
"""
import json
import shutil
import sys
import time

from vlmrun_worker.adapters.qwen2_vl import video_frames_for
from vlmrun_worker.adapters.video_llava import frame_indices
from vlmrun_worker.frames import FrameCache, _decode_sequential, _seek_plan, decode, probe


def timed(fn):
    t = time.monotonic()
    out = fn()
    return time.monotonic() - t, out


def main(path: str, cache_dir: str) -> int:
    n, fps = probe(path)
    settings = [("frames --nframe 8 (InternVL)", "dataset", dict(nframe=8)),
                ("frames --nframe 32", "dataset", dict(nframe=32)),
                ("frames --fps 1", "dataset", dict(fps=1.0)),
                ("video --nframe 8 (Qwen2-VL)", "raw", video_frames_for(n, fps, 8, -1)),
                ("video --fps 1 (Qwen2-VL)", "raw", video_frames_for(n, fps, 0, 1.0)),
                ("video 8 frames (Video-LLaVA)", "raw", frame_indices(n))]
    for name, kind, arg in settings:
        shutil.rmtree(cache_dir, ignore_errors=True)
        cache = FrameCache(cache_dir)
        if kind == "dataset":
            cold, (frames, idx, _) = timed(lambda: cache.dataset_frames("v", path, **arg))
            warm, _ = timed(lambda: cache.dataset_frames("v", path, **arg))
        else:
            cold, frames = timed(lambda: cache.raw_frames("v", path, arg))
            warm, _ = timed(lambda: cache.raw_frames("v", path, arg))
            idx = arg
        want = sorted(set(idx))
        seeks = _seek_plan(path, want) is not None
        t1, ours = timed(lambda: decode(path, want))
        t2, once = timed(lambda: _decode_sequential(path, want))
        same = all((ours[k] == once[k]).all() for k in want)
        print(json.dumps({"setting": name, "video_frames": n, "video_fps": fps, "sampled": len(idx),
                          "first": idx[:4], "cold_s": round(cold, 3), "warm_s": round(warm, 3),
                          "decode_s": round(cache.stats["decode_s"], 3), "seeks": seeks,
                          "decode_only_s": round(t1, 3), "one_pass_s": round(t2, 3), "same_as_one_pass": same}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
