#!/usr/bin/env bash
# install-deploy-deps.sh installs what the deployment-file tests
# (scripts/deploy/deploy_test.go) need beside Go:
#
#   systemd-analyze        Debian package systemd (checks brink.service)
#   .cache/bin/kubeconform github.com/yannh/kubeconform, built with
#                          `go install` through the Go module proxy
#   .cache/k8s-schemas/vX  the Kubernetes JSON schemas kubeconform reads,
#                          generated offline: kubeconform normally downloads
#                          them from GitHub, which is not reachable here, so
#                          the OpenAPI document is taken from the
#                          k8s.io/kubernetes module (go mod download) and
#                          turned into strict per-kind schemas by
#                          scripts/deploy/k8sschema
#
# It is idempotent and quiet: what is present at the pinned version is left
# alone, and it prints one line saying what it installed or found. It needs
# root (or sudo) only when systemd-analyze is missing. Versions are pinned
# below; the schemas are regenerated when K8S_VERSION or the generator
# changes.
set -euo pipefail

KUBECONFORM_VERSION=0.8.0 # Go module github.com/yannh/kubeconform
K8S_VERSION=1.34.2        # Go module k8s.io/kubernetes (api/openapi-spec)

root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache
log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$log" "$work"' EXIT
done_list=()

fail() {
	echo "install-deploy-deps: $*" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		fail "need root to run: $*"
	fi
}

command -v go >/dev/null || fail "go not found"

# --- systemd-analyze (Debian systemd) --------------------------------------------
if command -v systemd-analyze >/dev/null; then
	done_list+=("systemd-analyze present")
else
	if ! apt-cache show systemd >/dev/null 2>&1; then
		as_root apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >"$log" 2>&1 ||
		fail "apt-get install systemd failed"
	command -v systemd-analyze >/dev/null || fail "systemd installed but systemd-analyze is missing"
	done_list+=("systemd-analyze $(dpkg-query -W -f='${Version}' systemd) installed")
fi

# --- kubeconform -------------------------------------------------------------------
kc=$cache/bin/kubeconform
have=$(go version -m "$kc" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/yannh/kubeconform" {print $3}' || true)
if [ "$have" = "v$KUBECONFORM_VERSION" ]; then
	done_list+=("kubeconform v$KUBECONFORM_VERSION present")
else
	mkdir -p "$cache/bin"
	# Outside the brink module, so go.mod and go.sum stay untouched.
	(cd "$work" && GOFLAGS= GOBIN="$cache/bin" CGO_ENABLED=0 \
		go install "github.com/yannh/kubeconform/cmd/kubeconform@v$KUBECONFORM_VERSION" >"$log" 2>&1) ||
		fail "go install kubeconform@v$KUBECONFORM_VERSION failed"
	done_list+=("kubeconform v$KUBECONFORM_VERSION installed")
fi

# --- Kubernetes JSON schemas ---------------------------------------------------------
schemas=$cache/k8s-schemas/v$K8S_VERSION
stamp="k8s.io/kubernetes@v$K8S_VERSION $(sha256sum "$root/scripts/deploy/k8sschema/main.go" | cut -d' ' -f1)"
if [ -f "$schemas/.stamp" ] && [ "$(cat "$schemas/.stamp")" = "$stamp" ]; then
	done_list+=("k8s schemas v$K8S_VERSION present")
else
	dir=$(cd "$work" && GOFLAGS= go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" 2>"$log" |
		sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || true
	swagger=$dir/api/openapi-spec/swagger.json
	[ -n "$dir" ] && [ -f "$swagger" ] || fail "go mod download k8s.io/kubernetes@v$K8S_VERSION gave no $swagger"
	rm -rf "$schemas.new"
	(cd "$root" && go run ./scripts/deploy/k8sschema -in "$swagger" -out "$schemas.new" >"$log" 2>&1) ||
		fail "generating the schemas failed"
	printf '%s\n' "$stamp" >"$schemas.new/.stamp"
	rm -rf "$schemas"
	mv "$schemas.new" "$schemas"
	done_list+=("k8s schemas v$K8S_VERSION generated ($(find "$schemas" -name '*.json' | wc -l) kinds)")
fi

# --- .gitignore ----------------------------------------------------------------------
if ! grep -qxE '/?\.cache/?' "$root/.gitignore" 2>/dev/null; then
	printf '/.cache/\n' >>"$root/.gitignore"
fi

printf 'install-deploy-deps: %s\n' "$(IFS=,; echo "${done_list[*]}" | sed 's/,/, /g')"
