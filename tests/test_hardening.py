"""Job containers are hardened by default, checked from inside one: the exact request a job runs with
(docker_job_request), its command swapped for a probe. It cannot write outside its run dir and /tmp, holds no
capabilities, cannot gain privileges, and has no network."""
import json

import pytest

from vlmrun.container import docker_job_request, hand_over
from vlmrun.datasets import bench_file
from vlmrun.images import ensure_image
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan

pytestmark = pytest.mark.docker

PROBE = r"""
import json, os, socket
out = {"uid": os.getuid()}
for path in ("/probe", "/etc/probe", "/opt/venv/probe", "/opt/vlmrun/worker/probe", "/vlmrun/data/probe",
             "/vlmrun/model/probe", "/vlmrun/out/probe", "/tmp/probe"):
    try:
        open(path, "w").write("x")
        out[path] = "written"
    except OSError as e:
        out[path] = e.strerror
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
out["NoNewPrivs"], out["CapEff"] = status["NoNewPrivs"].strip(), status["CapEff"].strip()
try:
    os.setuid(0)
    out["setuid"] = "root"
except OSError as e:
    out["setuid"] = e.strerror
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    out["network"] = "reached"
except OSError as e:
    out["network"] = e.strerror or type(e).__name__
out["interfaces"] = sorted(os.listdir("/sys/class/net"))
print("PROBE " + json.dumps(out))
"""


def test_a_job_container_cannot_write_escalate_or_reach_the_network(tmp_path, docker_client):
    cat = Catalogue()
    job = make_plan(cat, ["tiny-qwen2-vl"], ["MME-mini"], tmp_path)[0]
    image = ensure_image(docker_client, cat, job.family, job.flavour)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    job.run_dir.mkdir(parents=True)
    hand_over(job.run_dir)
    req, _ = docker_job_request(job, image.tag, bench_file(job.bench), model_dir)
    req.command = ["python", "-c", PROBE]
    container = docker_client.containers.create(**req.docker_kwargs())
    try:
        host = container.attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
        assert host["ReadonlyRootfs"] is True and host["PidsLimit"] == 8192 and "/tmp" in host["Tmpfs"]
        assert host["NetworkMode"] == "none"
        container.start()
        assert container.wait()["StatusCode"] == 0, container.logs().decode()[-2000:]
        line = next(l for l in container.logs().decode().splitlines() if l.startswith("PROBE "))
    finally:
        container.remove(force=True)
    got = json.loads(line[6:])
    assert got["uid"] != 0
    for path in ("/probe", "/etc/probe", "/opt/venv/probe"):
        assert got[path] == "Read-only file system", (path, got)
    for path in ("/opt/vlmrun/worker/probe", "/vlmrun/data/probe", "/vlmrun/model/probe"):
        assert got[path] == "Read-only file system", (path, got)
    assert got["/vlmrun/out/probe"] == "written" and got["/tmp/probe"] == "written"
    assert (job.run_dir / "probe").read_text() == "x"
    assert got["NoNewPrivs"] == "1" and int(got["CapEff"], 16) == 0 and got["setuid"] == "Operation not permitted"
    assert got["network"] == "Network is unreachable" and got["interfaces"] == ["lo"]
