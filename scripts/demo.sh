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
GW_PID=
cleanup() {
	echo
	if [ -n "$GW_PID" ]; then
		echo "demo: stopping the SFTP gateway"
		kill "$GW_PID" 2>/dev/null || true
		wait "$GW_PID" 2>/dev/null || true
	fi
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

# The gateway: serve sftp over the same share, on 127.0.0.1:2022 (a free port if it is taken).
GW_PORT=2022
if ! $PY -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
	"$GW_PORT" 2>/dev/null; then
	GW_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
GW_USER=demo
GW_PASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '\n$ %q serve sftp --addr 127.0.0.1:%s --user %s --pass ... --key %q %q &\n' \
	"$BIN" "$GW_PORT" "$GW_USER" "$WORK/hostkey" "$URL"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/hostkey"
"$BIN" serve sftp --addr "127.0.0.1:$GW_PORT" --user "$GW_USER" --pass "$GW_PASS" \
	--key "$WORK/hostkey" -v "$URL" 2>"$WORK/gateway.log" &
GW_PID=$!
for _ in $(seq 50); do
	$PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
		"$GW_PORT" 2>/dev/null && break
	sleep 0.1
done
SFTP_OPTS=(-P "$GW_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR)
echo
echo "demo: the SFTP gateway serves share 'plain' on 127.0.0.1:$GW_PORT"
echo "      connect with:  sftp -P $GW_PORT $GW_USER@127.0.0.1   (password: $GW_PASS)"
printf 'ls -l\nget hello.txt %s\nput %s via-sftp.txt\nls\n' "$WORK/via-sftp-hello.txt" \
	"$WORK/local.txt" >"$WORK/batch"
printf '\n$ sshpass -p ... sftp -b batch -P %s %s@127.0.0.1\n' "$GW_PORT" "$GW_USER"
sshpass -p "$GW_PASS" sftp -o BatchMode=no "${SFTP_OPTS[@]}" -b "$WORK/batch" \
	"$GW_USER@127.0.0.1"
run "$BIN" stat "$URL/via-sftp.txt"
if [ -t 0 ]; then
	echo
	read -r -p "demo: the gateway stays up; press Enter to stop it and Samba. " _
fi
echo
echo "demo: ok"
