#!/usr/bin/env bash
# Builds (once) and caches what the Flux side-by-side benchmark (bench/flux.ts) runs for real: Flux's
# kustomize-controller, built from its module source on the Go module proxy, and the CRDs it needs
# (Kustomization from its own module, GitRepository from source-controller's api module). Bench-only: CI and the
# test harness never need these. kubectl comes from scripts/test-binaries.sh, which this script runs first.
#
# Results: ~/.cache/gitops-bot/bin/kustomize-controller-<version> (+ a kustomize-controller symlink) and
# ~/.cache/gitops-bot/bin/flux-crds-<version>/*.yaml. Idempotent: a cached binary is never rebuilt.
# The build directory sits on tmpfs (/dev/shm) when there is room, else under ~/.cache/gitops-bot/build.
# Prints the bin directory on the last line of stdout.
set -euo pipefail

KUSTOMIZE_CONTROLLER_VERSION=${KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}

cache_root=${GITOPS_BOT_CACHE:-$HOME/.cache/gitops-bot}
bin_dir="$cache_root/bin"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "[bench-binaries] $*" >&2; }

# kubectl (and the control plane) are the test harness's binaries; reuse them, building only what is missing.
bash "$here/test-binaries.sh" > /dev/null

mkdir -p "$bin_dir"
# GOPROXY and GOSUMDB stay as the environment sets them; the module's go.mod is resolved as it is (-mod=mod).
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=${GOTOOLCHAIN:-local}

module=github.com/fluxcd/kustomize-controller
binary="$bin_dir/kustomize-controller-$KUSTOMIZE_CONTROLLER_VERSION"
crd_dir="$bin_dir/flux-crds-$KUSTOMIZE_CONTROLLER_VERSION"

module_dir() { # module@version -> its (read-only) directory in the module cache
  go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'
}

if [ ! -x "$binary" ]; then
  start=$SECONDS
  # tmpfs for the copied source and the Go build cache's temporary files: Flux's build is I/O heavy.
  if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(df --output=avail -k /dev/shm | tail -1)" -gt 4000000 ]; then
    work_parent=/dev/shm
  else
    work_parent="$cache_root/build"
    mkdir -p "$work_parent"
  fi
  work=$(mktemp -d "$work_parent/kustomize-controller-$KUSTOMIZE_CONTROLLER_VERSION.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "building kustomize-controller $KUSTOMIZE_CONTROLLER_VERSION from the Go module proxy in $work (first time only; takes minutes)"
  src=$(module_dir "$module@$KUSTOMIZE_CONTROLLER_VERSION")
  [ -n "$src" ] || { log "go mod download $module@$KUSTOMIZE_CONTROLLER_VERSION gave no directory"; exit 1; }
  cp -r "$src/." "$work/src"
  chmod -R u+w "$work/src"
  # The module ships without its ./api submodule directory: take the published api module of the same version.
  sed -i '\#^replace github.com/fluxcd/kustomize-controller/api => ./api#d' "$work/src/go.mod"
  (
    cd "$work/src"
    export TMPDIR="$work"
    go build -ldflags "-s -w" -o "$binary.tmp" . >&2
  )
  mv "$binary.tmp" "$binary"
  log "kustomize-controller $KUSTOMIZE_CONTROLLER_VERSION built in $((SECONDS - start)) s (build dir on $work_parent)"
fi
ln -sf "kustomize-controller-$KUSTOMIZE_CONTROLLER_VERSION" "$bin_dir/kustomize-controller"

# kustomize-controller watches every source kind it can take an artifact from (GitRepository, OCIRepository,
# Bucket) and will not start until their CRDs exist; ExternalArtifact is watched only behind a feature gate.
source_kinds=(gitrepositories ocirepositories buckets externalartifacts)
if [ ! -f "$crd_dir/.complete" ]; then
  rm -rf "$crd_dir.tmp"
  mkdir -p "$crd_dir.tmp"
  src=$(module_dir "$module@$KUSTOMIZE_CONTROLLER_VERSION")
  cp "$src/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" "$crd_dir.tmp/kustomizations.yaml"
  # The source CRDs of the source-controller api version kustomize-controller requires: from that api module
  # where it embeds them, else from source-controller's own module of the same version (its config/crd/bases).
  source_api_version=$(sed -n 's#^\s*github.com/fluxcd/source-controller/api \(v[^ ]*\).*#\1#p' "$src/go.mod" | head -1)
  [ -n "$source_api_version" ] || { log "no github.com/fluxcd/source-controller/api in $module's go.mod"; exit 1; }
  source_api=$(module_dir "github.com/fluxcd/source-controller/api@$source_api_version")
  crd_src=$(dirname "$(find "$source_api" -name 'source.toolkit.fluxcd.io_gitrepositories.yaml' | head -1)")
  if [ "$crd_src" = "." ]; then
    crd_src="$(module_dir "github.com/fluxcd/source-controller@$source_api_version")/config/crd/bases"
  fi
  for kind in "${source_kinds[@]}"; do
    if [ -f "$crd_src/source.toolkit.fluxcd.io_$kind.yaml" ]; then
      cp "$crd_src/source.toolkit.fluxcd.io_$kind.yaml" "$crd_dir.tmp/$kind.yaml"
    elif [ "$kind" != externalartifacts ]; then
      log "source-controller $source_api_version has no $kind CRD in $crd_src"
      exit 1
    fi
  done
  touch "$crd_dir.tmp/.complete"
  rm -rf "$crd_dir"
  mv "$crd_dir.tmp" "$crd_dir"
  log "Flux CRDs in $crd_dir (source-controller $source_api_version)"
fi
ln -sfn "flux-crds-$KUSTOMIZE_CONTROLLER_VERSION" "$bin_dir/flux-crds"
echo "$bin_dir"
