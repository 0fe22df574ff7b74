#!/bin/bash
# The lab's stand-in for MetalLB's reloader sidecar (frr-tools/reloader/frr-reloader.sh in MetalLB
# v0.15.2), run per node in FRR mode: MetalLB's speaker writes $SHARED/frr.conf and sends this
# process SIGHUP (it reads our PID from $SHARED/reloader.pid); we apply the file to the node's FRR
# daemons with Debian's frr-reload.py, as the sidecar does, and record "<epoch> success|failure".
# Differences from the sidecar, because the lab runs several nodes in one file system: frr-reload.py
# is pointed at the node's own vty sockets and config folder, and the speaker's `log file
# /etc/frr/frr.log` (the pod's private /etc/frr) is rewritten to the node's FRR folder.
# Usage: frr-reloader.sh SHARED_DIR FRR_DIR   (both inside the lab's state folder)
set -o pipefail
SHARED="${1:?usage: frr-reloader.sh SHARED_DIR FRR_DIR}"
FRR_DIR="${2:?usage: frr-reloader.sh SHARED_DIR FRR_DIR}"
PIDFILE="$SHARED/reloader.pid"
LOCKFILE="$SHARED/lock"
STATUSFILE="$SHARED/.status"

reload_frr() {
  flock 200
  echo "$(date +%T.%N | cut -c1-12) SIGHUP: reloading FRR"
  SECONDS=0
  kill "$sleep_pid" 2>/dev/null
  sed "s#/etc/frr/#$FRR_DIR/#g" "$SHARED/frr.conf" > "$FRR_DIR/next.conf"
  args=(--bindir /usr/bin --confdir "$FRR_DIR" --rundir "$FRR_DIR" --vty_socket "$FRR_DIR" --stdout)
  if ! /usr/bin/python3 /usr/lib/frr/frr-reload.py --test "${args[@]}" "$FRR_DIR/next.conf" >/dev/null 2>&1; then
    echo "syntax error in the speaker's configuration ($SECONDS s)"
    echo -n "$(date +%s) failure" > "$STATUSFILE"
    return
  fi
  if ! /usr/bin/python3 /usr/lib/frr/frr-reload.py --reload --overwrite "${args[@]}" "$FRR_DIR/next.conf" 2>&1 | grep -iv password | tail -5; then
    echo "failed to apply the configuration ($SECONDS s)"
    echo -n "$(date +%s) failure" > "$STATUSFILE"
    return
  fi
  echo "$(date +%T.%N | cut -c1-12) FRR reloaded ($SECONDS s)"
  echo -n "$(date +%s) success" > "$STATUSFILE"
} 200<"$LOCKFILE"

cleanup() {
  rm -f "$PIDFILE" "$LOCKFILE"
  kill "$sleep_pid" 2>/dev/null
  exit 0
}

trap cleanup SIGTERM SIGINT
# As in the sidecar: '&' lets the next SIGHUP arrive while a reload runs; flock keeps them in order.
trap 'reload_frr &' HUP

rm -f "$PIDFILE" "$LOCKFILE"
touch "$LOCKFILE"
printf '%s' "$$" > "$PIDFILE"
echo "reloader running, PID $$ in $PIDFILE"
while true; do
  sleep infinity &
  sleep_pid=$!
  wait "$sleep_pid" 2>/dev/null
done
