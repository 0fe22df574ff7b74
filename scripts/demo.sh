#!/usr/bin/env bash
# The main job: set up, then bring up the lab (a whole cluster simulated on this machine) and show ironlb working.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
exec "$ROOT/bin/ironlb" lab up "$@"
