#!/usr/bin/env bash
# Set up vlmrun on this machine: the Docker engine (installed and started where absent and we are root),
# debootstrap for the local base image, and a virtual environment .venv with vlmrun installed.
# --test also installs what the tests need (Debian's chromium and chromedriver for the HTML report test).
# Idempotent: run it as often as you like.
set -euo pipefail
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  say "need root for: $*"; exit 1; fi; }

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
if [ $with_tests = 1 ]; then
  command -v chromium >/dev/null || need_pkgs+=(chromium)
  command -v chromedriver >/dev/null || need_pkgs+=(chromium-driver)
  command -v slurmctld >/dev/null || need_pkgs+=(slurm-wlm)
  command -v munged >/dev/null || need_pkgs+=(munge)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    say "starting the Docker engine (systemctl)"
    as_root systemctl start docker
  else
    say "starting the Docker engine (dockerd in the background, log in /tmp/vlmrun-dockerd.log)"
    # No bridge and no iptables: job containers run with --network none, builds with host networking.
    # A dockerd that was killed leaves its pid files behind, and a new one refuses to start over them.
    pgrep -x dockerd >/dev/null || as_root rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    as_root sh -c 'nohup dockerd --iptables=false --bridge=none >/tmp/vlmrun-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "the Docker engine did not come up; see /tmp/vlmrun-dockerd.log"; exit 1; }
fi

if [ $with_tests = 1 ]; then
  bash scripts/slurm-local.sh  # a one-node Slurm on this machine, for the slurm backend's end-to-end tests
fi

if [ ! -x .venv/bin/vlmrun ] || [ pyproject.toml -nt .venv/.installed ]; then
  say "installing vlmrun into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "is ignored" || true
  .venv/bin/vlmrun version >/dev/null
  touch .venv/.installed
fi
say "ready: $(.venv/bin/vlmrun version) with Docker $(docker version --format '{{.Server.Version}}')"
