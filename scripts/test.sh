#!/usr/bin/env bash
# Runs every test: set-up, type check, then node's test runner over test/**.
# Usage: scripts/test.sh [file-or-glob ...]   (default: the whole suite)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
# Leftovers from a crashed earlier run must not break this one. Only in CI (or when asked):
# on a developer machine other test runs may be using their namespaces right now.
if [[ "${CI:-}" == "true" || "${IRONLB_CLEANUP:-}" == "1" ]]; then node scripts/cleanup-netns.ts || true; fi
tsc -p tsconfig.json
if (($#)); then files=("$@"); else files=("test/**/*.test.ts"); fi
export NODE_ENV=test
exec node --test --test-concurrency="${IRONLB_TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
