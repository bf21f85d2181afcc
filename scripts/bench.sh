#!/usr/bin/env bash
# graphd against what a user would otherwise run, in one run, on the bundled emulator, as
# ratios. Builds graphd and graphd-emulator (release), starts two emulators (100,000 and 10,000
# users), installs the peer (Microsoft's Python daemon quickstart, scripts/bench/quickstart.py:
# MSAL Python + requests) into a venv under target/, then measures with hyperfine (wall time)
# and GNU time (peak RSS), counts requests per run from the emulator's --log, and writes
# docs/benchmarks.md. Scenarios:
#   1. cold, secret       graphd (empty token cache) vs the quickstart, first page (100 users)
#   2. cold, certificate  the same with a certificate credential
#   3. warm               graphd with a cached token vs one `curl` GET of the same page
#   5. token key          the cold and warm certificate runs with the key on a SoftHSM2 token
#                         (`--key pkcs11:...`, issue 13) vs the same runs with the key file
#   4. full listing       100,000 and 10,000 users, $top=999: graphd vs a curl loop following
#                         @odata.nextLink vs the quickstart extended to follow nextLinks
#   5. delta query        `graphd users --delta STATE` on the 100,000-user directory: a change
#                         round with 1,000 users changed since the saved state (the same state
#                         file restored before each run, untimed) against the full listing, and
#                         full delta rounds at 100,000 and 10,000 users (peak RSS flat)
#   6. 40 ms latency      a third emulator holding every response 40 ms (--latency-ms), as a
#                         real network would: cold graphd vs the quickstart and vs curl making the
#                         same two requests (token POST, then the GET), warm graphd vs one curl
#                         GET, the full listing and the change round
# No secret is put in argv: graphd reads AZURE_CLIENT_SECRET from the environment, curl reads
# the token from a header file (`-H @FILE`) and the secret from a file (`client_secret@FILE`).
#
# Knobs (environment): BENCH_RUNS (default 10: runs of the fast scenarios, never fewer than 10
# unless set), BENCH_LIST_RUNS (default 5: graphd and curl runs of the 100k listing),
# BENCH_PEER_LIST_RUNS (default 3), BENCH_USERS (default 100000), BENCH_SMALL_USERS (default
# 10000), BENCH_CHANGED (default 1000: users changed before the change round), BENCH_LATENCY_MS
# (default 40), BENCH_OUT (default docs/benchmarks.md), BENCH_PROFILE (release; `debug` only for
# a smoke run of the script itself, whose figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '==> %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

runs=${BENCH_RUNS:-10}
list_runs=${BENCH_LIST_RUNS:-5}
peer_list_runs=${BENCH_PEER_LIST_RUNS:-3}
users=${BENCH_USERS:-100000}
small_users=${BENCH_SMALL_USERS:-10000}
changed=${BENCH_CHANGED:-1000}
latency_ms=${BENCH_LATENCY_MS:-40}
out=${BENCH_OUT:-docs/benchmarks.md}
profile=${BENCH_PROFILE:-release}
started=$(date +%s)

# Debian packages, each checked before anything is installed.
missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }
need_pkg hyperfine    # wall-time statistics over repeated runs
need_pkg time         # GNU time: peak RSS (%M)
need_pkg jq           # the curl loop follows nextLinks; request counts from the emulator log
need_pkg curl         # the warm and listing baselines
need_pkg python3-venv # the peer's venv (MSAL Python + requests from PyPI)
need_pkg openssl      # the certificate's SHA-1 thumbprint for the peer's config
need_pkg pkg-config
need_pkg libssl-dev
need_pkg gcc
need_pkg ca-certificates
need_pkg softhsm2     # the token-key rows: a SoftHSM2 token in the work dir
need_pkg opensc       # pkcs11-tool imports the emulator's key into that token
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${missing[*]} (run as root, or install them)"
  fi
fi
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup)"

log "building graphd and graphd-emulator ($profile)"
case "$profile" in
  release) cargo build --release --locked --quiet -p graphd -p graphd-emulator --bins ;;
  # --all-targets: the features `cargo test --workspace` unifies, so after the tests this
  # builds nothing (a smoke run in CI).
  debug) cargo build --locked --quiet --workspace --all-targets ;;
  *) die "BENCH_PROFILE must be release or debug, not $profile" ;;
esac
bin=$root/target/$profile

venv=$root/target/bench-venv
peer_packages=(msal==1.39.0 requests==2.34.2)
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qx "${peer_packages[0]}"; then
  log "installing the peer (msal, requests) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" 2>/dev/null || /usr/bin/python3 -m venv "$venv"
  # Pinned, so that reruns measure the same peer; raise the pins deliberately.
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${peer_packages[@]}"
fi
py=$venv/bin/python

work=$(mktemp -d "${TMPDIR:-/tmp}/graphd-bench.XXXXXX")
chmod 700 "$work"
case "$root$work" in *[[:space:]]*) die "paths with spaces are not supported ($root, $work)" ;; esac
emu_pids=()
cleanup() {
  for p in "${emu_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$work/cache
results=$work/results.jsonl
: >"$results"

# start_emulator NAME USERS [ARGS...]: runs graphd-emulator with its state and log in $work/NAME.
start_emulator() {
  local name=$1 n=$2 dir=$work/$1
  shift 2
  mkdir -m 700 "$dir"
  "$bin/graphd-emulator" --state "$dir/state.json" --users "$n" --log "$dir/requests.jsonl" "$@" 2>"$dir/stderr" &
  emu_pids+=($!)
  echo $! >"$dir/pid"
  for _ in $(seq 1 400); do [ -s "$dir/state.json" ] && return 0; sleep 0.05; done
  cat "$dir/stderr" >&2
  die "the emulator ($name) did not start"
}

# use_emulator NAME: points graphd, the peer's configs and curl's header file at that emulator.
use_emulator() {
  emu=$work/$1
  local state=$emu/state.json
  emu_pid=$(cat "$emu/pid")
  export AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST GRAPHD_GRAPH_ENDPOINT GRAPHD_CA_BUNDLE
  AZURE_TENANT_ID=$(jq -r .tenant_id "$state")
  AZURE_CLIENT_ID=$(jq -r .client_id "$state")
  AZURE_AUTHORITY_HOST=$(jq -r .authority_host_url "$state")
  GRAPHD_GRAPH_ENDPOINT=$(jq -r .graph_url "$state")
  GRAPHD_CA_BUNDLE=$(jq -r .ca_pem "$state")
  export REQUESTS_CA_BUNDLE=$GRAPHD_CA_BUNDLE
  cert=$(jq -r .cert_pem "$state")
  key=$(jq -r .key_pem "$state")
  directory_url=$(jq -r .directory_url "$state")
  users_url="$GRAPHD_GRAPH_ENDPOINT/v1.0/users"
  token_url="$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token"
  (
    umask 077
    jq -r .client_secret "$state" | tr -d '\n' >"$emu/secret"
    local thumb
    thumb=$(openssl x509 -in "$cert" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
    # The quickstart's parameters.json, for the secret and the certificate variant, and for
    # the nextLink-following extension (secret, $top=999).
    jq -n --arg a "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID" --arg c "$AZURE_CLIENT_ID" \
      --arg s "$GRAPHD_GRAPH_ENDPOINT/.default" --arg e "$users_url" --rawfile secret "$emu/secret" \
      '{authority:$a, client_id:$c, scope:[$s], secret:$secret, endpoint:$e}' >"$emu/params-secret.json"
    jq -n --arg a "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID" --arg c "$AZURE_CLIENT_ID" \
      --arg s "$GRAPHD_GRAPH_ENDPOINT/.default" --arg e "$users_url" --arg t "$thumb" --arg k "$key" \
      '{authority:$a, client_id:$c, scope:[$s], thumbprint:$t, private_key_file:$k, endpoint:$e}' >"$emu/params-cert.json"
    jq '.endpoint += "?$top=999" | .follow_next_link = true' "$emu/params-secret.json" >"$emu/params-all.json"
    # curl's token: one client-credentials POST, the secret read from a file; the token goes
    # straight into a header file and is never printed.
    curl -sS --fail --cacert "$GRAPHD_CA_BUNDLE" \
      --data-urlencode "client_id=$AZURE_CLIENT_ID" \
      --data-urlencode "scope=$GRAPHD_GRAPH_ENDPOINT/.default" \
      --data-urlencode "grant_type=client_credentials" \
      --data-urlencode "client_secret@$emu/secret" \
      "$token_url" |
      jq -r '"Authorization: Bearer " + .access_token' >"$emu/auth-header"
  )
  export AZURE_CLIENT_SECRET
  AZURE_CLIENT_SECRET=$(cat "$emu/secret")
}

# control OP_JSON: one operation on the emulator's directory (its control endpoint).
control() {
  curl -sS --fail --cacert "$GRAPHD_CA_BUNDLE" -H 'content-type: application/json' \
    --data-binary "$1" "$directory_url" >/dev/null
}

# The emulator's CPU time so far, in nanoseconds: the sum over its threads of the scheduler's
# on-CPU time (/proc/PID/task/*/schedstat, ns resolution; /proc/PID/stat counts 10 ms ticks).
emu_cpu_ns() { cat /proc/"$emu_pid"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }

# measure ID SCENARIO TOOL USERS RUNS WARMUP PREPARE CMD: hyperfine (wall time), the emulator's
# CPU time over those runs, GNU time (peak RSS, 3 runs) and one more run whose requests are
# counted from the emulator's log; that run must have been served USERS users, or the figures
# would not be measuring what they say. PREPARE (may be empty) runs before every measured run,
# untimed.
measure() {
  local id=$1 scenario=$2 tool=$3 expect_users=$4 n=$5 warmup=$6 prepare=$7 cmd=$8
  local -a argv prep
  read -ra argv <<<"$cmd"
  read -ra prep <<<"$prepare"
  log "$scenario: $tool ($n runs + $warmup warm-up)"
  local t0 t1 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(emu_cpu_ns)
  hyperfine -N --style basic --output pipe --warmup "$warmup" --runs "$n" \
    ${prepare:+--prepare "$prepare"} --export-json "$work/$id.json" "$cmd" >&2
  t1=$(emu_cpu_ns)
  local rss=()
  for _ in 1 2 3; do
    [ ${#prep[@]} -eq 0 ] || "${prep[@]}" >/dev/null
    /usr/bin/time -f %M -o "$work/$id.rss" "${argv[@]}" >/dev/null
    rss+=("$(tail -n1 "$work/$id.rss")")
  done
  [ ${#prep[@]} -eq 0 ] || "${prep[@]}" >/dev/null
  local before
  before=$(wc -l <"$emu/requests.jsonl")
  "${argv[@]}" >"$work/$id.out"
  local bytes
  bytes=$(wc -c <"$work/$id.out")
  tail -n +"$((before + 1))" "$emu/requests.jsonl" >"$work/$id.requests"
  local served
  served=$(jq -s '[.[] | select(.kind == "graph") | .items] | add // 0' "$work/$id.requests")
  [ "$served" -eq "$expect_users" ] ||
    die "$scenario: $tool was served $served users, not $expect_users: the measurement is void"
  [ "$bytes" -gt 0 ] || die "$scenario: $tool wrote nothing to stdout"
  jq -n -c --arg id "$id" --arg scenario "$scenario" --arg tool "$tool" --arg cmd "$cmd" \
    --arg prepare "$prepare" --slurpfile hf "$work/$id.json" \
    --argjson emu_ns "$((t1 - t0))" --argjson warmup "$warmup" --argjson load "$load" \
    --argjson rss "$(printf '%s\n' "${rss[@]}" | jq -s .)" --argjson bytes "$bytes" \
    --slurpfile req "$work/$id.requests" '
    {id:$id, scenario:$scenario, tool:$tool, command:$cmd, prepare:$prepare, warmup:$warmup,
     hyperfine:$hf[0].results[0], rss_kib:$rss, stdout_bytes:$bytes, loadavg_before:$load,
     emulator_cpu_s:($emu_ns / 1e9), emulator_runs:(($hf[0].results[0].times | length) + $warmup),
     requests:{token:([$req[] | select(.kind=="token")] | length),
               graph:([$req[] | select(.kind=="graph")] | length),
               other:([$req[] | select(.kind=="other")] | length),
               other_paths:([$req[] | select(.kind=="other") | .path] | unique),
               users:([$req[] | select(.kind=="graph") | .items] | add // 0)}}' >>"$results"
}

log "starting the emulators ($users and $small_users users)"
start_emulator big "$users"
start_emulator small "$small_users"

g=$bin/graphd
q="$py $root/scripts/bench/quickstart.py"
clear="$g cache clear"

use_emulator big
measure cold-secret-graphd "cold, secret" graphd 100 "$runs" 3 "$clear" "$g users --max-items 100"
measure cold-secret-graphd-nocache "cold, secret" "graphd --no-token-cache" 100 "$runs" 3 "" \
  "$g users --max-items 100 --no-token-cache"
measure cold-secret-peer "cold, secret" "quickstart (MSAL Python)" 100 "$runs" 2 "" "$q $emu/params-secret.json"
# A SoftHSM2 token holding the emulator's registered key (imported sensitive, not extractable)
# and its certificate: the token-key rows sign there. The PIN reaches graphd through the
# environment, as a CI secret would; pkcs11-tool's --pin in argv is for this throwaway token only.
export SOFTHSM2_CONF=$work/softhsm2.conf
mkdir -m 700 "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" >"$SOFTHSM2_CONF"
softhsm=/usr/lib/softhsm/libsofthsm2.so
hsm_pin=bench-$$-pin
softhsm2-util --init-token --free --label bench --pin "$hsm_pin" --so-pin "$hsm_pin-so" >/dev/null
pkcs11-tool --module "$softhsm" --login --pin "$hsm_pin" --write-object "$key" --type privkey \
  --id 01 --label app --usage-sign >/dev/null 2>&1
pkcs11-tool --module "$softhsm" --login --pin "$hsm_pin" --write-object "$cert" --type cert \
  --id 01 --label app >/dev/null 2>&1
token_key="pkcs11:token=bench;object=app"
(
  unset AZURE_CLIENT_SECRET
  measure cold-cert-graphd "cold, certificate" graphd 100 "$runs" 3 "$clear" \
    "$g users --max-items 100 --cert $cert --key $key"
  measure cold-cert-peer "cold, certificate" "quickstart (MSAL Python)" 100 "$runs" 2 "" "$q $emu/params-cert.json"
  export GRAPHD_PKCS11_MODULE=$softhsm GRAPHD_PKCS11_PIN=$hsm_pin
  measure cold-hsm-graphd "cold, certificate, key on a token (SoftHSM)" graphd 100 "$runs" 3 "$clear" \
    "$g users --max-items 100 --key $token_key"
  measure warm-cert-graphd "warm, certificate, key file" graphd 100 "$((runs * 2))" 3 "" \
    "$g users --max-items 100 --cert $cert --key $key"
  measure warm-hsm-graphd "warm, certificate, key on a token (SoftHSM)" graphd 100 "$((runs * 2))" 3 "" \
    "$g users --max-items 100 --key $token_key"
)
measure warm-graphd "warm" graphd 100 "$((runs * 2))" 3 "" "$g users --max-items 100"
measure warm-curl "warm" "curl (one GET)" 100 "$((runs * 2))" 3 "" \
  "curl -sS --fail --cacert $GRAPHD_CA_BUNDLE -H @$emu/auth-header $users_url?\$top=100"
measure list-big-graphd "listing $users" graphd "$users" "$list_runs" 1 "" "$g users"
measure list-big-curl "listing $users" "curl loop" "$users" "$list_runs" 1 "" \
  "bash $root/scripts/bench/curl-loop.sh $GRAPHD_CA_BUNDLE $emu/auth-header $users_url?\$top=999"
measure list-big-peer "listing $users" "quickstart + nextLink loop" "$users" "$peer_list_runs" 1 "" \
  "$q $emu/params-all.json"

# Delta query: a saved state after a full round (untimed), then BENCH_CHANGED users changed;
# each measured run starts from that same state (restored by --prepare), so each is the same
# change round of BENCH_CHANGED users.
log "delta: a full round to save the base state, then $changed users changed"
"$g" users --delta "$emu/base.state" -o jsonl >/dev/null
control "{\"op\":\"touch\",\"n\":$changed}"
measure delta-changes-graphd "delta, $changed of $users changed" graphd "$changed" "$runs" 3 \
  "cp $emu/base.state $emu/changes.state" "$g users --delta $emu/changes.state"
measure delta-full-big-graphd "delta, full round of $users" graphd "$users" "$list_runs" 1 "" \
  "$g users --delta $emu/full.state --delta-reset"

use_emulator small
measure delta-full-small-graphd "delta, full round of $small_users" graphd "$small_users" "$runs" 2 "" \
  "$g users --delta $emu/full.state --delta-reset"
measure list-small-graphd "listing $small_users" graphd "$small_users" "$runs" 2 "" "$g users"
measure list-small-curl "listing $small_users" "curl loop" "$small_users" "$runs" 2 "" \
  "bash $root/scripts/bench/curl-loop.sh $GRAPHD_CA_BUNDLE $emu/auth-header $users_url?\$top=999"
measure list-small-peer "listing $small_users" "quickstart + nextLink loop" "$small_users" "$runs" 1 "" \
  "$q $emu/params-all.json"

# With every response held BENCH_LATENCY_MS (the emulator's --latency-ms): what a user on a real
# network sees. The same scenarios as above where round trips decide: cold (graphd, the
# quickstart, curl making the same two requests), warm (graphd, one curl GET), the full listing
# and the change round.
log "starting the emulator with ${latency_ms} ms latency ($users users)"
start_emulator lat "$users" --latency-ms "$latency_ms"
use_emulator lat
lat="${latency_ms} ms latency"
measure lat-cold-graphd "cold, secret, $lat" graphd 100 "$runs" 2 "$clear" "$g users --max-items 100"
measure lat-cold-peer "cold, secret, $lat" "quickstart (MSAL Python)" 100 "$runs" 1 "" "$q $emu/params-secret.json"
measure lat-cold-curl "cold, secret, $lat" "curl (token POST + GET)" 100 "$runs" 2 "" \
  "bash $root/scripts/bench/curl-cold.sh $GRAPHD_CA_BUNDLE $emu/secret $token_url $users_url?\$top=100"
measure lat-warm-graphd "warm, $lat" graphd 100 "$((runs * 2))" 3 "" "$g users --max-items 100"
measure lat-warm-curl "warm, $lat" "curl (one GET)" 100 "$((runs * 2))" 3 "" \
  "curl -sS --fail --cacert $GRAPHD_CA_BUNDLE -H @$emu/auth-header $users_url?\$top=100"
measure lat-list-graphd "listing $users, $lat" graphd "$users" "$list_runs" 1 "" "$g users"
log "delta ($lat): a full round to save the base state, then $changed users changed"
"$g" users --delta "$emu/base.state" -o jsonl >/dev/null
control "{\"op\":\"touch\",\"n\":$changed}"
measure lat-delta-changes-graphd "delta, $changed of $users changed, $lat" graphd "$changed" "$runs" 2 \
  "cp $emu/base.state $emu/changes.state" "$g users --delta $emu/changes.state"

# Machine and tool details for the report.
jq -n \
  --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  --arg cores "$(nproc)" \
  --arg kernel "$(uname -sr)" \
  --arg os "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")" \
  --arg rustc "$(rustc -V)" \
  --arg hyperfine "$(hyperfine -V)" \
  --arg curl "$(curl -V | head -n1 | cut -d' ' -f1-2)" \
  --arg python "$("$py" -V 2>&1)" \
  --arg msal "$("$py" -c 'import msal; print(msal.__version__)')" \
  --arg requests "$("$py" -c 'import requests; print(requests.__version__)')" \
  --arg softhsm "$(softhsm2-util --version 2>/dev/null | head -n1)" \
  --arg commit "$(git describe --always --dirty --abbrev=7 2>/dev/null || echo unknown)" --arg profile "$profile" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" \
  --argjson seconds "$(($(date +%s) - started))" \
  --argjson users "$users" --argjson small_users "$small_users" \
  --argjson changed "$changed" --argjson latency_ms "$latency_ms" \
  --arg work "$work" --arg root "$root" --arg bin "$bin" \
  '{cpu:$cpu, cores:$cores, kernel:$kernel, os:$os, rustc:$rustc, hyperfine:$hyperfine,
    curl:$curl, python:$python, msal:$msal, requests:$requests, softhsm:$softhsm, commit:$commit, profile:$profile,
    loadavg_at_end:$load, date:$date, seconds:$seconds, users:$users, small_users:$small_users,
    changed:$changed, latency_ms:$latency_ms, work:$work, root:$root, bin:$bin}' \
  >"$work/machine.json"

mkdir -p "$(dirname "$out")"
python3 "$root/scripts/bench/report.py" "$work/results.jsonl" "$work/machine.json" >"$work/report.md"
mv "$work/report.md" "$out"
log "wrote $out in $(($(date +%s) - started)) s"
