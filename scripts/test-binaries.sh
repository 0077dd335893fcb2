#!/usr/bin/env bash
# Builds (once) and caches the upstream binaries the test harness and benchmarks run for real:
# kube-apiserver, kube-controller-manager, kubectl, etcd, kwok, kustomize, helm, sops and age-keygen.
# Sources come from the Go module proxy; results live in ~/.cache/gitops-bot/bin-<versions>/ and are reused.
# If KUBEBUILDER_ASSETS is set, kube-apiserver, etcd and kubectl are taken from there (the envtest convention).
# Prints the bin directory on the last line of stdout.
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.35.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
KUSTOMIZE_VERSION=${KUSTOMIZE_VERSION:-v5.8.1}
HELM_VERSION=${HELM_VERSION:-v4.3.1}
SOPS_VERSION=${SOPS_VERSION:-v3.13.3}
AGE_VERSION=${AGE_VERSION:-v1.3.2}

cache_root=${GITOPS_BOT_CACHE:-$HOME/.cache/gitops-bot}
bin_dir="$cache_root/bin"
mkdir -p "$bin_dir" "$cache_root/build"
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=local
ldflags="-s -w"
log() { echo "[test-binaries] $*" >&2; }

# A cached binary is named <tool>-<version>; the unversioned name is a symlink the harness puts on PATH.
have() { [ -x "$bin_dir/$1-$2" ]; }
link() { ln -sf "$1-$2" "$bin_dir/$1"; }

build_kubernetes() {
  local tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=()
  for t in "${tools[@]}"; do have "$t" "$KUBERNETES_VERSION" || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    local dir="$cache_root/build/kubernetes-$KUBERNETES_VERSION" start=$SECONDS
    log "building ${missing[*]} $KUBERNETES_VERSION from k8s.io/kubernetes (first time only; takes minutes)"
    mkdir -p "$dir"
    (
      cd "$dir"
      # k8s.io/kubernetes pins its staging modules as v0.0.0 with local replaces; point each at its published
      # module of the same minor version instead.
      local gomod staging_version="v0.${KUBERNETES_VERSION#v1.}"
      gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      {
        echo "module gitops-bot-test/kubernetes"
        echo "go 1.24"
        echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
        grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
          awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
      } > go.mod
      printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' > tools.go
      sed -i 's/^package tools/\/\/go:build tools\n\npackage tools/' tools.go
      go mod tidy >&2
      # Stamp the version the way upstream's release build does, so /version and logs tell the truth.
      local minor=${KUBERNETES_VERSION#v1.}
      minor=${minor%%.*}
      local version_flags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
      version_flags="$version_flags -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
      for t in "${missing[@]}"; do
        go build -ldflags "$ldflags $version_flags" -o "$bin_dir/$t-$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/$t" >&2
      done
    )
    log "kubernetes binaries built in $((SECONDS - start)) s"
  fi
  for t in "${tools[@]}"; do link "$t" "$KUBERNETES_VERSION"; done
}

# Each tool is built inside a small wrapper module that requires it: unlike `go install pkg@version`, this also
# works for modules whose go.mod has replace directives (etcd's server module does).
install_module() { # tool version module package [extra ldflags]
  local tool=$1 version=$2 module=$3 pkg=$4 extra_ldflags=${5:-}
  if ! have "$tool" "$version"; then
    local start=$SECONDS dir="$cache_root/build/$tool-$version"
    log "building $tool $version from $pkg"
    mkdir -p "$dir"
    (
      cd "$dir"
      printf 'module gitops-bot-test/%s\n\ngo 1.24\n\nrequire %s %s\n' "$tool" "$module" "$version" > go.mod
      printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
      go mod tidy >&2
      go build -ldflags "$ldflags $extra_ldflags" -o "$bin_dir/$tool-$version" "$pkg" >&2
    )
    log "$tool built in $((SECONDS - start)) s"
  fi
  link "$tool" "$version"
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  log "using kube-apiserver, etcd and kubectl from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  for t in kube-apiserver etcd kubectl; do ln -sf "$KUBEBUILDER_ASSETS/$t" "$bin_dir/$t"; done
  # kube-controller-manager is not part of envtest's assets; build it unless already there.
  [ -x "$KUBEBUILDER_ASSETS/kube-controller-manager" ] && ln -sf "$KUBEBUILDER_ASSETS/kube-controller-manager" "$bin_dir/kube-controller-manager" || build_kubernetes
else
  build_kubernetes
  install_module etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3
fi
install_module kwok "$KWOK_VERSION" sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok
# kwok does nothing without stages: take its upstream "fast" node and pod stages from the module source.
stages="$bin_dir/kwok-stages-$KWOK_VERSION.yaml"
if [ ! -s "$stages" ]; then
  src=$(cd "$cache_root/build/kwok-$KWOK_VERSION" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    printf -- '---\n'; cat "$src/$f"
  done > "$stages"
fi
ln -sf "kwok-stages-$KWOK_VERSION.yaml" "$bin_dir/kwok-stages.yaml"
install_module kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5
install_module helm "$HELM_VERSION" helm.sh/helm/v4 helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
# sops decrypts Kustomizations' `spec.decryption`; age-keygen makes the tests' keys.
install_module sops "$SOPS_VERSION" github.com/getsops/sops/v3 github.com/getsops/sops/v3/cmd/sops "-X github.com/getsops/sops/v3/version.Version=${SOPS_VERSION#v}"
install_module age-keygen "$AGE_VERSION" filippo.io/age filippo.io/age/cmd/age-keygen
echo "$bin_dir"
bash "$(dirname "${BASH_SOURCE[0]}")/registry-binary.sh" # distribution v3 for the image automation tests; stderr only
