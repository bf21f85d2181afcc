#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring (Secret
# Service), with HOME pointing at a fresh temporary directory so no real keyring is touched.
# Usage: scripts/with-secret-service.sh COMMAND [ARGS...]
# Needs Debian packages dbus and gnome-keyring (scripts/test.sh installs them).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install dbus gnome-keyring)" >&2; exit 1; }
done
keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/graphd-keyring.XXXXXX")
trap 'rm -rf "$keyring_home"' EXIT
export KEYRING_HOME="$keyring_home"
unset XDG_RUNTIME_DIR GNOME_KEYRING_CONTROL DBUS_SESSION_BUS_ADDRESS
# The keyring's password only protects this throwaway keyring; it is random per session.
export GRAPHD_TEST_KEYRING_PASSWORD="$(head -c 18 /dev/urandom | base64)"
dbus-run-session -- bash -c '
  set -e
  HOME="$KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null <<<"$GRAPHD_TEST_KEYRING_PASSWORD"
  unset GRAPHD_TEST_KEYRING_PASSWORD
  # Wait until the daemon owns the name; without this, D-Bus activation can race a second daemon.
  for _ in $(seq 1 200); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break
    sleep 0.05
  done
  exec "$@"' bash "$@"
