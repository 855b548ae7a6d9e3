"""--gpus: what the user asked for (all, a count, device ids), shared by the plan and every backend."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .errors import VlmrunError


@dataclass(frozen=True)
class GpuSpec:
    """--gpus as the user gave it: all, a count, or device ids."""

    count: Optional[int] = None  # -1 = all
    device_ids: tuple[str, ...] = ()

    @property
    def n(self) -> Optional[int]:
        """How many GPUs the job gets, where that is known without asking the machine."""
        if self.device_ids:
            return len(self.device_ids)
        return None if self.count == -1 else self.count

    def device_requests(self) -> list[dict]:
        """The Docker Engine API's DeviceRequests for this spec."""
        req = {"Driver": "", "Capabilities": [["gpu"]], "Options": {}}
        if self.device_ids:
            return [{**req, "Count": 0, "DeviceIDs": list(self.device_ids)}]
        return [{**req, "Count": self.count, "DeviceIDs": None}]

    def visible_devices(self) -> Optional[str]:
        if self.device_ids:
            return ",".join(self.device_ids)
        return None if self.count == -1 else ",".join(str(i) for i in range(self.count))


def parse_gpus(value: Optional[str]) -> Optional[GpuSpec]:
    """'all' | N | '0,1' (device ids) | None (CPU)."""
    if value is None or value == "":
        return None
    v = value.strip().lower()
    if v == "all":
        return GpuSpec(count=-1)
    if re.fullmatch(r"\d+", v):
        n = int(v)
        if n < 1:
            raise VlmrunError("--gpus 0 asks for no GPU: leave --gpus out to run on CPU")
        return GpuSpec(count=n)
    if v.startswith("device="):
        v = v[len("device="):]
    ids = [x.strip() for x in v.split(",") if x.strip()]
    if ids and all(re.fullmatch(r"\d+|GPU-[0-9a-f-]+|MIG-[0-9a-f/-]+", x, re.I) for x in ids) and "," in value:
        return GpuSpec(device_ids=tuple(ids))
    raise VlmrunError(f"--gpus {value!r} is not understood: use 'all', a count like 2, or device ids like 0,1")
