"""Packages published only as source (an sdist, no wheel): built into wheels on the host, reproducibly, so that
the lock pins the built wheel's sha256 like any other and the image build stays `--no-index --require-hashes`.

A family flavour lists them under `sdists:` as `name==version --hash=sha256:<the sdist's hash>` (and the package
in its requirements). The host downloads the sdist (hash-checked), builds it without build isolation in a small
venv of pinned, hash-checked build tools, with SOURCE_DATE_EPOCH fixed: the same sdist gives the same wheel
bytes on every machine, so a lock written on one machine installs on another (a different build would fail the
hash check at `pip install`, loudly, not install something else). The wheels land in one folder that resolving,
downloading and host venvs read as `--find-links`.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .errors import VlmrunError
from .paths import cache_dir

Log = Callable[[str], None]

# The build backend, pinned: its version is part of what makes the wheel's bytes.
BUILD_TOOLS = (
    "setuptools==80.9.0 --hash=sha256:062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922",
    "wheel==0.45.1 --hash=sha256:708e7481cc80179af0e556bbf0cc00b8444c7321e2700b8d8580231d13017248",
)
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip file can hold
_SDIST_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>\S+)\s+--hash=sha256:(?P<digest>[0-9a-f]{64})$")


def built_dir() -> Path:
    return cache_dir() / "built-wheels"


def parse(entry: str) -> tuple[str, str, str]:
    m = _SDIST_RE.match(entry.strip())
    if not m:
        raise VlmrunError(f"sdists entry {entry!r}: write it as 'name==version --hash=sha256:<the sdist's sha256>'")
    return m.group("name"), m.group("version"), m.group("digest")


def _wheel_for(name: str, version: str) -> Path | None:
    stem = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    found = [w for w in built_dir().glob("*.whl") if w.name.lower().startswith(stem)]
    return found[0] if found else None


def _run(cmd: list[str], what: str, log: Log, env: dict | None = None) -> None:
    log(f"$ {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        tail = [l for l in proc.stdout.splitlines() if l.strip() and "is ignored" not in l][-3:]
        raise VlmrunError(f"{what} failed on the host: " + " | ".join(tail))


def _build_venv(log: Log) -> Path:
    venv = cache_dir() / "sdist-build-venv"
    stamp = venv / "tools.txt"
    want = "\n".join(BUILD_TOOLS) + "\n"
    if stamp.is_file() and stamp.read_text() == want:
        return venv
    _run([sys.executable, "-m", "venv", "--clear", str(venv)], "creating the sdist build venv", log)
    stamp.write_text(want)  # doubles as the requirements file
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          "--require-hashes", "-r", str(stamp)], "installing the sdist build tools", log)
    return venv


def build_sdists(entries: list[str], log: Log) -> Path:
    """Make sure a wheel built from each listed sdist is in built_dir(); return that folder."""
    out = built_dir()
    out.mkdir(parents=True, exist_ok=True)
    todo = [(name, version, digest) for name, version, digest in map(parse, entries)
            if _wheel_for(name, version) is None]
    if not todo:
        return out
    venv = _build_venv(log)
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="vlmrun-sdist-") as tmp:
        for name, version, digest in todo:
            req = Path(tmp) / f"{name}.txt"
            req.write_text(f"{name}=={version} --hash=sha256:{digest}\n")
            src = Path(tmp) / name
            _run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                  "--no-binary", ":all:", "--require-hashes", "-r", str(req), "-d", str(src)],
                 f"downloading the sdist of {name}=={version}", log)
            (sdist,) = list(src.iterdir())
            staged = Path(tmp) / f"{name}-wheel"
            _run([str(venv / "bin" / "python"), "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                  "--no-deps", "--no-build-isolation", "--no-index", str(sdist), "-w", str(staged)],
                 f"building a wheel of {name}=={version}", log, env=env)
            for whl in staged.glob("*.whl"):
                os.replace(whl, out / whl.name)  # whole files only: a half-built wheel never lands
    return out


def find_links(entries: list[str], log: Log) -> list[str]:
    """pip arguments that let it see the built wheels (none where the flavour lists no sdists)."""
    return ["--find-links", str(build_sdists(entries, log))] if entries else []
