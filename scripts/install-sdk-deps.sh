#!/usr/bin/env bash
# install-sdk-deps.sh installs what the end-to-end SDK tests (e2e/) need
# beside Go:
#
#   .cache/sdk        npm unleash-client (the official Node server SDK) and
#                     unleash-proxy-client (the official frontend SDK, browser
#                     and Node), at the versions pinned in e2e/node/package.json
#                     and e2e/node/package-lock.json, under the machine's Node
#                     (both SDKs need node >= 20)
#   /usr/bin/chromium Debian chromium, for the real-browser test
#
# It is idempotent and quiet: what is present at the pinned versions is left
# alone, and it prints one line saying what it installed or found. It needs
# root (or sudo) only when chromium is missing. To move an SDK: change
# e2e/node/package.json, regenerate the lock there
# (npm install --package-lock-only) and the two versions below.
set -euo pipefail

NODE_CLIENT_VERSION=6.12.1  # npm unleash-client (newest 6.x)
PROXY_CLIENT_VERSION=3.8.2  # npm unleash-proxy-client

root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache
sdk=$cache/sdk
src=$root/e2e/node
log=$(mktemp)
trap 'rm -f "$log"' EXIT
done_list=()

fail() {
	echo "install-sdk-deps: $*" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		fail "need root to run: $*"
	fi
}

pkg_version() { # pkg_version DIR: the "version" of DIR/package.json, or nothing
	sed -n 's/^  "version": "\(.*\)",\{0,1\}$/\1/p' "$1/package.json" 2>/dev/null | head -n1 || true
}

# --- npm SDKs --------------------------------------------------------------------
command -v node >/dev/null || fail "node not found (the machine's Node.js >= 20 is needed)"
command -v npm >/dev/null || fail "npm not found"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "node $(node --version) is too old: the SDKs need >= 20"
grep -q "\"unleash-client\": \"$NODE_CLIENT_VERSION\"" "$src/package.json" &&
	grep -q "\"unleash-proxy-client\": \"$PROXY_CLIENT_VERSION\"" "$src/package.json" ||
	fail "e2e/node/package.json does not pin the versions named in this script"

have_client=$(pkg_version "$sdk/node_modules/unleash-client")
have_proxy=$(pkg_version "$sdk/node_modules/unleash-proxy-client")
if [ "$have_client" = "$NODE_CLIENT_VERSION" ] && [ "$have_proxy" = "$PROXY_CLIENT_VERSION" ] &&
	cmp -s "$src/package-lock.json" "$sdk/package-lock.json.src"; then
	done_list+=("unleash-client $NODE_CLIENT_VERSION and unleash-proxy-client $PROXY_CLIENT_VERSION present")
else
	rm -rf "$sdk"
	mkdir -p "$sdk"
	cp "$src/package.json" "$src/package-lock.json" "$sdk/"
	(cd "$sdk" && npm install --no-audit --no-fund --silent >"$log" 2>&1) ||
		fail "npm install in .cache/sdk failed"
	[ "$(pkg_version "$sdk/node_modules/unleash-client")" = "$NODE_CLIENT_VERSION" ] ||
		fail "unleash-client is not $NODE_CLIENT_VERSION after npm install"
	[ "$(pkg_version "$sdk/node_modules/unleash-proxy-client")" = "$PROXY_CLIENT_VERSION" ] ||
		fail "unleash-proxy-client is not $PROXY_CLIENT_VERSION after npm install"
	cp "$src/package-lock.json" "$sdk/package-lock.json.src" # marker: installed from this lock
	done_list+=("unleash-client $NODE_CLIENT_VERSION and unleash-proxy-client $PROXY_CLIENT_VERSION installed")
fi

# --- chromium (Debian) -------------------------------------------------------------
if [ -x /usr/bin/chromium ]; then
	done_list+=("chromium present")
else
	if ! apt-cache show chromium >/dev/null 2>&1; then
		as_root apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >"$log" 2>&1 ||
		fail "apt-get install chromium failed"
	done_list+=("chromium $(dpkg-query -W -f='${Version}' chromium) installed")
fi

printf 'install-sdk-deps: %s\n' "$(IFS=,; echo "${done_list[*]}" | sed 's/,/, /g')"
