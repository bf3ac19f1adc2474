#!/usr/bin/env bash
# install-bench-deps.sh installs what the TLS and relay comparisons
# (bench/tls/tls-compare.sh, bench/tls/relay-compare.sh) need beside Go, wrk
# and openssl:
#
#   nginx   Debian package (bookworm: 1.22.1 with OpenSSL 3), the peer those
#           scripts measure brink against. The scripts start private nginx
#           processes with their own config, prefix and ports.
#
# It is idempotent and quiet: when nginx is present it is left alone, and it
# prints one line saying what it installed or found. It needs root (or sudo)
# only to install. The distribution's nginx service is kept from starting
# while apt installs it (policy-rc.d exit 101, honoured by invoke-rc.d and
# deb-systemd-invoke), then stopped and disabled should it run anyway: it
# would hold port 80 and is never used. Not part of `make test`.
set -euo pipefail

log=$(mktemp)
policy_installed=
cleanup() {
	rm -f "$log"
	if [ -n "$policy_installed" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

fail() {
	echo "install-bench-deps: $*" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		fail "need root to run: $*"
	fi
}

nginx_bin() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }

if [ -n "$(nginx_bin)" ]; then
	echo "install-bench-deps: nginx present ($("$(nginx_bin)" -v 2>&1 | sed 's/^nginx version: //'))"
	exit 0
fi

if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
	as_root chmod 755 /usr/sbin/policy-rc.d
	policy_installed=1
fi
if ! apt-cache show nginx >/dev/null 2>&1; then
	as_root apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >"$log" 2>&1 ||
	fail "apt-get install nginx failed"
if [ -n "$policy_installed" ]; then
	as_root rm -f /usr/sbin/policy-rc.d
	policy_installed=
fi

# Should the service have started anyway, stop and disable it.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	as_root systemctl disable --now nginx >/dev/null 2>&1 || true
else
	if command -v service >/dev/null; then as_root service nginx stop >/dev/null 2>&1 || true; fi
	if command -v update-rc.d >/dev/null; then as_root update-rc.d nginx disable >/dev/null 2>&1 || true; fi
fi

[ -n "$(nginx_bin)" ] || fail "nginx installed but not found on PATH or in /usr/sbin"
echo "install-bench-deps: nginx $(dpkg-query -W -f='${Version}' nginx) installed"
