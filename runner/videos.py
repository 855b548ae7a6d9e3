"""A video benchmark's videos on the host: where they are, the frame cache the containers share, and how
`vlmrun data fetch` gets them.

- Archives (the manifest's `videos.archives`): each downloaded into $LMUData/<root>/.archives/ (resumable, md5
  checked where the manifest has one, zip CRCs checked always), then unpacked once, flat into <root>/<into>/ as
  VLMEvalKit's unzip_hf_zip does; a marker file records each unpacked archive, so a second fetch or a second
  model reuses them.
- Synthetic videos (`videos.synthetic`, the bundled mini benchmark): made by the worker's make-videos inside the
  transformers-latest CPU image (PyAV is there, not on the host); the same names give the same videos.
"""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Optional

from .errors import VlmrunError
from .manifest import Benchmark, Catalogue
from .paths import lmu_data_dir

SYNTH_FAMILY = "transformers-latest"


def video_root(bench: Benchmark) -> Path:
    return lmu_data_dir() / bench.videos.root


def video_dirs(bench: Benchmark) -> tuple[Path, Path]:
    """A video benchmark's video folder ($LMUData/<root>) and frame cache ($LMUData/images/<name>, VLMEvalKit's
    frame root: frames either tool saved are reused by the other). The frame cache is made here."""
    root = video_root(bench)
    where = root if bench.videos.layout == "mvbench_mp4" else root / "video"  # MVBench: a folder per task
    if not where.is_dir():
        raise VlmrunError(f"videos for {bench.name} not found in {where}: run `vlmrun data fetch {bench.name}` "
                          "(or set $LMUData to the folder holding them)")
    frames = lmu_data_dir() / "images" / bench.name
    frames.mkdir(parents=True, exist_ok=True)
    from .container import hand_over  # noqa: PLC0415 - the container's user writes the frames

    hand_over(frames)
    return root, frames


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except zipfile.BadZipFile as e:
        raise VlmrunError(f"{path} is not a complete zip archive ({e}): delete it and fetch again") from None
    if bad is not None:
        raise VlmrunError(f"{path}: member {bad} fails its CRC check: delete the archive and fetch again")


def unpack(archive: Path, dest: Path) -> int:
    """Every file member of the archive into dest, flat (its base name), each written under a temporary name
    and renamed; returns how many."""
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    with zipfile.ZipFile(archive) as z:
        for member in z.namelist():
            if member.endswith("/"):
                continue
            target = dest / os.path.basename(member)
            tmp = target.with_name(f".{target.name}.part")
            with z.open(member) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, target)
            n += 1
    return n


def fetch_archives(bench: Benchmark, progress=None, timeout: float = 60.0) -> str:
    from .datasets import download, md5_file

    root = video_root(bench)
    store, done = root / ".archives", root / ".archives" / "unpacked"
    done.mkdir(parents=True, exist_ok=True)
    got, unpacked = 0, 0
    for a in bench.videos.archives:
        name = a.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
        marker = done / name
        if marker.exists():
            continue
        path = store / name
        if not path.exists():
            part = store / f"{name}.part"
            download(a.url, part, f"vlmrun data fetch {bench.name}", progress, timeout)
            if a.md5 and md5_file(part) != a.md5:
                bad = store / f"{name}.bad"
                os.replace(part, bad)
                raise VlmrunError(f"{a.url}: md5 {md5_file(bad)}, the manifest expects {a.md5} (kept as {bad})")
            os.replace(part, path)
            got += 1
        _check_zip(path)
        n = unpack(path, root / a.into)
        marker.write_text(f"{n}\n")
        unpacked += 1
    kept = len(bench.videos.archives) - unpacked
    return f"{got} archive(s) downloaded, {unpacked} unpacked, {kept} already unpacked, in {root}"


def make_synthetic(cat: Catalogue, bench: Benchmark, tsv: Path, log: Callable[[str], None] = print) -> str:
    """The bundled benchmark's videos, made by the worker (PyAV) in the transformers-latest CPU image."""
    from .backends.docker_backend import DockerBackend
    from .container import docker_videos_request, hand_over
    from .images import ensure_image

    root = video_root(bench)
    root.mkdir(parents=True, exist_ok=True)
    hand_over(root)
    backend = DockerBackend()
    img = ensure_image(backend.client, cat, SYNTH_FAMILY, "cpu", log=log)
    lines: list[str] = []
    outcome = backend.run_one(docker_videos_request(img.tag, tsv, root, bench.name), lines.append)
    if not outcome.ok:
        raise VlmrunError(f"making the videos of {bench.name} failed (exit {outcome.exit_code}): "
                          + " | ".join(l for l in lines if l.strip())[-300:])
    from .backends.request import VIDEO_MOUNT

    said = next((l for l in reversed(lines) if "video(s) made" in l), f"videos in {root}")
    return said.strip().replace(VIDEO_MOUNT, str(root))


def fetch_videos(cat: Catalogue, bench: Benchmark, tsv: Path, progress=None, log=print) -> Optional[str]:
    """What `vlmrun data fetch` did about a benchmark's videos (None: it has none)."""
    if bench.videos is None:
        return None
    if bench.videos.synthetic:
        return make_synthetic(cat, bench, tsv, log)
    if bench.videos.archives:
        return fetch_archives(bench, progress)
    root = video_root(bench)
    if (root / "video").is_dir():
        return f"videos in {root / 'video'}"
    raise VlmrunError(f"{bench.name}: its manifest lists no archives to download; put the videos in {root / 'video'} "
                      f"as VLMEvalKit lays them out (its manifest, {bench.source_file}, says how)")
