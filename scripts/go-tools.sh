#!/usr/bin/env bash
# Builds the third-party Go programs of the test bench from the modules pinned under tools/:
#   kubernetes: kube-apiserver, kube-controller-manager, kubectl   (k8s.io/kubernetes)
#   etcd:       etcd                                              (go.etcd.io/etcd/server/v3)
#   helm:       helm                                              (helm.sh/helm/v3)
#   metallb:    controller, speaker                               (go.universe.tf/metallb)
#   kube-vip:   kube-vip                                          (github.com/kube-vip/kube-vip)
# into .tools/NAME-VERSION/. Idempotent: a program already built for that version is kept.
# Needs Go >= 1.26; without one, fetches the Go toolchain module from the Go module proxy.
# Usage: scripts/go-tools.sh [NAME ...]   (default: kubernetes etcd helm)
# The peers ironlb is compared with (set `peers` = metallb kube-vip) are built only on request: by the
# lab's --implementation, bench/compare.ts and test/e2e/peers.test.ts, never by a plain set-up or CI run.
# (The Go module proxy lists no version of github.com/kube-vip/kube-vip, 403 "This module version is
# not available.", but serves the exact version v1.0.0 that tools/kube-vip/go.mod pins.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO_MIN=1.26
GO_FALLBACK=go1.26.8
log() { printf '[setup] %s\n' "$*" >&2; }

declare -A MAIN=([kubernetes]=k8s.io/kubernetes [etcd]=go.etcd.io/etcd/server/v3 [helm]=helm.sh/helm/v3 [metallb]=go.universe.tf/metallb [kube-vip]=github.com/kube-vip/kube-vip)
declare -A PROGS=(
  [kubernetes]="kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager kubectl=k8s.io/kubernetes/cmd/kubectl"
  [etcd]="etcd=go.etcd.io/etcd/server/v3"
  [helm]="helm=helm.sh/helm/v3/cmd/helm"
  [metallb]="controller=go.universe.tf/metallb/controller speaker=go.universe.tf/metallb/speaker"
  [kube-vip]="kube-vip=github.com/kube-vip/kube-vip"
)
sets=()
for a in "$@"; do
  case "$a" in peers) sets+=(metallb kube-vip) ;; *) sets+=("$a") ;; esac
done
((${#sets[@]})) || sets=(kubernetes etcd helm)

# Version stamps the projects' own release builds set with -X (without them kube-apiserver reports
# v0.0.0-master, which charts' kubeVersion refuse, and helm assumes Kubernetes v1.20).
ldflags_of() { # SET VERSION
  local v="$2" mm="${2#v}"; mm="${mm%.*}"
  case "$1" in
    kubernetes) local cb=k8s.io/component-base/version cg=k8s.io/client-go/pkg/version
      echo "-X $cb.gitVersion=$v -X $cb.gitMajor=${mm%%.*} -X $cb.gitMinor=${mm#*.} -X $cb.gitTreeState=clean -X $cg.gitVersion=$v -X $cg.gitMajor=${mm%%.*} -X $cg.gitMinor=${mm#*.}" ;;
    helm) local kv; kv="$(awk '$1=="k8s.io/client-go" {print $2; exit}' "$ROOT/tools/helm/go.sum")"; kv="${kv#v0.}"; kv="${kv%%.*}"
      echo "-X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kv -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kv" ;;
    *) echo "" ;;
  esac
}

version_of() { awk -v m="$2" '$1==m && $2 ~ /^v/ {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$ROOT/tools/$1/go.mod"; }

# What is missing?
todo=()
for s in "${sets[@]}"; do
  [[ -n "${MAIN[$s]:-}" ]] || { log "unknown Go tool set '$s' (known: ${!MAIN[*]})"; exit 2; }
  v="$(version_of "$s" "${MAIN[$s]}")"
  [[ -n "$v" ]] || { log "tools/$s/go.mod does not require ${MAIN[$s]}"; exit 2; }
  for pp in ${PROGS[$s]}; do
    # A program is current when built with the same recipe (package and flags) as now.
    recipe="${pp#*=} $(ldflags_of "$s" "$v")"
    [[ -x "$ROOT/.tools/$s-$v/${pp%%=*}" && "$(cat "$ROOT/.tools/$s-$v/.${pp%%=*}.recipe" 2>/dev/null)" == "$recipe" ]] || todo+=("$s:$v:$pp")
  done
done
# .tools/bin links each program of the current versions (setup.sh puts it first on PATH).
link_all() {
  mkdir -p "$ROOT/.tools/bin"
  for s in "${sets[@]}"; do
    v="$(version_of "$s" "${MAIN[$s]}")"
    for pp in ${PROGS[$s]}; do
      [[ -x "$ROOT/.tools/$s-$v/${pp%%=*}" ]] && ln -sfn "../$s-$v/${pp%%=*}" "$ROOT/.tools/bin/${pp%%=*}"
    done
  done
  return 0
}
((${#todo[@]})) || { link_all; exit 0; }

# A Go of at least GO_MIN: the machine's, else the toolchain module from the proxy into .tools/go.
go_ok() { "$1" version 2>/dev/null | awk -v min="$GO_MIN" '{v=$3; sub(/^go/,"",v); split(v,a,"."); split(min,b,"."); exit !((a[1]>b[1]) || (a[1]==b[1] && a[2]>=b[2]))}'; }
GO=""
for cand in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$ROOT/.tools/go/bin/go"; do
  if [[ -n "$cand" && -x "$cand" ]] && go_ok "$cand"; then GO="$cand"; break; fi
done
if [[ -z "$GO" ]]; then
  arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
  zip="https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-$GO_FALLBACK.linux-$arch.zip"
  log "no Go >= $GO_MIN on this machine: fetching $GO_FALLBACK (the Go toolchain module) from the Go module proxy"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 3 -o "$tmp/go.zip" "$zip" || {
    log "could not download $zip. Install Go >= $GO_MIN yourself (https://go.dev/dl/, or GOTOOLCHAIN=$GO_FALLBACK with any Go >= 1.21) and run set-up again."
    exit 1
  }
  python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp/go.zip" "$tmp/x"
  rm -rf "$ROOT/.tools/go"
  mv "$tmp/x/golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-$arch" "$ROOT/.tools/go"
  chmod +x "$ROOT/.tools/go/bin/"* "$ROOT/.tools/go/pkg/tool/"*/* 2>/dev/null || true
  GO="$ROOT/.tools/go/bin/go"
  go_ok "$GO" || { log "the downloaded Go does not run: $("$GO" version 2>&1 || true)"; exit 1; }
fi
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -trimpath -buildvcs=false"

# Built one program at a time, to its exact name (the build cache shares the packages they have in
# common), into a staging folder first so that an interrupted build leaves nothing half-written.
for t in "${todo[@]}"; do
  s="${t%%:*}"; rest="${t#*:}"; v="${rest%%:*}"; pp="${rest#*:}"; prog="${pp%%=*}"; pkg="${pp#*=}"
  out="$ROOT/.tools/$s-$v"
  mkdir -p "$out"
  log "building $prog ($pkg $v) with $("$GO" version | awk '{print $3}') into .tools/$s-$v/ (the first build takes minutes)"
  start=$SECONDS
  stage="$(mktemp -d "$out/.build.XXXXXX")"
  ldf="$(ldflags_of "$s" "$v")"
  (cd "$ROOT/tools/$s" && "$GO" build -ldflags="-s -w $ldf" -o "$stage/$prog" "$pkg") || { rm -rf "$stage"; log "building $prog failed (see above)"; exit 1; }
  mv -f "$stage/$prog" "$out/$prog"
  echo "$pkg $ldf" >"$out/.$prog.recipe"
  rm -rf "$stage"
  log "built $prog in $((SECONDS - start)) s"
done
link_all
