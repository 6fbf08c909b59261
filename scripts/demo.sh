#!/bin/bash
# make demo: starts a throwaway Samba on 127.0.0.1 (tests/rig/samba.py), puts a couple of files
# into its share `plain`, and runs smbgate commands against it, printing each command line
# first. Samba is stopped and everything removed at the end, also when a command fails.
# Usage: scripts/demo.sh [path/to/smbgate]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/smbgate}
PY=/usr/bin/python3
if [ ! -x "$BIN" ]; then
	echo "demo: $BIN not found; run make build first" >&2
	exit 1
fi

SMBDIR=$(mktemp -d /dev/shm/smbgate-demo-XXXXXX)
WORK=$(mktemp -d /tmp/smbgate-demo-work-XXXXXX)
cleanup() {
	echo
	echo "demo: stopping Samba"
	$PY tests/rig/samba.py stop --dir "$SMBDIR" || true
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "demo: starting a private Samba on 127.0.0.1"
$PY tests/rig/samba.py start --dir "$SMBDIR" --no-big >/dev/null
# shellcheck disable=SC1091
. "$SMBDIR/env"

# A sample share: a text file and a folder with a 1 MiB file.
printf 'Hello from the smbgate demo.\n' >"$SMB_SHARE_PLAIN/hello.txt"
mkdir "$SMB_SHARE_PLAIN/docs"
head -c 1048576 /dev/urandom >"$SMB_SHARE_PLAIN/docs/random-1m.bin"
chown -R "$SMB_USER:" "$SMB_SHARE_PLAIN"
printf 'written locally, uploaded by smbgate put\n' >"$WORK/local.txt"

URL="smb://$SMB_USER@$SMB_HOST:$SMB_PORT/plain"
echo "demo: Samba listens on $SMB_HOST:$SMB_PORT, share 'plain', user $SMB_USER"

run() {
	printf '\n$'
	printf ' %q' "$@"
	printf '\n'
	"$@"
}

# The password comes from the environment so that it stays out of the URL and of `ps`.
printf '\n$ export SMBGATE_PASSWORD=%q\n' "$SMB_PASSWORD"
export SMBGATE_PASSWORD="$SMB_PASSWORD"
run "$BIN" ls "$URL"
run "$BIN" ls "$URL/docs"
run "$BIN" put "$WORK/local.txt" "$URL/uploaded.txt"
run "$BIN" get "$URL/hello.txt" "$WORK/hello.txt"
run cat "$WORK/hello.txt"
run "$BIN" stat "$URL/docs/random-1m.bin"
run "$BIN" df "$URL"
run "$BIN" ls "$URL"
echo
echo "demo: ok"
