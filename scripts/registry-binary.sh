#!/usr/bin/env bash
# Builds (once) and caches distribution's `registry` v3 into ~/.cache/gitops-bot/bin/registry-<version>.
# The image-automation tests need it: Debian's docker-registry (distribution 2.8) ignores `n`/`last` on
# tags/list, so it never paginates, and it cannot be configured for token auth with our own token server as
# simply. Everything goes to stderr; stdout stays free for test-binaries.sh's last line.
set -euo pipefail

REGISTRY_VERSION=${REGISTRY_VERSION:-v3.0.0}
cache_root=${GITOPS_BOT_CACHE:-$HOME/.cache/gitops-bot}
bin_dir="$cache_root/bin"
target="$bin_dir/registry-$REGISTRY_VERSION"
log() { echo "[registry-binary] $*" >&2; }

if [ ! -x "$target" ]; then
  start=$SECONDS
  log "building distribution registry $REGISTRY_VERSION (first time only; takes minutes)"
  mkdir -p "$bin_dir"
  gobin=$(mktemp -d)
  trap 'rm -rf "$gobin"' EXIT
  CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=local GOBIN="$gobin" \
    go install -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" \
    "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" >&2
  mv "$gobin/registry" "$target"
  log "registry $REGISTRY_VERSION built in $((SECONDS - start)) s"
fi
ln -sf "registry-$REGISTRY_VERSION" "$bin_dir/registry"
