"""In a family image: which frames VLMEvalKit's own code picks (VideoBaseDataset.save_video_frames, as shipped in
ms-vlmeval) and which qwen_vl_utils picks for Qwen2-VL (its _read_video_decord), next to vlmrun's pure functions
(vlmrun_worker/video.py); and the Video-MME message VLMEvalKit builds for a frames model (VideoMME.build_prompt) with
InternVL's prompt for it (reorganize_prompt + build_video_prompt). A stand-in `decord` records the frame indices
asked for; nothing is decoded.

  python video_oracle.py SITE OUT.json"""
import json
import os
import sys
import tempfile
import types

import numpy as np

CASES = [(18000, 30.0), (300, 30.0), (250, 25.0), (7200, 24.0), (1000, 29.97), (61, 30.0), (9, 3.0), (4, 2.0),
         (17982, 29.97), (120, 60.0)]  # (frames, fps); the first: a 10-minute video at 30 fps
SETTINGS = [{"nframe": 8}, {"nframe": 16}, {"nframe": 32}, {"fps": 1.0}, {"fps": 0.5}, {"fps": 2.0}]


def fake_decord(videos: dict, asked: list):
    class Frame:
        def asnumpy(self):
            return np.zeros((2, 2, 3), np.uint8)

    class Batch:
        def __init__(self, n):
            self.n = n

        def asnumpy(self):
            return np.zeros((self.n, 2, 2, 3), np.uint8)

    class VideoReader:
        def __init__(self, path, *a, **kw):
            self.n, self.fps = videos[os.path.basename(path)]

        def __len__(self):
            return self.n

        def get_avg_fps(self):
            return self.fps

        def __getitem__(self, i):
            asked.append(int(i))
            return Frame()

        def get_batch(self, idx):
            asked.extend(int(i) for i in idx)
            return Batch(len(idx))

    mod = types.ModuleType("decord")
    mod.VideoReader = VideoReader
    mod.bridge = types.SimpleNamespace(set_bridge=lambda *a: None)
    return mod


def main(site: str, out: str) -> int:
    sys.path.insert(0, "/parity")
    import vlmeval_import

    vlmeval_import.setup(site)
    asked: list = []
    videos = {f"v{k}.mp4": c for k, c in enumerate(CASES)}
    sys.modules["decord"] = fake_decord(videos, asked)
    from qwen_vl_utils import vision_process as qv
    from vlmeval.dataset.video_base import VideoBaseDataset

    from vlmrun_worker.video import dataset_indices, frame_names, qwen_indices

    root = tempfile.mkdtemp()
    results = []
    for k, (n, fps) in enumerate(CASES):
        for s in SETTINGS:
            ds = types.SimpleNamespace(nframe=s.get("nframe", 0), fps=s.get("fps", -1), data_root=root,
                                       frame_root=root, frame_tmpl="frame-{}-of-{}.jpg",
                                       frame_tmpl_fps="frame-{}-of-{}-{}fps.jpg")
            ds.frame_paths = types.MethodType(VideoBaseDataset.frame_paths, ds)
            ds.frame_paths_fps = types.MethodType(VideoBaseDataset.frame_paths_fps, ds)
            asked.clear()
            paths = VideoBaseDataset.save_video_frames(ds, f"v{k}")
            theirs = list(asked)
            ours = dataset_indices(n, fps, nframe=ds.nframe, fps=ds.fps)
            case = {"frames": n, "fps": fps, "setting": s, "vlmeval": theirs, "vlmrun": ours,
                    "names": [os.path.basename(p) for p in paths],
                    "vlmrun_names": frame_names(len(ours), nframe=ds.nframe, fps=ds.fps)}
            asked.clear()
            ele = {"video": os.path.join(root, f"v{k}.mp4"), **({"nframes": s["nframe"]} if "nframe" in s else {"fps": s["fps"]})}
            try:
                qv._read_video_decord(ele)
                case["qwen_vl_utils"] = list(asked)
            except ValueError as e:
                case["qwen_vl_utils"] = f"ValueError: {e}"
            try:
                case["vlmrun_qwen"] = qwen_indices(n, fps, nframes=s.get("nframe"), fps=s.get("fps"))
            except ValueError as e:
                case["vlmrun_qwen"] = f"ValueError: {e}"
            results.append(case)
    prompts = videomme_prompts(root, videos)
    with open(out, "w") as f:
        json.dump({"indices": results, "prompts": prompts}, f)
    return 0


QUESTIONS = [("What is the man doing?", ["A. Running.", "B. Swimming.", "C. Cooking.", "D. Sleeping."]),
             ("How many cars appear?", ["A. 1", "B. 2", "C. 3", "D. 4"]),
             ("Which colour is the sky at the end?\n(look closely)", ["A. Blue", "B. Red", "C. Green", "D. Grey"])]


def videomme_prompts(root: str, videos: dict) -> list:
    """VLMEvalKit's VideoMME.build_prompt (frames, no subtitles) and InternVL's reorganize_prompt +
    build_video_prompt on it, against video.videomme_message and video.internvl_video_prompt."""
    from vlmeval.dataset.videomme import VideoMME
    from vlmeval.vlm.internvl.utils import build_video_prompt, reorganize_prompt

    from vlmrun_worker.video import internvl_video_prompt, videomme_message

    os.makedirs(os.path.join(root, "video"), exist_ok=True)
    out = []
    for nframe in (8, 16):
        ds = VideoMME.__new__(VideoMME)
        ds.use_subtitle, ds.nframe, ds.fps, ds.data_root, ds.frame_root = False, nframe, -1, root, root
        ds.frame_tmpl, ds.frame_tmpl_fps, ds.dataset_name = "frame-{}-of-{}.jpg", "frame-{}-of-{}-{}fps.jpg", "Video-MME"
        for k, (q, cands) in enumerate(QUESTIONS):
            line = {"video": f"v{k}", "question": q, "candidates": repr(cands), "subtitle_path": "none.srt"}
            msg = ds.build_prompt(line, video_llm=False)
            items = []
            for m in msg:
                items.append(("image", len([x for x in items if isinstance(x, tuple)])) if m["type"] == "image" else m["value"])
            n_img = sum(m["type"] == "image" for m in msg)
            theirs_prompt = build_video_prompt(reorganize_prompt(msg, n_img, dataset="Video-MME"), "Video-MME")
            ours_items = videomme_message(q, cands, n_img)
            out.append({"nframe": nframe, "question": q, "frames": n_img,
                        "message": items == ours_items, "internvl prompt": theirs_prompt ==
                        internvl_video_prompt(ours_items, "Video-MME"), "prompt": theirs_prompt})
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
