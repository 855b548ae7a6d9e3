"""A video benchmark's job: its rows as requests (one per question, or with pack one per video), each request's
frames and message, and the predictions it gives back.

The job file's `video` block (written by the host):
  layout     videomme | mmbench_video | mvbench_mp4: which VLMEvalKit dataset class's build_prompt and frame
             choice the requests follow
  root       the folder the TSV's videos are under (<root>/video/<video>.mp4; subtitles at the row's subtitle_path)
  frames     the frame cache folder ($LMUData/images/<benchmark> on the host)
  nframe     frames per video (> 0), or fps (> 0): exactly one of them
  pack       ask all questions of a video in one request (MMBench-Video's pack prompt), split the answer back
  subtitles  Video-MME's _subs setting: the subtitles at the sampled frames go into the prompt
  input      frames (the model gets the sampled frames as images) | video (the model reads the video itself at
             its own frame choice: VLMEvalKit's VIDEO_LLM, Qwen2-VL)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .data import DataError, Row, cell
from .frames import FrameCache, probe
from .job import JobFileError
from .video import LAYOUTS, message, pack_message, split_pack_answer, subtitle_text


@dataclass
class VideoSpec:
    layout: str
    root: str
    frames: str
    nframe: int = 0
    fps: float = -1.0
    pack: bool = False
    subtitles: bool = False
    input: str = "frames"

    @classmethod
    def of(cls, d: dict) -> "VideoSpec":
        try:
            spec = cls(**d)
        except TypeError as e:
            raise JobFileError(f"job file: video: {e}") from None
        if spec.layout not in LAYOUTS:
            raise JobFileError(f"job file: video layout {spec.layout!r} is unknown (one of {', '.join(LAYOUTS)})")
        if (spec.nframe > 0) == (spec.fps > 0):
            raise JobFileError("job file: video needs exactly one of nframe > 0 or fps > 0")
        if spec.input not in ("frames", "video"):
            raise JobFileError(f"job file: video input {spec.input!r} is unknown (frames or video)")
        if spec.pack and spec.input == "video":
            raise JobFileError("job file: pack asks about frames; a model reading the video itself takes no pack")
        return spec


@dataclass
class Unit:
    """One request: a question, or with pack all questions about one video (index: the video's name)."""
    index: str
    video: str
    rows: list = field(default_factory=list)


@dataclass
class VideoRef:
    """A video as a model that reads it itself gets it: where it is, the run's frame setting, the cache."""
    name: str
    path: str
    nframe: int
    fps: float
    cache: FrameCache

    def probe(self) -> tuple[int, float]:
        return probe(self.path)


def read_video_rows(path: str) -> list[Row]:
    import pandas as pd

    df = pd.read_csv(path, sep="\t", dtype={"index": str, "video": str})
    lacking = [c for c in ("index", "video", "question") if c not in df.columns]
    if lacking:
        raise DataError(f"{path}: a video benchmark TSV needs the columns index, video, question (missing: {', '.join(lacking)})")
    rows = []
    for rec in df.to_dict("records"):
        index, question = str(rec.pop("index")), str(rec.pop("question"))
        rows.append(Row(index=index, question=question, image_b64=None, extra={k: cell(v) for k, v in rec.items()}))
    return rows


class VideoJob:
    def __init__(self, job):
        self.spec = VideoSpec.of(job.video)
        self.cache = FrameCache(self.spec.frames)
        self.stats = {"pack_parse_ok": 0, "pack_parse_fail": 0, "pack_questions_unanswered": 0}

    def units(self, data: str) -> list[Unit]:
        rows = read_video_rows(data)
        if not self.spec.pack:
            return [Unit(r.index, r.extra["video"], [r]) for r in rows]
        by_video: dict[str, Unit] = {}
        for r in rows:
            by_video.setdefault(r.extra["video"], Unit(r.extra["video"], r.extra["video"])).rows.append(r)
        return [by_video[v] for v in sorted(by_video)]  # VLMEvalKit's dataset.videos: sorted names

    @staticmethod
    def done_units(units: list[Unit], done: set) -> set:
        """Units whose every question has a prediction (resuming: a packed video is asked again only whole)."""
        return {u.index for u in units if all(r.index in done for r in u.rows)}

    def video_path(self, row: Row) -> str:
        """<root>/video/<video>.mp4, where VideoMME and MMBenchVideo read it (save_video_frames); MVBench_MP4:
        <root>/<prefix>/<video> (the row's task folder, the file name with its extension)."""
        if self.spec.layout == "mvbench_mp4":
            path = Path(self.spec.root) / (row.extra.get("prefix") or "") / row.extra["video"]
        else:
            path = Path(self.spec.root) / "video" / f"{row.extra['video']}.mp4"
        if not path.is_file():
            raise DataError(f"video {row.extra['video']!r} of row {row.index} not found at {path}")
        return str(path)

    def load(self, unit: Unit):
        """The request as a Sample: frames (PIL images) and the message; or the video reference."""
        from .run import Sample

        row = unit.rows[0]
        path = self.video_path(row)
        subs = None
        frames, indices, info = [], [], None
        if self.spec.input == "frames" or self.spec.subtitles:
            frames, indices, info = self.cache.dataset_frames(unit.video, path, self.spec.nframe, self.spec.fps,
                                                              self.spec.layout)
        if self.spec.subtitles:
            srt = Path(self.spec.root) / (row.extra.get("subtitle_path") or f"subtitle/{unit.video}.srt")
            subs = subtitle_text(str(srt), indices, info["fps"]) if srt.is_file() else ""
        video_llm = self.spec.input == "video"
        if self.spec.pack:
            msg = pack_message(self.spec.layout, [(r.index, r.question, r.extra.get("candidates")) for r in unit.rows],
                               len(frames))
        else:
            msg = message(self.spec.layout, row.question, row.extra.get("candidates"), len(frames), video_llm, subs)
        sample = Sample(unit.index, row.question, [] if video_llm else frames, row.extra)
        sample.message = msg
        if video_llm:
            sample.video = VideoRef(unit.video, path, self.spec.nframe, self.spec.fps, self.cache)
        return sample

    def records(self, unit_index: str, units: dict, prediction: str) -> list[dict]:
        """The predictions a request gives: its own, or with pack one per question of the video."""
        unit = units[unit_index]
        if not self.spec.pack:
            return [{"index": unit.index, "prediction": prediction}]
        answers, how = split_pack_answer(prediction, [r.index for r in unit.rows])
        self.stats["pack_parse_ok" if how == "PARSE_OK" else "pack_parse_fail"] += 1
        self.stats["pack_questions_unanswered"] += sum(a is None for a in answers.values())
        # VLMEvalKit leaves an unanswered question's prediction empty (None); the packed answer stays with it
        return [{"index": i, "prediction": "" if a is None else a, "packed": prediction, "video": unit.video}
                for i, a in answers.items()]

    def report(self) -> dict:
        out = {**self.cache.stats, **(self.stats if self.spec.pack else {})}
        out["decode_s"] = round(out["decode_s"], 3)
        return out

