import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MME = ROOT.parent / "shared" / "data" / "mme"


def cpu_catalogue():
    """The catalogue with every model plannable on the CPU: a job's settings do not depend on the flavour, and the
    tests run here (a GPU-only model, e.g. Qwen-VL-Chat, is planned as it would be on a GPU)."""
    from vlmrun.manifest import Catalogue

    cat = Catalogue()
    for m in cat.models.values():
        m.needs_gpu = None
    return cat
VLMRUN = [sys.executable, "-m", "vlmrun.cli"]


def run_cli(*args, env=None, cwd=None, timeout=1800):
    """Run the real `vlmrun` command line; returns the CompletedProcess (stdout+stderr merged)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([*VLMRUN, *args], cwd=cwd or ROOT, env=full_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture
def project_copy(tmp_path):
    """A copy of the catalogue (manifests, Dockerfiles, images, data) to break on purpose."""
    dst = tmp_path / "proj"
    for name in ("manifests", "Dockerfiles", "images", "data"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest.fixture(scope="session")
def docker_client():
    """The real Docker engine. CI must have one: there a missing engine fails instead of skipping."""
    import docker

    try:
        client = docker.from_env(timeout=3600)
        client.ping()
    except Exception as e:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a running Docker engine: {e}")
        pytest.skip(f"no Docker engine reachable: {e}")
    return client


@pytest.fixture(scope="session")
def mme_questions():
    q = SHARED_MME / "questions"
    if not q.is_dir():
        pytest.skip(f"MME question lists not found at {q}")
    return q
