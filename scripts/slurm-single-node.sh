#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying `pipe run --executor slurm` (and for
# pipe's own tests, which start it through this script): munged, slurmctld and slurmd from
# Debian's `slurm-wlm` and `munge`, configured in DIR on free loopback ports. Needs root.
#
#   scripts/slurm-single-node.sh start DIR   # installs what is missing, starts, waits until the node is idle
#   export SLURM_CONF=DIR/slurm.conf          # what sbatch, squeue and pipe need to find it
#   scripts/slurm-single-node.sh stop DIR    # scontrol shutdown, then munged; DIR stays for its logs
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
root=$(realpath -m "$2")

locate() {
  local dir
  for dir in /usr/sbin /usr/bin /sbin /bin; do
    if [ -x "$dir/$1" ]; then echo "$dir/$1"; return 0; fi
  done
  return 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  [ "$(id -u)" -eq 0 ] || { echo "error: a single-node Slurm cluster needs root (slurmd runs jobs as their user)" >&2; exit 2; }
  if ! locate slurmctld >/dev/null || ! locate munged >/dev/null; then
    bash "$(dirname "$0")/install-deps.sh" slurm-wlm munge
  fi
  if [ -e "$root/slurm.conf" ] && [ -e "$root/slurmctld.pid" ] && kill -0 "$(cat "$root/slurmctld.pid")" 2>/dev/null; then
    echo "error: a cluster is already running in $root; stop it first: $0 stop $root" >&2
    exit 2
  fi
  # The daemons outlive this script: they must not inherit a descriptor of its caller's (a pipe
  # the caller reads to its end would never end).
  local fd
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  mkdir -p "$root"/{state,spool,log,munge}
  # munged wants its socket's directory (and those above it) not writable by others.
  chmod 755 "$root" "$root/munge"
  head -c 1024 /dev/urandom > "$root/munge.key"
  chmod 400 "$root/munge.key"
  local host socket cpus controller_port node_port
  # slurmd finds its node by the short host name.
  host=$(hostname -s 2>/dev/null || hostname)
  host=${host%%.*}
  socket="$root/munge/munge.socket"
  cpus=$(nproc)
  controller_port=$(free_port)
  node_port=$(free_port)
  cat > "$root/slurm.conf" <<CONF
ClusterName=pipetest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$controller_port
SlurmdPort=$node_port
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
StateSaveLocation=$root/state
SlurmdSpoolDir=$root/spool
SlurmctldPidFile=$root/slurmctld.pid
SlurmdPidFile=$root/slurmd.pid
SlurmctldLogFile=$root/log/slurmctld.log
SlurmdLogFile=$root/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=1
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$root/slurm.conf"
  "$(locate munged)" --socket="$socket" --key-file="$root/munge.key" --pid-file="$root/munged.pid" \
    --log-file="$root/log/munged.log" --seed-file="$root/munge.seed" --force < /dev/null > "$root/log/munged.out" 2>&1
  wait_for 10 "munged socket" test -S "$socket"
  "$(locate slurmctld)" -c -f "$SLURM_CONF" < /dev/null > "$root/log/slurmctld.out" 2>&1
  "$(locate slurmd)" -f "$SLURM_CONF" < /dev/null > "$root/log/slurmd.out" 2>&1
  # Ready when the node has registered with the controller and is idle.
  if ! wait_for 30 "idle node" node_idle; then
    tail -n 5 "$root/log/slurmctld.log" "$root/log/slurmd.log" >&2 || true
    stop
    exit 1
  fi
  echo "a single-node Slurm cluster is up; for sbatch, squeue and pipe:"
  echo "  export SLURM_CONF=$SLURM_CONF"
  echo "stop it with: $0 stop $root"
}

node_idle() { [ "$("$(locate sinfo)" --noheader --format=%T 2>/dev/null | tr -d '[:space:]')" = idle ]; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local tries=$((seconds * 10))
  while ! "$@"; do
    tries=$((tries - 1))
    if [ $tries -le 0 ]; then echo "error: no $what within $seconds s (logs in $root/log)" >&2; return 1; fi
    sleep 0.1
  done
}

# stopped PID...: whether every PID has exited (a zombie left unreaped counts as exited).
stopped() {
  local pid state
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null || continue
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || echo Z)
    [ "$state" = Z ] || return 1
  done
  return 0
}

stop() {
  [ -e "$root/slurm.conf" ] || { echo "error: no cluster in $root (no slurm.conf)" >&2; exit 2; }
  local name pid
  local -A pids=()
  for name in slurmctld slurmd munged; do
    if [ -s "$root/$name.pid" ]; then pids[$name]=$(cat "$root/$name.pid"); fi
  done
  SLURM_CONF="$root/slurm.conf" "$(locate scontrol)" shutdown >/dev/null 2>&1 || true
  for name in slurmctld slurmd munged; do
    pid=${pids[$name]:-}
    [ -n "$pid" ] || continue
    # munged last: the daemons authenticate their shutdown through it.
    [ "$name" != munged ] || kill "$pid" 2>/dev/null || true
    wait_for 10 "exit of $name" stopped "$pid" || kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$root"/{slurmctld,slurmd,munged}.pid
  echo "stopped the cluster in $root"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
