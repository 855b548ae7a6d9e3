"""Plain request objects: what will be started, with which mounts, devices and environment."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Optional

from ..errors import VlmrunError

# Where things appear inside the container.
WORKER_MOUNT = "/opt/vlmrun/worker"
DATA_MOUNT = "/vlmrun/data"
MODEL_MOUNT = "/vlmrun/model"
OUT_MOUNT = "/vlmrun/out"

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


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


@dataclass
class Mount:
    source: str
    target: str
    read_only: bool = True


@dataclass
class ContainerRequest:
    """Everything `docker run` needs, as data: built first, executed second."""

    image: str
    command: list[str]
    name: str
    user: str
    mounts: list[Mount] = field(default_factory=list)
    env: dict = field(default_factory=dict)
    gpus: Optional[GpuSpec] = None
    network_mode: str = "none"
    # torchrun's rendezvous connects to the container's own hostname, which resolves only when it is an
    # /etc/hosts name: with no network, 'localhost' is the one that does.
    hostname: str = "localhost"
    init: bool = True
    ipc_mode: Optional[str] = None
    shm_size: Optional[str] = "8g"
    working_dir: str = "/tmp"
    labels: dict = field(default_factory=dict)

    def docker_kwargs(self) -> dict:
        """Keyword arguments for docker-py's `containers.create`."""
        from docker.types import DeviceRequest, Mount as DMount

        kw = dict(
            image=self.image, command=self.command, name=self.name, user=self.user, environment=dict(self.env),
            mounts=[DMount(target=m.target, source=m.source, type="bind", read_only=m.read_only) for m in self.mounts],
            network_mode=self.network_mode, hostname=self.hostname, init=self.init, working_dir=self.working_dir, labels=dict(self.labels),
            detach=True,
        )
        if self.ipc_mode:
            kw["ipc_mode"] = self.ipc_mode
        elif self.shm_size:
            kw["shm_size"] = self.shm_size
        if self.gpus:
            kw["device_requests"] = [
                DeviceRequest(driver=r["Driver"], count=r["Count"], device_ids=r["DeviceIDs"],
                              capabilities=r["Capabilities"], options=r["Options"])
                for r in self.gpus.device_requests()]
        return kw

    def as_dict(self) -> dict:
        d = asdict(self)
        d["device_requests"] = self.gpus.device_requests() if self.gpus else []
        return d

    def docker_cli(self) -> str:
        """The equivalent `docker run` command line, for --dry-run and bug reports."""
        import shlex

        parts = ["docker", "run", "--rm", "--name", self.name, "--user", self.user, f"--network={self.network_mode}",
                 f"--hostname={self.hostname}"]
        if self.init:
            parts.append("--init")
        if self.ipc_mode:
            parts.append(f"--ipc={self.ipc_mode}")
        elif self.shm_size:
            parts.append(f"--shm-size={self.shm_size}")
        if self.gpus:
            ids = self.gpus.device_ids
            parts.append("--gpus=" + (f'"device={",".join(ids)}"' if ids else
                                      ("all" if self.gpus.count == -1 else str(self.gpus.count))))
        for m in self.mounts:
            parts.append(f"--mount=type=bind,src={m.source},dst={m.target}" + (",readonly" if m.read_only else ""))
        for k, v in sorted(self.env.items()):
            parts += ["-e", f"{k}={v}"]
        parts += ["-w", self.working_dir, self.image, *self.command]
        return " ".join(shlex.quote(p) if not p.startswith("--gpus=") else p for p in parts)
