"""Write data/Video-MME-mini.tsv: a bundled mini video benchmark in Video-MME's layout (VLMEvalKit's VideoMME TSV
columns), about synthetic videos that `vlmrun data fetch Video-MME-mini` makes (images/worker/vlmrun_worker/
synth_video.py: the content is read from each video's name). Three questions per video, as in Video-MME.

    .venv/bin/python scripts/make_video_mini.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.datasets import write_tsv  # noqa: E402

VIDEOS = [  # name, duration class, domain, sub-category
    ("red-right-4s", "short", "Knowledge", "Humanity & History"),
    ("green-left-3s", "short", "Sports Competition", "Athletics"),
    ("blue-up-5s", "medium", "Life Record", "Daily Life"),
    ("yellow-down-2s", "long", "Film & Television", "Animation"),
]
COLOURS, DIRECTIONS, SECONDS = ["red", "green", "blue", "yellow"], ["right", "left", "up", "down"], ["2", "3", "4", "5"]
COLUMNS = ["index", "video", "video_path", "duration", "domain", "candidates", "sub_category", "task_type",
           "subtitle_path", "question", "answer"]


def options(values: list[str]) -> str:
    return repr([f"{chr(65 + k)}. {v}" for k, v in enumerate(values)])


def main() -> None:
    rows = []
    for name, duration, domain, sub in VIDEOS:
        colour, direction, seconds = name.split("-")[0], name.split("-")[1], name.split("-")[2][:-1]
        for task, question, values, truth in [
            ("Object Recognition", "What colour is the square in the video?", COLOURS, colour),
            ("Action Recognition", "In which direction does the square move?", DIRECTIONS, direction),
            ("Temporal Perception", "How many seconds long is the video?", SECONDS, seconds),
        ]:
            rows.append({"index": len(rows), "video": name, "video_path": f"./video/{name}.mp4", "duration": duration,
                         "domain": domain, "candidates": options(values), "sub_category": sub, "task_type": task,
                         "subtitle_path": f"./subtitle/{name}.srt", "question": question,
                         "answer": chr(65 + values.index(truth))})
    out = Path(__file__).resolve().parents[1] / "data" / "Video-MME-mini.tsv"
    write_tsv(rows, out, COLUMNS)
    print(f"wrote {out} ({len(rows)} questions about {len(VIDEOS)} videos)")


if __name__ == "__main__":
    main()
