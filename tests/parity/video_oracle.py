"""In a family image: which frames VLMEvalKit's own code picks (VideoBaseDataset.save_video_frames, as shipped in
ms-vlmeval) and which qwen_vl_utils picks for Qwen2-VL (its _read_video_decord), next to vlmrun's pure functions
(vlmrun_worker/video.py). A stand-in `decord` records the frame indices asked for; nothing is decoded.

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
    sys.path.insert(1, site)
    sys.path.insert(0, "/parity")
    import vlmeval_import

    vlmeval_import.install_stubs()
    vlmeval_import.bare_package("vlmeval", os.path.join(site, "vlmeval"))
    vlmeval_import.bare_package("vlmeval.dataset", os.path.join(site, "vlmeval", "dataset"))
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
    with open(out, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
