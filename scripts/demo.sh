#!/usr/bin/env bash
# The main job on the bundled emulator, as a new user would run it: build graphd and the
# emulator, start the emulator (a local HTTPS Entra + Graph with a test CA and a registered
# certificate), list its users with `graphd users --cert ... --key ...`, stop the emulator.
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

log "starting the emulator"
"$bin/graphd-emulator" --state "$work/state.json" --users "${DEMO_USERS:-25}" 2>"$work/emulator.log" &
emu_pid=$!
for _ in $(seq 1 200); do [ -s "$work/state.json" ] && break; sleep 0.05; done
[ -s "$work/state.json" ] || { cat "$work/emulator.log" >&2; log "the emulator did not start"; exit 1; }

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/state.json" "$1"; }
export AZURE_TENANT_ID=$(field tenant_id)
export AZURE_CLIENT_ID=$(field client_id)
export AZURE_AUTHORITY_HOST=$(field authority_host_url)
export GRAPHD_GRAPH_ENDPOINT=$(field graph_url)
export GRAPHD_CA_BUNDLE=$(field ca_pem)
cert=$(field cert_pem)
key=$(field key_pem)

log "graphd users --cert $cert --key $key -o jsonl -v"
"$bin/graphd" users --cert "$cert" --key "$key" -o jsonl -v
log "done: the emulator stops now"
