"""The slurm backend: every task of an evaluation (a model x benchmark x shard) is one task of a single Slurm job
array. Each array task runs the family's image with a container runtime on its node and writes its shard files
into the shared work dir; the CLI follows the array (squeue/scontrol) with the same progress display as the
local backends, or, with --no-wait, submits a dependent job that merges and scores when the array ends.

The image is built (or found) once on the submitting host, by its content hash; nodes never build it. Nodes
that share that Docker engine use it as is; others load it from --image-store (a shared folder it is exported
to once) or pull it from --registry. Runtimes: docker and podman run; enroot and apptainer scripts are rendered
(--dry-run) for clusters without a container daemon.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from ..errors import VlmrunError
from .base import Backend, Environment, RunOutcome, Task
from .request import ContainerRequest

RUNTIMES = ("docker", "podman", "enroot", "apptainer")
RENDER_ONLY = ("enroot", "apptainer")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
            "DEADLINE"}


@dataclass
class SlurmTaskRequest:
    """One array task: the container it runs, as the runtime's command lines."""
    task_name: str
    container: ContainerRequest
    lines: list[str] = field(default_factory=list)  # the shell lines of this array task


def image_archive(store: str, tag: str) -> str:
    return str(Path(store) / (re.sub(r"[^A-Za-z0-9_.-]+", "_", tag) + ".tar"))


def runtime_lines(req: ContainerRequest, runtime: str, image_store: Optional[str], registry: Optional[str],
                  gpus: bool) -> list[str]:
    """The shell lines that run `req` with `runtime` on a node (image fetched first where needed)."""
    image = f"{registry.rstrip('/')}/{req.image}" if registry else req.image
    mounts = req.mounts
    env = sorted(req.env.items())
    name = req.name
    if runtime in ("docker", "podman"):
        lines = []
        if image_store:
            have = "docker image inspect" if runtime == "docker" else "podman image exists"
            lines.append(f"{have} {shlex.quote(image)} >/dev/null 2>&1 || {runtime} load -i "
                         f"{shlex.quote(image_archive(image_store, req.image))}")
        elif registry:
            lines.append(f"{runtime} pull -q {shlex.quote(image)} >/dev/null")
        cli = req.docker_cli().split(" ")
        cli[0] = runtime
        cli = [c for c in cli if not c.startswith("--gpus=")]
        if runtime == "podman":  # the task's own limits: podman's default open-files limit can exceed its hard limit
            cli.insert(2, "--ulimit=host")
        if gpus:  # the GPUs Slurm gave this task
            cli.insert(2, '--gpus="device=${CUDA_VISIBLE_DEVICES}"' if runtime == "docker"
                       else "--device=nvidia.com/gpu=all")
        if registry:
            cli = [shlex.quote(image) if c == shlex.quote(req.image) else c for c in cli]
        lines += [" ".join(cli) + " &",
                  "pid=$!",
                  f"trap '{runtime} kill {name} >/dev/null 2>&1; wait $pid' TERM INT",
                  "wait $pid"]
        return lines
    cmd = " ".join(shlex.quote(c) for c in req.command)
    if runtime == "enroot":
        sqsh = image_archive(image_store or "$VLMRUN_IMAGE_STORE", req.image).replace(".tar", ".sqsh")
        mount_args = " ".join(f"--mount {shlex.quote(f'{m.source}:{m.target}' + (':ro' if m.read_only else ''))}"
                              for m in mounts)
        env_args = " ".join(f"--env {shlex.quote(f'{k}={v}')}" for k, v in env)
        return [f"[ -f {sqsh} ] || enroot import -o {sqsh} dockerd://{shlex.quote(image)}",
                f"enroot create --name {name} {sqsh}",
                f"enroot start --rw {mount_args} {env_args} {name} {cmd}; rc=$?",
                f"enroot remove -f {name}; exit $rc"]
    sif = image_archive(image_store or "$VLMRUN_IMAGE_STORE", req.image).replace(".tar", ".sif")
    bind = ",".join(f"{m.source}:{m.target}:" + ("ro" if m.read_only else "rw") for m in mounts)
    env_args = " ".join(f"--env {shlex.quote(f'{k}={v}')}" for k, v in env)
    src = f"docker://{image}" if registry else f"docker-archive://{image_archive(image_store or '$VLMRUN_IMAGE_STORE', req.image)}"
    return [f"[ -f {sif} ] || apptainer build {sif} {src}",
            f"exec apptainer exec --containall --no-home --pwd /tmp {'--nv ' if gpus else ''}--bind {shlex.quote(bind)} "
            f"{env_args} {sif} {cmd}"]


class SlurmBackend(Backend):
    name = "slurm"
    streams = False
    OPTIONS = {
        "partition": (str, None, "partition"),
        "account": (str, None, "account"),
        "time": (str, None, "time limit per task"),
        "gpus_per_task": (int, None, "GPUs per array task (default: the job's --gpus count)"),
        "qos": (str, None, "quality of service"),
        "array_parallelism": (int, None, "array tasks running at once"),
        "runtime": (str, "docker", "docker | podman | enroot | apptainer"),
        "image_store": (str, None, "shared folder the image is exported to once"),
        "registry": (str, None, "registry the image is pushed to"),
        "wait": (bool, True, "follow the array to its end"),
        "poll_seconds": (int, 2, "seconds between looks at the array"),
    }

    def __init__(self, options=None, console=None, context=None):
        super().__init__(options, console, context)
        if self.options["runtime"] not in RUNTIMES:
            raise VlmrunError(f"--runtime {self.options['runtime']}: use one of {', '.join(RUNTIMES)}")
        from .docker_backend import DockerBackend

        self.docker = DockerBackend(console=console)  # builds images and tiny models on the submitting host
        self.array_id: Optional[str] = None
        self.script_path: Optional[Path] = None

    # -- before submitting ----------------------------------------------------------------------------
    def check(self, cat, jobs, log) -> None:
        runtime = self.options["runtime"]
        if runtime in RENDER_ONLY:
            raise VlmrunError(f"--runtime {runtime}: vlmrun renders its scripts only; look at them with --dry-run "
                              "and submit them yourself, or use --runtime docker or podman")
        for tool in ("sbatch", "squeue", "scontrol", "scancel"):
            if not shutil.which(tool):
                raise VlmrunError(f"--backend slurm: `{tool}` not found; run vlmrun on a Slurm login node "
                                  "(or install slurm-wlm)")
        if runtime == "podman" and not (self.options["image_store"] or self.options["registry"]):
            raise VlmrunError("--runtime podman: give --image-store (a shared folder the image is exported to) or "
                              "--registry, since podman does not see the Docker engine's images")
        self.docker.check(cat, jobs, log)

    def environment(self, cat, job, log, build: bool = True) -> Environment:
        env = self.docker.environment(cat, job, log, build)
        if build and env.image is not None:
            if self.options["image_store"]:
                self._export(env.tag, log)
            if self.options["registry"]:
                self.docker.push(env.tag, self.options["registry"], log)
        return env

    def _export(self, tag: str, log) -> None:
        """docker save, once per image (content-hashed tags: an archive that exists is the same image)."""
        path = Path(image_archive(self.options["image_store"], tag))
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"exporting {tag} to {path} (once; nodes load it from there)")
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            for chunk in self.docker.client.images.get(tag).save(named=True):
                f.write(chunk)
        os.replace(tmp, path)

    def tiny_request(self, recipe, env, out_dir, model):
        return self.docker.tiny_request(recipe, env, out_dir, model)

    def run_one(self, request, on_line) -> RunOutcome:
        return self.docker.run_one(request, on_line)

    def stage(self, run_dir: Path) -> None:
        self.docker.stage(run_dir)

    def job_request(self, task: Task, env: Environment, data_file: Path, model_dir: Path):
        req, payload = self.docker.job_request(task, env, data_file, model_dir)
        lines = runtime_lines(req, self.options["runtime"], self.options["image_store"], self.options["registry"],
                              bool(task.job.gpus))
        return SlurmTaskRequest(task.name, req, lines), payload

    # -- the array ------------------------------------------------------------------------------------
    def log_dir(self) -> Path:
        return Path(self.context.get("work_dir") or ".") / ".slurm"

    def sbatch_header(self, n: int, gpus: Optional[int]) -> list[str]:
        o = self.options
        array = f"0-{n - 1}" + (f"%{o['array_parallelism']}" if o["array_parallelism"] else "")
        head = ["#!/bin/bash", "#SBATCH --job-name=vlmrun", f"#SBATCH --array={array}",
                f"#SBATCH --output={self.log_dir()}/%A_%a.log"]
        for key, flag in (("partition", "partition"), ("account", "account"), ("time", "time"), ("qos", "qos")):
            if o[key]:
                head.append(f"#SBATCH --{flag}={o[key]}")
        if gpus:
            head.append(f"#SBATCH --gpus-per-task={gpus}")
        return head

    def render(self, items) -> str:
        gpus = self.options["gpus_per_task"] or max((t.job.gpus.n or 1 for t, _ in items if t.job.gpus), default=0)
        body = ["set -uo pipefail", "# one array task per (model, benchmark, shard)", 'case "$SLURM_ARRAY_TASK_ID" in']
        for k, (task, req) in enumerate(items):
            body.append(f"  {k})  # {task.name}")
            body += [f"    {line}" for line in req.lines]
            body.append("    ;;")
        body += ['  *) echo "vlmrun: no array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;', "esac"]
        return "\n".join(self.sbatch_header(len(items), gpus) + body) + "\n"

    def execute(self, items, follow) -> dict[str, RunOutcome]:
        log_dir = self.log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.script_path = log_dir / f"vlmrun-{stamp}.sbatch"
        self.script_path.write_text(self.render(items))
        out = subprocess.run(["sbatch", "--parsable", str(self.script_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        if out.returncode != 0:
            raise VlmrunError(f"sbatch refused the array ({self.script_path}): {out.stdout.strip()[:300]}")
        self.array_id = out.stdout.strip().split(";")[0]
        logs = {task.name: str(log_dir / f"{self.array_id}_{k}.log") for k, (task, _) in enumerate(items)}
        from ..status import record_submission

        record_submission(Path(self.context.get("work_dir") or "."), {
            "backend": "slurm", "array_id": self.array_id, "script": str(self.script_path),
            "tasks": [{"index": k, "task": task.name, "job": task.job.name, "run_dir": str(task.job.run_dir),
                       "shard": task.shard, "shards": task.shards, "log": logs[task.name]}
                      for k, (task, _) in enumerate(items)]})
        self._say(f"submitted Slurm job array {self.array_id} ({len(items)} tasks): {self.script_path}")
        monitors = {task.name: follow(task) for task, _ in items}
        if not self.options["wait"]:
            dep = self._submit_scoring()
            self._say(f"not waiting: job {dep} merges and scores when the array ends; "
                      f"`vlmrun status {self.context.get('work_dir')}` shows the tasks")
            return {t.name: RunOutcome(exit_code=0, submitted=True, log_file=logs[t.name]) for t, _ in items}
        try:
            return self._follow(items, logs, monitors)
        except KeyboardInterrupt:
            self._offer_cancel()
            raise

    def _submit_scoring(self) -> str:
        """A job that runs this same command with --mode eval after the array (merge, score, report)."""
        cmd = _without_option([c for c in self.context.get("command", []) if c not in ("--no-wait", "--wait")], "--mode")
        cmd += ["--mode", "eval"]
        out = subprocess.run(["sbatch", "--parsable", f"--dependency=afterany:{self.array_id}", "--job-name=vlmrun-score",
                              f"--output={self.log_dir()}/score-%j.log", "--chdir", os.getcwd(),
                              "--wrap", " ".join(shlex.quote(c) for c in cmd)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if out.returncode != 0:
            raise VlmrunError(f"sbatch refused the scoring job: {out.stdout.strip()[:300]}")
        return out.stdout.strip().split(";")[0]

    def _follow(self, items, logs, monitors) -> dict[str, RunOutcome]:
        offsets = {name: 0 for name in logs}
        tails: dict[str, list[str]] = {name: [] for name in logs}
        t0 = time.monotonic()
        seen: dict[int, tuple[str, int]] = {}
        while True:
            states = array_states(self.array_id)
            if not states and seen:  # the controller forgot the array (MinJobAge): the last states seen stand
                states = {k: (s if s in TERMINAL else "UNKNOWN", c) for k, (s, c) in seen.items()}
            seen.update(states)
            for task, _ in items:
                self._pump(logs[task.name], offsets, task.name, monitors[task.name], tails[task.name])
            if all(seen.get(k, ("PENDING", 0))[0] in TERMINAL | {"UNKNOWN"} for k in range(len(items))):
                states = seen
                break
            time.sleep(self.options["poll_seconds"])
        for task, _ in items:  # the last lines written before the task ended
            self._pump(logs[task.name], offsets, task.name, monitors[task.name], tails[task.name])
        out = {}
        for k, (task, _) in enumerate(items):
            state, code = states[k]
            error = None if state == "COMPLETED" else (
                "cancelled (scancel)" if state == "CANCELLED" else
                f"Slurm state {state}" if state not in ("FAILED", "OUT_OF_MEMORY") else None)
            out[task.name] = RunOutcome(exit_code=code if state != "COMPLETED" else 0,
                                        oom_killed=state == "OUT_OF_MEMORY", log_tail=tails[task.name][-40:],
                                        seconds=time.monotonic() - t0, log_file=logs[task.name], error=error)
        return out

    @staticmethod
    def _pump(path: str, offsets: dict, name: str, on_line, tail: list) -> None:
        try:
            with open(path, "rb") as f:
                f.seek(offsets[name])
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only; the rest is read next time
        offsets[name] += end
        for raw in data[:end].splitlines():
            line = raw.decode("utf-8", "replace")
            tail.append(line)
            on_line(line)

    def _offer_cancel(self) -> None:
        msg = f"Slurm job array {self.array_id} is still queued or running"
        if sys.stdin.isatty():
            try:
                answer = input(f"\n{msg}: cancel it (scancel)? [y/N] ").strip().lower()
            except EOFError:
                answer = ""
            if answer in ("y", "yes"):
                cancel(self.array_id)
                print(f"cancelled {self.array_id}; finished predictions are kept: run the same command to resume",
                      file=sys.stderr)
                return
        print(f"{msg}: `scancel {self.array_id}` cancels it; `vlmrun status {self.context.get('work_dir')}` "
              "shows it", file=sys.stderr)

    def _say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False)


def _without_option(cmd: list[str], flag: str) -> list[str]:
    """cmd without `flag VALUE` (and `flag=VALUE`)."""
    spots = [i for i, c in enumerate(cmd) if c == flag or c.startswith(flag + "=")]
    drop = set()
    for i in spots:
        drop.add(i)
        if cmd[i] == flag:
            drop.add(i + 1)
    return [c for i, c in enumerate(cmd) if i not in drop]


def array_states(array_id: str) -> dict[int, tuple[str, int]]:
    """Array task index -> (state, exit code), from scontrol (pending ranges count as PENDING)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", array_id], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    states: dict[int, tuple[str, int]] = {}
    for line in out.stdout.splitlines():
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        ids, state = fields.get("ArrayTaskId", ""), fields.get("JobState", "UNKNOWN")
        code = int((fields.get("ExitCode", "0:0").split(":") or ["0"])[0] or 0)
        for part in re.split(r"[,]", ids.split("%")[0]):
            if re.fullmatch(r"\d+", part):
                states[int(part)] = (state, code)
            elif re.fullmatch(r"\d+-\d+", part):
                a, b = map(int, part.split("-"))
                for k in range(a, b + 1):
                    states[k] = (state, code)
    return states


def cancel(array_id: str) -> None:
    subprocess.run(["scancel", array_id], check=False)
