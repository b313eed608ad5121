#!/usr/bin/env bash
# Undo ci/slurm/setup.sh: cancel the test cluster's jobs, stop slurmd, slurmctld and munged (by the
# pids in their pid files), and remove the generated slurm.conf and the cluster's state, so the
# next setup.sh starts from scratch. The packages and the munge key stay; the daemons' logs stay
# in /var/log/slurm until the next setup. Safe to run when nothing is running.
set -uo pipefail

RUN_DIR=/run/slurm
say() { echo "slurm-teardown: $*" >&2; }

stop() {  # stop a daemon by the pid in its pid file, SIGKILL after 10 s
    local name=$1 pidfile=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $name ($pid)"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$pidfile"
}

if [[ -f /etc/slurm/slurm.conf && -s $RUN_DIR/slurmctld.pid ]]; then
    timeout 20 scancel --full --quiet --partition=debug 2>/dev/null || true
fi
stop slurmd "$RUN_DIR/slurmd.pid"
stop slurmctld "$RUN_DIR/slurmctld.pid"
stop munged /run/munge/munged.pid
if [[ -f /etc/slurm/slurm.conf ]] && grep -q "^# Written by ci/slurm/setup.sh" /etc/slurm/slurm.conf; then
    rm -f /etc/slurm/slurm.conf
fi
rm -rf /var/spool/slurmctld /var/spool/slurmd
say "done"
