"""The worker's rank launcher (vlmrun_worker/launch.py), in place of torchrun: torchrun's environment per rank,
a failing rank stops the others and its exit code is the launcher's. Real processes, no torch needed."""
import sys
import time

from vlmrun_worker import launch

# each rank writes its environment to a file of its own (ranks printing at once can interleave their lines)
PROBE = ("import json, os, pathlib, sys; pathlib.Path(sys.argv[1], os.environ['RANK']).write_text(json.dumps("
         "{k: os.environ.get(k) for k in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', "
         "'MASTER_PORT', 'OMP_NUM_THREADS', 'GLOO_SOCKET_IFNAME')}))")


def test_each_rank_gets_torchruns_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    assert launch.main(["3", "job.json"], [sys.executable, "-c", PROBE, str(tmp_path)]) == 0
    import json

    envs = sorted((json.loads(p.read_text()) for p in tmp_path.iterdir()), key=lambda e: e["RANK"])
    assert [(e["RANK"], e["LOCAL_RANK"], e["WORLD_SIZE"], e["LOCAL_WORLD_SIZE"]) for e in envs] == [
        ("0", "0", "3", "3"), ("1", "1", "3", "3"), ("2", "2", "3", "3")]
    assert {e["MASTER_ADDR"] for e in envs} == {"127.0.0.1"} and len({e["MASTER_PORT"] for e in envs}) == 1
    assert {e["OMP_NUM_THREADS"] for e in envs} == {"1"}  # as torchrun sets it for several ranks
    assert {e["GLOO_SOCKET_IFNAME"] for e in envs} == {"lo"}  # the ranks meet on the loopback, no name lookup


def test_a_failing_rank_stops_the_others_and_gives_its_code():
    t = time.monotonic()
    code = launch.main(["2", "job.json"], [sys.executable, "-c", "import os, sys, time\n"
                                           "if os.environ['RANK'] == '1': sys.exit(3)\ntime.sleep(120)"])
    assert code == 3 and time.monotonic() - t < 30  # the sleeping rank was stopped, not waited for


def test_a_killed_rank_reads_as_a_shell_would(tmp_path):
    code = launch.main(["2", "job.json"], [sys.executable, "-c", "import os, signal, time\n"
                                           "if os.environ['RANK'] == '0': os.kill(os.getpid(), signal.SIGKILL)\n"
                                           "time.sleep(120)"])
    assert code == 137  # SIGKILL: 128 + 9, what the host reads as killed (an OOM kill included)


def test_bad_job_file_is_bad_input_for_every_rank(tmp_path):
    job = tmp_path / "job.json"
    job.write_text("{}")
    assert launch.main(["2", str(job)]) == 2  # the worker's JobFileError: exit 2, never retried


def test_the_worker_leaves_without_tearing_down_yet_runs_exit_handlers_and_flushes(tmp_path):
    """`python -m vlmrun_worker ...` ends through __main__.leave (os._exit: no module teardown, ~1.2 s per process
    with torch loaded): what was printed but not flushed still comes out, atexit handlers still run, the code
    is the command's."""
    import subprocess

    from .conftest import ROOT

    code = ("import atexit, pathlib, sys\n"
            "from vlmrun_worker.__main__ import leave\n"
            f"atexit.register(lambda: pathlib.Path({str(tmp_path / 'atexit')!r}).write_text('ran'))\n"
            "sys.stdout.write('unflushed line')\n"
            "leave(3)\n"
            "print('never')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "images" / "worker")})
    assert p.returncode == 3 and p.stdout == "unflushed line"
    assert (tmp_path / "atexit").read_text() == "ran"
