#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for `make test-slurm`. Run as root; idempotent:
# installs what is missing, rewrites the config only when it changed, (re)starts only daemons that
# are down or whose config changed, then checks that `srun` and `sbatch` really run jobs.
#
# Debian packages: slurm-wlm (slurmctld + slurmd + slurm-client), munge. No slurmdbd: job status
# comes from `squeue` (slurm-status-command: squeue, with MinJobAge below), see README.md here.
# No systemd here (PID 1 is not an init), so the daemons are started directly and tracked by the
# pid files they write; ci/slurm/teardown.sh stops them by those pids.
set -euo pipefail

SLURM_CONF=/etc/slurm/slurm.conf
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
MUNGE_KEY=/etc/munge/munge.key
MUNGE_RUN=/run/munge
# Memory kept back from SLURM for the OS, the replica hub and the local snakemake process.
MEM_MARGIN_MB=${SLURM_MEM_MARGIN_MB:-2048}
READY_TIMEOUT_S=${SLURM_READY_TIMEOUT_S:-90}

say() { echo "slurm-setup: $*" >&2; }
die() {
    say "ERROR: $*"
    for log in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
        [[ -s $log ]] && { echo "--- tail $log" >&2; tail -n 30 "$log" >&2; }
    done
    exit 1
}
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

[[ $(id -u) == 0 ]] || die "run as root (it installs packages and starts daemons)"

# -- packages -------------------------------------------------------------------------------
missing=()
for pkg in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing slurm-wlm munge (missing: ${missing[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
fi

# -- munge: the key and the daemon ------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 "$MUNGE_RUN"
if [[ ! -s $MUNGE_KEY ]]; then
    say "creating $MUNGE_KEY"
    mungekey --create --keyfile "$MUNGE_KEY"
fi
chown munge:munge "$MUNGE_KEY" && chmod 0400 "$MUNGE_KEY"
if ! alive "$MUNGE_RUN/munged.pid"; then
    say "starting munged"
    rm -f "$MUNGE_RUN/munged.pid" "$MUNGE_RUN"/munge.socket.2*
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
munge -n | unmunge >/dev/null || die "munge cannot encode and decode a credential"

# -- slurm.conf -----------------------------------------------------------------------------
host=$(hostname -s)
# The node's real shape, as slurmd sees it (CPUs, boards, sockets, cores, threads, memory).
read -r -a shape <<<"$(slurmd -C | head -n 1)"
declare -A node=()
for field in "${shape[@]}"; do node[${field%%=*}]=${field#*=}; done
[[ ${node[NodeName]:-} && ${node[CPUs]:-} && ${node[RealMemory]:-} ]] \
    || die "cannot read the node's shape from 'slurmd -C'"
real_memory=$((node[RealMemory] - MEM_MARGIN_MB))
((real_memory >= 4096)) || die "only ${node[RealMemory]} MB of memory: too little for the test"

new_conf=$(mktemp)
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
# Written by ci/slurm/setup.sh (hfharvest): a one-node test cluster on localhost.
ClusterName=hfharvest
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# No cgroups: processes are tracked through /proc, tasks are not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: squeue answers for finished jobs while they are younger than MinJobAge, and
# jobcomp/filetxt keeps one line per finished job (the test counts its jobs there).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
MinJobAge=600
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job that asks for no memory gets this much per CPU, not the whole node.
DefMemPerCPU=1024
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=120
InactiveLimit=0
KillWait=10
Waittime=0
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${node[CPUs]} Boards=${node[Boards]:-1} SocketsPerBoard=${node[SocketsPerBoard]:-1} CoresPerSocket=${node[CoresPerSocket]:-${node[CPUs]}} ThreadsPerCore=${node[ThreadsPerCore]:-1} RealMemory=${real_memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

if [[ -f $SLURM_CONF ]] && ! grep -q "^# Written by ci/slurm/setup.sh" "$SLURM_CONF"; then
    die "$SLURM_CONF was not written by this script: refusing to replace a real cluster's config"
fi
install -d -m 0755 /etc/slurm "$RUN_DIR" "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR"
restart=false
if ! cmp -s "$new_conf" "$SLURM_CONF"; then
    say "writing $SLURM_CONF"
    install -m 0644 "$new_conf" "$SLURM_CONF"
    restart=true
fi

# -- daemons --------------------------------------------------------------------------------
stop() {  # stop a daemon by the pid in its pid file
    local pidfile=$1
    alive "$pidfile" || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}
if $restart; then
    stop "$RUN_DIR/slurmd.pid"
    stop "$RUN_DIR/slurmctld.pid"
fi
if ! alive "$RUN_DIR/slurmctld.pid"; then
    say "starting slurmctld"
    [[ -f $LOG_DIR/slurmctld.log ]] && mv "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmctld.log.old"
    /usr/sbin/slurmctld || die "slurmctld did not start"
fi
if ! alive "$RUN_DIR/slurmd.pid"; then
    say "starting slurmd"
    [[ -f $LOG_DIR/slurmd.log ]] && mv "$LOG_DIR/slurmd.log" "$LOG_DIR/slurmd.log.old"
    /usr/sbin/slurmd || die "slurmd did not start"
fi

# -- wait for the node ----------------------------------------------------------------------
deadline=$((SECONDS + READY_TIMEOUT_S))
state=""
while ((SECONDS < deadline)); do
    state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null | head -n 1 || true)
    case $state in
    idle | mixed | allocated) break ;;
    down* | drain* | drained*)  # a node left down by an earlier run: ReturnToService=2 or this
        scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
done
[[ $state =~ ^(idle|mixed|allocated)$ ]] \
    || die "node $host is '${state:-unknown}' after ${READY_TIMEOUT_S}s, not idle"
say "node $host is $state: $(sinfo --noheader --format='%P %D %c CPUs %m MB' | head -n 1)"

# -- smoke tests: an interactive step and a batch job ---------------------------------------
out=$(timeout 60 srun --partition=debug --ntasks=1 --time=1 hostname) \
    || die "srun hostname failed"
[[ $out == "$(hostname)" ]] || die "srun ran on '$out', expected $(hostname)"
out_file=$(mktemp)
chmod 0644 "$out_file"
timeout 90 sbatch --parsable --wait --partition=debug --time=1 --output="$out_file" \
    --wrap 'echo "batch job $SLURM_JOB_ID on $(hostname)"' >/dev/null \
    || die "sbatch --wrap did not complete"
grep -q "^batch job [0-9]* on $(hostname)\$" "$out_file" \
    || die "sbatch --wrap wrote: $(cat "$out_file")"
say "srun and sbatch work ($(cat "$out_file"))"
rm -f "$out_file"
