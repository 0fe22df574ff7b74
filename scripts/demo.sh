#!/usr/bin/env bash
# The main job: set up, then bring up the lab (a whole cluster simulated on this machine) and show
# ironlb working: addresses, announcing nodes, the router's ECMP routes, requests and who answered;
# then a node stops and traffic moves, and the node comes back.
# Usage: scripts/demo.sh [--down] [ironlb lab up flags, e.g. --nodes 4 --router frr]
#   The lab is left running (kubectl works with the printed KUBECONFIG) until `bin/ironlb lab down`;
#   with --down it is removed at the end. A lab left from an earlier run is removed first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
DOWN=0
args=()
for a in "$@"; do
  if [[ "$a" == "--down" ]]; then DOWN=1; else args+=("$a"); fi
done
LAB="$ROOT/bin/ironlb lab"
banner() { printf '\n==== %s\n' "$*"; }

if [[ -e /run/ironlb-lab/state.json ]] || ip netns list 2>/dev/null | grep -q '^ilab-'; then
  banner "removing the lab left by an earlier run"
  $LAB down
fi
banner "ironlb lab up ${args[*]:-}"
$LAB up "${args[@]}"

owner="$($LAB owner hello-l2)"
banner "failover: stopping $owner (it announces hello-l2 over Layer 2 and is a BGP next hop)"
$LAB kill-node "$owner"
$LAB status --requests 4
banner "bringing $owner back"
$LAB revive-node "$owner"
$LAB status --requests 4

if ((DOWN)); then
  banner "removing the lab"
  $LAB down
else
  printf '\nThe lab is still running: export KUBECONFIG=/run/ironlb-lab/kubeconfig; .tools/bin/kubectl get svc\n'
  printf 'More: bin/ironlb lab --help.  Remove it with:  bin/ironlb lab down\n'
fi
