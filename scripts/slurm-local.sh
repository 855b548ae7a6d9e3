#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (munge, slurmctld, slurmd), for the slurm backend's end-to-end
# tests and for trying `vlmrun eval --backend slurm` without a cluster. Needs root and Debian's slurm-wlm and
# munge. Idempotent: a running cluster is left as it is.
set -euo pipefail
say() { printf '\033[1m[slurm]\033[0m %s\n' "$*"; }
if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  say "running: $(sinfo -h -o '%P %D %T' | head -1)"; exit 0
fi
[ "$(id -u)" = 0 ] || { say "needs root to start munge, slurmctld and slurmd"; exit 1; }
command -v slurmctld >/dev/null && command -v munged >/dev/null || { say "install slurm-wlm and munge first"; exit 1; }
conf=/etc/slurm/slurm.conf
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
if [ ! -f "$conf" ] || ! grep -q '^ClusterName=vlmrun' "$conf"; then
  cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
  cat > "$conf" <<CONF
# Written by vlmrun's scripts/slurm-local.sh: one node, this machine.
ClusterName=vlmrun
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=localhost CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
fi
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key
  su -s /bin/sh munge -c munged || munged --force
fi
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd -N localhost
for _ in $(seq 30); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
  scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
  sleep 1
done
sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)' || { say "the node did not come up; see /var/log/slurm/"; exit 1; }
say "running: $(sinfo -h -o '%P %D %T' | head -1)"
