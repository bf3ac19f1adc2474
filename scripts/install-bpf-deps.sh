#!/usr/bin/env bash
# install-bpf-deps.sh installs what `make generate` needs to rebuild the eBPF
# objects in ebpf/ (go build and go test need none of it: the bpf2go output is
# committed):
#
#   clang-14     Debian bookworm's clang, the pinned BPF compiler (bpf2go looks
#                for clang-14 by name when BPF2GO_CC is unset, see ebpf/tcpsig/gen.go)
#   llvm-14      llvm-strip-14, which bpf2go uses to strip DWARF from the objects
#   libbpf-dev   bpf_helpers.h and friends, only for ebpf/headers/update.sh
#
# It is idempotent and quiet: what is present is left alone, and it prints one
# line saying what it installed or found. It needs root (or sudo) only when a
# package is missing.
set -euo pipefail

pkgs=(clang-14 llvm-14 libbpf-dev)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-bpf-deps: ${pkgs[*]} present ($(clang-14 --version | head -n1))"
	exit 0
fi

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		echo "install-bpf-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	echo "install-bpf-deps: apt-get install ${missing[*]} failed" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
fi
echo "install-bpf-deps: installed ${missing[*]} ($(clang-14 --version | head -n1))"
