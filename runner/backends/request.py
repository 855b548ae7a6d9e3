"""Plain request objects: what will be started, with which mounts, devices and environment."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from ..gpus import GpuSpec, parse_gpus  # noqa: F401  (re-exported: the request's device requests use it)

# Where things appear inside the container.
WORKER_MOUNT = "/opt/vlmrun/worker"
DATA_MOUNT = "/vlmrun/data"
MODEL_MOUNT = "/vlmrun/model"
OUT_MOUNT = "/vlmrun/out"
VIDEO_MOUNT = "/vlmrun/videos"  # a video benchmark's videos (read-only)
FRAMES_MOUNT = "/vlmrun/frames"  # its frame cache ($LMUData/images/<benchmark>), shared by every job on it

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


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
    # Hardening, on by default: no capabilities, no privilege gain (setuid), a read-only root filesystem with a
    # private /tmp (HOME and the working dir), a bound on processes; a memory limit when one is asked for.
    cap_drop: list = field(default_factory=lambda: ["ALL"])
    security_opt: list = field(default_factory=lambda: ["no-new-privileges"])
    read_only: bool = True
    tmpfs: dict = field(default_factory=lambda: {"/tmp": "rw,nosuid,nodev,size=8g,mode=1777"})
    pids_limit: Optional[int] = 8192  # torch threads and dataloader workers count as processes here
    mem_limit: Optional[str] = None

    def docker_kwargs(self) -> dict:
        """Keyword arguments for docker-py's `containers.create`."""
        from docker.types import DeviceRequest, Mount as DMount

        kw = dict(
            image=self.image, command=self.command, name=self.name, user=self.user, environment=dict(self.env),
            mounts=[DMount(target=m.target, source=m.source, type="bind", read_only=m.read_only) for m in self.mounts],
            network_mode=self.network_mode, hostname=self.hostname, init=self.init, working_dir=self.working_dir, labels=dict(self.labels),
            detach=True, cap_drop=list(self.cap_drop), security_opt=list(self.security_opt), read_only=self.read_only,
            tmpfs=dict(self.tmpfs),
        )
        if self.pids_limit:
            kw["pids_limit"] = self.pids_limit
        if self.mem_limit:
            kw["mem_limit"] = self.mem_limit
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

        parts = ["docker", "run", "--rm", "--name", self.name, "--user", self.user, f"--network={self.network_mode}"]
        if self.hostname:  # none with the host's network (`vlmrun serve`)
            parts.append(f"--hostname={self.hostname}")
        if self.init:
            parts.append("--init")
        parts += [f"--cap-drop={c}" for c in self.cap_drop] + [f"--security-opt={o}" for o in self.security_opt]
        if self.read_only:
            parts.append("--read-only")
        parts += [f"--tmpfs={k}:{v}" for k, v in self.tmpfs.items()]
        if self.pids_limit:
            parts.append(f"--pids-limit={self.pids_limit}")
        if self.mem_limit:
            parts.append(f"--memory={self.mem_limit}")
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
