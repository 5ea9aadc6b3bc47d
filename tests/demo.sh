#!/usr/bin/env bash
# tests/demo.sh (`make demo`): the whole product in two minutes, on a fresh
# Debian 12 machine with nothing but this repository.
#
#   1. installs what is missing (as root; otherwise says what to install),
#   2. builds pgcopyman,
#   3. starts a source and two target PostgreSQL 15 servers (tests/harness.sh,
#      which stops and deletes them on every exit),
#   4. runs tests/demo-run.sh against them: a million mixed rows on the
#      source, one `pgcopyman copy` to both targets, counts and checksums.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$SECONDS
section() { printf '\n==== %s\n' "$*"; }

section "Checking dependencies"
packages=(build-essential pkg-config libpq-dev postgresql libcmocka-dev zlib1g-dev libzstd-dev liblz4-dev)
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# The commands the build and the harness call, in case they came from elsewhere.
for c in cc make pkg-config; do
	command -v "$c" >/dev/null 2>&1 || { [[ " ${missing[*]} " == *" build-essential "* ]] || missing+=(build-essential); }
done
[ -x /usr/lib/postgresql/15/bin/initdb ] || [ -n "${PGCM_PGBIN:-}" ] \
	|| [[ " ${missing[*]} " == *" postgresql "* ]] || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
	echo "everything is installed: ${packages[*]}"
elif [ "$(id -u)" = 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
	# The Debian package starts a cluster of its own; the demo does not need it.
	if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
		pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
	fi
else
	echo "demo: missing packages: ${missing[*]}" >&2
	echo "demo: install them with: sudo apt-get install -y ${missing[*]}  (or run make demo as root)" >&2
	exit 1
fi

section "Building"
make -s -j"$(nproc 2>/dev/null || echo 2)"
build/pgcopyman --version

section "Starting a source and two target PostgreSQL 15 servers"
echo "(tests/harness.sh: throwaway clusters on unix sockets, removed on exit)"
tests/harness.sh -n 3 -- bash tests/demo-run.sh
echo "servers stopped and removed"

section "Demo finished in $((SECONDS - t0)) s"
