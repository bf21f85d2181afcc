#!/usr/bin/env bash
# The main job on the bundled emulator, as a new user would run it: build graphd and the
# emulator, make a certificate with `graphd cert new`, start the emulator (a local HTTPS
# Entra + Graph with a test CA) with that certificate registered on its app, as an admin
# would upload it, list the users with `graphd users --cert ... --key ...`, stop the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

log "building graphd and graphd-emulator"
cargo build --quiet --workspace --bins
bin=target/debug

work=$(mktemp -d "${TMPDIR:-/tmp}/graphd-demo.XXXXXX")
emu_pid=""
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log "graphd cert new --out-cert $work/app-cert.pem --out-key $work/app-key.pem --subject CN=graphd-demo --days 30"
"$bin/graphd" cert new --out-cert "$work/app-cert.pem" --out-key "$work/app-key.pem" --subject CN=graphd-demo --days 30

log "starting the emulator, with the new certificate registered on its app"
"$bin/graphd-emulator" --state "$work/state.json" --users "${DEMO_USERS:-25}" \
  --register-cert "$work/app-cert.pem" 2>"$work/emulator.log" &
emu_pid=$!
for _ in $(seq 1 200); do [ -s "$work/state.json" ] && break; sleep 0.05; done
[ -s "$work/state.json" ] || { cat "$work/emulator.log" >&2; log "the emulator did not start"; exit 1; }

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/state.json" "$1"; }
export AZURE_TENANT_ID=$(field tenant_id)
export AZURE_CLIENT_ID=$(field client_id)
export AZURE_AUTHORITY_HOST=$(field authority_host_url)
export GRAPHD_GRAPH_ENDPOINT=$(field graph_url)
export GRAPHD_CA_BUNDLE=$(field ca_pem)
# Keep the demo self-contained: its token cache lives and dies with its work directory.
export XDG_CACHE_HOME="$work/cache"
cert="$work/app-cert.pem"
key="$work/app-key.pem"

log "graphd users --cert $cert --key $key -o jsonl -v"
"$bin/graphd" users --cert "$cert" --key "$key" -o jsonl -v
log "done: the emulator stops now"
