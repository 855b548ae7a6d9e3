"""Images: one pinned environment per (family, flavour), built from a host-side wheelhouse.

An image holds the environment only (Python venv from the family's lock file). Its tag is a hash of
everything that goes into it -- Dockerfile, lock file, base image id, build arguments -- so an unchanged
image is never rebuilt, and upgrading vlmrun (whose worker is mounted at run time) never forces a rebuild.

Builds need no registry and no network inside the build: the wheels are resolved and downloaded on the
host (`pip download`, using the host's pip configuration), served to the build over the loopback
interface and installed with `pip install --no-index --require-hashes`.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Optional

from . import __version__
from .errors import VlmrunError
from .manifest import Catalogue, Family
from .paths import cache_dir, file_digest
from .sdists import find_links

LABEL_PREFIX = "io.vlmrun"
LOCAL_BASE = "vlmrun/base:bookworm-py311"
Log = Callable[[str], None]


def sha256_file(path: Path) -> str:
    return file_digest(path, "sha256")


@dataclass
class ImageSpec:
    """Everything that defines one image; the tag is derived from it."""

    family: str
    flavour: str
    python: str
    dockerfile: Path
    lock: Path
    base: str
    base_id: str
    build_args: dict = field(default_factory=dict)

    @property
    def lock_sha256(self) -> str:
        return sha256_file(self.lock)

    @functools.cached_property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for part in (self.dockerfile.read_bytes(), self.lock.read_bytes(), self.base_id.encode(),
                     repr(sorted(self.all_build_args.items())).encode()):
            h.update(hashlib.sha256(part).digest())
        return h.hexdigest()

    @property
    def all_build_args(self) -> dict:
        return {"BASE_IMAGE": self.base, "PYTHON_VERSION": self.python, **self.build_args}

    @property
    def repository(self) -> str:
        return f"vlmrun/{self.family}"

    @property
    def tag(self) -> str:
        return f"{self.repository}:{self.flavour}-{self.content_hash[:12]}"

    def labels(self) -> dict:
        pins = {f"{LABEL_PREFIX}.{k}": v for k, v in lock_pins(self.lock).items()}
        return {**pins, **{
            "org.opencontainers.image.title": f"vlmrun {self.family} ({self.flavour})",
            "org.opencontainers.image.description": "pinned Python environment for vision-language model evaluation",
            "org.opencontainers.image.created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "org.opencontainers.image.version": self.content_hash[:12],
            "org.opencontainers.image.base.name": self.base,
            "org.opencontainers.image.vendor": "vlmrun",
            f"{LABEL_PREFIX}.family": self.family,
            f"{LABEL_PREFIX}.flavour": self.flavour,
            f"{LABEL_PREFIX}.python": self.python,
            f"{LABEL_PREFIX}.lock-sha256": self.lock_sha256,
            f"{LABEL_PREFIX}.base-id": self.base_id,
            f"{LABEL_PREFIX}.spec-hash": self.content_hash,
            f"{LABEL_PREFIX}.built-by": __version__,
        }}


# ---------------------------------------------------------------------------------------------- locks


def lock_pins(lock: Path) -> dict:
    """torch, transformers (and vllm) versions as a lock file pins them."""
    out = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^(torch|transformers|vllm)==(\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out

_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def parse_wheel_name(filename: str) -> tuple[str, str]:
    m = _WHEEL_RE.match(filename)
    if not m:
        raise VlmrunError(f"not a wheel file name: {filename}")
    return m.group("name").replace("_", "-").lower(), m.group("version")


def pip_download(args: list[str], dest: Path, log: Log) -> None:
    """Run the host's pip (its configuration: index, proxy CA, local wheel folders)."""
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
           "-d", str(dest), *args]
    log(f"$ {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = [l for l in proc.stdout.splitlines() if l.strip() and "is ignored" not in l][-3:]
        raise VlmrunError("pip download failed on the host: " + " | ".join(tail))


def write_lock(family: Family, flavour: str, root: Path, log: Log, upgrade: bool = False) -> Path:
    """Resolve the flavour's top-level requirements on the host and write the pinned, hashed lock. As pip-compile
    does, the versions the existing lock pins are kept where the requirements still allow them (a new requirement
    adds its packages and changes nothing else); upgrade: resolve everything afresh."""
    spec = family.flavours[flavour]
    if not spec.requirements:
        raise VlmrunError(f"family {family.name} flavour {flavour} lists no requirements to lock")
    out = root / spec.lock
    with tempfile.TemporaryDirectory(prefix="vlmrun-relock-") as tmp:
        keep = _pins(out, Path(tmp)) if not upgrade and out.is_file() else []
        try:
            wheels = pip_resolve(list(spec.requirements), log, [*find_links(spec.sdists, log), *keep])
        except VlmrunError as e:
            if not keep:
                raise
            raise VlmrunError(f"{e} (the versions {spec.lock} pins were kept: `vlmrun images lock {family.name} "
                              f"--flavour {flavour} --upgrade` resolves everything afresh)") from None
    header = [f"# Lock for image family {family.name}, flavour {flavour} (Python {family.python}).",
              "# Generated by `vlmrun images lock`; edit the requirements in the family manifest, not this file.",
              *[f"#   {r}" for r in spec.requirements]]
    lines = []
    for filename, digest in sorted(wheels, key=lambda w: parse_wheel_name(w[0])[0]):
        name, version = parse_wheel_name(filename)
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(out, "\n".join(header + lines) + "\n")
    return out


def _pins(lock: Path, folder: Path) -> list[str]:
    """The existing lock's versions as pip constraints (a file in `folder`), for a relock that keeps them."""
    pins = [m.group(0) for m in re.finditer(r"(?m)^[A-Za-z0-9_.-]+==\S+", lock.read_text())]
    path = folder / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return ["-c", str(path)]


def pip_resolve(requirements: list[str], log: Log, extra: list[str] = ()) -> list[tuple[str, str]]:
    """(wheel file name, sha256) of every wheel the host's pip would install for the requirements, from the
    index's metadata and published hashes alone (`pip install --dry-run --report`: nothing is downloaded but
    metadata, so a CUDA lock of several GB resolves in seconds); the same files `pip download` then fetches."""
    import json
    from urllib.parse import unquote, urlparse

    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
           "--disable-pip-version-check", "--only-binary=:all:", *extra, *requirements]
    log(f"$ {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        tail = [l for l in proc.stderr.splitlines() if l.strip() and "is ignored" not in l][-3:]
        raise VlmrunError("pip could not resolve the requirements on the host: " + " | ".join(tail))
    out = []
    for item in json.loads(proc.stdout)["install"]:
        info = item["download_info"]
        digest = ((info.get("archive_info") or {}).get("hashes") or {}).get("sha256")
        if not digest and info["url"].startswith("file://"):  # a local wheel folder (find-links)
            digest = sha256_file(Path(unquote(urlparse(info["url"]).path)))
        if not digest:
            raise VlmrunError(f"the index published no sha256 for {info['url']}: it cannot be locked")
        out.append((unquote(info["url"].rsplit("/", 1)[-1].split("#")[0]), digest))
    return out


def fill_wheelhouse(lock: Path, wheelhouse: Path, log: Log, sdists: list[str] = ()) -> None:
    """Download exactly the locked wheels (hash-checked) into the wheelhouse; present ones are reused. Wheels of
    the flavour's sdist-only packages are built on the host first (runner/sdists.py)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    pip_download([*find_links(list(sdists), log), "--no-deps", "--require-hashes", "-r", str(lock)], wheelhouse, log)


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve a folder on the loopback interface (the build reaches it with host networking)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 - the build log shows what pip fetched
        pass


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------- base


def make_local_base(client, name: str = LOCAL_BASE, log: Log = print) -> str:
    """Make a Debian bookworm + Python 3.11 base with debootstrap and import it (no registry needed)."""
    if os.geteuid() != 0:
        raise VlmrunError(f"base image {name} is missing and making it needs root: run `sudo vlmrun images base`")
    if not shutil.which("debootstrap"):
        raise VlmrunError(f"base image {name} is missing and debootstrap is not installed: "
                          "run `apt-get install -y debootstrap`, then `vlmrun images base`")
    with tempfile.TemporaryDirectory(prefix="vlmrun-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm", str(rootfs)]
        mirror = os.environ.get("VLMRUN_DEBIAN_MIRROR")
        if mirror:
            cmd.append(mirror)
        log(f"$ {' '.join(cmd)}")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise VlmrunError("debootstrap failed: " + " | ".join(proc.stdout.strip().splitlines()[-2:]))
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        log(f"importing {rootfs} as {name}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        repo, _, tag = name.partition(":")
        try:
            result = client.api.import_image_from_stream(
                tar.stdout, repository=repo, tag=tag or "latest",
                changes=['ENV LANG=C.UTF-8', 'CMD ["python3"]'])
        finally:
            tar.stdout.close()
            tar.wait()
        if tar.returncode != 0:
            raise VlmrunError(f"tar of {rootfs} failed")
    log(f"made base image {name}: {str(result).strip()[:120]}")
    return client.images.get(name).id


def base_image_id(client, family: Family, flavour: str, make_missing: bool, log: Log) -> str:
    import docker.errors

    spec = family.flavours[flavour]
    try:
        return client.images.get(spec.base).id
    except docker.errors.ImageNotFound:
        pass
    if spec.local_base and make_missing:
        log(f"base image {spec.base} not found; making it locally (debootstrap, about a minute)")
        return make_local_base(client, spec.base, log)
    hint = "run `vlmrun images base`" if spec.local_base else f"load it with `docker load` or pull {spec.base} where a registry is reachable"
    raise VlmrunError(f"base image {spec.base} for {family.name}/{flavour} not found: {hint}")


# ---------------------------------------------------------------------------------------------- build


def image_spec(cat: Catalogue, family_name: str, flavour: str, base_id: str) -> ImageSpec:
    fam = cat.family(family_name)
    if flavour not in fam.flavours:
        raise VlmrunError(f"family {family_name} has no '{flavour}' flavour; it has: {', '.join(fam.flavours)}")
    spec = fam.flavours[flavour]
    lock = cat.root / spec.lock
    if not lock.is_file():
        raise VlmrunError(f"lock file {spec.lock} is missing: run `vlmrun images lock {family_name} --flavour {flavour}`")
    return ImageSpec(family=fam.name, flavour=flavour, python=fam.python, dockerfile=cat.root / fam.dockerfile,
                     lock=lock, base=spec.base, base_id=base_id)


@dataclass
class ImageResult:
    spec: ImageSpec
    tag: str
    id: str
    built: bool
    seconds: float = 0.0


def find_image(client, spec: ImageSpec) -> Optional[str]:
    import docker.errors

    try:
        return client.images.get(spec.tag).id
    except docker.errors.ImageNotFound:
        return None


def ensure_image(client, cat: Catalogue, family_name: str, flavour: str, log: Log = print,
                 make_base: bool = True) -> ImageResult:
    """Find the image for (family, flavour) or build it. Never rebuilds an unchanged image."""
    import time

    fam = cat.family(family_name)
    if flavour not in fam.flavours:
        raise VlmrunError(f"family {family_name} has no '{flavour}' flavour; it has: {', '.join(fam.flavours)}")
    base_id = base_image_id(client, fam, flavour, make_base, log)
    spec = image_spec(cat, family_name, flavour, base_id)
    existing = find_image(client, spec)
    if existing:
        return ImageResult(spec, spec.tag, existing, built=False)
    t0 = time.monotonic()
    wheelhouse = cache_dir() / "wheelhouse"
    log(f"building {spec.tag} (wheels resolved on the host into {wheelhouse})")
    fill_wheelhouse(spec.lock, wheelhouse, log, fam.flavours[flavour].sdists)
    image_id = build_image(client, spec, wheelhouse, log)
    return ImageResult(spec, spec.tag, image_id, built=True, seconds=time.monotonic() - t0)


def build_log_path(spec: ImageSpec) -> Path:
    return cache_dir() / "build-logs" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.tag) + ".log")


def build_image(client, spec: ImageSpec, wheelhouse: Path, log: Log) -> str:
    """The build's full output goes to a log file named up front; the console gets its steps only (a CI log
    stays readable), and the end of the file when the build fails."""
    path = build_log_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"build log: {path}")
    with open(path, "w", encoding="utf-8") as f:
        try:
            return _build(client, spec, wheelhouse, lambda line: (f.write(line + "\n"), f.flush(), _step(line, log)))
        except VlmrunError as e:
            f.flush()
            tail = [l for l in path.read_text(encoding="utf-8", errors="replace").splitlines() if l.strip()][-15:]
            for line in tail:
                log("  " + line)
            raise VlmrunError(f"{e} (full log: {path})") from None


def _step(line: str, log: Log) -> None:
    """The steps that do work (FROM, COPY, RUN), cut to one line each; not LABEL, ARG, ENV, ..."""
    m = re.match(r"Step \d+/\d+ : (\w+)", line)
    if (m and m.group(1).upper() in ("FROM", "COPY", "RUN")) or line.startswith("Successfully built"):
        log(line[:160])


def _build(client, spec: ImageSpec, wheelhouse: Path, log: Log) -> str:
    import docker.errors

    with tempfile.TemporaryDirectory(prefix="vlmrun-build-") as ctx, serve_folder(wheelhouse) as url:
        shutil.copy(spec.dockerfile, Path(ctx) / "Dockerfile")
        shutil.copy(spec.lock, Path(ctx) / "lock.txt")
        args = {**spec.all_build_args, "WHEELHOUSE_URL": url}
        image_id = None
        try:
            stream = client.api.build(path=ctx, tag=spec.tag, buildargs=args, labels=spec.labels(),
                                      network_mode="host", rm=True, forcerm=True, decode=True, pull=False)
            for chunk in stream:
                if "stream" in chunk:
                    for line in chunk["stream"].splitlines():
                        if line.strip():
                            log(line)
                if "error" in chunk:
                    raise VlmrunError(f"building {spec.tag} failed: {chunk['error'].strip().splitlines()[-1]}")
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
        except docker.errors.APIError as e:
            raise VlmrunError(f"building {spec.tag} failed: {e.explanation or e}") from None
    return image_id or client.images.get(spec.tag).id


def list_images(client, cat: Optional[Catalogue] = None) -> list[dict]:
    # versions come from the image's labels, or from the lock file its lock-sha256 label names
    by_lock = {}
    if cat is not None:
        for fam in cat.families.values():
            for spec in fam.flavours.values():
                lock = cat.root / spec.lock
                if lock.is_file():
                    by_lock[sha256_file(lock)] = lock_pins(lock)
    rows = []
    for img in client.images.list(filters={"label": f"{LABEL_PREFIX}.family"}):
        labels = dict(img.labels or {})
        for k, v in by_lock.get(labels.get(f"{LABEL_PREFIX}.lock-sha256"), {}).items():
            labels.setdefault(f"{LABEL_PREFIX}.{k}", v)
        rows.append({
            "family": labels.get(f"{LABEL_PREFIX}.family", ""),
            "flavour": labels.get(f"{LABEL_PREFIX}.flavour", ""),
            "tags": ", ".join(img.tags) or "<none>",
            "id": img.short_id.split(":")[-1],
            "size_mb": round(img.attrs.get("Size", 0) / 1e6),
            "python": labels.get(f"{LABEL_PREFIX}.python", ""),
            "torch": labels.get(f"{LABEL_PREFIX}.torch", ""),
            "transformers": labels.get(f"{LABEL_PREFIX}.transformers", ""),
            "created": labels.get("org.opencontainers.image.created", ""),
        })
    return sorted(rows, key=lambda r: (r["family"], r["flavour"], r["created"]))


def stale_images(client, cat: Catalogue) -> list:
    """vlmrun images that no family/flavour of the catalogue would use now (its inputs changed since)."""
    import docker.errors

    current = set()
    for fam in cat.families.values():
        for flavour, spec in fam.flavours.items():
            try:
                base_id = client.images.get(spec.base).id
            except docker.errors.ImageNotFound:
                continue
            current.add(image_spec(cat, fam.name, flavour, base_id).tag)
    return [img for img in client.images.list(filters={"label": f"{LABEL_PREFIX}.family"})
            if not set(img.tags) & current]


# ---------------------------------------------------------------------------------------------- host venvs


def host_venv(cat: Catalogue, family_name: str, flavour: str = "cpu", log: Log = print) -> Path:
    """A venv on the host installed from the family's lock: the same pinned environment, no container.
    The local backend uses it (`vlmrun images venv FAMILY`), so local runs match container runs."""
    fam = cat.family(family_name)
    lock = cat.root / fam.flavours[flavour].lock
    venv = cache_dir() / "venvs" / f"{family_name}-{flavour}-{sha256_file(lock)[:12]}"
    if (venv / "bin" / "python").exists():
        return venv
    tmp = venv.with_name(venv.name + "-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"creating {venv} from {lock}")
    subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
    links = find_links(fam.flavours[flavour].sdists, log)
    proc = subprocess.run([str(tmp / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           *links, "--require-hashes", "-r", str(lock)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        raise VlmrunError(f"installing {lock} into a host venv failed: "
                          + " | ".join(l for l in proc.stdout.splitlines() if "is ignored" not in l)[-300:])
    tmp.rename(venv)  # scripts keep the old path in their shebang; vlmrun only uses `python -m`
    return venv
