"""Which CUDA flavour of a family the host's NVIDIA driver can run, decided before anything starts.

A family's CUDA flavours (cuda, cuda12, ...) differ in the CUDA their torch is built for, read from the lock
(the pinned nvidia-cuda-runtime wheel). A CUDA major version runs on any driver at least NVIDIA's minimum for
it (CUDA minor version compatibility): 11.x from 450.80.02, 12.x from 525.60.13, 13.x from 580.65.06. The
newest CUDA the driver supports wins. The driver is read from `nvidia-smi` (or /proc/driver/nvidia/version);
VLMRUN_NVIDIA_DRIVER sets it where the GPUs are not on this host (a cluster's login node).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from .errors import VlmrunError

MIN_DRIVER = {11: (450, 80, 2), 12: (525, 60, 13), 13: (580, 65, 6)}
_RUNTIME = re.compile(r"^nvidia-cuda-runtime(?:-cu\d+)?==(\d+)\.(\d+)", re.M)
_DRIVER = re.compile(r"\b(\d{3,4})\.(\d{1,3})(?:\.(\d{1,3}))?\b")


def lock_cuda(lock: Path) -> Optional[tuple[int, int]]:
    """(major, minor) of the CUDA runtime a lock pins, None for a CPU lock."""
    m = _RUNTIME.search(lock.read_text()) if lock.is_file() else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_driver(text: str) -> Optional[tuple[int, ...]]:
    """The driver version in `nvidia-smi --query-gpu=driver_version` output, `nvidia-smi`'s banner, or
    /proc/driver/nvidia/version."""
    for line in text.splitlines():
        if "NVRM version" in line or "Driver Version" in line or re.fullmatch(r"\s*[\d.]+\s*", line):
            m = _DRIVER.search(line.split("Driver Version:")[-1])
            if m:
                return tuple(int(g) for g in m.groups() if g is not None)
    return None


def host_driver() -> Optional[str]:
    """This host's NVIDIA driver version, or None where none is found."""
    if os.environ.get("VLMRUN_NVIDIA_DRIVER"):
        return os.environ["VLMRUN_NVIDIA_DRIVER"].strip()
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30).stdout
            v = parse_driver(out)
            if v:
                return ".".join(map(str, v))
        except (OSError, subprocess.TimeoutExpired):
            pass
    proc = Path("/proc/driver/nvidia/version")
    if proc.is_file():
        v = parse_driver(proc.read_text(errors="replace"))
        if v:
            return ".".join(map(str, v))
    return None


def gpu_memory_mib() -> Optional[int]:
    """The memory of this host's smallest NVIDIA GPU in MiB (nvidia-smi), or None where none is found."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    sizes = [int(x) for x in out.split() if x.strip().isdigit()]
    return min(sizes) if sizes else None


def cuda_flavours(cat, family: str) -> dict[str, tuple[int, int]]:
    fam = cat.family(family)
    out = {}
    for name, spec in fam.flavours.items():
        if name.startswith("cuda"):
            cuda = lock_cuda(cat.root / spec.lock)
            if cuda:
                out[name] = cuda
    return out


def supports(driver: tuple[int, ...], cuda: tuple[int, int]) -> bool:
    need = MIN_DRIVER.get(cuda[0])
    return need is not None and tuple(driver) + (0,) * (3 - len(driver)) >= need


def choose_flavour(cat, family: str, driver: Optional[str]) -> str:
    """The family's CUDA flavour for this driver: the newest CUDA it supports. With no driver known, 'cuda'."""
    flavours = cuda_flavours(cat, family)
    if driver is None or not flavours:
        return "cuda"
    d = parse_driver(driver)
    if d is None:
        raise VlmrunError(f"VLMRUN_NVIDIA_DRIVER={driver!r} is not a driver version (e.g. 535.104.05)")
    fit = [(cuda, name) for name, cuda in flavours.items() if supports(d, cuda)]
    if fit:
        return max(fit)[1]
    oldest = min(flavours.values())
    need = ".".join(map(str, MIN_DRIVER.get(oldest[0], (0,))))
    raise VlmrunError(f"family {family} needs CUDA {oldest[0]}.{oldest[1]} or newer (NVIDIA driver >= {need}); "
                      f"this host's driver is {driver}: upgrade the driver, or leave out --gpus to run on CPU")
