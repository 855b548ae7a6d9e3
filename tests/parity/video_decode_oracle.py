"""In the transformers-latest image, on real (synthetic) videos: VLMEvalKit's own video code with the real decord
(ms-vlmeval's VideoMME / MMBenchVideo methods called on stand-in dataset objects, Qwen2VLChat._prepare_content,
qwen_vl_utils.process_vision_info with its decord reader) against vlmrun's worker (PyAV decoding, the frame cache,
the messages, the pack split, the subtitles, Qwen2-VL's video tensor).

  python video_decode_oracle.py SITE VIDEO_ROOT OUT.json [VIDEO_LLAVA_DIR]
"""
import json
import os
import shutil
import sys
import tempfile
import types

os.environ["FORCE_QWENVL_VIDEO_READER"] = "decord"  # read at qwen_vl_utils' import

SETTINGS = [{"nframe": 4}, {"nframe": 8}, {"nframe": 16}, {"fps": 1.0}, {"fps": 2.0}, {"fps": 0.5}]
QWEN_SETTINGS = [{"nframe": 4}, {"nframe": 8}, {"nframe": 64}, {"fps": 1.0}, {"fps": 2.0}]
# Qwen2-VL-2B-Instruct's entry in VLMEvalKit's config.py: min_pixels 1280*28*28, max_pixels 16384*28*28
QWEN_PIXELS = [(1280 * 28 * 28, 16384 * 28 * 28), (None, None), (256 * 28 * 28, 512 * 28 * 28)]
PACK_ANSWERS = ['{"0": "A", "1": "B", "2": "C"}', "{'0': 'A'}", '{"0": "red"}\n{"1": "x"}', "no json here",
                '{\n"0": "A cat",\n"1": "two",\n', 'Sure. {"2": "C", "0": "D"} done', '{"1": ""}', "",
                '```json\n{"0": "A", "1": "B", "2": "C"}\n```']


def main(site: str, root: str, out: str, video_llava: str = "", video_llava_spec: str = "{}") -> int:
    os.environ["VLMRUN_ORACLE_SITE"] = site
    sys.path.insert(0, "/parity")
    import vlmeval_import

    vlmeval_import.setup(site)
    copy = os.path.join(tempfile.mkdtemp(), "videos")  # VideoMME locks next to the video: a writable copy
    shutil.copytree(root, copy)
    root = copy
    videos = sorted(f[:-4] for f in os.listdir(os.path.join(root, "video")) if f.endswith(".mp4"))
    res = {"frames": frames_cases(root, videos), "decode": decode_cases(root, videos),
           "qwen": qwen_cases(root, videos), "mmbench_video": mmbench_video_cases(root, videos),
           "pack_split": pack_split_cases(), "subtitles": subtitle_cases(root, videos),
           "video_llava": video_llava_cases(root, videos, video_llava, json.loads(video_llava_spec))
           if video_llava else [],
           "mvbench_mp4": mvbench_cases(root, videos)}
    with open(out, "w") as f:
        json.dump(res, f)
    return 0


def _stub_dataset(cls, root, frame_root, nframe, fps, **kw):
    ds = cls.__new__(cls)
    ds.nframe, ds.fps, ds.data_root, ds.frame_root = nframe, fps, root, frame_root
    ds.frame_tmpl, ds.frame_tmpl_fps = "frame-{}-of-{}.jpg", "frame-{}-of-{}-{}fps.jpg"
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def decode_cases(root, videos):
    """Decoded pixels: PyAV (the worker) against decord (VLMEvalKit, qwen_vl_utils), every frame of every video."""
    import decord
    import numpy as np

    from vlmrun_worker.frames import decode, probe

    from vlmrun_worker.frames import _decode_sequential, _seek_plan
    from vlmrun_worker.synth_video import COLOURS, encode, frame

    out = []
    # seeking: a 20 s video with a keyframe every 12 frames, sparse frames reached by seeking to their keyframe
    gop = os.path.join(root, "gop12.mp4")
    encode(__import__("pathlib").Path(gop), (frame(COLOURS["green"], "down", k, 480) for k in range(480)), gop=12)
    vr = decord.VideoReader(gop)
    for want in ([5, 100, 250, 479], [0, 61, 62, 200, 201, 202, 450], list(range(3, 480, 37)), [478, 12, 13]):
        ours = decode(gop, want)
        theirs = vr.get_batch(sorted(set(want))).asnumpy()
        seq = _decode_sequential(gop, sorted(set(want)))
        out.append({"video": f"gop12 {want[:4]}", "frames": [len(vr), 480], "fps": [24.0, vr.get_avg_fps()],
                    "seeks": _seek_plan(gop, sorted(set(want))) is not None,
                    "pixels": all(np.array_equal(ours[k], theirs[i]) and np.array_equal(ours[k], seq[k])
                                  for i, k in enumerate(sorted(set(want))))})
    for v in videos:
        path = os.path.join(root, "video", v + ".mp4")
        vr = decord.VideoReader(path)
        n, fps = probe(path)
        ours = decode(path, list(range(n)))
        theirs = vr.get_batch(list(range(len(vr)))).asnumpy()
        out.append({"video": v, "frames": [n, len(vr)], "fps": [fps, vr.get_avg_fps()],
                    "pixels": bool(len(ours) == len(theirs) and all(np.array_equal(ours[k], theirs[k]) for k in range(n)))})
    return out


def frames_cases(root, videos):
    """VideoMME.save_video_frames (decord, PIL save) against FrameCache.dataset_frames: indices, file names, the
    JPEG files' bytes and the pixels a model opens; a second call reads the cache."""
    import numpy as np
    from PIL import Image
    from vlmeval.dataset.videomme import VideoMME

    from vlmrun_worker.frames import FrameCache

    out = []
    for s in SETTINGS:
        theirs_root, ours_root = tempfile.mkdtemp(), tempfile.mkdtemp()
        cache = FrameCache(ours_root)
        for v in videos:
            ds = _stub_dataset(VideoMME, root, theirs_root, s.get("nframe", 0), s.get("fps", -1))
            ds.frame_paths = types.MethodType(VideoMME.frame_paths, ds)
            ds.frame_paths_fps = types.MethodType(VideoMME.frame_paths_fps, ds)
            paths, idx, info = VideoMME.save_video_frames(ds, v)
            path = os.path.join(root, "video", v + ".mp4")
            images, ours_idx, ours_info = cache.dataset_frames(v, path, s.get("nframe", 0), s.get("fps", -1))
            again, _, _ = cache.dataset_frames(v, path, s.get("nframe", 0), s.get("fps", -1))
            ours_paths = sorted(os.listdir(os.path.join(ours_root, v)))
            theirs_img = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
            out.append({
                "video": v, "setting": s, "indices": idx == ours_idx,
                "info": [info["n_frames"], float(info["fps"])] == [ours_info["n_frames"], ours_info["fps"]],
                "names": sorted(os.path.basename(p) for p in paths) == ours_paths,
                "jpeg bytes": all(open(p, "rb").read() == open(os.path.join(ours_root, v, os.path.basename(p)), "rb").read()
                                  for p in paths),
                "pixels": all(np.array_equal(a, np.asarray(b)) for a, b in zip(theirs_img, images)),
                "cached read": all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again)),
                "n": len(idx)})
        shutil.rmtree(theirs_root)
        shutil.rmtree(ours_root)
    return out


def _fake_cv2():
    """Qwen2VLChat reads the frame count with cv2 (not in the image): the same count from decord."""
    import decord

    class VideoCapture:
        def __init__(self, path):
            self.n = len(decord.VideoReader(path))

        def get(self, prop):
            return float(self.n)

        def release(self):
            pass

    mod = types.ModuleType("cv2")
    mod.VideoCapture, mod.CAP_PROP_FRAME_COUNT = VideoCapture, 7
    return mod


def qwen_cases(root, videos):
    """What Qwen2-VL gets for a video in VLMEvalKit: Qwen2VLChat._prepare_content (nframe or fps as its inference
    loop sets them) then qwen_vl_utils.process_vision_info (decord reader, its resize), against the qwen2_vl
    adapter's video_tensor over the worker's frame cache."""
    import torch

    sys.modules["cv2"] = _fake_cv2()
    from qwen_vl_utils import process_vision_info
    from vlmeval.vlm.qwen2_vl.model import Qwen2VLChat

    from vlmrun_worker.adapters.qwen2_vl import video_tensor
    from vlmrun_worker.frames import FrameCache
    from vlmrun_worker.video_job import VideoRef

    out = []
    cache = FrameCache(tempfile.mkdtemp())
    for lo, hi in QWEN_PIXELS:
        for s in QWEN_SETTINGS:
            for v in videos:
                path = os.path.join(root, "video", v + ".mp4")
                m = Qwen2VLChat.__new__(Qwen2VLChat)
                m.min_pixels, m.max_pixels, m.total_pixels, m.FRAME_FACTOR = lo, hi, None, 2
                m.fps, m.nframe = s.get("fps"), s.get("nframe")  # the loop: the dataset's setting, the other None
                m.model_path = "Qwen/Qwen2-VL-2B-Instruct"
                content = m._prepare_content([{"type": "video", "value": path}], dataset="Video-MME")
                case = {"video": v, "setting": s, "pixels": [lo, hi]}
                try:
                    _, vids = process_vision_info([[{"role": "user", "content": content}]])
                    theirs = vids[0]
                except ValueError as e:
                    theirs = f"ValueError: {e}"
                spec = {"processor": {k: x for k, x in (("min_pixels", lo), ("max_pixels", hi)) if x is not None}}
                try:
                    ours = video_tensor(VideoRef(v, path, s.get("nframe", 0), s.get("fps", -1.0), cache), spec)
                except ValueError as e:
                    ours = f"ValueError: {e}"
                if isinstance(theirs, str) or isinstance(ours, str):
                    case["tensor"] = isinstance(theirs, str) and isinstance(ours, str)
                    case["shape"] = str(theirs)[:80]
                else:
                    case["tensor"] = bool(theirs.dtype == ours.dtype and theirs.shape == ours.shape and torch.equal(theirs, ours))
                    case["shape"] = list(theirs.shape)
                out.append(case)
    return out


def mmbench_video_cases(root, videos):
    """MMBenchVideo.build_prompt (pack, nopack, video_llm) against video.pack_message / video.message."""
    from vlmeval.dataset.mmbench_video import MMBenchVideo

    from vlmrun_worker.frames import FrameCache
    from vlmrun_worker.video import VIDEO, message, pack_message

    import pandas as pd

    rows = [{"index": 10 * k + j, "video": v, "question": q, "video_path": f"./video/{v}.mp4"}
            for k, v in enumerate(videos) for j, q in enumerate(["What happens?", "Which colour is it?\nBe brief."])]
    out = []
    for nframe in (4, 8):
        frame_root = tempfile.mkdtemp()
        ds = _stub_dataset(MMBenchVideo, os.path.join(root, "video"), frame_root, nframe, -1,
                           data=pd.DataFrame(rows), videos=list(videos), video_path=os.path.join(root, "video"))
        ds.frame_paths = types.MethodType(MMBenchVideo.frame_paths, ds)
        ds.frame_paths_fps = types.MethodType(MMBenchVideo.frame_paths_fps, ds)
        cache = FrameCache(tempfile.mkdtemp())
        for pack in (True, False):
            ds.pack = pack
            for k, v in enumerate(videos):
                line = pd.Series(rows[2 * k])
                theirs = ds.build_prompt(line, video_llm=False)
                n = sum(m["type"] == "image" for m in theirs)
                if pack:
                    sub = [r for r in rows if r["video"] == v]
                    ours = pack_message("mmbench_video", [(str(r["index"]), r["question"], None) for r in sub], n)
                else:
                    ours = message("mmbench_video", line["question"], None, n)
                cache.dataset_frames(v, os.path.join(root, "video", v + ".mp4"), nframe)
                out.append({"video": v, "nframe": nframe, "pack": pack, "frames": n,
                            "message": _items(theirs) == ours})
            llm = ds.build_prompt(pd.Series(rows[0]), video_llm=True)
            out.append({"video": videos[0], "nframe": nframe, "pack": pack, "video_llm": True,
                        "message": _items(llm, video=VIDEO) == message("mmbench_video", rows[0]["question"], None, 0,
                                                                      video_llm=True)})
    return out


def _items(msg, video=None):
    items, k = [], 0
    for m in msg:
        if m["type"] == "image":
            items.append(("image", k))
            k += 1
        elif m["type"] == "video":
            items.append(video)
        else:
            items.append(m["value"])
    return items


def pack_split_cases():
    """MMBenchVideo.load_pack_answers (its robust_json_load) against video.split_pack_answer."""
    import pandas as pd
    from vlmeval.dataset.mmbench_video import MMBenchVideo

    from vlmrun_worker.video import split_pack_answer

    out = []
    for ans in PACK_ANSWERS:
        ds = MMBenchVideo.__new__(MMBenchVideo)
        ds.data = pd.DataFrame([{"index": i, "video": "v", "question": "q"} for i in range(3)])
        meta, stats = ds.load_pack_answers({"v": ans})
        theirs = {str(i): p for i, p in zip(meta["index"], meta["prediction"])}
        ours, how = split_pack_answer(ans, ["0", "1", "2"])
        out.append({"answer": ans, "split": theirs == ours,
                    "status": (how == "PARSE_OK") == (stats.get("PARSE_OK", 0) == 1), "theirs": theirs})
    return out


def subtitle_cases(root, videos):
    """VideoMME.build_prompt with use_subtitle (pysubs2, frames at its indices) against the worker's message
    with video.subtitle_text."""
    from vlmeval.dataset.videomme import VideoMME

    from vlmrun_worker.frames import FrameCache
    from vlmrun_worker.video import message, subtitle_text

    out = []
    for s in ({"nframe": 8}, {"fps": 1.0}):
        ds = _stub_dataset(VideoMME, root, tempfile.mkdtemp(), s.get("nframe", 0), s.get("fps", -1),
                           use_subtitle=True, dataset_name="Video-MME")
        ds.frame_paths = types.MethodType(VideoMME.frame_paths, ds)
        ds.frame_paths_fps = types.MethodType(VideoMME.frame_paths_fps, ds)
        cache = FrameCache(tempfile.mkdtemp())
        for v in videos:
            cands = ["A. red", "B. green", "C. blue", "D. yellow"]
            line = {"video": v, "question": "What colour?", "candidates": repr(cands),
                    "subtitle_path": f"./subtitle/{v}.srt"}
            for video_llm in (False, True):
                theirs = ds.build_prompt(line, video_llm=video_llm)
                path = os.path.join(root, "video", v + ".mp4")
                images, idx, info = cache.dataset_frames(v, path, s.get("nframe", 0), s.get("fps", -1))
                subs = subtitle_text(os.path.join(root, "subtitle", v + ".srt"), idx, info["fps"])
                ours = message("videomme", line["question"], line["candidates"], len(images), video_llm, subs)
                out.append({"video": v, "setting": s, "video_llm": video_llm,
                            "message": _items(theirs, video=("video",)) == ours, "subtitles": subs[:60]})
    return out


def mvbench_cases(root, videos):
    """MVBench_MP4.build_prompt (its segment-middle frames for nframe, its Stack/ToTorchFormatTensor/ToPILImage
    round trip, saved with PIL) against FrameCache.dataset_frames(layout mvbench_mp4) and video.message."""
    import numpy as np
    import torchvision.transforms as T
    from PIL import Image
    from vlmeval.dataset.mvbench import MVBench_MP4
    from vlmeval.dataset.utils.mvbench import Stack, ToTorchFormatTensor

    from vlmrun_worker.frames import FrameCache
    from vlmrun_worker.video import message

    out = []
    for s in ({"nframe": 4}, {"nframe": 8}, {"nframe": 16}, {"fps": 1.0}, {"fps": 2.0}):
        frame_root, cache_root = tempfile.mkdtemp(), tempfile.mkdtemp()
        ds = _stub_dataset(MVBench_MP4, root, frame_root, s.get("nframe", 0), s.get("fps", -1))
        ds.transform = T.Compose([Stack(), ToTorchFormatTensor()])
        for name in ("frame_paths", "frame_paths_fps", "read_video", "get_index_by_frame", "get_index_by_fps",
                     "save_video_frames", "save_video_into_images", "qa_template"):
            setattr(ds, name, types.MethodType(getattr(MVBench_MP4, name), ds))
        cache = FrameCache(cache_root)
        for v in videos:
            cands = ["red", "green", "blue", "yellow"]
            line = {"video": v + ".mp4", "prefix": "video/", "question": "What colour is the square?",
                    "candidates": repr(cands), "answer": "red", "task_type": "Object Existence"}
            theirs = MVBench_MP4.build_prompt(ds, line, video_llm=False)
            paths = [m["value"] for m in theirs if m["type"] == "image"]
            images, idx, _ = cache.dataset_frames(line["video"], os.path.join(root, "video", line["video"]),
                                                  s.get("nframe", 0), s.get("fps", -1), layout="mvbench_mp4")
            ours_dir = os.path.join(cache_root, line["video"])
            theirs_llm = MVBench_MP4.build_prompt(ds, line, video_llm=True)
            out.append({
                "video": v, "setting": s, "n": len(paths),
                "names": sorted(os.path.basename(p) for p in paths) == sorted(os.listdir(ours_dir)),
                "jpeg bytes": all(open(p, "rb").read() == open(os.path.join(ours_dir, os.path.basename(p)), "rb").read()
                                  for p in paths),
                "pixels": all(np.array_equal(np.asarray(Image.open(p).convert("RGB")), np.asarray(b))
                              for p, b in zip(paths, images)),
                "message": _items(theirs) == message("mvbench_mp4", line["question"], line["candidates"], len(images)),
                "video_llm message": _items(theirs_llm, video=("video",)) == message(
                    "mvbench_mp4", line["question"], line["candidates"], 0, video_llm=True)})
    return out


def video_llava_cases(root, videos, model_dir, spec):
    """VLMEvalKit's VideoLLaVA_HF.generate_inner on VideoMME.build_prompt(video_llm=True) against the
    video_llava adapter, both with a recording model: the prompt tokens, the video pixels, generate()'s keyword
    arguments (the wrapper's own, config.py 'Video-LLaVA-7B-HF' adds none, against the settings `spec` of
    vlmrun's video-llava-7b manifest)."""
    import torch
    from transformers import VideoLlavaProcessor
    from vlmeval.dataset.videomme import VideoMME

    import vlmeval_import
    from vlmrun_worker.adapters.video_llava import Adapter
    from vlmrun_worker.frames import FrameCache
    from vlmrun_worker.inspect_row import Recorder, no_weights
    from vlmrun_worker.run import Sample
    from vlmrun_worker.video import message
    from vlmrun_worker.video_job import VideoRef

    vlmeval_import.bare_package("vlmeval.vlm.video_llm", os.path.join(os.environ["VLMRUN_ORACLE_SITE"], "vlmeval", "vlm", "video_llm"))
    from vlmeval.vlm.video_llm.video_llava import VideoLLaVA_HF

    theirs_model = VideoLLaVA_HF.__new__(VideoLLaVA_HF)
    theirs_model.model, theirs_model.nframe, theirs_model.kwargs = Recorder(), 8, {}
    theirs_model.processor = VideoLlavaProcessor.from_pretrained(model_dir)
    with no_weights():
        ours_model = Adapter(model_dir, {**spec, "dtype": "float32"}, "cpu")
    ds = _stub_dataset(VideoMME, root, tempfile.mkdtemp(), 8, -1, use_subtitle=False, dataset_name="Video-MME")
    cache, out = FrameCache(tempfile.mkdtemp()), []
    for v in videos:
        cands = ["A. red", "B. green", "C. blue", "D. yellow"]
        line = {"video": v, "question": "What colour is the square?", "candidates": repr(cands),
                "subtitle_path": f"./subtitle/{v}.srt"}
        theirs_model.generate_inner(ds.build_prompt(line, video_llm=True), dataset="Video-MME")
        theirs = theirs_model.model.calls[-1]
        s = Sample("0", line["question"], [], {})
        s.message = message("videomme", line["question"], line["candidates"], 0, video_llm=True)
        s.video = VideoRef(v, os.path.join(root, "video", v + ".mp4"), 8, -1.0, cache)
        ours_model.generate([s])
        ours = ours_model.model.calls[-1]
        tensors = sorted(k for k, x in theirs.items() if isinstance(x, torch.Tensor))
        out.append({"video": v, "tensors": tensors,
                    "inputs": tensors == sorted(k for k, x in ours.items() if isinstance(x, torch.Tensor))
                    and all(torch.equal(theirs[k], ours[k]) for k in tensors),
                    "generate kwargs": {k: x for k, x in theirs.items() if k not in tensors}
                    == {k: x for k, x in ours.items() if not isinstance(x, torch.Tensor)}})
    return out


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
